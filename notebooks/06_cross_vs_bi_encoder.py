# %% [markdown]
# # 06 · Cross-encoder against bi-encoder: what comparing every pair costs
#
# To find the most similar pair among n sentences, a **cross-encoder** (BERT reading both sentences at once,
# Devlin et al. 2019 §4.1) must run once per pair: n(n − 1)/2 forward passes. For n = 10,000 that is
# 49,995,000 passes, which the SBERT paper (Reimers & Gurevych 2019, §1) puts at about **65 hours** on a
# V100 GPU. A **bi-encoder** (SBERT) runs n passes, one per sentence, and compares the stored vectors with
# a matrix product: about **5 seconds**. This notebook measures both on the machine that runs it, with the
# same hand-written BERT (all-MiniLM-L6-v2) on both sides, using the harness `benchmarks/cost.py`.

# %% [markdown]
# **You will learn** what a cross-encoder reads, and why scoring all n(n − 1)/2 pairs costs what the
# bi-encoder's n passes do not: counted exactly, and timed on the machine that runs the notebook.
#
# **Read alongside**: [`minisbert/cross_encoder.py`](../minisbert/cross_encoder.py), `paraphrase_mining` in
# [`minisbert/similarity.py`](../minisbert/similarity.py), and the harness
# [`benchmarks/cost.py`](../benchmarks/cost.py).
#
# **Afterwards**: no new exercise: exercise 12 `paraphrase_mining` (notebook 04) is the bi-encoder's side of
# this comparison — write them in `exercises/`, then `python -m minisbert grade paraphrase_mining` (see
# [exercises/README.md](../exercises/README.md)).
#
# **View**: the pair view, `views.pair_view`, or `python -m minisbert view "A man is playing a guitar." --pair
# "Someone plays an instrument." --out pair.html`.
#
# **Running it**: on your own machine, `make lab` (or `pip install '.[notebooks]'`, then `jupyter lab
# notebooks/`); on Google Colab, the first code cell sets everything up.

# %%
# On Google Colab this cell first fetches the course: it clones the repository, installs it with
# `pip install '.[notebooks]'` and moves into its notebooks/ folder; `_setup` then fetches the weights
# and the data sets (a few minutes, once per Colab session). On your own machine it only imports.
import os, subprocess, sys
if "google.colab" in sys.modules and not os.path.exists("_setup.py"):
    REPOSITORY = ""  # the git address of the minisbert you work from: your course's copy or your fork
    assert REPOSITORY, "on Colab, set REPOSITORY above to the git address of your copy of minisbert, then run again"
    if not os.path.isdir("minisbert"):
        subprocess.run(f"git clone -q --depth 1 {REPOSITORY} minisbert && pip install -q './minisbert[notebooks]'",
                       shell=True, check=True)
    os.chdir("minisbert/notebooks")
from _setup import MODEL_DIR, DATA_DIR, TOL  # weights, data folder, tolerance; seeds fixed

# %%
import tempfile
import time
from pathlib import Path

import torch
import transformers
from IPython.display import Image, display
transformers.logging.disable_progress_bar()
from benchmarks.cost import (extrapolate_seconds, format_table, loglog_slope, mining_sentences, n_pairs,
                             plot_cost, run_cost)
from minisbert import SentenceBert
from minisbert.cross_encoder import CrossEncoder
from minisbert.similarity import paraphrase_mining

bi = SentenceBert.from_pretrained(MODEL_DIR)
cross = CrossEncoder.from_pretrained(MODEL_DIR)       # the same BERT plus a new (untrained) one-output head
print(cross.extra_repr(), "| torch threads:", torch.get_num_threads())

# %% [markdown]
# ## 1. What a cross-encoder reads
#
# Both sentences in one input, `[CLS] a [SEP] b [SEP]`, token types 0 then 1; every token of `a` attends
# to every token of `b` in every layer. The score is a linear layer on BERT's pooled `[CLS]` vector — the
# head of `transformers.BertForSequenceClassification`, which we check it against (same weights, same
# logits). The head here is untrained: its scores mean nothing yet, but its **cost** is that of any
# cross-encoder, and cost is what this notebook is about.

# %%
pairs = [("A man is playing a guitar.", "Someone plays an instrument."),
         ("A cat sleeps on the sofa.", "The stock market fell sharply.")]
batch = cross.tokenize(pairs)
print(list(zip(cross.tokenizer.convert_ids_to_tokens(batch["input_ids"][0]), batch["token_type_ids"][0].tolist())))

