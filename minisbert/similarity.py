"""Comparing sentence vectors: similarity matrices, semantic search and paraphrase mining.

This is where SBERT pays off (Reimers & Gurevych, "Sentence-BERT: Sentence Embeddings using Siamese
BERT-Networks", EMNLP 2019). A cross-encoder must run BERT on every pair: finding the most similar
pair among n = 10,000 sentences takes n(n-1)/2 = 49,995,000 forward passes (about 65 hours on a V100
in the paper). A bi-encoder runs BERT once per sentence, and then all n(n-1)/2 scores are one matrix
product of the (n, d) embeddings with their transpose: seconds instead of days.

Conventions (the same as sentence-transformers' ``util``):

- every score is "higher = more similar"; the distances are therefore negated:
  ``euclidean_sim = -||a - b||_2`` and ``manhattan_sim = -||a - b||_1``;
- matrix functions take a (n, d) and b (m, d) and return (n, m); ``pairwise_*`` take two (n, d) and
  return (n,), row i against row i;
- inputs may be torch tensors (sparse ones too: they are made dense, and the result is the dense
  computation's), numpy arrays or nested lists; a 1-D input is one row (1, d); integer inputs become
  float32, and two float dtypes are promoted to the wider one;
- a zero vector has cosine 0 with everything (its norm is clamped to 1e-12, as F.normalize does).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .checks import check_positive_int, is_number

ScoreFunction = Callable[[Tensor, Tensor], Tensor]


# ---------------------------------------------------------------------------------------------
# Input handling


def _as_tensor(x: Any, name: str) -> Tensor:
    """Tensor / numpy / list -> a floating tensor; a 1-D input becomes one row (1, d)."""
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], Tensor):
        x = torch.stack(list(x))  # a list of 1-D tensors, as some encoders return
    elif not isinstance(x, Tensor):
        x = torch.as_tensor(x)  # numpy keeps its dtype; a list of floats becomes float32
    if x.layout != torch.strided:
        x = x.to_dense()  # sparse (COO, CSR) -> dense: the same scores, computed the one way
    if not x.is_floating_point():
        x = x.float()
    if x.dim() == 1:
        x = x.unsqueeze(0)  # (d,) -> (1, d)
    if x.dim() != 2:
        raise ValueError(f"{name} must be 1-D (d,) or 2-D (n, d), got shape {tuple(x.shape)}")
    return x


def _pair(a: Any, b: Any, names: tuple[str, str] = ("a", "b")) -> tuple[Tensor, Tensor]:
    """Both inputs as 2-D tensors of one dtype and one device, with the same width d."""
    a, b = _as_tensor(a, names[0]), _as_tensor(b, names[1])
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"Embedding sizes differ: {names[0]} has shape {tuple(a.shape)}, "
            f"{names[1]} has shape {tuple(b.shape)}"
        )
    dtype = torch.promote_types(a.dtype, b.dtype)
    return a.to(dtype), b.to(device=a.device, dtype=dtype)


def _same_shape(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    a, b = _pair(a, b)
    if a.shape != b.shape:
        raise ValueError(
            f"Pairwise scores need one row of b per row of a: a has shape {tuple(a.shape)}, "
            f"b has shape {tuple(b.shape)}"
        )
    return a, b


def normalize(x: Any) -> Tensor:
    """Rows scaled to unit L2 length (a zero row stays zero). (n, d) -> (n, d)."""
    return F.normalize(_as_tensor(x, "x"), p=2, dim=1, eps=1e-12)


# ---------------------------------------------------------------------------------------------
# Similarity matrices: (n, d) x (m, d) -> (n, m)


def cos_sim(a: Any, b: Any) -> Tensor:
    """Cosine similarity matrix: ``res[i, j] = a_i . b_j / (|a_i| |b_j|)``, in [-1, 1]. (n, m)."""
    a, b = _pair(a, b)
    return normalize(a) @ normalize(b).T  # (n, d) @ (d, m) -> (n, m)


def dot_score(a: Any, b: Any) -> Tensor:
    """Dot-product matrix: ``res[i, j] = a_i . b_j`` (equals cos_sim for unit vectors). (n, m)."""
    a, b = _pair(a, b)
    return a @ b.T  # (n, m)


def euclidean_sim(a: Any, b: Any) -> Tensor:
    """Negative Euclidean distance: ``res[i, j] = -||a_i - b_j||_2`` (higher = closer). (n, m).

    torch.cdist computes it as sqrt(|a|^2 + |b|^2 - 2 a.b) with a matrix product for large inputs,
    so identical rows can come out at about -1e-3 rather than exactly 0 in float32.
    """
    a, b = _pair(a, b)
    return -torch.cdist(a, b, p=2.0)  # (n, m)


def manhattan_sim(a: Any, b: Any) -> Tensor:
    """Negative Manhattan (L1) distance: ``res[i, j] = -sum_k |a_ik - b_jk|``. (n, m)."""
    a, b = _pair(a, b)
    return -torch.cdist(a, b, p=1.0)  # (n, m)


# ---------------------------------------------------------------------------------------------
# Pairwise scores: row i of a against row i of b, (n, d) x (n, d) -> (n,)


def pairwise_cos_sim(a: Any, b: Any) -> Tensor:
    """``res[i] = cos(a_i, b_i)``. (n,)."""
    a, b = _same_shape(a, b)
    return (normalize(a) * normalize(b)).sum(dim=1)


def pairwise_dot_score(a: Any, b: Any) -> Tensor:
    """``res[i] = a_i . b_i``. (n,)."""
    a, b = _same_shape(a, b)
    return (a * b).sum(dim=1)


def pairwise_euclidean_sim(a: Any, b: Any) -> Tensor:
    """``res[i] = -||a_i - b_i||_2`` (computed from the difference, so exactly 0 for equal rows). (n,)."""
    a, b = _same_shape(a, b)
    return -torch.linalg.vector_norm(a - b, ord=2, dim=1)


def pairwise_manhattan_sim(a: Any, b: Any) -> Tensor:
    """``res[i] = -||a_i - b_i||_1``. (n,)."""
    a, b = _same_shape(a, b)
    return -(a - b).abs().sum(dim=1)


# ---------------------------------------------------------------------------------------------
# Semantic search


@torch.no_grad()
def semantic_search(
    query_embeddings: Any,
    corpus_embeddings: Any,
    top_k: int = 10,
    score_function: ScoreFunction = cos_sim,
    query_chunk_size: int = 100,
    corpus_chunk_size: int = 50_000,
) -> list[list[dict[str, int | float]]]:
    """For each query, the ``top_k`` corpus entries with the highest score, best first.

    Returns one list per query of ``{"corpus_id": int, "score": float}``, sorted by score descending
    (equal scores by corpus_id ascending). ``top_k`` larger than the corpus is clamped to the corpus
    size. When several entries tie for the last place, which of them is returned is unspecified
    (as with torch.topk).

    The SBERT recipe for retrieval (Reimers & Gurevych 2019): the corpus is encoded once, and each
    query costs a matrix product instead of one cross-encoder pass per corpus entry. The scores are
    computed one (query_chunk_size, corpus_chunk_size) block at a time, never the whole (n, m)
    matrix: each block keeps its top_k per query (torch.topk) and is merged into the running top_k
    of that query chunk.
    """
    check_positive_int(top_k, "top_k")
    check_positive_int(query_chunk_size, "query_chunk_size")
    check_positive_int(corpus_chunk_size, "corpus_chunk_size")
    queries, corpus = _pair(query_embeddings, corpus_embeddings, ("query_embeddings", "corpus_embeddings"))
    n_corpus = corpus.shape[0]
    if n_corpus == 0:
        raise ValueError("corpus_embeddings is empty")
    k = min(top_k, n_corpus)
    if score_function is cos_sim:  # normalise once, not once per block: same scores, less work
        queries, corpus, score_function = normalize(queries), normalize(corpus), dot_score

    results: list[list[dict[str, int | float]]] = []
    for q0 in range(0, queries.shape[0], query_chunk_size):
        q_chunk = queries[q0 : q0 + query_chunk_size]  # (q, d)
        best_scores = best_ids = None  # running top-k of this query chunk, (q, <=k)
        for c0 in range(0, n_corpus, corpus_chunk_size):
            scores = score_function(q_chunk, corpus[c0 : c0 + corpus_chunk_size])  # (q, c)
            values, ids = torch.topk(scores, min(k, scores.shape[1]), dim=1, sorted=False)  # (q, <=k)
            ids = ids + c0
            if best_scores is not None:  # merge with what earlier corpus chunks kept
                values, ids = torch.cat([best_scores, values], 1), torch.cat([best_ids, ids], 1)
                values, pos = torch.topk(values, min(k, values.shape[1]), dim=1, sorted=False)
                ids = torch.gather(ids, 1, pos)
            best_scores, best_ids = values, ids
        for row_scores, row_ids in zip(best_scores.tolist(), best_ids.tolist()):
            hits = sorted(zip(row_scores, row_ids), key=lambda h: (-h[0], h[1]))
            results.append([{"corpus_id": cid, "score": s} for s, cid in hits])
    return results


# ---------------------------------------------------------------------------------------------
# Paraphrase mining


def paraphrase_mining(
    model_or_embeddings: Any,
    sentences: list[str] | None = None,
    top_k: int = 100,
    max_pairs: int = 500_000,
    chunk_size: int = 1024,
    score_function: ScoreFunction = cos_sim,
    batch_size: int = 32,
    progress: bool | None = None,
) -> list[tuple[float, int, int]]:
    """The most similar pairs among n sentences: a list of ``(score, i, j)``, i < j, best first.

    Comparing every sentence with every other with a cross-encoder takes n(n-1)/2 forward passes
    (49,995,000 for n = 10,000, about 65 hours on a V100 in Reimers & Gurevych 2019). With SBERT each
    sentence is encoded once, and all n(n-1)/2 scores come from a matrix product of the embeddings
    with their transpose: seconds for n = 10,000 on two CPU cores, most of it that product.

    Args:
        model_or_embeddings: a model with ``encode(list[str], batch_size=..., convert_to="torch")``
            (then ``sentences`` is required), or an (n, d) tensor / array of embeddings.
        sentences: the texts to encode when a model is given; optional with embeddings (if given,
            its length must match).
        top_k: each sentence contributes its ``top_k`` best partners (itself excluded), as in
            sentence-transformers' ``paraphrase_mining_embeddings``: a pair is a candidate when
            either of its sentences has the other among its top_k; found from both sides, it is
            kept once.
        max_pairs: at most this many pairs are returned, the highest-scoring candidates.
        chunk_size: rows scored at a time. Memory is bounded by one (chunk_size, n) score block
            plus the candidates kept (never more than about 2 * max_pairs + chunk_size * top_k).
        score_function: a symmetric similarity (cos_sim, dot_score, euclidean_sim, manhattan_sim);
            ``cos_sim`` by default.
        batch_size: passed to ``model.encode``.
        progress: show a tqdm bar over the row blocks (``None`` or ``False``: no bar).

    Pairs with equal scores are ordered by (i, j) ascending.
    """
    check_positive_int(top_k, "top_k")
    check_positive_int(max_pairs, "max_pairs")
    check_positive_int(chunk_size, "chunk_size")

    if hasattr(model_or_embeddings, "encode") and callable(model_or_embeddings.encode):
        if sentences is None:
            raise ValueError("sentences is required when paraphrase_mining is given a model")
        sentences = list(sentences)
        if len(sentences) < 2:
            raise ValueError(f"sentences: need at least two sentences, got {len(sentences)}")
        embeddings = model_or_embeddings.encode(sentences, batch_size=batch_size, convert_to="torch")
    else:
        embeddings = model_or_embeddings
    embeddings = _as_tensor(embeddings, "embeddings").detach()
    n, device = embeddings.shape[0], embeddings.device
    if n < 2:
        raise ValueError(f"embeddings: need at least two rows to form a pair, got shape {tuple(embeddings.shape)}")
    if sentences is not None and len(sentences) != n:
        raise ValueError(f"sentences has {len(sentences)} entries but there are {n} embeddings")
    if score_function is cos_sim:  # normalise once; each block is then a plain matrix product
        embeddings, score_function = normalize(embeddings), dot_score

    k = min(top_k, n - 1)  # partners per sentence, self excluded
    # Candidates found so far, as flat tensors: the pair key i * n + j (i < j) and its score.
    keys: list[Tensor] = [torch.empty(0, dtype=torch.int64, device=device)]
    scores: list[Tensor] = [torch.empty(0, dtype=embeddings.dtype, device=device)]
    pending = 0  # candidates in keys/scores

    starts = range(0, n, chunk_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="paraphrase mining", unit="block")
    with torch.no_grad():
        for r0 in starts:
            r1 = min(r0 + chunk_size, n)
            rows = torch.arange(r0, r1, device=device)  # (b,)
            block = score_function(embeddings[r0:r1], embeddings)  # (b, n): these rows against all
            block[torch.arange(len(rows), device=device), rows] = -math.inf  # not its own paraphrase
            values, cols = torch.topk(block, k, dim=1, sorted=False)  # (b, k): each row's best k
            i = rows.unsqueeze(1).expand_as(cols)  # (b, k)
            lo, hi = torch.minimum(i, cols), torch.maximum(i, cols)  # (i, j) and (j, i): one key
            keys.append((lo * n + hi).flatten())
            scores.append(values.flatten())
            pending += values.numel()
            if pending > 2 * max_pairs:  # bound memory: keep only the best max_pairs pairs
                best = _best_unique(torch.cat(keys), torch.cat(scores), max_pairs)
                keys, scores, pending = [best[0]], [best[1]], best[0].numel()
        keys, scores = _best_unique(torch.cat(keys), torch.cat(scores), max_pairs)

    # Final order: score descending, then (i, j) ascending. Sorting by key first and then stably by
    # score gives exactly that, as the key i * n + j orders pairs like (i, j).
    order = torch.argsort(keys)
    keys, scores = keys[order], scores[order]
    order = torch.sort(scores, descending=True, stable=True).indices
    keys, scores = keys[order], scores[order]
    return list(zip(scores.tolist(), (keys // n).tolist(), (keys % n).tolist()))


def _best_unique(keys: Tensor, scores: Tensor, limit: int) -> tuple[Tensor, Tensor]:
    """De-duplicate pair keys, then keep the ``limit`` best.

    A pair found from both of its sentences has two scores, s(a_i, a_j) and s(a_j, a_i), equal up to
    float rounding (they come from different blocks); the larger is kept."""
    unique, inverse = torch.unique(keys, return_inverse=True)
    best = torch.full((unique.numel(),), -math.inf, dtype=scores.dtype, device=scores.device)
    best = best.scatter_reduce(0, inverse, scores, reduce="amax")
    if unique.numel() > limit:
        best, pos = torch.topk(best, limit)
        unique = unique[pos]
    return unique, best


# ---------------------------------------------------------------------------------------------
# Community detection (fast clustering)


def community_detection(
    embeddings: Any,
    threshold: float = 0.75,
    min_community_size: int = 10,
    batch_size: int = 1024,
    show_progress_bar: bool = False,
) -> list[list[int]]:
    """Groups of sentences that are all close to one central sentence: a list of lists of row indices.

    The "fast clustering" of sentence-transformers' ``util.community_detection``, which this follows
    argument for argument and result for result:

    1. For every row i, its neighbours are the rows j with ``cos(a_i, a_j) >= threshold`` (i itself
       included), closest first. A row with at least ``min_community_size`` neighbours is a candidate
       centre.
    2. Candidates are taken largest first (equal sizes: lower index first). A candidate whose centre
       already belongs to a community is skipped; otherwise the neighbours not yet taken form its
       community, kept when at least ``min_community_size`` remain.
    3. Each community is ``[centre, then its other members closest first]``; the list of communities
       is sorted by size, largest first.

    Cosine scores are computed ``batch_size`` rows at a time, one (batch_size, n) block in memory.
    Unlike k-means, the number of clusters is not given in advance, and a row may be in no cluster.
    """
    if not is_number(threshold) or not -1.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a cosine similarity in [-1, 1], got {threshold!r}")
    check_positive_int(min_community_size, "min_community_size")
    check_positive_int(batch_size, "batch_size")
    if len(embeddings) == 0:
        return []
    embeddings = normalize(_as_tensor(embeddings, "embeddings").detach())  # (n, d), unit rows
    n = embeddings.shape[0]
    if n < min_community_size:
        return []

    # 1. Candidate centres and their neighbours, closest first (a stable sort: ties by index).
    candidates: list[tuple[int, list[int]]] = []
    starts = range(0, n, batch_size)
    if show_progress_bar:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="Finding clusters")
    with torch.no_grad():
        for r0 in starts:
            scores = embeddings[r0:r0 + batch_size] @ embeddings.T  # (b, n)
            for i, row in enumerate(scores):
                close = (row >= threshold).nonzero().flatten()  # (k,)
                if len(close) >= min_community_size:
                    order = torch.sort(row[close], descending=True, stable=True).indices
                    candidates.append((r0 + i, close[order].tolist()))

    # 2. Largest first; each row joins at most one community.
    candidates.sort(key=lambda c: len(c[1]), reverse=True)  # stable: equal sizes keep index order
    used = [False] * n
    communities = []
    for centre, members in candidates:
        if used[centre]:
            continue
        free = [j for j in members if not used[j]]
        if len(free) >= min_community_size:
            community = [centre] + [j for j in free if j != centre]
            communities.append(community)
            for j in community:
                used[j] = True
    return sorted(communities, key=len, reverse=True)
