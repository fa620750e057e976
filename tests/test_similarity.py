"""Similarity functions, semantic search and paraphrase mining against sentence-transformers.util
and against brute force (the full score matrix), plus small cases worked out by hand."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from sentence_transformers import util as st_util

from minisbert.similarity import (
    cos_sim,
    dot_score,
    euclidean_sim,
    manhattan_sim,
    pairwise_cos_sim,
    pairwise_dot_score,
    pairwise_euclidean_sim,
    pairwise_manhattan_sim,
    paraphrase_mining,
    semantic_search,
)

pytestmark = pytest.mark.fast  # the whole module is in the fast lane (tests/conftest.py)

MATRIX = [
    (cos_sim, st_util.cos_sim),
    (dot_score, st_util.dot_score),
    (euclidean_sim, st_util.euclidean_sim),
    (manhattan_sim, st_util.manhattan_sim),
]
PAIRWISE = [
    (pairwise_cos_sim, st_util.pairwise_cos_sim),
    (pairwise_dot_score, st_util.pairwise_dot_score),
    (pairwise_euclidean_sim, st_util.pairwise_euclidean_sim),
    (pairwise_manhattan_sim, st_util.pairwise_manhattan_sim),
]


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------------------
# Score matrices and pairwise scores


@pytest.mark.parametrize("ours, ref", MATRIX, ids=lambda f: getattr(f, "__name__", ""))
def test_matrix_functions_match_sentence_transformers(ours, ref):
    a, b = rand(7, 16, seed=1), rand(5, 16, seed=2)
    expected = ref(a, b)
    for x, y in [(a, b), (a.numpy(), b.numpy()), (a.tolist(), b)]:
        got = ours(x, y)
        assert isinstance(got, torch.Tensor) and got.shape == (7, 5)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    # A 1-D input is one row.
    torch.testing.assert_close(ours(a[0], b), expected[:1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours(a[0], b[3]), expected[:1, 3:4], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("ours, ref", PAIRWISE, ids=lambda f: getattr(f, "__name__", ""))
def test_pairwise_functions_match_sentence_transformers(ours, ref):
    a, b = rand(9, 12, seed=3), rand(9, 12, seed=4)
    got = ours(a.numpy(), b)
    assert got.shape == (9,)
    torch.testing.assert_close(got, ref(a, b), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours(a[2], b[2]), ref(a[2:3], b[2:3]), rtol=1e-5, atol=1e-5)


def test_hand_worked_values_and_sign_conventions():
    a = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    b = torch.tensor([[0.0, 0.0], [6.0, 8.0], [0.0, 2.0]])
    # cos: parallel = 1, orthogonal = 0, a zero vector has cosine 0 with everything.
    torch.testing.assert_close(cos_sim(a, b), torch.tensor([[0.0, 1.0, 0.8], [0.0, 0.6, 0.0]]))
    torch.testing.assert_close(dot_score(a, b), torch.tensor([[0.0, 50.0, 8.0], [0.0, 6.0, 0.0]]))
    # Distances are negated: higher = more similar. |(3,4)-(0,0)| = 5, |(3,4)-(6,8)| = 5, |(3,4)-(0,2)| = sqrt(13).
    torch.testing.assert_close(euclidean_sim(a, b), -torch.tensor([[5.0, 5.0, math.sqrt(13)], [1.0, math.sqrt(89), math.sqrt(5)]]))
    torch.testing.assert_close(manhattan_sim(a, b), -torch.tensor([[7.0, 7.0, 5.0], [1.0, 13.0, 3.0]]))
    torch.testing.assert_close(pairwise_euclidean_sim(a, b[:2]), torch.tensor([-5.0, -math.sqrt(89)]))
    torch.testing.assert_close(pairwise_manhattan_sim(a, b[1:]), torch.tensor([-7.0, -3.0]))
    torch.testing.assert_close(pairwise_cos_sim(a, b[1:]), torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(pairwise_dot_score(a, b[1:]), torch.tensor([50.0, 0.0]))


def test_dtypes():
    ints = np.array([[1, 2], [3, 4]])
    assert cos_sim(ints, ints).dtype == torch.float32
    assert dot_score(torch.ones(2, 3, dtype=torch.float64), torch.ones(1, 3)).dtype == torch.float64


@pytest.mark.parametrize("fn", [f for f, _ in MATRIX + PAIRWISE], ids=lambda f: f.__name__)
def test_shape_mismatch_names_both_shapes(fn):
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 5\)"):
        fn(torch.ones(4, 3), torch.ones(4, 5))
    with pytest.raises(ValueError, match=r"\(2, 2, 3\)"):
        fn(torch.ones(2, 2, 3), torch.ones(2, 3))


def test_pairwise_needs_one_row_per_row():
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(3, 3\)"):
        pairwise_cos_sim(torch.ones(4, 3), torch.ones(3, 3))


# ---------------------------------------------------------------------------------------------
# Semantic search


def brute_force_search(queries, corpus, top_k, score=cos_sim):
    full = score(queries, corpus)  # the whole (n, m) matrix at once
    values, ids = torch.topk(full, min(top_k, full.shape[1]), dim=1)
    return values, ids


@pytest.mark.parametrize("score", [cos_sim, dot_score, euclidean_sim, manhattan_sim], ids=lambda f: f.__name__)
def test_semantic_search_matches_brute_force_with_chunking(score):
    queries, corpus = rand(40, 24, seed=5), rand(300, 24, seed=6)
    blocks = []

    def recording(a, b):  # the same scores, noting each block's shape
        blocks.append(tuple(a.shape[:1]) + tuple(b.shape[:1]))
        return score(a, b)

    hits = semantic_search(queries, corpus, top_k=10, score_function=recording, query_chunk_size=16, corpus_chunk_size=70)
    assert len(blocks) == 3 * 5 and all(q <= 16 and c <= 70 for q, c in blocks)  # never the whole matrix
    values, ids = brute_force_search(queries, corpus, 10, score)
    assert len(hits) == 40
    for q, row in enumerate(hits):
        assert [h["corpus_id"] for h in row] == ids[q].tolist()
        np.testing.assert_allclose([h["score"] for h in row], values[q].numpy(), rtol=1e-5, atol=1e-5)
        assert all(isinstance(h["corpus_id"], int) and isinstance(h["score"], float) for h in row)


def test_semantic_search_matches_sentence_transformers():
    queries, corpus = rand(25, 32, seed=7), rand(400, 32, seed=8)
    ours = semantic_search(queries.numpy(), corpus.numpy(), top_k=15, query_chunk_size=10, corpus_chunk_size=150)
    ref = st_util.semantic_search(queries, corpus, top_k=15, query_chunk_size=10, corpus_chunk_size=150)
    for o, r in zip(ours, ref, strict=True):
        assert [h["corpus_id"] for h in o] == [h["corpus_id"] for h in r]
        np.testing.assert_allclose([h["score"] for h in o], [h["score"] for h in r], rtol=1e-5, atol=1e-6)


def test_semantic_search_top_k_is_clamped_and_single_query():
    corpus = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    (hits,) = semantic_search(torch.tensor([1.0, 0.2]), corpus, top_k=10, corpus_chunk_size=2)
    # cos with (1, 0.2): (1, 0) -> 0.981, (1, 1) -> 0.832, (0, 1) -> 0.196
    assert [h["corpus_id"] for h in hits] == [0, 2, 1]
    np.testing.assert_allclose([h["score"] for h in hits], [1 / math.sqrt(1.04), 1.2 / math.sqrt(2.08), 0.2 / math.sqrt(1.04)], rtol=1e-6)


def test_semantic_search_ties_are_ordered_by_corpus_id():
    corpus = torch.tensor([[1.0, 0.0]] * 5 + [[0.0, 1.0]])
    (hits,) = semantic_search(torch.tensor([[2.0, 0.0]]), corpus, top_k=5, corpus_chunk_size=2)
    assert [h["corpus_id"] for h in hits] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("kwargs", [{"top_k": 0}, {"top_k": -3}, {"query_chunk_size": 0}, {"corpus_chunk_size": 0}])
def test_semantic_search_bad_arguments(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        semantic_search(torch.ones(2, 3), torch.ones(4, 3), **kwargs)


def test_semantic_search_dimension_mismatch():
    with pytest.raises(ValueError, match=r"query_embeddings has shape \(2, 3\).*corpus_embeddings has shape \(4, 5\)"):
        semantic_search(torch.ones(2, 3), torch.ones(4, 5))


# ---------------------------------------------------------------------------------------------
# Paraphrase mining


def brute_force_mining(embeddings, top_k, max_pairs, score=cos_sim):
    """Straight from the definition: the full (n, n) matrix, each row's top_k others, de-duplicated."""
    full = score(embeddings, embeddings)
    n = full.shape[0]
    full.fill_diagonal_(-math.inf)
    _, ids = torch.topk(full, min(top_k, n - 1), dim=1)
    pairs = {(min(i, j), max(i, j)) for i in range(n) for j in ids[i].tolist()}
    # Score each pair from the upper triangle, as one would by hand.
    ranked = sorted(((full[i, j].item(), i, j) for i, j in pairs), key=lambda t: (-t[0], t[1], t[2]))
    return ranked[:max_pairs]