transformers.logging.set_verbosity_error()          # it would report the new head as "missing": we know
hf = transformers.BertForSequenceClassification.from_pretrained(str(MODEL_DIR), num_labels=1,
                                                                attn_implementation="eager").eval()
with torch.no_grad():
    hf.classifier.weight.copy_(cross.classifier.weight); hf.classifier.bias.copy_(cross.classifier.bias)
    ours = cross(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])      # (2, 1) logits
    theirs = hf(**batch).logits
print("logits", ours.squeeze(1), " max |Δ| vs transformers:", (ours - theirs).abs().max().item())
assert (ours - theirs).abs().max() < TOL

# %% [markdown]
# What "every token of `a` attends to every token of `b`" looks like: the **pair view** of `minisbert.views`
# draws the cross-encoder input's attention, queries on the left, keys on the right. *show: A → B* keeps only
# the lines from sentence A to sentence B (the line above the drawing gives, per head, the share of A's
# attention that lands in B). Tick *encoded separately* for what the bi-encoder computes instead: each
# sentence through BERT on its own, so no line ever joins them, and every vector can be computed once and
# stored. Below it, the model view of the pair: every layer × head.

# %%
from minisbert import views

a, b = pairs[0]
pair = views.pair_view(cross, a, b, layer=2)
nA = pair.data["segments"].count(0)                                    # [CLS] a [SEP]
share = torch.tensor(pair.data["attention"])[:, :, :nA, nA:].sum(-1).double().mean(-1) / pair.data["scale"]  # (L, A)
print("share of A's attention that goes to B, per layer (mean over heads):", [f"{x:.2f}" for x in share.mean(1).tolist()])
assert share.mean(1).min() > 0.05                                      # every layer looks across (alone: exactly 0)
pair

# %% [markdown]
# ## 2. Measured here
#
# Paraphrase mining among the first n of a fixed shuffle of the STS Benchmark and SICK sentences, for
# growing n. The bi-encoder does the whole job at every n (encode, then the top pairs by cosine,
# `minisbert.similarity.paraphrase_mining`). The cross-encoder scores every pair for real while that fits
# in a budget of 15 seconds; beyond it, its time is the number of pairs divided by its measured rate
# (the work per pair does not depend on n, so that is plain arithmetic). Small sizes keep the notebook
# short; `python -m minisbert cost` runs the same experiment up to n = 10,000.

# %%
sentences = mining_sentences(400, DATA_DIR)
report = run_cost(bi, cross, sentences, sizes=(10, 20, 40, 100, 200, 400), cross_budget=15.0, agreement_n=None)
print()
print(format_table(report))

