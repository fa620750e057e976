"""The cross-encoder against Hugging Face: BertModel plus the same head, and the folder in three libraries.

* A tiny random ``BertForSequenceClassification`` (1 and 3 outputs), loaded by ``CrossEncoder``: the
  logits on a padded batch of pairs (token types 0/1) equal transformers' within 1e-5, on both
  attention paths.
* The real all-MiniLM-L6-v2 with a new head: our logits equal transformers' ``BertModel`` pooler output
  through the same linear layer, within 1e-5, and the pair batch equals transformers' tokenizer's.
* A saved folder (a small random BERT with the real vocabulary, to keep files small) gives the same
  scores in sentence-transformers' ``CrossEncoder`` and transformers' ``BertForSequenceClassification``.
* ``predict``: a pair's score does not depend on its batch; clear errors for malformed pairs.
* Training: the loss is BCE-with-logits against the score, and ``minisbert.training.train`` runs it.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import transformers

from minisbert import BertConfig, BertModel
from minisbert.cross_encoder import CrossEncoder, CrossEncoderObjective
from minisbert.examples import PairExample
from minisbert.training import TrainConfig, train

TOL = 1e-5

PAIRS = [
    ("A man is playing a guitar.", "Someone is playing an instrument."),
    ("The cat sat on the mat.", "A dog is barking loudly at the mailman, who ignores it and walks on."),
    ("Hi", "Hello there"),
    ("Three people are riding bicycles down a busy street in the city centre.", "People ride bikes."),
]


# ----------------------------------------------------------------------------------------------------
# Tiny random model: every code path, fast


@pytest.fixture(scope="module", params=[1, 3], ids=["1-output", "3-labels"])
def tiny(request, tmp_path_factory):
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                                  intermediate_size=37, max_position_embeddings=64, type_vocab_size=2,
                                  num_labels=request.param)
    hf = transformers.BertForSequenceClassification(cfg).eval()
    torch.nn.init.normal_(hf.classifier.bias)  # a non-zero bias, so that a dropped bias would show
    folder = tmp_path_factory.mktemp(f"tiny-ce-{request.param}")
    hf.save_pretrained(folder, safe_serialization=True)
    return folder, hf


def padded_pair_batch():
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 99, (3, 17), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 11:] = 0  # rows of different lengths, padded on the right
    mask[2, 6:] = 0
    ids[mask == 0] = 0
    types = torch.zeros_like(ids)
    types[0, 9:] = 1  # segment B of each pair
    types[1, 5:11] = 1
    types[2, 3:6] = 1
    return ids, mask, types


@pytest.mark.parametrize("use_sdpa", [False, True], ids=["plain", "sdpa"])
def test_tiny_cross_encoder_matches_hf_sequence_classification(tiny, use_sdpa):
    folder, hf = tiny
    ours = CrossEncoder.from_pretrained(folder)
    assert ours.num_labels == hf.config.num_labels and not ours.training
    ours.bert.use_sdpa = use_sdpa
    ids, mask, types = padded_pair_batch()
    with torch.no_grad():
        a = ours(ids, mask, types)
        b = hf(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
    assert a.shape == b.shape == (3, hf.config.num_labels)
    assert (a - b).abs().max().item() <= TOL


def test_tiny_folder_round_trip_and_labels(tiny, tmp_path):
    folder, hf = tiny
    ours = CrossEncoder.from_pretrained(folder)
    ours.save(tmp_path / "saved")
    back = transformers.BertForSequenceClassification.from_pretrained(tmp_path / "saved").eval()
    again = CrossEncoder.from_pretrained(tmp_path / "saved")
    ids, mask, types = padded_pair_batch()
    with torch.no_grad():
        expected = hf(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
        assert (back(input_ids=ids, attention_mask=mask, token_type_ids=types).logits - expected).abs().max() <= TOL
        assert (again(ids, mask, types) - expected).abs().max() <= TOL
    assert again.labels == ours.labels == [f"LABEL_{i}" for i in range(hf.config.num_labels)]
    with pytest.raises(ValueError, match="outputs"):
        CrossEncoder.from_pretrained(folder, num_labels=hf.config.num_labels + 1)
    with pytest.raises(ValueError, match="no tokenizer"):  # the tiny folder has no vocabulary
        ours.predict([("a", "b")])


# ----------------------------------------------------------------------------------------------------
# The real checkpoint


@pytest.fixture(scope="module")
def real(real_sbert):
    """all-MiniLM-L6-v2 with a new one-output head, as ``CrossEncoder.from_pretrained`` makes it from that
    folder. The encoder is the run's shared one (tests/conftest.py): a test that changes it restores it."""
    torch.manual_seed(0)
    ce = CrossEncoder(real_sbert.bert, real_sbert.tokenizer).eval()
    with torch.no_grad():  # a head with visible weights, not the tiny initialisation
        ce.classifier.weight.normal_(0, 0.5)
        ce.classifier.bias.fill_(0.3)
    return ce


