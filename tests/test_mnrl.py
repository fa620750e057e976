"""In-batch negatives: MultipleNegativesRankingObjective against sentence-transformers 6.2, the batches
without duplicate texts against its NoDuplicatesBatchSampler, SNLI as triplets, and `train --objective mnrl`.

Parity as in tests/test_objectives.py: the same weights loaded by both libraries from one folder, the same
sentences, dropout off; the loss and the gradient of every parameter agree within 1e-5. A tiny random BERT
(no normalisation, so the dot-product option means something) always runs, and the real all-MiniLM-L6-v2.
"""

from __future__ import annotations

import json
import math
import warnings

import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.sampler import NoDuplicatesBatchSampler
from sentence_transformers.sentence_transformer.losses import (
    MultipleNegativesRankingLoss,
    MultipleNegativesSymmetricRankingLoss,
)
from sentence_transformers.util import dot_score

from minisbert import SentenceBert
from minisbert.__main__ import main
from minisbert.examples import PairExample, TripletExample, nli_triplets
from minisbert.io.data import load_snli
from minisbert.objectives import MultipleNegativesRankingObjective
from minisbert.training import TrainConfig, epoch_order, example_texts, no_duplicate_batches, train
from test_objectives import (assert_same_loss_and_gradients, st_features,  # noqa: F401  (tiny_folder: a fixture)
                             tiny_folder, zero_grads)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_models(tiny_folder):
    return SentenceBert.from_pretrained(tiny_folder).eval(), SentenceTransformer(str(tiny_folder), device="cpu").eval()


@pytest.fixture
def real_models(real_sbert, st_model):
    yield real_sbert, st_model
    zero_grads(real_sbert, st_model)


@pytest.fixture(scope="module")
def triplets(data_dir):
    return nli_triplets("train", data_dir)


# ----------------------------------------------------------------------------------------------------
# Parity with sentence-transformers


def st_mnrl(st, symmetric, similarity, scale):
    kwargs = {"scale": scale, "similarity_fct": dot_score if similarity == "dot" else None}
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the symmetric class says it may be folded into the other one
        return (MultipleNegativesSymmetricRankingLoss if symmetric else MultipleNegativesRankingLoss)(st, **kwargs)


def mnrl_parity(ours, st, rows, negatives, symmetric=False, similarity="cosine", scale=20.0):
    zero_grads(ours, st)
    if negatives:
        examples = rows
        columns = [[t.anchor for t in rows], [t.positive for t in rows], [t.negative for t in rows]]
    else:
        examples = [PairExample(t.anchor, t.positive, 1.0) for t in rows]
        columns = [[t.anchor for t in rows], [t.positive for t in rows]]
    objective = MultipleNegativesRankingObjective(ours, scale=scale, similarity=similarity, symmetric=symmetric).eval()
    loss = objective(examples)
    loss.backward()
    st_loss = st_mnrl(st, symmetric, similarity, scale)(st_features(st, columns), None)
    st_loss.backward()
    assert loss.item() > 0.01  # the positives are not yet picked out with certainty: gradients to compare
    assert_same_loss_and_gradients(loss, objective, st_loss, st)


@pytest.mark.fast
@pytest.mark.parametrize("negatives", [False, True])
@pytest.mark.parametrize("symmetric", [False, True])
def test_matches_sentence_transformers_tiny(tiny_models, triplets, negatives, symmetric):
    mnrl_parity(*tiny_models, triplets[:6], negatives, symmetric)


@pytest.mark.fast
def test_dot_product_matches_sentence_transformers_tiny(tiny_models, triplets):
    mnrl_parity(*tiny_models, triplets[:6], negatives=True, similarity="dot", scale=0.05)


@pytest.mark.parametrize("negatives,symmetric", [(False, False), (True, False), (True, True)])
def test_matches_sentence_transformers_real_model(real_models, triplets, negatives, symmetric):
    mnrl_parity(*real_models, triplets[:8], negatives, symmetric)


# ----------------------------------------------------------------------------------------------------
# The maths on hand-made vectors (expected values written out, not computed by the code under test)


@pytest.mark.fast
def test_loss_by_hand(tiny_models):
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    p = torch.tensor([[3.0, 0.0], [0.0, 1.0]])  # each anchor's own positive: cos 1, the other one: cos 0
    n = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])  # n₀ ⟂ a₀ and parallel to a₁; n₁ opposite a₀, ⟂ a₁
    s = 2.0
    objective = MultipleNegativesRankingObjective(tiny_models[0], scale=s)
    # Without negatives: each row is softmax over [s·1, s·0], the right one first.
    expected = -math.log(math.exp(s) / (math.exp(s) + 1))
    assert objective.loss_from_embeddings(a, p).item() == pytest.approx(expected, rel=1e-6)
    # With negatives: row 0 scores [s, 0 | 0, −s], row 1 scores [0, s | s·1, 0] (a₁ = (0, 2), n₀ = (0, 1)).
    row0 = -math.log(math.exp(s) / (math.exp(s) + 1 + 1 + math.exp(-s)))
    row1 = -math.log(math.exp(s) / (1 + math.exp(s) + math.exp(s) + 1))
    assert objective.loss_from_embeddings(a, p, n).item() == pytest.approx((row0 + row1) / 2, rel=1e-6)
    # Symmetric: the positives pick their anchors with the same 2 × 2 scores, hard negatives left out.
    symmetric = MultipleNegativesRankingObjective(tiny_models[0], scale=s, symmetric=True)
    assert symmetric.loss_from_embeddings(a, p, n).item() == pytest.approx(((row0 + row1) / 2 + expected) / 2, rel=1e-6)


