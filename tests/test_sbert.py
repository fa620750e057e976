"""SentenceBert against sentence-transformers running in the same process, on the real all-MiniLM-L6-v2.

Every expected vector comes from sentence-transformers' own ``encode`` (or its own Pooling module), never
from minisbert: the whole STS Benchmark test set for mean pooling, a few hundred sentences for max and
CLS pooling, and folders written by each library and read by the other.
"""

from __future__ import annotations

import copy
import json
import shutil
import warnings

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules.transformer import Transformer as STTransformer
from sentence_transformers.sentence_transformer.modules import Pooling as STPooling

from minisbert import SentenceBert
from minisbert.io.data import load_stsb
from minisbert.pooling import POOLING_MODES

TOL = 1e-6  # max |Δ| on unit-length vectors whose entries are ~0.05: float32 rounding, nothing more


def normalized(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def ours(real_sbert):
    return real_sbert  # the run's shared model (tests/conftest.py)


@pytest.fixture(scope="module")
def st(st_model):
    return st_model  # the run's shared model (tests/conftest.py)


def on_shared_bert(ours, **kwargs):
    """A new SentenceBert around the shared model's encoder and tokenizer (another pooling or length), in
    eval mode: encode() puts a model back in the mode it found, and a training-mode wrapper would put the
    shared encoder in training mode with it."""
    return SentenceBert(ours.bert, ours.tokenizer, **kwargs).eval()


@pytest.fixture(scope="module")
def stsb_test(data_dir):
    return load_stsb("test", data_dir)


@pytest.fixture(scope="module")
def sentences(stsb_test):
    return list(dict.fromkeys(s for p in stsb_test for s in (p.sentence1, p.sentence2)))  # unique, in order


@pytest.fixture(scope="module")
def st_vectors(st, sentences):
    return st.encode(sentences, batch_size=32)


@pytest.fixture(scope="module")
def our_vectors(ours, sentences):
    return ours.encode(sentences, batch_size=32)


@pytest.fixture(scope="module")
def st_saved_folder(st, tmp_path_factory):
    """A folder as sentence-transformers 6.2 writes it (tokenizer.json only, "pooling_mode" string form)."""
    folder = tmp_path_factory.mktemp("st") / "model"
    st.save(str(folder))
    return folder


# ---- the folder and the model it describes ------------------------------------------------------------


def test_reads_the_folder_as_sentence_transformers_does(ours, st):
    assert ours.max_seq_length == st.max_seq_length == 256
    assert ours.pooling.mode == "mean" and ours.normalize
    assert ours.dim == st.get_embedding_dimension() == 384
    assert not ours.training


# ---- parity: the whole STS Benchmark test set -----------------------------------------------------------


@pytest.mark.slow
def test_every_stsb_test_sentence_matches_sentence_transformers(sentences, our_vectors, st_vectors):
    assert len(sentences) > 2500
    assert our_vectors.shape == st_vectors.shape == (len(sentences), 384)
    assert our_vectors.dtype == np.float32
    assert np.abs(our_vectors - st_vectors).max() <= TOL


@pytest.mark.slow
def test_stsb_test_spearman_equals_sentence_transformers(ours, st, stsb_test, sentences, st_vectors):
    from minisbert.evaluate import evaluate_sts

    # The reference: cosine similarity of sentence-transformers' vectors, Spearman as its evaluator does it.
    row = {s: i for i, s in enumerate(sentences)}
    a = st_vectors[[row[p.sentence1] for p in stsb_test]]
    b = st_vectors[[row[p.sentence2] for p in stsb_test]]
    cos = (normalized(a) * normalized(b)).sum(-1)
    reference = 100 * spearmanr([p.score for p in stsb_test], cos).statistic
    spearman = evaluate_sts(ours, stsb_test, batch_size=32)["spearman"]
    assert abs(spearman - reference) <= 0.01, (spearman, reference)
    assert 80 < reference < 84  # all-MiniLM-L6-v2 on STSb test: 82.03


@pytest.mark.parametrize("mode", ["max", "cls"])
def test_max_and_cls_pooling_match_sentence_transformers_pooling(ours, st, sentences, mode):
    transformer = st[0]  # the shared model's Transformer module, all-MiniLM-L6-v2 at 256 tokens
    assert isinstance(transformer, STTransformer) and transformer.max_seq_length == 256
    reference = SentenceTransformer(modules=[transformer, STPooling(384, pooling_mode=mode)], device="cpu")
    pooled = on_shared_bert(ours, pooling=mode, normalize=ours.normalize, max_seq_length=ours.max_seq_length)
    assert pooled.pooling.mode == mode
    subset = sentences[:200]
    expected = reference.encode(subset, batch_size=32)
    got = pooled.encode(subset, batch_size=32, normalize=False)
    assert np.abs(normalized(got) - normalized(expected)).max() <= TOL
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-5)  # the raw vectors too, not only directions