@pytest.fixture(scope="module")
def small(model_dir):
    """A small random BERT with the real vocabulary and tokenizer: folder round trips without 90 MB files."""
    from minisbert.tokenizer import load_tokenizer

    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                intermediate_size=37, max_position_embeddings=128))
    ce = CrossEncoder(bert, load_tokenizer(model_dir)).eval()
    with torch.no_grad():
        ce.classifier.weight.normal_(0, 0.5)
        ce.classifier.bias.fill_(0.3)
    return ce


def test_real_cross_encoder_equals_hf_bert_model_plus_same_head(real, hf_bert, model_dir):
    hf = hf_bert
    hf_tok = transformers.AutoTokenizer.from_pretrained(str(model_dir))
    batch = real.tokenize(PAIRS)  # [CLS] a [SEP] b [SEP], padded to the longest pair
    ref = hf_tok([a for a, _ in PAIRS], [b for _, b in PAIRS], padding=True, return_tensors="pt")
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        assert torch.equal(batch[key], ref[key]), key
    assert batch["attention_mask"].sum(1).unique().numel() > 1  # really a padded batch
    with torch.no_grad():
        pooled = hf(**ref).pooler_output  # (B, H)
        expected = torch.nn.functional.linear(pooled, real.classifier.weight, real.classifier.bias)  # (B, 1)
        had_sdpa = real.bert.use_sdpa
        try:
            for use_sdpa in (False, True):
                real.bert.use_sdpa = use_sdpa
                assert (real(**batch) - expected).abs().max().item() <= TOL
        finally:
            real.bert.use_sdpa = had_sdpa
    scores = real.predict(PAIRS)
    assert scores.shape == (len(PAIRS),)
    assert np.abs(scores - torch.sigmoid(expected[:, 0]).numpy()).max() <= TOL


def test_saved_folder_loads_in_sentence_transformers_and_transformers(small, tmp_path):
    from sentence_transformers import CrossEncoder as STCrossEncoder

    (tmp_path / "ce").mkdir()
    (tmp_path / "ce" / "config.json").write_text("{}")  # an older model folder: replaced in one step
    small.save(tmp_path / "ce")
    ours = small.predict(PAIRS)
    st = STCrossEncoder(str(tmp_path / "ce"), device="cpu")
    assert np.abs(st.predict(PAIRS, show_progress_bar=False) - ours).max() <= TOL  # sigmoid applied by both
    hf = transformers.BertForSequenceClassification.from_pretrained(tmp_path / "ce").eval()
    batch = small.tokenize(PAIRS)
    with torch.no_grad():
        assert (hf(**batch).logits[:, 0] - small.predict(PAIRS, activation=False, convert_to="torch")).abs().max() <= TOL
    assert np.abs(CrossEncoder.from_pretrained(tmp_path / "ce").predict(PAIRS) - ours).max() <= TOL

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a model folder"):
        small.save(tmp_path / "notes")


def test_predict_does_not_depend_on_the_batch(real):
    together = real.predict(PAIRS, batch_size=3)
    alone = np.array([real.predict([p])[0] for p in PAIRS])
    assert np.abs(together - alone).max() <= TOL
    swapped = real.predict([(b, a) for a, b in PAIRS])
    assert np.abs(swapped - together).max() > 1e-4  # order matters: a and b get different token types
    assert real.predict([]).shape == (0,)
    assert not real.training  # predict restores the mode


def test_predict_with_batches_side_by_side_scores_as_one_batch_at_a_time(real):
    pairs = PAIRS * 4 + [(b, a) for a, b in PAIRS]
    one_at_a_time = real.predict(pairs, batch_size=2, workers=1)
    for workers in (2, 3):
        assert np.abs(real.predict(pairs, batch_size=2, workers=workers) - one_at_a_time).max() <= TOL
    with pytest.raises(ValueError, match="workers must be a positive int"):
        real.predict(PAIRS, workers=0)


@pytest.mark.parametrize("pairs, error, match", [
    ([("only one",)], TypeError, r"pairs\[0\] must be a 2-tuple"),
    ([("a", "b"), ("a", "b", "c")], TypeError, r"pairs\[1\] must be a 2-tuple \(a, b\) of strings, got a tuple of length 3"),
    (["ab"], TypeError, r"pairs\[0\] must be a 2-tuple"),
    ([("a", 3)], TypeError, r"pairs\[0\] must hold two strings"),
    ("a sentence", TypeError, "pairs must be a list"),
    (None, TypeError, "pairs must be a list"),
])
def test_predict_rejects_malformed_pairs(real, pairs, error, match):
    with pytest.raises(error, match=match):
        real.predict(pairs)