def assert_same_pairs(got, expected, tol=1e-5):
    assert [(i, j) for _, i, j in got] == [(i, j) for _, i, j in expected]
    np.testing.assert_allclose([s for s, _, _ in got], [s for s, _, _ in expected], rtol=tol, atol=tol)


def test_paraphrase_mining_by_hand():
    # Two near-parallel couples: (0, 1) at cos = 1/sqrt(1.01), (2, 3) at cos = 1/sqrt(1.04).
    x = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.2, 1.0]])
    got = paraphrase_mining(x, top_k=1)
    assert_same_pairs(got, [(1 / math.sqrt(1.01), 0, 1), (1 / math.sqrt(1.04), 2, 3)], tol=1e-6)
    assert all(isinstance(s, float) and isinstance(i, int) for s, i, _ in got)
    # top_k = 3 (everything): all 6 pairs, best first; max_pairs keeps the best ones.
    assert len(paraphrase_mining(x, top_k=3)) == 6
    assert [(i, j) for _, i, j in paraphrase_mining(x, top_k=3, max_pairs=3)] == [(0, 1), (2, 3), (1, 3)]


@pytest.mark.parametrize("score", [cos_sim, dot_score, euclidean_sim, manhattan_sim], ids=lambda f: f.__name__)
@pytest.mark.parametrize("top_k, max_pairs, chunk_size", [(5, 10_000, 37), (3, 150, 300), (20, 500, 64)])
def test_paraphrase_mining_matches_brute_force(score, top_k, max_pairs, chunk_size):
    x = rand(300, 16, seed=9)
    got = paraphrase_mining(x, top_k=top_k, max_pairs=max_pairs, chunk_size=chunk_size, score_function=score)
    assert_same_pairs(got, brute_force_mining(x, top_k, max_pairs, score))
    assert all(i < j for _, i, j in got)


