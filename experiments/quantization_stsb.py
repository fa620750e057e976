"""What smaller sentence vectors cost on STS Benchmark: Spearman per output precision and per truncate_dim.

all-MiniLM-L6-v2 encodes the STSb test pairs once in float32; each pair's score is then computed from the
vectors as a search over them would see them (Shakir, Aarsen and Lee 2024, "Binary and Scalar Embedding
Quantization", https://huggingface.co/blog/embedding-quantization; Kusupati et al. 2022, "Matryoshka
Representation Learning", https://arxiv.org/abs/2205.13147):

* float32, int8, uint8: the cosine of the two vectors (for int8/uint8, of their integer codes). The
  int8/uint8 ranges are calibrated on the distinct first sentences of the first 2,000 STSb *train* pairs,
  so the test vectors never set their own buckets.
* binary, ubinary: minus the Hamming distance of the packed sign bits (higher is better).
* truncate_dim k: the cosine of the first k numbers of each vector, what ``encode(truncate_dim=k)``
  returns (checked below on a few sentences). all-MiniLM-L6-v2 was not trained with a Matryoshka loss,
  so these rows show what cutting costs a model that was not.

The score is Spearman's rho × 100 against the gold similarity, as in ``minisbert.evaluate``. Memory is
the bytes one vector takes, and what a million of them take (MiB).

    MINISBERT_DATA=/path/to/data python experiments/quantization_stsb.py

Writes experiments/results/quantization_stsb.json (the table on docs/performance.md comes from it).
"""

from __future__ import annotations

import time

import numpy as np
from common import REPO, log, machine, setup, write_results  # before torch

from minisbert.evaluate import spearman
from minisbert.io.data import load_stsb
from minisbert.quantization import PRECISIONS, quantization_ranges, quantize_embeddings
from minisbert.sbert import SentenceBert
from minisbert.speed.hardware import cpu_flags, cpu_name

MODEL = REPO / "weights" / "all-MiniLM-L6-v2"
TRUNCATE_DIMS = (384, 256, 128, 64, 32)
CALIBRATION_PAIRS = 2000
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def cosine(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two (N, d) arrays, in float64 so integer codes do not overflow."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    return (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)  # (N,)


def minus_hamming(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Minus the number of differing bits of two (N, bytes) packed arrays: higher is more similar."""
    differing = np.unpackbits(np.bitwise_xor(x.view(np.uint8), y.view(np.uint8)), axis=1)  # (N, 8 · bytes)
    return -differing.sum(1).astype(np.float64)  # (N,)


def row(score: np.ndarray, gold: np.ndarray, bytes_per_vector: int) -> dict:
    return {"spearman": round(100 * spearman(score, gold), 2), "bytes_per_vector": bytes_per_vector,
            "mib_per_million": round(bytes_per_vector * 1e6 / 2**20, 1)}


def main() -> None:
    data_dir = setup()
    host = machine()
    t0 = time.perf_counter()
    model = SentenceBert.from_pretrained(MODEL)
    test, train = load_stsb("test", data_dir), load_stsb("train", data_dir)
    gold = np.array([p.score for p in test])
    log(f"{len(test)} test pairs; encoding")
    a = model.encode([p.sentence1 for p in test], progress=False)  # (N, 384) float32
    b = model.encode([p.sentence2 for p in test], progress=False)  # (N, 384)
    calibration = model.encode(sorted({p.sentence1 for p in train[:CALIBRATION_PAIRS]}), progress=False)
    ranges = quantization_ranges(calibration)  # (2, 384): per-dimension min and max

    check = [p.sentence1 for p in test[:8]]
    for k in TRUNCATE_DIMS:  # the slice below is what encode(truncate_dim=k) gives
        cut = model.encode(check, truncate_dim=k, progress=False)
        assert cut.shape == (8, k) and np.allclose(cut, a[:8, :k], atol=1e-5), k

    precisions = {}
    for precision in PRECISIONS:
        kw = {"ranges": ranges} if precision in ("int8", "uint8") else {}
        qa, qb = quantize_embeddings(a, precision, **kw), quantize_embeddings(b, precision, **kw)
        score = minus_hamming(qa, qb) if precision.endswith("binary") else cosine(qa, qb)
        precisions[precision] = row(score, gold, qa.nbytes // len(qa)) | {"dtype": str(qa.dtype)}
        log(f"{precision:8s} {precisions[precision]}")

    truncations = {}
    for k in TRUNCATE_DIMS:
        truncations[str(k)] = row(cosine(a[:, :k], b[:, :k]), gold, a[:, :k].itemsize * k)
        log(f"truncate_dim {k:3d} {truncations[str(k)]}")

    flags = cpu_flags()
    write_results("quantization_stsb", {
        "model": "all-MiniLM-L6-v2", "test_pairs": len(test), "calibration_sentences": len(calibration),
        "score": "Spearman x100 of cosine (float32, int8/uint8 codes) or minus Hamming distance (binary)",
        "precision": precisions, "truncate_dim_float32": truncations,
        "cpu": {"model_name": cpu_name(), **{f: f in flags for f in FLAGS}},
        "machine": host, "seconds": round(time.perf_counter() - t0, 1),
    })


if __name__ == "__main__":
    main()
