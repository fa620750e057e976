"""Spearman / Pearson against scipy.stats, and STS evaluation with a fake encoder whose answer is
worked out by hand or by scipy."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
import scipy.stats
import torch

from minisbert.io.data import SickPair, StsPair, load_sick
from minisbert.evaluate import (anisotropy, evaluate_split, evaluate_sts, pearson, random_sentence_pairs, rank,
                                spearman)

pytestmark = pytest.mark.fast  # the whole module is in the fast lane (tests/conftest.py)


# ---------------------------------------------------------------------------------------------
# Correlations


def test_hand_worked_correlations():
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # rho = 1 - 6 sum(d^2) / (n (n^2 - 1)) with d = (0, 1, -1, 0): 1 - 12 / 60 = 0.8
    assert spearman([1, 2, 3, 4], [10, 30, 20, 40]) == pytest.approx(0.8)
    # Spearman only sees the order: any increasing transform gives 1.
    assert spearman([0.1, 0.5, 0.7, 3.0], [1, 8, 27, 1000]) == pytest.approx(1.0)
    np.testing.assert_array_equal(rank([10, 20, 20, 30]), [1, 2.5, 2.5, 4])
    np.testing.assert_array_equal(rank([5, 5, 5]), [2, 2, 2])


@pytest.mark.parametrize("seed", range(5))
def test_against_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 200))
    x = rng.integers(0, 6, n).astype(float)  # many ties
    y = np.round(x + rng.normal(0, 2, n), 1)  # some ties
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        x[0], y[0] = x[0] + 1, y[0] - 1
    np.testing.assert_allclose(rank(x), scipy.stats.rankdata(x))
    assert pearson(x, y) == pytest.approx(scipy.stats.pearsonr(x, y)[0], abs=1e-12)
    assert spearman(x, y) == pytest.approx(scipy.stats.spearmanr(x, y)[0], abs=1e-12)
    z = rng.normal(size=n)  # no ties
    assert spearman(z, y) == pytest.approx(scipy.stats.spearmanr(z, y)[0], abs=1e-12)


def test_inputs_and_return_type():
    x, y = [0.3, 0.1, 0.9, 0.5], [1, 0, 5, 2]
    for a, b in [(np.array(x, dtype=np.float32), y), (torch.tensor(x), torch.tensor(y)), (tuple(x), y)]:
        for fn in (pearson, spearman):
            value = fn(a, b)
            assert type(value) is float
    assert spearman(torch.tensor(x), y) == pytest.approx(1.0)


def test_constant_input_gives_nan():
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))
    assert math.isnan(spearman([1, 2, 3], [4, 4, 4]))


@pytest.mark.parametrize(
    "x, y, match",
    [
        ([1, 2, 3], [1, 2], "same length"),
        ([1], [2], "at least 2"),
        ([], [], "at least 2"),
        ([1, float("nan"), 3], [1, 2, 3], "NaN"),
        ([1, 2, 3], [1, 2, float("nan")], "NaN"),
        ([[1, 2], [3, 4]], [1, 2], "one-dimensional"),
    ],
)
@pytest.mark.parametrize("fn", [pearson, spearman])
def test_bad_inputs(fn, x, y, match):
    with pytest.raises(ValueError, match=match):
        fn(x, y)


# ---------------------------------------------------------------------------------------------
# STS evaluation


class FakeModel:
    """Encodes each sentence as a fixed vector from a table, and records its calls."""

    def __init__(self, table, as_numpy=False):
        self.table, self.as_numpy, self.calls = table, as_numpy, []

    def encode(self, sentences, batch_size=32, convert_to="numpy"):
        self.calls.append((list(sentences), batch_size, convert_to))
        out = np.array([self.table[s] for s in sentences], dtype=np.float32)
        return out if self.as_numpy else torch.from_numpy(out)


def unit(degrees):
    return [math.cos(math.radians(degrees)), math.sin(math.radians(degrees))]


def test_evaluate_sts_by_hand():
    # Every pair compares some sentence with "anchor" = (1, 0), so cos = cos(angle). Angles chosen so
    # the cosines rank the pairs as (1, 3, 2, 5, 4) while the gold ranks them (1, 2, 3, 4, 5):
    # d = (0, 1, -1, 1, -1), rho = 1 - 6 * 4 / (5 * 24) = 0.8.
    angles = {"s0": 84.0, "s1": 60.0, "s2": 72.0, "s3": 10.0, "s4": 30.0}
    table = {"anchor": [1.0, 0.0], **{s: unit(a) for s, a in angles.items()}}
    pairs = [(s, "anchor", float(gold)) for gold, s in enumerate(angles)]
    model = FakeModel(table)
    result = evaluate_sts(model, pairs, batch_size=3)
    assert result["spearman"] == pytest.approx(80.0)
    cosines = [math.cos(math.radians(a)) for a in angles.values()]
    assert result["pearson"] == pytest.approx(100 * scipy.stats.pearsonr(cosines, range(5))[0], abs=1e-4)
    assert result["n_pairs"] == 5
    # One call, each distinct sentence once ("anchor" is in every pair), as torch, with the batch size.
    ((sentences, batch_size, convert_to),) = model.calls
    assert sorted(sentences) == sorted(table) and len(sentences) == len(set(sentences))
    assert (batch_size, convert_to) == (3, "torch")


def test_evaluate_sts_accepts_rows_and_numpy_encoders():
    table = {"a": [1.0, 0.0], "b": unit(20), "c": unit(50), "d": unit(5)}
    tuples = [("a", "b", 4.0), ("a", "c", 2.0), ("b", "c", 3.0), ("d", "a", 5.0), ("c", "d", 1.0)]
    expected = evaluate_sts(FakeModel(table), tuples)
    sts_rows = [StsPair(s1, s2, score, "g", "f", "y", "0") for s1, s2, score in tuples]
    sick_rows = [SickPair(i, s1, s2, score, "NEUTRAL") for i, (s1, s2, score) in enumerate(tuples)]
    assert evaluate_sts(FakeModel(table, as_numpy=True), sts_rows) == expected
    assert evaluate_sts(FakeModel(table), sick_rows) == expected
    # cos: a-b 0.940, a-c 0.643, b-c 0.866, d-a 0.996, c-d 0.707: ranks (4, 1, 3, 5, 2) vs gold
    # (4, 2, 3, 5, 1): d = (0, -1, 0, 0, 1), rho = 1 - 6 * 2 / 120 = 0.9
    assert expected["spearman"] == pytest.approx(90.0)


def test_evaluate_sts_errors():
    with pytest.raises(ValueError, match="at least 2 pairs"):
        evaluate_sts(FakeModel({"a": [1.0, 0.0]}), [("a", "a", 1.0)])
    with pytest.raises(ValueError, match="sentence1, sentence2, score"):
        evaluate_sts(FakeModel({}), [("a", "b"), ("c", "d")])
    with pytest.raises(ValueError, match="sentence1, sentence2, score"):
        evaluate_sts(FakeModel({}), [("a", "b", "high"), ("c", "d", 1.0)])

    class Broken(FakeModel):
        def encode(self, sentences, batch_size=32, convert_to="numpy"):
            return torch.zeros(1, 2)

    with pytest.raises(ValueError, match="expected \\(n_sentences, dim\\)"):
        evaluate_sts(Broken({}), [("a", "b", 1.0), ("c", "d", 2.0)])


class HashModel:
    """A fixed pseudo-random 16-d vector per sentence (seeded by the sentence's CRC32)."""

    def __init__(self):
        self.n_encoded = 0

    def vector(self, sentence):
        return np.random.default_rng(zlib.crc32(sentence.encode())).normal(size=16)

    def encode(self, sentences, batch_size=32, convert_to="numpy"):
        self.n_encoded += len(sentences)
        return torch.tensor(np.array([self.vector(s) for s in sentences]), dtype=torch.float32)


def test_evaluate_split_on_sick_dev(data_dir):
    model = HashModel()
    result = evaluate_split(model, "sick", "dev", data_dir=data_dir)
    pairs = load_sick("dev", data_dir)
    u = np.array([model.vector(p.sentence_a) for p in pairs])
    v = np.array([model.vector(p.sentence_b) for p in pairs])
    cosines = (u * v).sum(1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
    gold = [p.relatedness for p in pairs]
    assert result["spearman"] == pytest.approx(100 * scipy.stats.spearmanr(cosines, gold)[0], abs=1e-3)
    assert result["pearson"] == pytest.approx(100 * scipy.stats.pearsonr(cosines, gold)[0], abs=1e-3)
    assert result["n_pairs"] == 500
    assert model.n_encoded == len({s for p in pairs for s in (p.sentence_a, p.sentence_b)}) < 1000


def test_evaluate_split_unknown_dataset(data_dir):
    with pytest.raises(ValueError, match="'stsb', 'sick'"):
        evaluate_split(HashModel(), "mrpc", "dev", data_dir=data_dir)


@pytest.mark.fast
def test_anisotropy_is_the_mean_cosine_of_the_pairs():
    model = FakeModel({"a": [1.0, 0.0], "b": [0.0, 2.0], "c": [3.0, 3.0]})
    # cos(a, b) = 0, cos(a, c) = 1/sqrt(2), cos(b, c) = 1/sqrt(2)
    assert anisotropy(model, [("a", "b"), ("a", "c"), ("b", "c")]) == pytest.approx(2 / math.sqrt(2) / 3, abs=1e-6)
    assert anisotropy(model, [("c", "c")]) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="sentence_pairs is empty"):
        anisotropy(model, [])


@pytest.mark.fast
def test_random_sentence_pairs_are_two_different_sentences_of_the_rows_and_repeatable():
    rows = [("s1", "s2", 1.0), ("s3", "s1", 2.0), ("s4", "s5", 0.0)]
    pairs = random_sentence_pairs(rows, 200, seed=3)
    assert len(pairs) == 200 and all(a != b for a, b in pairs)
    assert {s for pair in pairs for s in pair} == {"s1", "s2", "s3", "s4", "s5"}
    assert pairs == random_sentence_pairs(rows, 200, seed=3) and pairs != random_sentence_pairs(rows, 200, seed=4)
    with pytest.raises(ValueError, match="at least 2 distinct sentences"):
        random_sentence_pairs([("same", "same", 5.0)])
