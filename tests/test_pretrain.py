"""Pre-training end to end on a small slice of the real corpus: the loss falls, resume is exact, bad input is named."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from minisbert import BertForMaskedLM, BertForPreTraining, BertModel
from minisbert.io.corpus import CorpusError
from minisbert.pretraining import PretrainConfig, bert_config, epoch_order, pretrain
from minisbert.tokenizer import load_tokenizer

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(size="L2-H64-A2", max_len=64, batch_size=16, lr=1e-3, warmup_ratio=0.1, eval_every=20,
            eval_examples=64, checkpoint_every=1000, progress=False, precision="fp32")


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    return load_tokenizer(model_dir)


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory, data_dir):
    """Persuasion and Northanger Abbey's first chapters (about 60,000 words) from the shared corpus."""
    text = (Path(data_dir) / "corpus" / "austen.txt").read_text(encoding="utf-8")
    documents = text.split("\n\n")
    path = tmp_path_factory.mktemp("corpus") / "austen_part.txt"
    path.write_text("\n\n".join(documents[:40]) + "\n", encoding="utf-8")
    return path


def run(tmp_path, corpus, tokenizer, name="out", **overrides):
    config = PretrainConfig(**(TINY | overrides))
    lines = []
    state = pretrain([corpus], tmp_path / name, config, tokenizer=tokenizer, cache_dir=tmp_path / "cache",
                     log=lines.append)
    return state, lines


def test_a_few_dozen_steps_lower_the_held_out_loss(tmp_path, small_corpus, tokenizer):
    state, lines = run(tmp_path, small_corpus, tokenizer, max_steps=40)
    first, last = state.evals[0], state.evals[-1]
    assert [e["step"] for e in state.evals] == [20, 40]
    assert last["mlm_loss"] < first["mlm_loss"] < np.log(len(tokenizer.vocab))  # below a uniform guess
    assert last["perplexity"] == pytest.approx(np.exp(last["mlm_loss"]))
    assert 0 < last["most_frequent_accuracy"] < 0.2
    assert "nsp_accuracy" in last
    assert any(line.startswith("cpu: ") and "flags:" in line for line in lines)

    out = tmp_path / "out"
    assert {"config.json", "model.safetensors", "vocab.txt", "pretrain_log.json"} <= {p.name for p in out.iterdir()}
    log = json.loads((out / "pretrain_log.json").read_text())
    assert len(log["losses"]) == 40 and log["evals"] == state.evals
    # The folder is a BERT with both heads, and loads as the masked-LM model too.
    model = BertForPreTraining.from_pretrained(out)
    assert model.config.num_hidden_layers == 2 and model.config.hidden_size == 64
    BertForMaskedLM.from_pretrained(out)


@pytest.mark.parametrize("settings, model_class", [
    (dict(max_steps=12, whole_word=True), BertForPreTraining),
    (dict(max_steps=8, nsp=False, contrastive=True, tie_word_embeddings=False, contiguous_batches=True),
     BertForMaskedLM),  # next segment, on batches of neighbouring examples
])
def test_a_run_stopped_and_resumed_ends_with_the_same_parameters(tmp_path, small_corpus, tokenizer, settings,
                                                                 model_class):
    run(tmp_path, small_corpus, tokenizer, name="whole", **settings)
    run(tmp_path, small_corpus, tokenizer, name="split", stop_after_steps=5, **settings)
    assert not (tmp_path / "split").exists() and (tmp_path / "split-checkpoint").is_dir()
    config = PretrainConfig(**(TINY | settings))
    state = pretrain([small_corpus], tmp_path / "split", config, tokenizer=tokenizer, cache_dir=tmp_path / "cache",
                     resume=True, log=lambda line: None)
    assert state.step == settings["max_steps"]
    whole = model_class.from_pretrained(tmp_path / "whole").state_dict()
    split = model_class.from_pretrained(tmp_path / "split").state_dict()
    for name, tensor in whole.items():
        assert torch.equal(tensor, split[name]), name


