"""The cost experiment of ``benchmarks/cost.py``: the pair-count arithmetic, the run/extrapolate plan,
agreement, and a small real run.

The planning and the extrapolation are tested with stand-in models whose scores are known (so the
expected pairs are worked out independently, by brute force over ``itertools.combinations``); one small
run of ``python -m minisbert cost`` with the real model checks the table and the plot it writes.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

from benchmarks.cost import (SIZES, CostReport, CostRow, bi_encoder_mining, cross_encoder_mining, extrapolate_seconds,
                             fits_budget, format_table, loglog_slope, mining_sentences, n_pairs, overlap_at_k,
                             plot_cost, run_cost)
from minisbert.__main__ import main

# ----------------------------------------------------------------------------------------------------
# Stand-ins: a bi-encoder with fixed vectors, and a cross-encoder that scores a pair by the same cosine


SENTENCES = [f"sentence number {i}" for i in range(40)]


def fixed_vectors(sentences):
    # One fixed random vector per sentence text (from the number in it): (n, 8).
    rows = [np.random.default_rng(int(s.split()[-1])).standard_normal(8) for s in sentences]
    return torch.tensor(np.array(rows), dtype=torch.float32)


class FakeBi:
    def encode(self, sentences, batch_size=32, convert_to="torch", progress=None):
        return fixed_vectors(sentences)


class FakeCross:
    def __init__(self):
        self.pairs_scored = []

    def predict(self, pairs, batch_size=32, convert_to="numpy", progress=None):
        self.pairs_scored.extend(pairs)
        a, b = fixed_vectors([p[0] for p in pairs]), fixed_vectors([p[1] for p in pairs])
        return torch.nn.functional.cosine_similarity(a, b, dim=1).numpy()


# ----------------------------------------------------------------------------------------------------
# The arithmetic


def test_pair_count_formula():
    assert n_pairs(10_000) == 49_995_000  # the SBERT paper's number
    assert [n_pairs(n) for n in (0, 1, 2, 3)] == [0, 0, 1, 3]
    for n in range(0, 30):
        assert n_pairs(n) == len(list(itertools.combinations(range(n), 2)))
    with pytest.raises(ValueError, match="non-negative"):
        n_pairs(-1)


def test_extrapolation_arithmetic():
    assert extrapolate_seconds(10_000, 1_000.0) == pytest.approx(49_995.0)  # 49,995,000 pairs at 1,000/s
    assert extrapolate_seconds(100, 4_950) == pytest.approx(1.0)
    assert extrapolate_seconds(10_000, 500) / 3600 == pytest.approx(27.775)  # hours at 500 pairs/s
    assert fits_budget(100, 4_950, 1.0) and not fits_budget(101, 4_950, 1.0)
    for bad in (0, -3.0, float("inf"), "fast"):
        with pytest.raises(ValueError, match="pairs_per_second"):
            extrapolate_seconds(10, bad)


def test_loglog_slope():
    ns = [100, 300, 1_000, 3_000]
    assert loglog_slope(ns, [2e-3 * n * n for n in ns]) == pytest.approx(2.0)
    assert loglog_slope(ns, [0.01 * n for n in ns]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        loglog_slope([10], [1.0])


def test_overlap_at_k():
    a = [(0.9, 0, 1), (0.8, 2, 3), (0.7, 1, 4), (0.1, 0, 2)]
    b = [(5.0, 3, 2), (4.0, 0, 2), (3.0, 1, 0), (1.0, 1, 4)]  # (3, 2) is (2, 3): pairs are unordered
    assert overlap_at_k(a, b, 1) == 0.0
    assert overlap_at_k(a, b, 2) == 0.5
    assert overlap_at_k(a, b, 3) == pytest.approx(2 / 3)
    assert overlap_at_k(a, b, 4) == 1.0
    with pytest.raises(ValueError, match="k must be a positive int"):
        overlap_at_k(a, b, 0)
    with pytest.raises(ValueError, match="fewer than k"):
        overlap_at_k(a, b, 5)


# ----------------------------------------------------------------------------------------------------
# Sentences and mining


def test_enough_distinct_sentences_for_ten_thousand(data_dir):
    everything = mining_sentences(None, data_dir)
    assert len(everything) >= max(SIZES) == 10_000
    assert len(set(everything)) == len(everything)
    small, large = mining_sentences(100, data_dir), mining_sentences(1_000, data_dir)
    assert large[:100] == small  # each size's sentences are part of the next size's
    assert mining_sentences(100, data_dir, seed=1) != small
    with pytest.raises(ValueError, match="distinct sentences"):
        mining_sentences(len(everything) + 1, data_dir)
    with pytest.raises(ValueError, match="at least 2"):
        mining_sentences(1, data_dir)


def test_cross_encoder_mining_scores_every_pair_once():
    cross = FakeCross()
    got = cross_encoder_mining(cross, SENTENCES[:12])
    assert len(cross.pairs_scored) == n_pairs(12) == len(got)
    assert len(set(cross.pairs_scored)) == n_pairs(12)
    vectors = torch.nn.functional.normalize(fixed_vectors(SENTENCES[:12]), dim=1)
    brute = sorted(((float(vectors[i] @ vectors[j]), i, j) for i, j in itertools.combinations(range(12), 2)),
                   key=lambda t: -t[0])
    assert [(i, j) for _, i, j in got] == [(i, j) for _, i, j in brute]
    assert np.allclose([s for s, _, _ in got], [s for s, _, _ in brute], atol=1e-6)
    assert len(cross_encoder_mining(FakeCross(), SENTENCES[:12], max_pairs=5)) == 5


@pytest.mark.parametrize("call, error, match", [
    (lambda: cross_encoder_mining(FakeCross(), ["one"]), ValueError, "at least two sentences"),
    (lambda: cross_encoder_mining(FakeCross(), []), ValueError, "at least two sentences"),
    (lambda: bi_encoder_mining(FakeBi(), ["one"]), ValueError, "at least two sentences"),
    (lambda: bi_encoder_mining(FakeBi(), SENTENCES, top_k=0), ValueError, "top_k must be a positive int"),
    (lambda: bi_encoder_mining(FakeBi(), SENTENCES, top_k=-5), ValueError, "top_k must be a positive int"),
    (lambda: cross_encoder_mining(FakeCross(), "two words"), TypeError, "list of strings"),
    (lambda: cross_encoder_mining(FakeCross(), ["a", 2]), TypeError, r"sentences\[1\] must be a str"),
    (lambda: run_cost(FakeBi(), FakeCross(), SENTENCES, sizes=[1, 10]), ValueError, "at least 2"),
    (lambda: run_cost(FakeBi(), FakeCross(), SENTENCES, sizes=[10, 50]), ValueError, "only 40 sentences"),
    (lambda: run_cost(FakeBi(), FakeCross(), SENTENCES, sizes=[10], top_k=0), ValueError, "top_k"),
])
def test_bad_input_gives_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ----------------------------------------------------------------------------------------------------
# The plan: run for real within the budget, extrapolate beyond it


def test_everything_measured_with_a_large_budget_and_agreement_of_identical_scorers():
    cross = FakeCross()
    report = run_cost(FakeBi(), cross, SENTENCES, sizes=[20, 8, 30], cross_budget=1e9, agreement_n=20,
                      agreement_ks=[5, 10], log=lambda _: None)
    assert [r.n for r in report.rows] == [8, 20, 30]  # in increasing order
    assert [r.pairs for r in report.rows] == [28, 190, 435]
    assert all(r.cross_measured and r.cross_seconds > 0 and r.bi_seconds > 0 for r in report.rows)
    assert report.cross_pairs_per_second == pytest.approx(435 / report.rows[-1].cross_seconds)
    # Both stand-ins score a pair by the same cosine: the rankings agree exactly.
    assert report.agreement["overlap_at_k"] == {"5": 1.0, "10": 1.0}
    assert report.agreement["spearman"] == pytest.approx(1.0)


def test_zero_budget_extrapolates_every_size_from_the_calibration_rate():
    report = run_cost(FakeBi(), FakeCross(), SENTENCES, sizes=[10, 40], cross_budget=0, agreement_n=None,
                      log=lambda _: None)
    assert not any(r.cross_measured for r in report.rows)
    assert report.cross_rate_from.startswith("calibration")
    for r in report.rows:
        assert r.cross_seconds == pytest.approx(r.pairs / report.cross_pairs_per_second)
    assert report.rows[1].cross_seconds / report.rows[0].cross_seconds == pytest.approx(780 / 45)


def test_table_and_plot_from_a_report(tmp_path):
    rows = [CostRow(100, 4_950, 0.5, 0.4, 0.1, 9.9, True),
            CostRow(10_000, 49_995_000, 20.0, 19.0, 1.0, 99_990.0, False)]
    report = CostReport(rows=rows, cross_pairs_per_second=500.0, cross_rate_from="n = 100", bi_sentences_per_second=526.3,
                        cross_budget_seconds=120, top_k=100, batch_size=32)
    table = format_table(report)
    assert "| 100 | 4,950 | 0.50 | 9.9 (9.90 s) | measured | 20× |" in table
    assert "| 10,000 | 49,995,000 | 20.00 | 99,990.0 (1.2 d) | extrapolated | 5,000× |" in table
    path = plot_cost(report, tmp_path / "plot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------------------------------
# A small real run of the command


def test_small_cost_run_writes_table_and_plot(tmp_path, model_dir, data_dir, capsys):
    out = tmp_path / "cost"
    rc = main(["cost", "--sizes", "6", "16", "--cross-budget", "3", "--cross-model", str(model_dir),
               "--model", str(model_dir), "--agreement-k", "5", "--data-dir", str(data_dir), "--out", str(out)])
    assert rc == 0
    png = (out / "cost.png").read_bytes()
    assert len(png) > 10_000 and png[:8] == b"\x89PNG\r\n\x1a\n"
    table = (out / "cost.md").read_text(encoding="utf-8")
    rows = [line for line in table.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [r.split("|")[1:3] for r in rows] == [[" 6 ", " 15 "], [" 16 ", " 120 "]]
    data = json.loads((out / "cost.json").read_text(encoding="utf-8"))
    assert [r["n"] for r in data["rows"]] == [6, 16]
    for r in data["rows"]:
        assert r["bi_seconds"] > 0 and r["cross_seconds"] > 0
        if not r["cross_measured"]:
            assert r["cross_seconds"] == pytest.approx(r["pairs"] / data["cross_pairs_per_second"])
    assert 0.0 <= data["agreement"]["overlap_at_k"]["5"] <= 1.0
    assert "UNTRAINED head" in capsys.readouterr().out  # the plain BERT folder has no trained head


@pytest.mark.parametrize("argv, match", [
    (["--sizes", "1", "10"], "--sizes must be at least 2"),
    (["--top-k", "0"], "--top-k must be positive"),
    (["--cross-budget", "-1"], "--cross-budget must be >= 0"),
])
def test_command_rejects_bad_flags(argv, match, capsys):
    assert main(["cost", *argv]) == 2
    assert match in capsys.readouterr().err