@pytest.mark.fast
def test_bad_input_says_why(tiny_models):
    model = tiny_models[0]
    objective = MultipleNegativesRankingObjective(model)
    with pytest.raises(ValueError, match="batch of one.*no in-batch negatives"):
        objective([PairExample("a dog runs", "a dog is running", 1.0)])
    with pytest.raises(ValueError, match="batch of one.*no in-batch negatives"):
        objective.loss_from_embeddings(torch.ones(1, 4), torch.ones(1, 4))
    with pytest.raises(ValueError, match="same sentence"):
        objective([PairExample("a dog runs", "a dog runs", 1.0)] * 3)
    with pytest.raises(ValueError, match="same sentence"):
        objective([TripletExample("a", "a dog runs", "x"), TripletExample("b", "a dog runs", "y")])
    with pytest.raises(ValueError, match="holds one example"):
        objective.check_examples([PairExample("a", "b", 1.0)])
    with pytest.raises(ValueError, match="same positive"):
        objective.check_examples([PairExample("a", "b", 1.0), PairExample("c", "b", 1.0)])
    with pytest.raises(TypeError, match=r"examples\[1\] must be a TripletExample"):
        objective.check_examples([TripletExample("a", "b", "c"), PairExample("a", "b", 1.0)])
    with pytest.raises(ValueError, match="scale"):
        MultipleNegativesRankingObjective(model, scale=0)
    with pytest.raises(ValueError, match="similarity"):
        MultipleNegativesRankingObjective(model, similarity="euclidean")


# ----------------------------------------------------------------------------------------------------
# SNLI as triplets


def test_nli_triplets_grouped_by_premise(data_dir, triplets):
    pairs = load_snli("train", data_dir)
    labels = {(p.premise, p.hypothesis): p.label for p in pairs}
    premises = {}
    for p in pairs:
        premises.setdefault(p.premise, set()).add(p.label)
    # One triplet per premise that has both an entailment and a contradiction, counted here from the pairs.
    assert len(triplets) == sum({"entailment", "contradiction"} <= found for found in premises.values()) == 27195
    assert len({t.anchor for t in triplets}) == len(triplets)
    for t in triplets[:500]:
        assert labels[(t.anchor, t.positive)] == "entailment"
        assert labels[(t.anchor, t.negative)] == "contradiction"


# ----------------------------------------------------------------------------------------------------
# Batches without duplicate texts


def repeated_texts(batch, examples):
    """Texts that appear in more than one row of the batch."""
    seen, repeated = set(), set()
    for i in batch:
        texts = set(example_texts(examples[i]))
        repeated |= texts & seen
        seen |= texts
    return repeated


def test_no_duplicate_batches_hold_no_repeated_text(triplets):
    examples = triplets  # all 27,195
    n_batches = math.ceil(len(examples) / 64)
    plain = epoch_order(len(examples), 0, 0).tolist()
    # SNLI's hypotheses repeat ("A man is sleeping."), so plain shuffled batches of 64 hold repeated texts ...
    assert sum(bool(repeated_texts(plain[b * 64:(b + 1) * 64], examples)) for b in range(n_batches)) >= 10
    for epoch in range(2):
        batches = no_duplicate_batches(examples, 64, 0, epoch, n_batches)
        # ... these never, and every batch is full.
        assert len(batches) == n_batches and all(len(b) == 64 for b in batches)
        assert all(not repeated_texts(b, examples) for b in batches)
        assert len({i for b in batches for i in b}) > len(examples) - 64  # one pass covers nearly all rows


def test_no_duplicate_batches_match_sentence_transformers_sampler(triplets):
    """The full batches of one pass are those of sentence-transformers' NoDuplicatesBatchSampler given the
    same shuffled order (its generator seeded as ours); its short last batch is where ours differ."""
    examples = triplets[:3000]

    class Rows:  # the little of a datasets.Dataset that the sampler reads
        column_names = ["anchor", "positive", "negative"]

        def __len__(self):
            return len(examples)

        def __getitem__(self, i):
            e = examples[i]
            return {"anchor": e.anchor, "positive": e.positive, "negative": e.negative}

    seed = 3
    sampler = NoDuplicatesBatchSampler(Rows(), batch_size=64, drop_last=False, generator=torch.Generator(),
                                       seed=seed * 1_000_003)
    sampler.set_epoch(0)
    theirs = [b for b in sampler if len(b) == 64]
    ours = no_duplicate_batches(examples, 64, seed, 0, math.ceil(len(examples) / 64))
    assert len(theirs) >= 40 and ours[:len(theirs)] == theirs


