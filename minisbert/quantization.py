"""Embedding quantisation: smaller sentence vectors, and search over them with rescoring.

A float32 sentence vector of all-MiniLM-L6-v2 takes 384 × 4 = 1,536 bytes; a corpus of 10 million takes
15 GB. Two ways to shrink it, both applied after the model, one number at a time (Shakir, Aarsen and
Lee 2024, "Binary and Scalar Embedding Quantization for Significantly Faster & Cheaper Retrieval",
https://huggingface.co/blog/embedding-quantization, which sentence-transformers' ``quantize_embeddings``
implements; this module gives the same arrays):

* **scalar (int8, uint8)**, 4× smaller: each dimension d has a range [lo_d, hi_d], measured on a set of
  *calibration* embeddings (their per-dimension min and max), cut into 256 equal buckets; a value is
  replaced by its bucket number::

      step_d = (hi_d - lo_d) / 255                      (1 where hi_d = lo_d)
      q      = clip(floor((x_d - lo_d) / step_d), 0, 255)    uint8;  int8 stores q - 128

* **binary (binary, ubinary)**, 32× smaller: keep only the sign, 1 where x_d > 0, and pack 8 bits per
  byte (``numpy.packbits``, the first dimension in the highest bit): 384 dimensions → 48 bytes.
  ``ubinary`` stores the bytes as uint8, ``binary`` as int8 (byte - 128). Two binary vectors are
  compared by their Hamming distance (the number of differing bits), a popcount per byte.

Search over quantised vectors loses a little accuracy; *rescoring* wins most of it back
(``semantic_search_quantized``): the corpus stays quantised, the query stays float32, the quantised
search fetches ``rescore_multiplier × top_k`` candidates, and those few are scored again with the float
query against the candidates restored as well as they can be (the bucket's lower edge for int8/uint8,
the 0/1 bits for binary). ``docs/performance.md`` measures what each precision costs on STS Benchmark.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .checks import check_positive_int

PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")


def _as_float_array(x: Any, name: str) -> np.ndarray:
    """A tensor (bf16 included), array or list of rows -> a float numpy array; int8/uint8 are refused."""
    if torch.is_tensor(x):
        x = x.detach()
        if x.layout != torch.strided:
            x = x.to_dense()
        x = (x.float() if x.dtype in (torch.bfloat16, torch.float16) else x).cpu().numpy()
    elif isinstance(x, (list, tuple)) and x and torch.is_tensor(x[0]):
        x = np.stack([_as_float_array(row, name) for row in x])
    x = np.asarray(x)
    if x.dtype in (np.int8, np.uint8):
        raise ValueError(f"{name} must be float embeddings, got {x.dtype} ones (already quantised?)")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name} must hold float numbers, got dtype {x.dtype}")
    return x


def _check_precision(precision, name: str = "precision", allowed=PRECISIONS) -> None:
    if precision not in allowed:
        raise ValueError(f"{name} {precision!r} is not supported, must be one of {list(allowed)}")


def quantization_ranges(calibration_embeddings: Any) -> np.ndarray:
    """The per-dimension range of a set of embeddings, (2, d): row 0 the minimum, row 1 the maximum."""
    x = _as_float_array(calibration_embeddings, "calibration_embeddings")
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"calibration_embeddings must be at least two rows (n, d) to measure a range, "
                         f"got shape {x.shape}")
    return np.vstack((x.min(axis=0), x.max(axis=0)))


def _ranges(embeddings: np.ndarray, precision: str, ranges, calibration_embeddings) -> np.ndarray:
    """The ranges to quantise with: ``ranges`` as given, else the calibration set's, else the data's own."""
    d = embeddings.shape[-1]
    if ranges is not None:
        ranges = np.asarray(ranges)
        if ranges.shape != (2, d):
            raise ValueError(f"ranges must have shape (2, {d}) (a min row and a max row per dimension), "
                             f"got {ranges.shape}")
        return ranges
    if calibration_embeddings is not None:
        calibration = _as_float_array(calibration_embeddings, "calibration_embeddings")
        if calibration.ndim != 2 or calibration.shape[1] != d:
            raise ValueError(f"calibration_embeddings must be (n, {d}) like the embeddings, got shape {calibration.shape}")
        return quantization_ranges(calibration)
    if embeddings.ndim == 1 or embeddings.shape[0] == 1:
        raise ValueError(f"Cannot compute {precision} quantization ranges from a single embedding: pass ranges= "
                         "or calibration_embeddings= from a representative set of embeddings")
    return quantization_ranges(embeddings)


def quantize_embeddings(embeddings: Any, precision: str, ranges: Any = None,
                        calibration_embeddings: Any = None):
    """Float embeddings (n, d) -> a numpy array of ``precision``, as sentence-transformers' ``quantize_embeddings``.

    ``precision``: ``"float32"`` (a float32 copy), ``"int8"`` / ``"uint8"`` (n, d), ``"binary"`` (int8) /
    ``"ubinary"`` (uint8) of shape (n, ceil(d / 8)). ``ranges`` (2, d): the int8/uint8 buckets' range per
    dimension; else measured on ``calibration_embeddings``; else on ``embeddings`` themselves (which then
    need at least two rows; reuse one set of ranges for a corpus and its queries). A list of (T, d)
    matrices (``encode(output_value="token_embeddings")``) gives a list, quantised with one shared range.
    """
    _check_precision(precision)
    if isinstance(embeddings, (list, tuple)) and embeddings and getattr(embeddings[0], "ndim", 1) == 2:
        matrices = [_as_float_array(m, "embeddings") for m in embeddings]
        if precision.endswith("int8") and ranges is None:
            ranges = _ranges(np.concatenate(matrices), precision, None, calibration_embeddings)
        return [quantize_embeddings(m, precision, ranges=ranges) for m in matrices]
    if isinstance(embeddings, (list, tuple)) and not embeddings:
        return []
    x = _as_float_array(embeddings, "embeddings")  # (n, d) or (d,)

    if precision == "float32":
        return x.astype(np.float32)
    if precision.endswith("binary"):
        packed = np.packbits(x > 0, axis=-1)  # (n, ceil(d / 8)) uint8: 8 signs per byte
        return packed if precision == "ubinary" else (packed - 128).astype(np.int8)
    if x.ndim == 2 and x.shape[0] == 0:  # nothing to calibrate on: an empty (0, d) result
        return np.zeros(x.shape, dtype=np.int8 if precision == "int8" else np.uint8)
    ranges = _ranges(x, precision, ranges, calibration_embeddings).astype(np.float32)
    lo = ranges[0]
    step = (ranges[1] - lo) / 255
    step = np.where(step == 0, 1, step)  # a constant dimension: every value in bucket 0
    q = np.clip(np.floor((x - lo) / step), 0, 255)  # the bucket number, 0..255
    return q.astype(np.uint8) if precision == "uint8" else (q - 128).astype(np.int8)


def dequantize_embeddings(embeddings: Any, precision: str, ranges: Any) -> np.ndarray:
    """int8/uint8 buckets back to floats (float64): each value becomes its bucket's lower edge,
    ``lo + q * step``. The inverse of ``quantize_embeddings`` up to the bucket width."""
    _check_precision(precision, allowed=("int8", "uint8"))
    ranges = np.asarray(ranges, dtype=np.float32)
    step = (ranges[1] - ranges[0]) / 255
    step = np.where(step == 0, 1, step)
    q = np.asarray(embeddings).astype(np.float64) + (128 if precision == "int8" else 0)  # back to 0..255
    return q * step + ranges[0]


def _unpack_bits(packed: np.ndarray, precision: str, d: int) -> np.ndarray:
    """Packed binary codes (n, ceil(d / 8)) -> their bits (n, d), 0 or 1."""
    if precision == "binary":
        packed = (packed.astype(np.int16) + 128).astype(np.uint8)  # undo the int8 offset
    return np.unpackbits(packed, axis=-1)[:, :d]


def semantic_search_quantized(query_embeddings: Any, corpus_embeddings: Any, corpus_precision: str = "float32",
                              top_k: int = 10, ranges: Any = None, calibration_embeddings: Any = None,
                              rescore: bool = True, rescore_multiplier: int = 2) -> list[list[dict]]:
    """Semantic search over a quantised corpus: for each query, the best ``top_k`` corpus rows, best first.

    The exhaustive search of sentence-transformers' ``semantic_search_faiss`` / ``semantic_search_usearch``
    with ``exact=True``, in plain numpy (no index library). Returns one list per query of
    ``{"corpus_id": int, "score": float}``, best first; they return ``(results, seconds)`` and an index.

    ``corpus_embeddings`` are quantised with ``quantize_embeddings(..., corpus_precision)``; float
    ``query_embeddings`` are quantised the same way (same ``ranges`` / ``calibration_embeddings``) for the
    first search. Scores, higher is better:

    * first search: the dot product of the integer codes (int8/uint8), or minus the Hamming distance
      (binary/ubinary: the number of bits that differ), or the float dot product (float32);
    * with ``rescore`` (float queries, quantised corpus): ``rescore_multiplier * top_k`` candidates are
      scored again as ``query · restored candidate``, float query against the candidate's bucket lower
      edges (int8/uint8, ``dequantize_embeddings``) or its 0/1 bits (binary), the formulas those
      functions use; the best ``top_k`` of those are returned.

    Equal scores keep the order of the search before (the first search: lower corpus_id first).
    """
    _check_precision(corpus_precision, "corpus_precision")
    check_positive_int(top_k, "top_k")
    check_positive_int(rescore_multiplier, "rescore_multiplier")
    if not isinstance(rescore, bool):
        raise TypeError(f"rescore must be True or False, got {rescore!r}")
    corpus = np.asarray(corpus_embeddings)
    if corpus.ndim != 2 or corpus.shape[0] == 0:
        raise ValueError(f"corpus_embeddings must be a non-empty (n, d) array, got shape {corpus.shape}")
    want = np.float32 if corpus_precision == "float32" else np.int8 if corpus_precision in ("int8", "binary") else np.uint8
    if corpus_precision != "float32" and corpus.dtype != want:
        raise ValueError(f"corpus_embeddings are {corpus.dtype}, but corpus_precision={corpus_precision!r} "
                         f"stores {np.dtype(want).name}: quantize_embeddings(corpus, {corpus_precision!r}) makes them")
    queries = _as_float_array(query_embeddings, "query_embeddings") if torch.is_tensor(query_embeddings) \
        else np.asarray(query_embeddings)
    queries = queries[None, :] if queries.ndim == 1 else queries
    quantised_queries = queries.dtype in (np.int8, np.uint8)
    floats = None if quantised_queries else queries.astype(np.float32)  # kept for rescoring
    d = floats.shape[1] if floats is not None else None

    if corpus_precision in ("int8", "uint8") and not quantised_queries and ranges is None:
        ranges = _ranges(floats, corpus_precision, None, calibration_embeddings)
    if not quantised_queries:
        queries = quantize_embeddings(floats, corpus_precision, ranges=ranges)
        if queries.shape[1] != corpus.shape[1]:
            raise ValueError(f"query_embeddings give {queries.shape[1]} columns once quantised, "
                             f"corpus_embeddings have {corpus.shape[1]}")
    do_rescore = rescore and not quantised_queries and corpus_precision != "float32"
    k = min(top_k * rescore_multiplier if do_rescore else top_k, corpus.shape[0])

    # 1. The quantised search: every query against every corpus row.
    if corpus_precision.endswith("binary"):
        q_bits = _unpack_bits(queries, corpus_precision, 8 * queries.shape[1]).astype(np.int32)  # (q, 8m)
        c_bits = _unpack_bits(corpus, corpus_precision, 8 * corpus.shape[1]).astype(np.int32)  # (n, 8m)
        # Hamming distance = bits set in one but not the other: |a| + |b| - 2 a.b for 0/1 vectors
        scores = -(q_bits.sum(1)[:, None] + c_bits.sum(1)[None, :] - 2 * q_bits @ c_bits.T)  # (q, n)
    else:
        scores = queries.astype(np.float64) @ corpus.astype(np.float64).T  # (q, n)
    candidates = _top(scores, k)  # (q, k), best first

    # 2. Rescoring: the float query against each candidate, restored.
    if do_rescore:
        picked = corpus[candidates]  # (q, k, m)
        if corpus_precision.endswith("binary"):
            restored = np.stack([_unpack_bits(rows, corpus_precision, d) for rows in picked])  # (q, k, d)
        else:
            restored = dequantize_embeddings(picked, corpus_precision, ranges)  # (q, k, d)
        scores = np.einsum("qd,qkd->qk", floats.astype(np.float64), restored.astype(np.float64))  # (q, k)
        order = _top(scores, min(top_k, k))
        candidates = np.take_along_axis(candidates, order, 1)
        scores = np.take_along_axis(scores, order, 1)
    else:
        scores = np.take_along_axis(scores, candidates, 1)
    return [[{"corpus_id": int(c), "score": float(s)} for c, s in zip(ids, row)]
            for ids, row in zip(candidates, scores)]


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """The column indices of each row's k highest scores, best first, equal scores by lower index."""
    order = np.argsort(-scores, axis=1, kind="stable")  # (q, n)
    return order[:, :k]