# ---- encode's contract ----------------------------------------------------------------------------------


def test_order_is_restored_and_batching_does_not_matter(ours, sentences, our_vectors):
    rng = np.random.default_rng(0)
    pick = rng.choice(len(sentences), size=40, replace=False)
    shuffled = [sentences[i] for i in pick]
    for batch_size in (1, 7, 64):
        got = ours.encode(shuffled, batch_size=batch_size)
        assert np.abs(got - our_vectors[pick]).max() <= TOL


@pytest.mark.parametrize("precision, tol", [("fp32", TOL), ("bf16", 1e-2)])  # bf16: tests/test_bf16.py's bound
def test_batches_side_by_side_give_the_vectors_of_one_batch_at_a_time(ours, sentences, precision, tol):
    picked = sentences[:400]
    one_at_a_time = ours.encode(picked, compute=precision, workers=1)  # every thread on each batch
    for workers in (2, 3):
        got = ours.encode(picked, compute=precision, workers=workers)  # one thread per batch
        # A product's sums may be split differently by one thread than by two: float rounding in fp32;
        # in bf16 that rounding can flip the last bit of a bf16 activation, so the bound is bf16's.
        assert np.abs(got - one_at_a_time).max() <= tol
        # Whichever worker takes a batch computes it the same way: the same bits on every run.
        assert np.array_equal(got, ours.encode(picked, compute=precision, workers=workers))


def test_repeated_sentences_go_through_bert_once(ours, sentences, our_vectors, monkeypatch):
    ours = copy.deepcopy(ours)  # its forward is wrapped and deduplicate switched: not the shared model
    # Repeats, and a spelling the uncased tokenizer does not tell apart from sentence 0.
    picks = [0, 1, 0, 2, 1, 1, 0]
    texts = [sentences[i] for i in picks]
    texts[-1] = texts[-1].upper()
    rows_through_bert = []
    forward = ours._forward_for_encode

    def counting(batch, *args):
        rows_through_bert.append(batch["input_ids"].shape[0])
        return forward(batch, *args)

    monkeypatch.setattr(ours, "_forward_for_encode", counting)
    assert ours.deduplicate  # the default
    got = ours.encode(texts, batch_size=2)
    assert sum(rows_through_bert) == 3
    assert np.abs(got - our_vectors[picks]).max() <= TOL
    assert (got[0] == got[2]).all() and (got[0] == got[6]).all() and (got[1] == got[4]).all()

    rows_through_bert.clear()
    monkeypatch.setattr(ours, "deduplicate", False)
    every = ours.encode(texts, batch_size=2)
    assert sum(rows_through_bert) == len(texts)
    assert np.abs(every - got).max() <= TOL


def test_one_string_gives_one_vector(ours, st):
    v = ours.encode("A man is playing a guitar.")
    assert v.shape == (384,)
    assert np.abs(v - st.encode("A man is playing a guitar.")).max() <= TOL


def test_empty_inputs(ours, st):
    assert ours.encode([]).shape == (0, 384)
    empty_torch = ours.encode([], convert_to="torch")
    assert isinstance(empty_torch, torch.Tensor) and empty_torch.shape == (0, 384)
    v = ours.encode("")  # [CLS] [SEP]: still a sentence vector
    assert v.shape == (384,) and np.isfinite(v).all()
    assert np.abs(v - st.encode("")).max() <= TOL


@pytest.mark.parametrize("bad, position", [(["ok", None], 1), ([3, "ok"], 0), (["a", "b", b"bytes"], 2)])
def test_non_strings_raise_type_error_naming_the_position(ours, bad, position):
    with pytest.raises(TypeError, match=rf"sentences\[{position}\]"):
        ours.encode(bad)


def test_bad_arguments(ours):
    with pytest.raises(TypeError):
        ours.encode(None)
    with pytest.raises(ValueError, match="batch_size"):
        ours.encode(["a"], batch_size=0)
    with pytest.raises(ValueError, match="convert_to"):
        ours.encode(["a"], convert_to="list")
    for workers in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="workers must be a positive int"):
            ours.encode(["a"], workers=workers)


