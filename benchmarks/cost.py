"""The cost of comparing pairs: cross-encoder against bi-encoder, measured on this machine.

Reimers & Gurevych 2019 ("Sentence-BERT", https://arxiv.org/abs/1908.10084, section 1) make the case
for SBERT with one number each. Finding the most similar pair in a collection of n = 10,000 sentences
with BERT as a cross-encoder (Devlin et al. 2019: both sentences in one input) takes

    n(n-1)/2 = 49,995,000 forward passes              "about 65 hours" on a V100 GPU

while SBERT, a bi-encoder, encodes each sentence once and compares the vectors with cosine similarity:

    n = 10,000 forward passes + one matrix product     "about 5 seconds"

This harness makes the argument concrete on this machine's CPU, with the same hand-written BERT
(all-MiniLM-L6-v2) on both sides:

1. the bi-encoder runs paraphrase mining for real at every n (encode, then the chunked top pairs of
   ``minisbert.similarity.paraphrase_mining``);
2. the cross-encoder scores every one of the n(n-1)/2 pairs for real while that fits in a time budget
   (a couple of minutes), and beyond it the time is extrapolated from its measured rate in pairs/s
   (the work per pair does not depend on n, so the extrapolation is plain arithmetic: pairs / rate);
3. on a small n, where both have scored every pair, the top pairs of the two are compared (overlap@k).

The sentences are the unique sentences of STS Benchmark and SICK (all splits: 21,563 distinct strings),
shuffled with a fixed seed; the first n are used for size n, so every smaller set is part of the larger.
``write_outputs`` saves a table (Markdown + JSON) and a log-log plot in which the cross-encoder's slope
is 2 (quadratic in n) and the bi-encoder's about 1 (linear). From the repository root:

    python -m benchmarks.cost --sizes 20 50 --cross-budget 5 --out runs/cost-small    # a small run
    python -m benchmarks.cost --compare-st --out experiments/results/cost             # the recorded one

(``python -m minisbert cost ...`` runs the same from a source checkout.) The cross-encoder is
``--cross-model`` if given; else ``weights/cross-encoder-stsb`` if it exists, a folder that only
``experiments/cross_encoder_stsb.py`` trains (it is not fetched); else the bi-encoder's BERT with a new,
untrained head, which costs the same per pair but whose scores mean nothing (the agreement numbers then
are noise). The run prints which one it took and why.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import command_line

SIZES = (100, 300, 1_000, 3_000, 10_000)
PAPER = "SBERT paper (V100, BERT-base), n = 10,000: cross-encoder ≈ 65 h, SBERT ≈ 5 s"
CALIBRATION_PAIRS = 32  # pairs scored once to estimate the cross-encoder's rate before the first real run
REPO = Path(__file__).resolve().parent.parent
TRAINED_CROSS = "cross-encoder-stsb"  # under weights/: only experiments/cross_encoder_stsb.py trains it
HELP = "cross-encoder vs bi-encoder: the cost of comparing every pair, measured"


# ----------------------------------------------------------------------------------------------------
# The arithmetic


def n_pairs(n: int) -> int:
    """Unordered pairs of n distinct items: n(n-1)/2 (49,995,000 for n = 10,000)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    return int(n) * (int(n) - 1) // 2


def extrapolate_seconds(n: int, pairs_per_second: float) -> float:
    """Seconds for a cross-encoder to score all n(n-1)/2 pairs at a measured rate."""
    if not isinstance(pairs_per_second, (int, float)) or not pairs_per_second > 0 or math.isinf(pairs_per_second):
        raise ValueError(f"pairs_per_second must be a positive number, got {pairs_per_second!r}")
    return n_pairs(n) / pairs_per_second


def fits_budget(n: int, pairs_per_second: float, seconds_left: float) -> bool:
    """Whether scoring all pairs of n sentences is expected to finish within the time left."""
    return extrapolate_seconds(n, pairs_per_second) <= seconds_left