def test_without_nsp_the_model_is_a_masked_lm(tmp_path, small_corpus, tokenizer):
    state, _ = run(tmp_path, small_corpus, tokenizer, max_steps=3, nsp=False, eval_every=3)
    assert "nsp_accuracy" not in state.evals[-1]
    keys = json.loads((tmp_path / "out" / "config.json").read_text())["architectures"]
    assert keys == ["BertForMaskedLM"]


def test_the_next_segment_task_replaces_nsp_in_a_run(tmp_path, small_corpus, tokenizer):
    state, lines = run(tmp_path, small_corpus, tokenizer, max_steps=40, nsp=False, contrastive=True)
    first, last = state.evals[0], state.evals[-1]
    assert "nsp_accuracy" not in last
    assert 0 <= last["next_segment_accuracy"] <= 1 and last["next_segment_batch"] == min(64, 15)  # 15 held out
    assert last["mlm_loss"] < first["mlm_loss"]  # the masked LM learns beside it
    assert any("next segment" in line for line in lines)
    saved = json.loads((tmp_path / "out" / "pretrain_log.json").read_text())["settings"]
    assert saved["contrastive"] is True and saved["nsp"] is False
    keys = json.loads((tmp_path / "out" / "config.json").read_text())["architectures"]
    assert keys == ["BertForMaskedLM"]


def test_the_next_segment_task_is_learnt_on_a_batch(tmp_path, small_corpus, tokenizer):
    from minisbert.optimization import make_optimizer
    from minisbert.pretraining import next_segment_accuracy, prepare_data, to_batch, train_step

    config = PretrainConfig(**(TINY | dict(max_steps=1, nsp=False, contrastive=True, dropout=0.0)))
    data = prepare_data([small_corpus], tokenizer, config, tmp_path / "cache", log=lambda line: None)
    batch = to_batch(data.train, np.arange(16), data, config, torch.Generator().manual_seed(0), len(tokenizer.vocab))
    assert batch["input_ids"].shape[0] == 32 and batch["input_ids"].shape[1] <= 32  # 16 A rows, 16 B rows
    torch.manual_seed(0)
    model = BertForMaskedLM(bert_config("L2-H64-A2", len(tokenizer.vocab), 64))
    optimizer, _ = make_optimizer(model, config)

    def picked() -> int:
        with torch.no_grad():
            out = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], output_hidden_states=True)
        return next_segment_accuracy(out.hidden_states[-1], batch["attention_mask"])

    before = picked()
    for _ in range(40):
        train_step(model, optimizer, batch, config)
    assert before <= 4 and picked() == 16  # from about chance (1 in 16) to every A finding its B


def test_frozen_word_embeddings_keep_their_random_start_while_the_rest_trains(tmp_path, small_corpus, tokenizer):
    settings = dict(nsp=False, contrastive=True, tie_word_embeddings=False, freeze_word_embeddings=True)
    run(tmp_path, small_corpus, tokenizer, name="short", max_steps=2, eval_every=2, **settings)
    run(tmp_path, small_corpus, tokenizer, name="long", max_steps=6, eval_every=6, **settings)
    short = BertForMaskedLM.from_pretrained(tmp_path / "short").state_dict()
    long = BertForMaskedLM.from_pretrained(tmp_path / "long").state_dict()
    assert torch.equal(short["bert.embeddings.word_embeddings.weight"], long["bert.embeddings.word_embeddings.weight"])
    for name in ("bert.embeddings.position_embeddings.weight", "cls.predictions.decoder.weight",
                 "bert.encoder.layer.0.attention.self.query.weight"):
        assert not torch.equal(short[name], long[name]), name
    # The frozen matrix is the seed's random start: a fresh model from the same seed holds it.
    from minisbert.optimization import seed_everything
    seed_everything(0)
    fresh = BertForMaskedLM(bert_config(TINY["size"], len(tokenizer.vocab), TINY["max_len"], tie_word_embeddings=False))
    assert torch.equal(fresh.bert.embeddings.word_embeddings.weight, long["bert.embeddings.word_embeddings.weight"])