def test_long_inputs_are_truncated_like_sentence_transformers(ours, st):
    long_text = " ".join(["the quick brown fox jumps over the lazy dog"] * 60)  # ~540 tokens
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tokenizer warns once that it truncated
        got = ours.encode([long_text, "short"])
    assert np.abs(got - st.encode([long_text, "short"])).max() <= TOL


def test_normalize_override_and_torch_output(ours, sentences):
    raw = ours.encode(sentences[:10], normalize=False, convert_to="torch")
    unit = ours.encode(sentences[:10], convert_to="torch")
    assert isinstance(raw, torch.Tensor) and raw.device == ours.device
    assert not torch.allclose(raw.norm(dim=-1), torch.ones(10))
    assert torch.allclose(torch.nn.functional.normalize(raw, dim=-1), unit, atol=TOL)
    assert torch.allclose(unit.norm(dim=-1), torch.ones(10), atol=1e-6)
    # An ordinary tensor, not an inference-mode one: usable later in code that records gradients.
    assert not unit.is_inference() and not unit.requires_grad
    (unit * torch.ones(384, requires_grad=True)).sum().backward()


def test_encode_restores_training_mode_and_attention_path(ours):
    model = copy.deepcopy(ours).train()
    assert model.bert.use_sdpa is False
    a = model.encode(["A man is playing a guitar."] * 3)
    assert model.training and model.bert.use_sdpa is False
    assert np.abs(a - a[0]).max() == 0  # dropout was off during encode


def test_progress_bar(ours, capsys):
    ours.encode(["one", "two", "three"], batch_size=1, progress=True)
    assert "encode" in capsys.readouterr().err
    ours.encode(["one", "two", "three"], batch_size=1)  # auto: a short run, no bar
    assert capsys.readouterr().err == ""


# ---- the siamese network ---------------------------------------------------------------------------------


def test_forward_is_the_same_network_on_each_side(ours):
    model = copy.deepcopy(ours)  # trained a step below: not the shared model
    a = model.tokenize(["A man is playing a guitar.", "A woman slices an onion."])
    b = model.tokenize(["Someone plays an instrument.", "Food is being prepared in a kitchen today."])
    u, v = model(a, b)
    assert u.shape == v.shape == (2, 384)
    # v depends on b alone: the other side's input does not reach it (a bi-encoder, not a cross-encoder).
    _, v2 = model(model.tokenize(["Something else entirely, and longer than before."] * 2), b)
    assert torch.allclose(v, v2, atol=1e-6)
    # embed() is what encode() computes, with autograd.
    assert torch.allclose(u, torch.from_numpy(model.encode(["A man is playing a guitar.", "A woman slices an onion."])),
                          atol=TOL)

    # One set of weights: both towers' gradients land on the same parameters, and in training mode
    # dropout is active.
    model.train()
    u, v = model(a, b)
    (u * v).sum().backward()
    grad = model.bert.encoder.layer[0].attention.self.query.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    assert sum(1 for _ in model.parameters()) == sum(1 for _ in model.bert.parameters())  # pooling has none
    u_again, _ = model(a, b)
    assert not torch.allclose(u, u_again)  # dropout


