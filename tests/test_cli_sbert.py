"""The SBERT commands: encode, similarity, search, eval and bench, checked against sentence-transformers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pathlib import Path

import numpy as np
import pytest

from minisbert.__main__ import main

REPO = Path(__file__).resolve().parent.parent

SENTENCES = ["A man is playing a guitar.", "Someone is strumming a guitar on stage.", "A chef slices onions.", ""]
CORPUS = [
    "The cat sits on the mat.",
    "",
    "A man is playing the guitar on stage.",
    "Stock markets fell sharply on Monday.",
    "A woman is cutting vegetables in the kitchen.",
]


@pytest.fixture(scope="module")
def st(st_model):
    return st_model  # the run's shared model (tests/conftest.py)


def test_encode_arguments_to_npy(st, tmp_path, capsys):
    out = tmp_path / "vectors.npy"
    assert main(["encode", *SENTENCES, "-o", str(out)]) == 0
    assert "wrote 4 x 384" in capsys.readouterr().out
    got = np.load(out)
    assert got.shape == (4, 384) and got.dtype == np.float32
    assert np.abs(got - st.encode(SENTENCES)).max() <= 1e-6


def test_encode_file_keeps_one_row_per_line(st, tmp_path, capsys):
    lines = tmp_path / "lines.txt"
    lines.write_text("\n".join(SENTENCES[:3]) + "\n\nlast line\n", encoding="utf-8")  # a blank line inside
    out = tmp_path / "out"  # no .npy suffix: the file is written exactly where asked
    assert main(["encode", "--file", str(lines), "--output", str(out), "--no-normalize"]) == 0
    got = np.load(out)
    expected = st.encode(SENTENCES[:3] + ["", "last line"])  # the folder's Normalize module always runs in ST
    assert got.shape == (5, 384)
    norms = np.linalg.norm(got, axis=1, keepdims=True)
    assert (np.abs(norms - 1) > 0.1).all()  # --no-normalize: the raw mean-pooled vectors
    assert np.abs(got / norms - expected).max() <= 1e-6


def test_similarity(st, capsys):
    assert main(["similarity", SENTENCES[0], SENTENCES[1]]) == 0
    printed = float(capsys.readouterr().out.strip())
    u, v = st.encode(SENTENCES[:2])
    assert abs(printed - float(u @ v)) <= 1e-4  # printed with 4 decimals; the vectors are unit length
    assert main(["similarity", SENTENCES[0], SENTENCES[1], "--metric", "euclidean"]) == 0
    assert abs(float(capsys.readouterr().out.strip()) + float(np.linalg.norm(u - v))) <= 1e-4


def test_search_against_brute_force(st, tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    query = "Somebody plays an instrument."
    assert main(["search", "--corpus", str(corpus), "--query", query, "--top-k", "2"]) == 0
    out = capsys.readouterr().out
    docs = [(i + 1, c) for i, c in enumerate(CORPUS) if c.strip()]
    scores = st.encode([c for _, c in docs]) @ st.encode(query)
    best = np.argsort(-scores)[:2]
    hit_lines = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert len(hit_lines) == 2
    for rank, (line, i) in enumerate(zip(hit_lines, best), start=1):
        number, text = docs[i]
        assert line == f"{rank}. {scores[i]:.4f}  line {number}: {text}"


def test_eval_sick_trial_matches_sentence_transformers(st, data_dir, capsys):
    from scipy.stats import spearmanr

    from minisbert.io.data import load_sick

    assert main(["eval", "sick", "--split", "trial", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    printed = float(out.split("Spearman x 100:")[1].split()[0])
    pairs = load_sick("trial", data_dir)
    a = st.encode([p.sentence_a for p in pairs])
    b = st.encode([p.sentence_b for p in pairs])
    reference = 100 * spearmanr([p.relatedness for p in pairs], (a * b).sum(-1)).statistic
    assert abs(printed - reference) <= 0.01  # printed to 2 decimals


def test_bench_quick_run(data_dir, tmp_path, capsys):
    out = tmp_path / "bench.json"
    # The fp32 systems (the bf16, int8 and ONNX rows: tests/test_bench_extras.py), a 2-step training recipe.
    argv = ["bench", "--limit", "48", "--repeats", "1", "--batch-sizes", "16", "--no-memory", "--train-steps", "1",
            "--train-eval-steps", "2", "--systems", "minisbert", "minisbert-no-dedup", "sentence-transformers",
            "hf-bert-mean", "--data-dir", str(data_dir), "--json", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "machine:" in printed and "sent/s" in printed
    result = json.loads(out.read_text())
    assert {r["system"] for r in result["rows"]} == {"minisbert", "minisbert-no-dedup", "sentence-transformers",
                                                     "hf-bert-mean"}
    assert result["sentences"] == 48 and 0 < result["distinct_sentences"] <= 48
    for row in result["rows"]:  # the four systems compute the same vectors
        assert row["max_abs_diff"] <= 1e-5 and row["sentences_per_s"] > 0
    assert set(result["training_steps_per_s"]) == {"minisbert", "sentence-transformers"}
    assert set(result["training_stsb_spearman"]) == {"minisbert", "sentence-transformers"}
    assert "steps/s" in printed and "% roof" in printed


def test_bench_memory_child(data_dir, model_dir):
    from benchmarks.bench import measure_memory

    mem = measure_memory("minisbert", model_dir, 16, str(data_dir), 32)
    assert mem is not None
    weights_mib = (model_dir / "model.safetensors").stat().st_size / 2**20  # 87 MiB of float32 weights
    assert mem["loaded_mib"] > weights_mib  # the loaded process holds at least the weights
    assert mem["peak_mib"] >= mem["loaded_mib"]  # the peak starts at the loaded size and only grows
    if os.access("/proc/self/clear_refs", os.W_OK):  # Linux: the peak can be reset, so the encode's share is known
        assert mem["encode_mib"] == pytest.approx(mem["peak_mib"] - mem["loaded_mib"])
        assert mem["encode_mib"] < 1024  # 32 short sentences in batches of 16: about 70 MiB measured


@pytest.mark.parametrize("argv, message", [
    (["encode", "-o", "x.npy"], "nothing to encode"),
    (["encode", "--file", "/no/such/file.txt", "-o", "x.npy"], "no such file"),
    (["search", "--corpus", "/no/such/corpus.txt", "-q", "hello"], "no such file"),
    (["similarity", "a", "b", "--model", "/no/such/model"], "no model folder"),
    (["eval", "stsb", "--split", "nope"], "Unknown split"),
    (["eval", "sick", "--data-dir", "/no/such/data"], "does not exist"),
])
def test_errors_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_error_exit_code_without_traceback_from_the_shell():
    done = subprocess.run([sys.executable, "-m", "minisbert", "search", "--corpus", "/no/such/corpus.txt", "-q", "x"],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "no such file" in done.stderr
