"""The bench's extra rows (benchmarks/precisions.py): the ``bench`` extra installs what they need, the
ONNX export computes the model's sentence vectors, and the library itself never imports any of it."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.fast
@pytest.mark.parametrize("module", ["onnx", "onnxscript", "onnxruntime", "onnxruntime.quantization"])
def test_the_bench_extra_is_installed(module):
    importlib.import_module(module)


@pytest.mark.fast
def test_the_library_never_imports_the_bench_extra():
    for path in (REPO / "minisbert").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] in ("onnx", "onnxruntime", "onnxscript") for n in names), path


SENTENCES = ["A man is playing a guitar.", "Hi", "Someone plays an instrument on a stage tonight.",
             "The cat sat on the mat.", "A man is playing a guitar."]


def test_onnx_rows_give_the_models_vectors(tiny_sbert_folder):
    from benchmarks.precisions import make_precision_encoder
    from minisbert import SentenceBert

    want = SentenceBert.from_pretrained(tiny_sbert_folder).encode(SENTENCES, normalize=True)
    fp32 = make_precision_encoder("onnxruntime-fp32", tiny_sbert_folder)(SENTENCES, 2)  # several batches, padded
    assert fp32.shape == want.shape and np.abs(fp32 - want).max() <= 1e-5
    int8 = make_precision_encoder("onnxruntime-int8", tiny_sbert_folder)(SENTENCES, 2)
    assert 0 < np.abs(int8 - want).max() <= 0.1  # int8 weights: close, not equal
    torch_int8 = make_precision_encoder("torch-int8", tiny_sbert_folder)(SENTENCES, 2)
    assert 0 < np.abs(torch_int8 - want).max() <= 0.1


@pytest.mark.fast
def test_stsb_spearman_of_vector_pairs_matches_scipy():
    from scipy.stats import spearmanr

    from benchmarks.bench import stsb_spearman

    g = torch.Generator().manual_seed(0)
    vectors = torch.nn.functional.normalize(torch.randn(40, 8, generator=g), dim=-1).numpy()
    gold = torch.rand(20, generator=g).tolist()
    cos = (vectors[0::2] * vectors[1::2]).sum(1)
    assert stsb_spearman(vectors, gold) == pytest.approx(100 * spearmanr(cos, gold).statistic, abs=1e-9)