@pytest.mark.parametrize("top_k, max_pairs", [(5, 500_000), (10, 800)])
def test_paraphrase_mining_matches_sentence_transformers(top_k, max_pairs):
    x = rand(300, 32, seed=10)
    ours = paraphrase_mining(x.numpy(), top_k=top_k, max_pairs=max_pairs, chunk_size=70)
    ref = st_util.paraphrase_mining_embeddings(
        x, query_chunk_size=100, corpus_chunk_size=150, top_k=top_k, max_pairs=max_pairs
    )
    assert_same_pairs(ours, [tuple(r) for r in ref])


def test_paraphrase_mining_duplicates_and_self_matches():
    # Exact duplicates score 1 with each other; a sentence is never paired with itself.
    x = torch.cat([rand(20, 8, seed=11), rand(20, 8, seed=11)[:5]])
    got = paraphrase_mining(x, top_k=1, chunk_size=6)
    assert all(i != j for _, i, j in got)
    top5 = sorted((i, j) for _, i, j in got[:5])
    assert top5 == [(k, 20 + k) for k in range(5)]
    np.testing.assert_allclose([s for s, _, _ in got[:5]], 1.0, atol=1e-6)


class FakeModel:
    """A stand-in encoder: a fixed vector per sentence, and a record of how it was called."""

    def __init__(self, table):
        self.table, self.calls = table, []

    def encode(self, sentences, batch_size=32, convert_to="numpy"):
        self.calls.append((list(sentences), batch_size, convert_to))
        return torch.stack([self.table[s] for s in sentences])