def test_tokenize_truncates_at_max_seq_length(ours):
    model = on_shared_bert(ours, max_seq_length=16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = model.tokenize(["word " * 100, "short"])
    assert batch["input_ids"].shape == (2, 16) and batch["input_ids"].dtype == torch.long
    assert batch["attention_mask"][1].sum() < 16


def test_constructor_checks(ours):
    with pytest.raises(ValueError) as info:
        SentenceBert(ours.bert, ours.tokenizer, pooling="sum")
    assert all(mode in str(info.value) for mode in POOLING_MODES)
    with pytest.raises(ValueError, match="max_seq_length"):
        SentenceBert(ours.bert, ours.tokenizer, max_seq_length=513)
    with pytest.raises(TypeError):
        SentenceBert("not a bert", ours.tokenizer)


# ---- folders in and out ----------------------------------------------------------------------------------


def test_saved_folder_loads_in_sentence_transformers(ours, sentences, our_vectors, tmp_path):
    folder = tmp_path / "saved"
    ours.save(folder)
    assert json.loads((folder / "1_Pooling" / "config.json").read_text())["pooling_mode"] == "mean"
    reloaded = SentenceTransformer(str(folder), device="cpu")
    assert reloaded.max_seq_length == 256
    subset = sentences[:100]
    assert np.abs(reloaded.encode(subset) - our_vectors[:100]).max() <= TOL
    assert np.abs(SentenceBert.from_pretrained(folder).encode(subset) - our_vectors[:100]).max() <= TOL


def test_saved_max_pooling_without_normalize(ours, sentences, tmp_path):
    ours = on_shared_bert(ours, pooling="max", normalize=False, max_seq_length=128)
    ours.save(tmp_path / "max")
    assert not (tmp_path / "max" / "2_Normalize").exists()
    reloaded = SentenceTransformer(str(tmp_path / "max"), device="cpu")
    assert reloaded.max_seq_length == 128
    subset = sentences[:50]
    assert np.allclose(reloaded.encode(subset), ours.encode(subset), rtol=1e-5, atol=1e-5)


def test_sentence_transformers_saved_folder_loads(st_saved_folder, st, sentences, st_vectors):
    assert not (st_saved_folder / "vocab.txt").exists()  # 6.2 writes tokenizer.json only
    ours = SentenceBert.from_pretrained(st_saved_folder)
    assert (ours.pooling.mode, ours.normalize, ours.max_seq_length) == ("mean", True, 256)
    assert np.abs(ours.encode(sentences[:200]) - st_vectors[:200]).max() <= TOL


@pytest.mark.parametrize("mode", ["max", "cls"])
@pytest.mark.parametrize("form", ["legacy", "pooling_mode"])
def test_both_pooling_config_forms(st_saved_folder, tmp_path, sentences, mode, form):
    folder = tmp_path / "m"
    shutil.copytree(st_saved_folder, folder)
    if form == "legacy":  # sentence-transformers ≤ 4: one boolean per mode
        config = {"word_embedding_dimension": 384, "pooling_mode_cls_token": mode == "cls",
                  "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": mode == "max",
                  "pooling_mode_mean_sqrt_len_tokens": False}
    else:
        config = {"embedding_dimension": 384, "pooling_mode": mode, "include_prompt": True}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(config))
    reference = SentenceTransformer(str(folder), device="cpu")
    ours = SentenceBert.from_pretrained(folder)
    assert ours.pooling.mode == mode
    subset = sentences[:40]
    assert np.abs(ours.encode(subset) - reference.encode(subset)).max() <= TOL


def test_plain_bert_folder_gets_mean_pooling(model_dir, tmp_path, sentences):
    folder = tmp_path / "plain"
    folder.mkdir()
    for name in ("config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"):
        shutil.copy(model_dir / name, folder / name)
    ours = SentenceBert.from_pretrained(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = SentenceTransformer(str(folder), device="cpu")  # no modules.json: Transformer + mean
    assert (ours.pooling.mode, ours.normalize) == ("mean", False)
    assert ours.max_seq_length == reference.max_seq_length == 512
    subset = sentences[:40]
    assert np.allclose(ours.encode(subset), reference.encode(subset), rtol=1e-5, atol=1e-5)


def test_unsupported_folders_are_refused(st_saved_folder, tmp_path):
    folder = tmp_path / "dense"
    shutil.copytree(st_saved_folder, folder)
    modules = json.loads((folder / "modules.json").read_text())
    modules.append({"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ValueError, match="Dense"):
        SentenceBert.from_pretrained(folder)

    (folder / "modules.json").write_text(json.dumps(modules[:3]))
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode": "weightedmean"}))
    with pytest.raises(ValueError, match="weightedmean"):
        SentenceBert.from_pretrained(folder)
    with pytest.raises(ValueError) as info:
        SentenceBert.from_pretrained(st_saved_folder, pooling="median")
    assert all(mode in str(info.value) for mode in POOLING_MODES)


def test_save_replaces_a_model_folder_and_never_leaves_half_a_folder(ours, tmp_path, monkeypatch):
    folder = tmp_path / "model"
    ours.save(folder)
    before = (folder / "model.safetensors").read_bytes()
    ours.save(folder)  # replacing an existing model folder
    assert (folder / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary folders left

    import minisbert.sbert as sbert_module

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(sbert_module, "save_tensors", crash)
    with pytest.raises(OSError, match="disk full"):
        ours.save(folder)  # the old folder survives intact
    with pytest.raises(OSError, match="disk full"):
        ours.save(tmp_path / "new")  # and no half folder appears
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert (folder / "model.safetensors").read_bytes() == before


def test_save_refuses_to_replace_a_folder_that_is_not_a_model(ours, tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        ours.save(tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"