rows = report.rows
ns = [r.n for r in rows]
# What holds on any machine: the work. The cross-encoder has one forward pass per pair, n(n - 1)/2 of
# them; the bi-encoder has one per sentence, n. On log-log axes: slopes ~2 and exactly 1.
assert sum(r.cross_measured for r in rows) >= 1 and all(r.pairs == r.n * (r.n - 1) // 2 for r in rows)
work_slope = loglog_slope(ns, [r.pairs for r in rows])
assert 1.95 < work_slope < 2.05 and abs(loglog_slope(ns, ns) - 1) < 1e-9
# What this machine measured (printed, never asserted: a busy machine changes every time).
measured = [r for r in rows if r.cross_measured]
print(f"log-log slope of the pair count: {work_slope:.3f} (n(n-1)/2: tends to 2 as n grows)")
print(f"log-log slope of the bi-encoder's measured time: {loglog_slope(ns, [r.bi_seconds for r in rows]):.2f} "
      f"(1 for a cost proportional to n; below 1 while fixed costs weigh)")
if len(measured) >= 2:
    print(f"log-log slope of the cross-encoder's measured time: "
          f"{loglog_slope([r.n for r in measured], [r.cross_seconds for r in measured]):.2f} over n = "
          f"{', '.join(str(r.n) for r in measured)}")
print("cross / bi, measured here:", ", ".join(f"{r.cross_seconds / r.bi_seconds:,.0f}x at n = {r.n}" for r in rows))

# %% [markdown]
# Only the counts are asserted. The times depend on the machine and on whatever else it is running: the
# same notebook, on the same machine, measures different times under load. The speed claims belong to
# the benchmark (`python -m minisbert cost`, whose results are on the docs page about the cost of
# comparing pairs), not to a check that any machine must pass.
#
# **Two cross-encoder rates.** The log above prints a first rate ("calibration") and the table a second
# one. The calibration times one batch of 32 random pairs before anything else runs; it only decides
# whether the first size fits the budget. The second is the rate of the largest size scored for real,
# and every extrapolated time uses it. They differ because of padding: `CrossEncoder.predict` sorts the
# pairs by length and pads each batch only to its own longest pair. With many pairs (45 at n = 10, 190 at
# n = 20) the batches hold pairs of about the same length; the single calibration batch mixes short and
# long pairs, and every pair in it is padded to the longest. Counting the tokens each way (a count, the same
# on any machine):

# %%
import random

def padded_tokens_per_pair(pairs, batch_size=32, by_length=True):
    """Tokens a forward pass computes per pair: each batch is padded to its longest pair."""
    lengths = [len(cross.tokenize([p])["input_ids"][0]) for p in pairs]
    if by_length:
        lengths.sort()
    batches = [lengths[i:i + batch_size] for i in range(0, len(lengths), batch_size)]
    return sum(len(b) * max(b) for b in batches) / len(pairs), sum(lengths) / len(pairs)

rng = random.Random(1)
one_batch = [tuple(rng.sample(sentences, 2)) for _ in range(32)]     # like the calibration: one batch
first = max(r.n for r in rows if r.cross_measured)                 # the largest n scored for real above
all_pairs = [(sentences[i], sentences[j]) for i in range(first) for j in range(i + 1, first)]
calib_padded, calib_real = padded_tokens_per_pair(one_batch, by_length=False)
run_padded, run_real = padded_tokens_per_pair(all_pairs)
print(f"32 random pairs in one batch: {calib_real:.1f} real tokens per pair, {calib_padded:.1f} computed")
print(f"the {len(all_pairs)} pairs of n = {first} (the second rate), sorted by length: {run_real:.1f} real, "
      f"{run_padded:.1f} computed")
print(f"computed tokens per pair, calibration / n = {first}: {calib_padded / run_padded:.2f} "
      f"(compare the two rates printed above)")
assert calib_padded > run_padded          # padding, not the machine, is the difference the counts show

# %% [markdown]
# ## 3. The paper's n = 10,000, on this machine
#
# The cross-encoder's time follows from its rate. The bi-encoder's is 10,000 encodes at its measured rate
# plus the mining itself, which we time directly on 10,000 random unit vectors (the search does not care
# what the vectors mean).

# %%
n = 10_000
cross_s = extrapolate_seconds(n, report.cross_pairs_per_second)
vectors = torch.nn.functional.normalize(torch.randn(n, bi.dim), dim=-1)
t0 = time.perf_counter()
top = paraphrase_mining(vectors, top_k=10)
mining_s = time.perf_counter() - t0
bi_s = n / report.bi_sentences_per_second + mining_s
print(f"n = {n:,}: {n_pairs(n):,} pairs")
print(f"  cross-encoder: {n_pairs(n):,} passes at {report.cross_pairs_per_second:,.0f} pairs/s = {cross_s / 3600:,.1f} hours")
print(f"  bi-encoder:    {n:,} passes at {report.bi_sentences_per_second:,.0f} sentences/s + mining {mining_s:.2f} s = {bi_s:,.1f} s")
print(f"  ratio: {cross_s / bi_s:,.0f}x  (paper, V100 and BERT-base: 65 h against 5 s, about 47,000x)")
assert n_pairs(n) == 49_995_000 and n_pairs(n) / n == (n - 1) / 2   # passes: 4,999.5 times as many

# %% [markdown]
# ## 4. The cost plot
#
# On log–log axes a cost proportional to n² is a line of slope 2, one proportional to n a line of slope 1:
# the cross-encoder's line (measured points filled, extrapolated ones open) rises twice as steeply as the
# bi-encoder's, and the gap between them is the factor that made SBERT practical.

# %% export="nb_cost"
with tempfile.TemporaryDirectory() as tmp:
    path = plot_cost(report, Path(tmp) / "cost.png")
    display(Image(filename=str(path)))

# %% [markdown]
# ## Next
#
# You can now say when a cross-encoder is affordable, and estimate both costs for your own n.
#
# 1. No new exercise: exercise 12 `paraphrase_mining` (notebook 04) is the bi-encoder's side of this
#    comparison.
# 2. Then open notebook [07 · pre-training BERT](07_pretraining_bert.ipynb): where BERT's weights come from.