def test_paraphrase_mining_with_a_model():
    x = rand(50, 8, seed=12)
    sentences = [f"sentence {i}" for i in range(50)]
    model = FakeModel(dict(zip(sentences, x)))
    got = paraphrase_mining(model, sentences, top_k=4, batch_size=7)
    assert model.calls == [(sentences, 7, "torch")]
    assert got == paraphrase_mining(x, top_k=4)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((torch.ones(1, 4),), {}, "embeddings"),
        ((torch.ones(4),), {}, "embeddings"),  # one row
        ((torch.ones(5, 4),), {"top_k": 0}, "top_k"),
        ((torch.ones(5, 4),), {"top_k": -1}, "top_k"),
        ((torch.ones(5, 4),), {"max_pairs": 0}, "max_pairs"),
        ((torch.ones(5, 4),), {"chunk_size": 0}, "chunk_size"),
        ((torch.ones(5, 4), ["a", "b"]), {}, "sentences"),
        ((FakeModel({}),), {}, "sentences"),
        ((FakeModel({"a": torch.ones(3)}), ["a"]), {}, "sentences"),
    ],
)
def test_paraphrase_mining_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        paraphrase_mining(*args, **kwargs)


def test_paraphrase_mining_12000_vectors_bounded_blocks_and_fast():
    # 144 million scores (576 MB as one float32 matrix) seen 500 rows at a time. 64-d rather than
    # 384-d keeps the matrix products cheap on a shared CI machine; the blocking does not depend on d.
    n, top_k, chunk = 12_000, 10, 500
    x = torch.nn.functional.normalize(rand(n, 64, seed=13), dim=1)
    widest = []

    def recording(a, b):
        widest.append(a.shape[0] * b.shape[0])
        return dot_score(a, b)

    start = time.perf_counter()
    got = paraphrase_mining(x, top_k=top_k, chunk_size=chunk, score_function=recording)
    elapsed = time.perf_counter() - start
    assert max(widest) <= chunk * n  # memory: one (chunk, n) block at a time
    # A Python loop over the 72 million pairs would take minutes; the matrix products take seconds.
    assert elapsed < 30, f"paraphrase mining of {n} vectors took {elapsed:.1f} s"
    scores = [s for s, _, _ in got]
    assert scores == sorted(scores, reverse=True) and all(i < j for _, i, j in got)
    assert len({(i, j) for _, i, j in got}) == len(got)
    # Every sentence's 10 best partners are there (n * top_k < max_pairs, so nothing is cut).
    found = {(i, j) for _, i, j in got}
    for i in torch.randint(0, n, (20,), generator=torch.Generator().manual_seed(0)).tolist():
        row = x[i] @ x.T
        row[i] = -math.inf
        assert {(min(i, j), max(i, j)) for j in torch.topk(row, top_k).indices.tolist()} <= found