@pytest.mark.fast
def test_too_few_distinct_texts_is_an_error():
    examples = [PairExample("a", f"s{i % 3}", 1.0) for i in range(12)]  # every row shares the anchor "a"
    with pytest.raises(ValueError, match="batch_size 4.*too few distinct texts"):
        no_duplicate_batches(examples, 4, 0, 0, 3)


# ----------------------------------------------------------------------------------------------------
# Training


def test_short_mnrl_run_lowers_the_loss(tiny_folder, triplets):
    examples = triplets[:64]
    objective = MultipleNegativesRankingObjective(SentenceBert.from_pretrained(tiny_folder))
    with torch.no_grad():
        before = objective.eval()(examples).item()
    state = train(objective, examples, TrainConfig(epochs=4, batch_size=16, lr=1e-3, progress=False, seed=0))
    with torch.no_grad():
        after = objective.eval()(examples).item()
    assert after < 0.8 * before, (before, after)
    assert state.step == 4 * 4 == len(state.losses)


def test_mnrl_resume_gives_the_same_parameters_as_one_run(tiny_folder, triplets, tmp_path):
    examples = triplets[:48]
    config = dict(epochs=2, batch_size=16, lr=1e-3, progress=False, seed=5)
    runs = []
    for stop in (None, 4):
        objective = MultipleNegativesRankingObjective(SentenceBert.from_pretrained(tiny_folder))
        folder = tmp_path / f"ckpt-{stop}"
        if stop:
            train(objective, examples, TrainConfig(stop_after_steps=stop, **config), checkpoint_dir=folder)
            objective = MultipleNegativesRankingObjective(SentenceBert.from_pretrained(tiny_folder))
            train(objective, examples, TrainConfig(**config), checkpoint_dir=folder, resume=True)
        else:
            train(objective, examples, TrainConfig(**config), checkpoint_dir=folder)
        runs.append(objective.model.bert.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_cli_mnrl_on_snli(tiny_folder, tmp_path, data_dir, capsys):
    out = tmp_path / "mnrl"
    code = main(["train", "--objective", "mnrl", "--data", "snli", "--model", str(tiny_folder), "--out", str(out),
                 "--limit", "40", "--batch-size", "8", "--max-steps", "3", "--max-seq-length", "24",
                 "--data-dir", str(data_dir), "--no-progress", "--precision", "bf16"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "27195 (premise, entailment, contradiction) triplets" in printed and "dev STSb Spearman" in printed
    assert json.loads((out / "modules.json").read_text())  # a sentence-transformers folder

    code = main(["train", "--objective", "mnrl", "--data", "snli", "--model", str(tiny_folder),
                 "--out", str(tmp_path / "x"), "--batch-size", "1", "--data-dir", str(data_dir)])
    assert code == 2 and "--batch-size 1" in capsys.readouterr().err
    code = main(["train", "--objective", "mnrl", "--data", "stsb", "--model", str(tiny_folder),
                 "--out", str(tmp_path / "x"), "--data-dir", str(data_dir)])
    assert code == 2 and "trains on snli" in capsys.readouterr().err


def test_train_gives_the_objective_batches_without_repeated_texts(tiny_folder):
    """What the loop hands to the objective: with in-batch negatives no batch repeats a text; with
    no_duplicates=False the same data in plain shuffled batches does."""
    examples = [TripletExample(f"anchor {i}", f"positive {i % 8}", f"negative {i}") for i in range(48)]

    class Recording(MultipleNegativesRankingObjective):
        def forward(self, batch):
            seen.append(batch)
            return super().forward(batch)

    for no_duplicates in (None, False):
        seen = []
        objective = Recording(SentenceBert.from_pretrained(tiny_folder))
        train(objective, examples, TrainConfig(epochs=2, batch_size=6, lr=1e-3, progress=False,
                                               no_duplicates=no_duplicates))
        assert len(seen) == 2 * 8 and all(len(b) == 6 for b in seen)
        repeats = sum(len({e.positive for e in b}) < len(b) for b in seen)
        assert repeats == 0 if no_duplicates is None else repeats > 0


@pytest.mark.fast
def test_no_duplicates_setting_is_checked():
    with pytest.raises(ValueError, match="no_duplicates"):
        TrainConfig(no_duplicates="yes").check()


def test_nli_triplets_both_directions(data_dir, triplets):
    both = nli_triplets("train", data_dir, both_directions=True)
    assert both[0::2] == triplets
    assert all((b.anchor, b.positive, b.negative) == (t.positive, t.anchor, t.negative)
               for t, b in zip(triplets, both[1::2]))