def test_bad_arguments(real, model_dir):
    with pytest.raises(ValueError, match="batch_size"):
        real.predict(PAIRS, batch_size=0)
    with pytest.raises(ValueError, match="convert_to"):
        real.predict(PAIRS, convert_to="list")
    with pytest.raises(ValueError, match="num_labels"):
        CrossEncoder.from_pretrained(model_dir, num_labels=0)
    with pytest.raises(TypeError, match="BertModel"):
        CrossEncoder("not a model")


# ----------------------------------------------------------------------------------------------------
# Training


def test_objective_is_binary_cross_entropy_on_the_logit(real):
    examples = [PairExample(a, b, y) for (a, b), y in zip(PAIRS, [0.9, 0.1, 0.64, 0.0])]
    objective = CrossEncoderObjective(real).eval()  # dropout off, so the loss is deterministic
    with torch.no_grad():
        loss = objective(examples).item()
        p = torch.sigmoid(real(**real.tokenize(PAIRS))[:, 0]).tolist()
    by_hand = -sum(e.label * math.log(q) + (1 - e.label) * math.log(1 - q) for e, q in zip(examples, p)) / len(p)
    assert loss == pytest.approx(by_hand, abs=1e-6)
    with pytest.raises(ValueError, match=r"examples\[1\].label = 4.0 must be a score in \[0, 1\]"):
        objective.check_examples([examples[0], PairExample("a", "b", 4.0)])


def test_train_loop_trains_the_cross_encoder(small, tmp_path):
    model = copy.deepcopy(small)  # the fixture is shared by other tests: train a copy
    before = {k: v.clone() for k, v in model.state_dict().items()}
    examples = [PairExample(a, b, y) for (a, b), y in zip(PAIRS * 2, [0.9, 0.1, 0.6, 0.3] * 2)]
    state = train(CrossEncoderObjective(model), examples, TrainConfig(batch_size=4, epochs=1, lr=1e-3, progress=False))
    assert state.step == 2 and len(state.losses) == 2 and all(math.isfinite(x) for x in state.losses)
    after = model.state_dict()
    assert not torch.equal(before["classifier.weight"], after["classifier.weight"])
    assert not torch.equal(before["bert.encoder.layer.0.attention.self.query.weight"],
                           after["bert.encoder.layer.0.attention.self.query.weight"])  # the encoder trains too
    model.save(tmp_path / "trained")
    back = CrossEncoder.from_pretrained(tmp_path / "trained")
    assert np.abs(back.predict(PAIRS) - model.predict(PAIRS)).max() <= TOL


def test_label_objective_uses_cross_entropy():
    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                intermediate_size=37, max_position_embeddings=64)).eval()
    model = CrossEncoder(bert, labels=["contradiction", "entailment", "neutral"]).eval()
    objective = CrossEncoderObjective(model)
    with pytest.raises(ValueError, match="is not one of the model's labels"):
        objective.check_examples([PairExample("a", "b", "maybe")])
    objective.check_examples([PairExample("a", "b", "neutral")])
    ids, mask, types = padded_pair_batch()
    with torch.no_grad():
        z = model(ids, mask, types)  # (3, 3)
    assert z.shape == (3, 3)
    examples = [PairExample("a", "b", name) for name in ("neutral", "contradiction", "entailment")]
    by_hand = -(z.log_softmax(-1)[torch.arange(3), torch.tensor([2, 0, 1])]).mean()  # -log p(gold label)
    assert objective.loss_from_logits(z, examples).item() == pytest.approx(by_hand.item(), abs=1e-6)


def test_cross_command_scores_pairs_and_refuses_a_model_without_head(small, model_dir, tmp_path, capsys):
    from minisbert.__main__ import main

    small.save(tmp_path / "ce")
    (a, b), (c, d) = PAIRS[:2]
    assert main(["cross", "--model", str(tmp_path / "ce"), "--pair", a, b, "--pair", c, d]) == 0
    printed = [float(line.split()[0]) for line in capsys.readouterr().out.splitlines()]
    assert printed == pytest.approx(small.predict(PAIRS[:2]).tolist(), abs=1e-4)
    assert main(["cross", "--model", str(model_dir), "--pair", a, b]) == 2
    assert "has no classifier head" in capsys.readouterr().err