def loglog_slope(ns: Sequence[float], seconds: Sequence[float]) -> float:
    """Least-squares slope of log(seconds) against log(n): 2 for t ∝ n², 1 for t ∝ n."""
    if len(ns) != len(seconds) or len(ns) < 2:
        raise ValueError("loglog_slope needs at least two (n, seconds) points")
    x, y = np.log(np.asarray(ns, dtype=float)), np.log(np.asarray(seconds, dtype=float))
    return float(np.polyfit(x, y, 1)[0])


def overlap_at_k(pairs_a: Sequence[tuple], pairs_b: Sequence[tuple], k: int) -> float:
    """|top-k pairs of a ∩ top-k pairs of b| / k, for two lists of (score, i, j), best first.

    A pair is unordered: (i, j) and (j, i) are the same pair.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"k must be a positive int, got {k!r}")
    for name, pairs in (("pairs_a", pairs_a), ("pairs_b", pairs_b)):
        if len(pairs) < k:
            raise ValueError(f"{name} has {len(pairs)} pairs, fewer than k = {k}")
    top = lambda pairs: {(min(i, j), max(i, j)) for _, i, j in pairs[:k]}  # noqa: E731
    return len(top(pairs_a) & top(pairs_b)) / k


# ----------------------------------------------------------------------------------------------------
# The sentences


def mining_sentences(n: int | None = None, data_dir=None, seed: int = 0) -> list[str]:
    """n distinct sentences from STS Benchmark and SICK (every split), in a fixed shuffled order.

    The first n of one shuffled list, so the set for a smaller n is part of the set for a larger one.
    ``n=None`` returns them all (21,563 with the standard files).
    """
    from minisbert.io.data import load_sick, load_stsb

    seen: dict[str, None] = {}  # insertion-ordered set: file order, then the seeded shuffle
    for split in ("train", "dev", "test"):
        for p in load_stsb(split, data_dir):
            seen.setdefault(p.sentence1)
            seen.setdefault(p.sentence2)
        for p in load_sick(split, data_dir):
            seen.setdefault(p.sentence_a)
            seen.setdefault(p.sentence_b)
    sentences = list(seen)
    random.Random(seed).shuffle(sentences)
    if n is None:
        return sentences
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int of at least 2 (one pair), got {n!r}")
    if n > len(sentences):
        raise ValueError(f"n = {n} but STS Benchmark and SICK hold only {len(sentences)} distinct sentences")
    return sentences[:n]


def _check_sentences(sentences) -> list[str]:
    if isinstance(sentences, str) or not isinstance(sentences, Sequence):
        raise TypeError(f"sentences must be a list of strings, got {type(sentences).__name__}")
    sentences = list(sentences)
    if len(sentences) < 2:
        raise ValueError(f"need at least two sentences to form a pair, got {len(sentences)}")
    for i, s in enumerate(sentences):
        if not isinstance(s, str):
            raise TypeError(f"sentences[{i}] must be a str, got {type(s).__name__}")
    return sentences


# ----------------------------------------------------------------------------------------------------
# Mining, both ways


def bi_encoder_mining(model, sentences: Sequence[str], top_k: int = 100, max_pairs: int = 500_000,
                      batch_size: int = 32) -> tuple[list[tuple[float, int, int]], float, float]:
    """SBERT's way: encode each sentence once, then the top pairs by cosine similarity.

    Returns (pairs best first, encode seconds, mining seconds). ``top_k`` partners per sentence and
    ``max_pairs`` as in ``minisbert.similarity.paraphrase_mining`` (and sentence-transformers').
    """
    from minisbert.similarity import paraphrase_mining

    sentences = _check_sentences(sentences)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k <= 0:
        raise ValueError(f"top_k must be a positive int, got {top_k!r}")
    t0 = time.perf_counter()
    embeddings = model.encode(sentences, batch_size=batch_size, convert_to="torch", progress=False)  # (n, H)
    t1 = time.perf_counter()
    pairs = paraphrase_mining(embeddings, top_k=top_k, max_pairs=max_pairs)  # chunked: memory O(chunk · n)
    t2 = time.perf_counter()
    return pairs, t1 - t0, t2 - t1


def cross_encoder_mining(cross, sentences: Sequence[str], batch_size: int = 32,
                         max_pairs: int | None = None) -> list[tuple[float, int, int]]:
    """The cross-encoder's way: score every one of the n(n-1)/2 pairs, then sort. Best first.

    Nothing computed for one pair helps with another: the two sentences meet inside BERT, so each pair
    is a forward pass of its own. That is the whole cost argument.
    """
    sentences = _check_sentences(sentences)
    if max_pairs is not None and (isinstance(max_pairs, bool) or not isinstance(max_pairs, int) or max_pairs <= 0):
        raise ValueError(f"max_pairs must be a positive int or None, got {max_pairs!r}")
    n = len(sentences)
    index = [(i, j) for i in range(n) for j in range(i + 1, n)]  # n(n-1)/2 pairs, i < j
    scores = cross.predict([(sentences[i], sentences[j]) for i, j in index], batch_size=batch_size,
                           convert_to="numpy", progress=False)  # (n(n-1)/2,)
    order = sorted(range(len(index)), key=lambda p: (-float(scores[p]), index[p]))  # ties: (i, j) ascending
    if max_pairs is not None:
        order = order[:max_pairs]
    return [(float(scores[p]), *index[p]) for p in order]


# ----------------------------------------------------------------------------------------------------
# The experiment


@dataclass
class CostRow:
    n: int
    pairs: int  # n(n-1)/2
    bi_seconds: float  # encode + mining, measured
    bi_encode_seconds: float
    bi_mining_seconds: float
    cross_seconds: float  # measured, or pairs / cross_pairs_per_second
    cross_measured: bool


@dataclass
class CostReport:
    rows: list[CostRow]
    cross_pairs_per_second: float  # from the largest n scored for real (the calibration if none was)
    cross_rate_from: str  # which run the rate comes from
    bi_sentences_per_second: float  # encode rate at the largest n
    cross_budget_seconds: float
    top_k: int
    batch_size: int
    cross_model: str = ""
    bi_model: str = ""
    agreement: dict = field(default_factory=dict)  # {"n": ..., "overlap_at_k": {k: overlap}, "spearman": ...}
    compare_st: dict | None = None  # sentence-transformers' paraphrase_mining, same sentences, same run
    machine: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def run_cost(bi, cross, sentences: Sequence[str], sizes: Sequence[int] = SIZES, cross_budget: float = 120.0,
             top_k: int = 100, batch_size: int = 32, agreement_n: int | None = 100,
             agreement_ks: Sequence[int] = (10, 50), log: Callable[[str], None] = print) -> CostReport:
    """Mine pairs among the first n ``sentences`` for every n in ``sizes``, both ways; see the module doc.

    The cross-encoder runs for real while its expected time (pairs / the latest measured rate) fits in
    what is left of ``cross_budget`` seconds; every later size is extrapolated from the rate of the
    largest real run. The sizes are taken in increasing order.
    """
    sentences = _check_sentences(sentences)
    sizes = sorted(set(sizes))
    if not sizes or any(isinstance(n, bool) or not isinstance(n, int) or n < 2 for n in sizes):
        raise ValueError(f"sizes must be ints of at least 2 (one pair), got {list(sizes)}")
    if sizes[-1] > len(sentences):
        raise ValueError(f"the largest size is {sizes[-1]} but only {len(sentences)} sentences were given")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k <= 0:
        raise ValueError(f"top_k must be a positive int, got {top_k!r}")
    if not isinstance(cross_budget, (int, float)) or cross_budget < 0:
        raise ValueError(f"cross_budget must be a number of seconds >= 0, got {cross_budget!r}")
    if agreement_n is not None and not 2 <= agreement_n <= len(sentences):
        raise ValueError(f"agreement_n must be from 2 to {len(sentences)}, got {agreement_n!r}")
    for k in agreement_ks:
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise ValueError(f"agreement k must be a positive int, got {k!r}")

    # Warm-up: the first call of a model pays one-off costs (allocations, kernel selection).
    bi.encode(sentences[:8], batch_size=batch_size, progress=False)
    rng = random.Random(1)
    pool = sentences[:sizes[-1]]
    calib = [tuple(rng.sample(pool, 2)) for _ in range(CALIBRATION_PAIRS)]
    cross.predict(calib[:8], batch_size=batch_size, progress=False)

    # The cross-encoder's first rate estimate: a few random pairs from the largest set.
    t0 = time.perf_counter()
    cross.predict(calib, batch_size=batch_size, progress=False)
    spent = time.perf_counter() - t0
    rate, rate_from = len(calib) / spent, f"calibration ({len(calib)} random pairs)"
    log(f"cross-encoder calibration: {rate:,.0f} pairs/s")

    rows, cross_runs = [], {}
    extrapolating = False
    for n in sizes:
        subset = sentences[:n]
        bi_pairs, enc_s, mine_s = bi_encoder_mining(bi, subset, top_k=top_k, batch_size=batch_size)
        if not extrapolating and fits_budget(n, rate, cross_budget - spent):
            t0 = time.perf_counter()
            cross_runs[n] = cross_encoder_mining(cross, subset, batch_size=batch_size)
            cross_s = time.perf_counter() - t0
            spent += cross_s
            rate, rate_from = n_pairs(n) / cross_s, f"n = {n} ({n_pairs(n):,} pairs scored)"
            measured = True
        else:
            extrapolating = True  # sizes grow: once one does not fit, none after it will
            cross_s, measured = None, False
        rows.append(CostRow(n, n_pairs(n), enc_s + mine_s, enc_s, mine_s, cross_s, measured))
        how = f"{cross_s:,.1f} s measured" if measured else "extrapolated"
        log(f"n = {n:>6,}: bi-encoder {enc_s + mine_s:8.2f} s (encode {enc_s:.2f} s), cross-encoder {how}")
    for row in rows:  # every extrapolated time from the final rate: that of the largest real run
        if not row.cross_measured:
            row.cross_seconds = extrapolate_seconds(row.n, rate)

    largest = rows[-1]
    report = CostReport(
        rows=rows, cross_pairs_per_second=rate, cross_rate_from=rate_from,
        bi_sentences_per_second=largest.n / largest.bi_encode_seconds,
        cross_budget_seconds=float(cross_budget), top_k=top_k, batch_size=batch_size,
    )
    if agreement_n is not None:
        report.agreement = agreement(bi, cross, sentences[:agreement_n], agreement_ks, batch_size,
                                     cross_pairs=cross_runs.get(agreement_n))
    return report


def agreement(bi, cross, sentences: Sequence[str], ks: Sequence[int] = (10, 50), batch_size: int = 32,
              cross_pairs: list | None = None) -> dict:
    """How far the bi-encoder's top pairs agree with the cross-encoder's, both over every pair.

    overlap@k = |top-k by cross-encoder ∩ top-k by bi-encoder| / k, plus the Spearman correlation of
    the two scores over all n(n-1)/2 pairs.
    """
    from minisbert.evaluate import spearman

    sentences = _check_sentences(sentences)
    n = len(sentences)
    if cross_pairs is None:
        cross_pairs = cross_encoder_mining(cross, sentences, batch_size=batch_size)
    bi_pairs, _, _ = bi_encoder_mining(bi, sentences, top_k=n - 1, max_pairs=n_pairs(n), batch_size=batch_size)
    ks = [k for k in ks if k <= n_pairs(n)]
    bi_score = {(i, j): s for s, i, j in bi_pairs}
    rho = spearman([s for s, _, _ in cross_pairs], [bi_score[(i, j)] for _, i, j in cross_pairs])
    return {"n": n, "pairs": n_pairs(n), "overlap_at_k": {str(k): overlap_at_k(cross_pairs, bi_pairs, k) for k in ks},
            "spearman": rho,
            "top_cross": [[s, sentences[i], sentences[j]] for s, i, j in cross_pairs[:5]],
            "top_bi": [[s, sentences[i], sentences[j]] for s, i, j in bi_pairs[:5]]}


def compare_with_sentence_transformers(bi, model_folder, sentences: Sequence[str], top_k: int = 100,
                                       batch_size: int = 32, repeats: int = 1) -> dict:
    """Our bi-encoder mining against sentence-transformers' ``util.paraphrase_mining``, same sentences.

    Both end to end (encode + top pairs), models loaded beforehand, the two interleaved ``repeats``
    times; the best time of each is reported (the run least disturbed by other work on the machine).
    Also checks that both return the same top pairs. sentence-transformers is imported only here.
    """
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util import paraphrase_mining as st_paraphrase_mining

    sentences = _check_sentences(sentences)
    st = SentenceTransformer(str(model_folder), device="cpu")
    st.encode(sentences[:8], batch_size=batch_size, show_progress_bar=False)  # warm-up, as ours had
    ours_s, st_s = [], []
    for _ in range(repeats):
        pairs, enc, mine = bi_encoder_mining(bi, sentences, top_k=top_k, batch_size=batch_size)
        ours_s.append(enc + mine)
        t0 = time.perf_counter()
        st_pairs = st_paraphrase_mining(st, sentences, show_progress_bar=False, batch_size=batch_size, top_k=top_k)
        st_s.append(time.perf_counter() - t0)
    k = min(1000, len(pairs), len(st_pairs))
    return {"n": len(sentences), "minisbert_seconds": min(ours_s), "sentence_transformers_seconds": min(st_s),
            "all_minisbert_seconds": ours_s, "all_sentence_transformers_seconds": st_s,
            "pairs": [len(pairs), len(st_pairs)], "top_1000_overlap": overlap_at_k(pairs, st_pairs, k)}


# ----------------------------------------------------------------------------------------------------
# Output: a table and a plot


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:,.1f} {unit}"
    return f"{seconds:,.2f} s"


def format_table(report: CostReport) -> str:
    """The results as a Markdown table, one row per n, plus the rates and the agreement."""
    lines = [
        "| n | pairs n(n-1)/2 | bi-encoder (s) | cross-encoder (s) | cross-encoder | cross / bi |",
        "|---:|---:|---:|---:|---|---:|",
    ]
    for r in report.rows:
        how = "measured" if r.cross_measured else "extrapolated"
        lines.append(f"| {r.n:,} | {r.pairs:,} | {r.bi_seconds:,.2f} | {r.cross_seconds:,.1f} ({_duration(r.cross_seconds)}) "
                     f"| {how} | {r.cross_seconds / r.bi_seconds:,.0f}× |")
    lines += [
        "",
        f"cross-encoder: {report.cross_pairs_per_second:,.0f} pairs/s (from {report.cross_rate_from}); "
        f"bi-encoder: {report.bi_sentences_per_second:,.0f} sentences/s encoded (n = {report.rows[-1].n:,}).",
    ]
    a = report.agreement
    if a:
        overlaps = ", ".join(f"overlap@{k} = {v:.2f}" for k, v in a["overlap_at_k"].items())
        lines.append(f"agreement on n = {a['n']} ({a['pairs']:,} pairs, all scored by both): {overlaps}; "
                     f"Spearman of the two scores over all pairs = {a['spearman']:.3f}.")
    c = report.compare_st
    if c:
        lines.append(f"paraphrase mining of {c['n']:,} sentences end to end: minisbert {c['minisbert_seconds']:.1f} s, "
                     f"sentence-transformers {c['sentence_transformers_seconds']:.1f} s "
                     f"(same top-1000 pairs: {c['top_1000_overlap']:.3f}).")
    return "\n".join(lines)


def plot_cost(report: CostReport, path: str | Path) -> Path:
    """A log-log plot of seconds against n for both, with the fitted slopes in the legend; PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed: write the file only
    import matplotlib.pyplot as plt

    from minisbert.io.files import atomic_write

    ns = [r.n for r in report.rows]
    bi = [r.bi_seconds for r in report.rows]
    cross = [r.cross_seconds for r in report.rows]
    bi_slope, cross_slope = loglog_slope(ns, bi), loglog_slope(ns, cross)

    fig, ax = plt.subplots(figsize=(7.5, 5.2), dpi=120)
    ax.plot(ns, cross, "-", color="tab:red", lw=1.5,
            label=f"cross-encoder: n(n-1)/2 BERT passes, slope {cross_slope:.2f}")
    measured = [r for r in report.rows if r.cross_measured]
    extrapolated = [r for r in report.rows if not r.cross_measured]
    if measured:
        ax.plot([r.n for r in measured], [r.cross_seconds for r in measured], "o", color="tab:red", ms=7,
                label="cross-encoder, measured")
    if extrapolated:
        ax.plot([r.n for r in extrapolated], [r.cross_seconds for r in extrapolated], "o", mfc="white",
                color="tab:red", ms=7, label=f"cross-encoder, extrapolated ({report.cross_pairs_per_second:,.0f} pairs/s)")
    ax.plot(ns, bi, "s-", color="tab:blue", ms=6, lw=1.5,
            label=f"bi-encoder (SBERT): n passes + matrix product, slope {bi_slope:.2f}, all measured")
    for row in (report.rows[-1],):
        ax.annotate(_duration(row.cross_seconds), (row.n, row.cross_seconds), textcoords="offset points",
                    xytext=(-8, 6), ha="right", color="tab:red")
        ax.annotate(_duration(row.bi_seconds), (row.n, row.bi_seconds), textcoords="offset points",
                    xytext=(-8, 6), ha="right", color="tab:blue")
    for seconds, name in ((60, "1 min"), (3600, "1 h"), (86_400, "1 day")):
        lo, hi = min(bi + cross), max(bi + cross)
        if lo <= seconds <= hi:
            ax.axhline(seconds, color="0.8", lw=0.8, zorder=0)
            ax.text(ns[0], seconds * 1.08, name, color="0.5", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(ns, [f"{n:,}" for n in ns])
    ax.minorticks_off()
    ax.set_xlabel("n sentences (paraphrase mining: the most similar pairs among n)")
    ax.set_ylabel("seconds (log scale)")
    ax.set_title("Comparing every pair: cross-encoder vs bi-encoder, all-MiniLM-L6-v2, this CPU", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    ax.text(0.99, 0.02, PAPER, transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="0.4")
    fig.tight_layout()
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return path


def write_outputs(report: CostReport, out_dir: str | Path) -> dict[str, Path]:
    """cost.md (the table), cost.json (every number) and cost.png (the plot) in ``out_dir``."""
    from minisbert.io.files import write_text

    out = Path(out_dir)
    paths = {"table": out / "cost.md", "json": out / "cost.json", "plot": out / "cost.png"}
    write_text(paths["table"], format_table(report) + "\n")
    write_text(paths["json"], json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")  # sentences as they are
    plot_cost(report, paths["plot"])
    return paths


# ----------------------------------------------------------------------------------------------------
# The command line


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sizes", type=int, nargs="+", default=list(SIZES),
                   help="numbers of sentences n (default: 100 300 1000 3000 10000)")
    p.add_argument("--cross-budget", type=float, default=120.0,
                   help="seconds the cross-encoder may run for real; larger n are extrapolated (default 120)")
    p.add_argument("--model", default="all-MiniLM-L6-v2", help="the bi-encoder: model folder or fetched name")
    p.add_argument("--cross-model", default=None,
                   help=f"a trained cross-encoder folder (default: weights/{TRAINED_CROSS}, which "
                        "experiments/cross_encoder_stsb.py trains, if it exists; else the bi-encoder's BERT with "
                        "an untrained head: the same cost, but no meaningful agreement)")
    p.add_argument("--top-k", type=int, default=100, help="partners kept per sentence in mining (default 100)")
    p.add_argument("--batch-size", type=int, default=32, help="sentences or pairs per forward pass (default 32)")
    p.add_argument("--agreement-n", type=int, default=None,
                   help="n on which the two rankings of all pairs are compared (default: the smallest size)")
    p.add_argument("--agreement-k", type=int, nargs="+", default=[10, 50], help="k of overlap@k (default 10 50)")
    p.add_argument("--compare-st", action="store_true",
                   help="also time sentence-transformers' paraphrase_mining on the largest n (needs it installed)")
    p.add_argument("--repeats", type=int, default=1, help="interleaved runs for --compare-st; best is kept (default 1)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0, help="order in which sentences are drawn (default 0)")
    p.add_argument("--data-dir", default=None, help="data folder (default: $MINISBERT_DATA)")
    p.add_argument("--out", default="runs/cost", help="folder for cost.md, cost.json, cost.png (default runs/cost)")


def check_args(args) -> None:
    if min(args.sizes) < 2:
        raise ValueError(f"--sizes must be at least 2 (one pair), got {min(args.sizes)}")
    for name in ("top_k", "batch_size", "repeats"):
        if getattr(args, name) <= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.cross_budget < 0:
        raise ValueError(f"--cross-budget must be >= 0 seconds, got {args.cross_budget}")
    if args.threads is not None and args.threads <= 0:
        raise ValueError(f"--threads must be positive, got {args.threads}")


def choose_cross_encoder(cross_model, bi_folder) -> tuple[Path, str]:
    """The cross-encoder's folder and why it was taken: --cross-model, the trained one, or the bi-encoder's."""
    from minisbert.io.weights import resolve_model_dir

    if cross_model is not None:
        return resolve_model_dir(cross_model), "given by --cross-model"
    try:
        return resolve_model_dir(TRAINED_CROSS), "trained by experiments/cross_encoder_stsb.py"
    except FileNotFoundError:
        return bi_folder, (f"weights/{TRAINED_CROSS}, which only experiments/cross_encoder_stsb.py trains, is "
                           "absent: the bi-encoder's BERT with a new head")


def shown(path) -> str:
    """A folder as printed and recorded: relative to the repository when it lies inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def run(args) -> int:
    check_args(args)  # before the imports and the model loading: a bad flag fails at once

    import torch

    from minisbert import SentenceBert
    from minisbert.cross_encoder import CrossEncoder, has_head
    from minisbert.io.weights import resolve_model_dir

    from .machine import machine_description

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    sizes = sorted(set(args.sizes))
    agreement_n = args.agreement_n if args.agreement_n is not None else sizes[0]

    sentences = mining_sentences(max(sizes + [agreement_n]), args.data_dir, seed=args.seed)
    bi_folder = resolve_model_dir(args.model)
    bi = SentenceBert.from_pretrained(bi_folder)
    cross_folder, why = choose_cross_encoder(args.cross_model, bi_folder)
    torch.manual_seed(0)  # a new head (untrained cross-encoder) is the same on every run
    cross = CrossEncoder.from_pretrained(cross_folder)
    trained = "trained head" if has_head(cross_folder) else "UNTRAINED head: timings valid, agreement meaningless"
    print(f"bi-encoder: {shown(bi_folder)}; torch threads: {torch.get_num_threads()}")
    print(f"cross-encoder: {shown(cross_folder)}, {why}; {trained}")

    report = run_cost(bi, cross, sentences, sizes=sizes, cross_budget=args.cross_budget, top_k=args.top_k,
                      batch_size=args.batch_size, agreement_n=agreement_n, agreement_ks=args.agreement_k)
    report.bi_model, report.cross_model = shown(bi_folder), f"{shown(cross_folder)} ({trained})"
    report.machine = machine_description()
    if args.compare_st:
        print(f"sentence-transformers' paraphrase_mining on the same {sizes[-1]:,} sentences ...")
        report.compare_st = compare_with_sentence_transformers(bi, bi_folder, sentences[:sizes[-1]], top_k=args.top_k,
                                                               batch_size=args.batch_size, repeats=args.repeats)
    print()
    print(format_table(report))
    paths = write_outputs(report, args.out)
    print(f"\nwrote {paths['table']}, {paths['json']}, {paths['plot']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return command_line("benchmarks.cost", sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