@pytest.mark.fast
def test_a_pair_splits_into_two_rows_each_cut_to_half_the_width():
    from minisbert.pretraining import split_segments

    special = {"cls": 101, "sep": 102, "pad": 0}
    ids = np.array([[101, 1, 2, 3, 102, 4, 5, 102, 0, 0],
                    [101, 1, 2, 3, 4, 5, 6, 102, 7, 102]])
    types = np.array([[0, 0, 0, 0, 0, 1, 1, 1, 0, 0],
                      [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]])
    rows, lengths = split_segments(ids, types, np.array([8, 10]), special)
    assert rows.tolist() == [[101, 1, 2, 3, 102],  # A of row 0
                             [101, 4, 5, 6, 102],  # A of row 1: its last three tokens, next to its B
                             [101, 4, 5, 102, 0],  # B of row 0
                             [101, 7, 102, 0, 0]]  # B of row 1
    assert lengths.tolist() == [5, 5, 4, 3]


@pytest.mark.fast
def test_the_next_segment_loss_is_in_batch_negatives_both_ways_on_mean_pooled_vectors():
    from minisbert.pretraining import next_segment_accuracy, next_segment_loss

    torch.manual_seed(0)
    h = torch.randn(6, 5, 8)  # 3 pairs: rows 0-2 are A, rows 3-5 their B
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]] * 2)
    v = torch.stack([h[i, :int(mask[i].sum())].mean(0) for i in range(6)])  # mean over the real tokens
    a, b = torch.nn.functional.normalize(v[:3], dim=-1), torch.nn.functional.normalize(v[3:], dim=-1)
    scores = 20 * a @ b.T  # (3, 3): A_i against every B_j
    labels = torch.arange(3)
    expected = (torch.nn.functional.cross_entropy(scores, labels)
                + torch.nn.functional.cross_entropy(scores.T, labels)) / 2
    assert next_segment_loss(h, mask).item() == pytest.approx(expected.item(), rel=1e-5)
    assert next_segment_accuracy(h, mask) == int((scores.argmax(-1) == labels).sum())
    # A batch whose B rows are copies of its A rows has every A pick its own B.
    assert next_segment_accuracy(torch.cat([h[:3], h[:3]]), mask) == 3


def test_dropout_off_while_pre_training_leaves_berts_dropout_in_the_saved_config(tmp_path, small_corpus, tokenizer):
    from minisbert.bert import set_dropout

    run(tmp_path, small_corpus, tokenizer, name="off", max_steps=4, eval_every=4, dropout=0.0)
    run(tmp_path, small_corpus, tokenizer, name="on", max_steps=4, eval_every=4)
    saved = json.loads((tmp_path / "off" / "config.json").read_text())
    assert saved["hidden_dropout_prob"] == saved["attention_probs_dropout_prob"] == 0.1  # for fine-tuning
    assert json.loads((tmp_path / "off" / "pretrain_log.json").read_text())["settings"]["dropout"] == 0.0
    off = BertForPreTraining.from_pretrained(tmp_path / "off").state_dict()
    on = BertForPreTraining.from_pretrained(tmp_path / "on").state_dict()
    assert not torch.equal(off["bert.embeddings.word_embeddings.weight"], on["bert.embeddings.word_embeddings.weight"])
    # With dropout off a model in training mode is a function of its input.
    model = set_dropout(BertForPreTraining.from_pretrained(tmp_path / "off").train(), 0.0)
    ids = torch.tensor([[2, 7592, 2088, 3]])
    assert torch.equal(model(ids).prediction_logits, model(ids).prediction_logits)
    with pytest.raises(ValueError, match="dropout must be a number in"):
        set_dropout(model, 1.5)


