"""Evaluating sentence embeddings on STS: Spearman and Pearson correlation with gold scores.

The SBERT protocol (Reimers & Gurevych 2019, section 4.1): encode both sentences of each pair, take
the cosine similarity of the two embeddings, and report the Spearman rank correlation between those
similarities and the gold scores, multiplied by 100. Spearman rather than Pearson because a model
only has to order the pairs correctly; the cosine need not be a linear function of a 0-5 score.
Pearson is reported alongside, as the STS tasks' official metric.

Both correlations are written out in numpy (float64), so the library needs no scipy; the tests
check them against scipy.stats.
"""

from __future__ import annotations

import random
from typing import Any, Iterable

import numpy as np
import torch

from minisbert.io.data import LOADERS, PathLike, SickPair, StsPair
from minisbert.similarity import pairwise_cos_sim


# ---------------------------------------------------------------------------------------------
# Correlations


def _vectors(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_float64(x, "x"), _as_float64(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.shape[0]} and {y.shape[0]}")
    if x.shape[0] < 2:
        raise ValueError(f"A correlation needs at least 2 items, got {x.shape[0]}")
    return x, y


def _as_float64(v: Any, name: str) -> np.ndarray:
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu().numpy()
    arr = np.asarray(v, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN (at index {int(np.flatnonzero(np.isnan(arr))[0])})")
    return arr


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    xc, yc = x - x.mean(), y - y.mean()
    denominator = np.sqrt((xc @ xc) * (yc @ yc))
    if denominator == 0.0:
        return float("nan")  # a constant input has no correlation (scipy also gives NaN)
    return float(np.clip((xc @ yc) / denominator, -1.0, 1.0))


def pearson(x: Any, y: Any) -> float:
    """Pearson's r: cov(x, y) / (std(x) std(y)), in [-1, 1]; NaN if either input is constant."""
    return _pearson(*_vectors(x, y))


def rank(x: Any) -> np.ndarray:
    """1-based ranks, ties given the average of the ranks they span: [10, 20, 20, 30] -> [1, 2.5, 2.5, 4]."""
    x = _as_float64(x, "x")
    order = np.argsort(x, kind="stable")
    sorted_x = x[order]
    starts_group = np.r_[True, sorted_x[1:] != sorted_x[:-1]]  # first element of each run of ties
    group = np.cumsum(starts_group) - 1  # run index of each sorted element
    first = np.flatnonzero(starts_group)  # 0-based position where each run starts
    last = np.r_[first[1:], len(x)] - 1  # ... and where it ends
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = ((first + last) / 2.0 + 1.0)[group]  # average 1-based rank of the run
    return ranks


def spearman(x: Any, y: Any) -> float:
    """Spearman's rho: Pearson's r of the ranks (ties averaged); NaN if either input is constant."""
    x, y = _vectors(x, y)
    return _pearson(rank(x), rank(y))


# ---------------------------------------------------------------------------------------------
# STS evaluation


def _triple(pair: Any) -> tuple[str, str, float]:
    if isinstance(pair, StsPair):
        return pair.sentence1, pair.sentence2, pair.score
    if isinstance(pair, SickPair):
        return pair.sentence_a, pair.sentence_b, pair.relatedness
    try:
        s1, s2, score = pair
        return str(s1), str(s2), float(score)
    except (TypeError, ValueError):
        raise ValueError(
            f"pairs must hold (sentence1, sentence2, score) tuples, StsPair or SickPair rows; got {pair!r}"
        ) from None


def evaluate_sts(model: Any, pairs: Iterable[Any], batch_size: int = 32) -> dict[str, float]:
    """Spearman and Pearson (x 100) between cos(u, v) of each pair's embeddings and its gold score.

    ``pairs``: (sentence1, sentence2, score) tuples, or StsPair / SickPair rows (SICK: relatedness).
    ``model``: anything with ``encode(list[str], batch_size=..., convert_to="torch")`` returning
    (n, dim). Each distinct sentence is encoded once (STS reuses sentences across pairs).
    Returns ``{"spearman": ..., "pearson": ..., "n_pairs": ...}``.
    """
    triples = [_triple(p) for p in pairs]
    if len(triples) < 2:
        raise ValueError(f"evaluate_sts needs at least 2 pairs, got {len(triples)}")
    index: dict[str, int] = {}  # sentence -> row of the embedding matrix, in first-seen order
    for s1, s2, _ in triples:
        index.setdefault(s1, len(index))
        index.setdefault(s2, len(index))
    embeddings = model.encode(list(index), batch_size=batch_size, convert_to="torch")
    embeddings = torch.as_tensor(embeddings)
    if embeddings.dim() != 2 or embeddings.shape[0] != len(index):
        raise ValueError(
            f"model.encode returned shape {tuple(embeddings.shape)} for {len(index)} sentences; "
            "expected (n_sentences, dim)"
        )
    u = embeddings[[index[s1] for s1, _, _ in triples]]  # (n_pairs, dim)
    v = embeddings[[index[s2] for _, s2, _ in triples]]  # (n_pairs, dim)
    cosines = pairwise_cos_sim(u, v).double()  # (n_pairs,)
    gold = [score for _, _, score in triples]
    return {
        "spearman": 100.0 * spearman(cosines, gold),
        "pearson": 100.0 * pearson(cosines, gold),
        "n_pairs": len(triples),
    }


def random_sentence_pairs(pairs: Iterable[Any], n: int = 1000, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` random pairs of two different sentences, drawn (with ``random.Random(seed)``) from the distinct
    sentences of ``pairs`` (the STS rows ``evaluate_sts`` takes): the sample that ``anisotropy`` scores."""
    sentences = sorted({s for s1, s2, _ in map(_triple, pairs) for s in (s1, s2)})
    if len(sentences) < 2:
        raise ValueError(f"pairs must hold at least 2 distinct sentences, got {len(sentences)}")
    rng = random.Random(seed)
    return [tuple(rng.sample(sentences, 2)) for _ in range(n)]


def anisotropy(model: Any, sentence_pairs: list[tuple[str, str]], batch_size: int = 32) -> float:
    """The mean cosine between the vectors of unrelated sentences: how much every vector looks like every other.

    Ethayarajh 2019 ("How Contextual are Contextualized Word Representations?") measures it on random
    pairs; near 1, the vectors share one dominant direction and the differences that carry meaning are
    small beside it. Random sentences mostly mean unrelated things, so a good encoder gives them a low
    mean. ``sentence_pairs``: from ``random_sentence_pairs`` (1,000 pairs of STSb sentences in the
    experiments); ``model``: anything ``evaluate_sts`` takes.
    """
    if not sentence_pairs:
        raise ValueError("sentence_pairs is empty")
    u = torch.as_tensor(model.encode([a for a, _ in sentence_pairs], batch_size=batch_size, convert_to="torch"))
    v = torch.as_tensor(model.encode([b for _, b in sentence_pairs], batch_size=batch_size, convert_to="torch"))
    return pairwise_cos_sim(u, v).double().mean().item()  # (n_pairs,) -> mean


def evaluate_split(
    model: Any,
    dataset: str,
    split: str,
    data_dir: PathLike | None = None,
    batch_size: int = 32,
) -> dict[str, float]:
    """``evaluate_sts`` on a data split: dataset "stsb" or "sick", split "train" / "dev" / "test"."""
    if dataset not in LOADERS:
        raise ValueError(f"Unknown dataset {dataset!r}; expected one of {', '.join(map(repr, LOADERS))}")
    return evaluate_sts(model, LOADERS[dataset](split, data_dir=data_dir), batch_size=batch_size)