def test_the_tokenized_corpus_is_cached_and_rebuilt_when_the_text_changes(tmp_path, small_corpus, tokenizer):
    from minisbert.io.corpus import tokenize_corpus

    corpus = tmp_path / "c.txt"
    corpus.write_text(small_corpus.read_text())
    first = tokenize_corpus([corpus], tokenizer, tmp_path / "cache")
    assert len(list((tmp_path / "cache").iterdir())) == 1
    again = tokenize_corpus([corpus], tokenizer, tmp_path / "cache")
    assert np.array_equal(first.ids, again.ids)
    corpus.write_text(small_corpus.read_text() + "\n\nA new document.\n")
    changed = tokenize_corpus([corpus], tokenizer, tmp_path / "cache")
    assert len(list((tmp_path / "cache").iterdir())) == 2
    assert len(changed.ids) == len(first.ids) + 4  # a, new, document, .
    # Another vocabulary (one entry renamed) is another cache, even for the same text.
    from minisbert.tokenizer import BertTokenizer
    vocab = dict(tokenizer.vocab)
    vocab["zzzz"] = vocab.pop("[unused5]")
    other = BertTokenizer(vocab)
    tokenize_corpus([corpus], other, tmp_path / "cache")
    assert len(list((tmp_path / "cache").iterdir())) == 3


@pytest.mark.fast
@pytest.mark.parametrize("overrides, message", [
    (dict(max_len=513), "max_len must be an int from 8 to 512"),
    (dict(minutes=0, max_steps=None), "minutes must be a number > 0"),
    (dict(minutes=-1, max_steps=None), "minutes must be a number > 0"),
    (dict(size="huge"), "unknown size 'huge'"),
    (dict(max_steps=None), "give exactly one of max_steps and minutes"),
    (dict(dropout=1.0), r"dropout must be a number in \[0, 1\), got 1.0"),
    (dict(dropout=-0.1), r"dropout must be a number in \[0, 1\)"),
    (dict(contrastive=True), "contrastive replaces next-sentence prediction: give nsp=False"),
    (dict(contrastive=True, nsp=False, batch_size=1), "contrastive needs batch_size >= 2"),
    (dict(contrastive="yes", nsp=False), "contrastive must be True or False, got 'yes'"),
    (dict(tie_word_embeddings=0), "tie_word_embeddings must be True or False, got 0"),
    (dict(contiguous_batches=1), "contiguous_batches must be True or False, got 1"),
    (dict(freeze_word_embeddings=True), "freeze_word_embeddings needs tie_word_embeddings=False"),
])
def test_bad_settings_are_named(tmp_path, small_corpus, tokenizer, overrides, message):
    with pytest.raises(ValueError, match=message):
        run(tmp_path, small_corpus, tokenizer, **(dict(max_steps=2) | overrides))


@pytest.mark.fast
def test_contiguous_batches_are_runs_of_neighbouring_examples_in_a_random_order():
    n, batch = 1000, 64
    order = epoch_order(n, batch, seed=3, contiguous=True)
    assert sorted(order.tolist()) == list(range(n))  # every example once
    runs = order[:(n // batch - 1) * batch].view(-1, batch)  # the full runs (a random offset may cost one)
    assert torch.equal(runs - runs[:, :1], torch.arange(batch).expand_as(runs))  # each: k, k+1, ..., k+63
    assert not torch.equal(runs[:, 0], runs[:, 0].sort().values)  # the runs themselves are shuffled
    assert torch.equal(order, epoch_order(n, batch, seed=3, contiguous=True))  # seeded: resume draws the same
    assert not torch.equal(order, epoch_order(n, batch, seed=4, contiguous=True))
    shuffled = epoch_order(n, batch, seed=3)
    assert sorted(shuffled.tolist()) == list(range(n))
    assert (shuffled[:batch].diff() == 1).sum() < 5  # a shuffled batch is not a run


@pytest.mark.fast
def test_bad_corpora_are_named(tmp_path, tokenizer):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n  \n")
    with pytest.raises(CorpusError, match="no text in"):
        run(tmp_path, empty, tokenizer, max_steps=2)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Une phrase.\n\nCaf\xe9 cr\xe8me.\n".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"latin1.txt is not UTF-8 text \(line 3"):
        run(tmp_path, latin1, tokenizer, max_steps=2)
    one = tmp_path / "one.txt"
    one.write_text("Only one document. It has two sentences.\n")
    with pytest.raises(CorpusError, match="at least 2 documents"):
        run(tmp_path, one, tokenizer, max_steps=2)


@pytest.mark.fast
def test_named_sizes_are_turc_et_al():
    assert [(c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size)
            for c in (bert_config(s, 30522) for s in ("tiny", "mini", "small"))] == \
        [(2, 128, 2, 512), (4, 256, 4, 1024), (4, 512, 8, 2048)]
    assert bert_config("L3-H96-A3", 100).num_attention_heads == 3


def test_command_line_pretrain_then_fill_mask(tmp_path, small_corpus, model_dir):
    out = tmp_path / "bert"
    cmd = [sys.executable, "-m", "minisbert", "pretrain", "--config", "L2-H64-A2", "--corpus", str(small_corpus),
           "--max-steps", "4", "--out", str(out), "--max-len", "32", "--batch-size", "8", "--eval-every", "2",
           "--precision", "fp32", "--cache", str(tmp_path / "cache"), "--no-progress", "--vocab", str(model_dir)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "held-out MLM loss" in done.stdout
    done = subprocess.run([sys.executable, "-m", "minisbert", "fill-mask", "The man went to the [MASK] to buy milk.",
                           "--model", str(out), "-k", "3"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("[MASK] 1: ") and done.stdout.count(",") == 2
    done = subprocess.run([sys.executable, "-m", "minisbert", "fill-mask", "Nothing to fill here.", "--model", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "has no [MASK] token to fill" in done.stderr and done.stderr.count("\n") == 1


def test_command_line_pretrain_with_the_next_segment_task(tmp_path, small_corpus, model_dir):
    out = tmp_path / "bert"
    cmd = [sys.executable, "-m", "minisbert", "pretrain", "--config", "L2-H64-A2", "--corpus", str(small_corpus),
           "--max-steps", "2", "--eval-every", "2", "--out", str(out), "--max-len", "32", "--batch-size", "8",
           "--precision", "fp32", "--cache", str(tmp_path / "cache"), "--no-progress", "--vocab", str(model_dir),
           "--contrastive", "--untie-word-embeddings", "--contiguous-batches"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "next segment" in done.stdout
    settings = json.loads((out / "pretrain_log.json").read_text())["settings"]
    assert settings["contrastive"] is True and settings["nsp"] is False  # --contrastive takes NSP's place
    assert settings["contiguous_batches"] is True
    model = BertForMaskedLM.from_pretrained(out)
    assert model.config.tie_word_embeddings is False  # the decoder has a matrix of its own, saved and loaded
    assert not torch.equal(model.cls.predictions.decoder.weight, model.bert.embeddings.word_embeddings.weight)


def test_command_line_pretrain_on_the_pieces_the_corpus_uses(tmp_path, small_corpus, model_dir):
    out = tmp_path / "bert"
    cmd = [sys.executable, "-m", "minisbert", "pretrain", "--config", "L2-H64-A2", "--corpus", str(small_corpus),
           "--max-steps", "2", "--out", str(out), "--max-len", "32", "--batch-size", "8", "--precision", "fp32",
           "--cache", str(tmp_path / "cache"), "--no-progress", "--vocab", str(model_dir), "--vocab-min-count", "3"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    full, small = load_tokenizer(model_dir), load_tokenizer(out)
    assert "of 30,522 pieces that the text uses 3 times or more" in done.stdout
    assert 100 < len(small.vocab) < 30522
    assert BertModel.from_pretrained(out).embeddings.word_embeddings.weight.shape[0] == len(small.vocab)
    # Every piece kept was in the full vocabulary, and the text still tokenizes with no more [UNK] than before.
    assert set(small.vocab) <= set(full.vocab)
    text = small_corpus.read_text()[:20000]
    assert small.tokenize(text).count("[UNK]") == full.tokenize(text).count("[UNK]")


@pytest.mark.parametrize("argv, message", [
    (["--minutes", "0"], "minutes must be a number > 0"),
    (["--minutes", "-3"], "minutes must be a number > 0"),
    (["--max-steps", "2", "--config", "giant"], "unknown size 'giant'"),
    (["--max-steps", "2", "--max-len", "600"], "max_len must be an int from 8 to 512"),
    (["--max-steps", "2", "--dropout", "1"], "dropout must be a number in [0, 1), got 1.0"),
    (["--max-steps", "2", "--vocab-min-count", "0"], "--vocab-min-count must be a positive int, got 0"),
])
def test_command_line_bad_settings_exit_2(tmp_path, small_corpus, argv, message):
    done = subprocess.run([sys.executable, "-m", "minisbert", "pretrain", "--corpus", str(small_corpus),
                           "--out", str(tmp_path / "o"), *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_fill_mask_refuses_text_without_mask_and_a_folder_without_the_head(tmp_path, model_dir):
    done = subprocess.run([sys.executable, "-m", "minisbert", "fill-mask", "No mask here.", "--model", str(model_dir)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no masked-LM head" in done.stderr and done.stderr.count("\n") == 1


def test_a_raw_bert_folder_loads_as_a_sentence_encoder_with_mean_pooling_as_sentence_transformers(tmp_path, tokenizer):
    from sentence_transformers import SentenceTransformer

    from minisbert import BertConfig, SentenceBert

    torch.manual_seed(0)
    bert = BertForPreTraining(BertConfig(vocab_size=len(tokenizer.vocab), hidden_size=48, num_hidden_layers=2,
                                         num_attention_heads=3, intermediate_size=96)).eval()
    bert.save_pretrained(tmp_path)
    tokenizer.save(tmp_path)
    assert not (tmp_path / "modules.json").exists()
    ours = SentenceBert.from_pretrained(tmp_path)
    assert ours.pooling.mode == "mean" and not ours.normalize
    st = SentenceTransformer(str(tmp_path), device="cpu")
    sentences = ["A man is playing a guitar.", "Raw BERT vectors, averaged.", "x"]
    a = ours.encode(sentences, convert_to="torch")
    b = st.encode(sentences, convert_to_tensor=True)
    assert (a - b).abs().max() <= 1e-6


@pytest.mark.slow
def test_a_run_killed_mid_way_and_resumed_ends_with_the_same_parameters(tmp_path, small_corpus, model_dir, killed_when):
    """SIGKILL after the first checkpoint (not a polite stop), then --resume: the same parameters as a run
    that was never interrupted."""
    def command(out, *extra):
        return [sys.executable, "-m", "minisbert", "pretrain", "--config", "L2-H64-A2", "--corpus", str(small_corpus),
                "--max-steps", "40", "--out", str(out), "--max-len", "32", "--batch-size", "8", "--eval-every", "20",
                "--checkpoint-every", "5", "--precision", "fp32", "--cache", str(tmp_path / "cache"), "--no-progress",
                "--vocab", str(model_dir), *extra]

    done = subprocess.run(command(tmp_path / "whole"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    state = tmp_path / "killed-checkpoint" / "trainer_state.json"
    killed_when(command(tmp_path / "killed"), state)
    step = json.loads(state.read_text())["state"]["step"]
    assert 0 < step < 40
    done = subprocess.run(command(tmp_path / "killed", "--resume"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"resumed at step {step}" in done.stdout
    whole = BertForPreTraining.from_pretrained(tmp_path / "whole").state_dict()
    resumed = BertForPreTraining.from_pretrained(tmp_path / "killed").state_dict()
    for name, tensor in whole.items():
        assert torch.equal(tensor, resumed[name]), name


@pytest.mark.fast
def test_the_command_needs_a_corpus_or_the_train_sentences(tmp_path, capsys):
    from minisbert.__main__ import main

    assert main(["pretrain", "--config", "L1-H32-A2", "--max-steps", "1", "--out", str(tmp_path / "bert")]) == 2
    err = capsys.readouterr().err
    assert "nothing to pre-train on" in err and "--corpus PATH" in err and "--add-train-sentences" in err
    assert not (tmp_path / "bert").exists()
