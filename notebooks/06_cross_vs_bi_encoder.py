# %% [markdown]
# # 06 · Cross-encoder against bi-encoder: what comparing every pair costs
#
# To find the most similar pair among n sentences, a **cross-encoder** (BERT reading both sentences at once,
# Devlin et al. 2019 §4.1) must run once per pair: n(n − 1)/2 forward passes. For n = 10,000 that is
# 49,995,000 passes, which the SBERT paper (Reimers & Gurevych 2019, §1) puts at about **65 hours** on a
# V100 GPU. A **bi-encoder** (SBERT) runs n passes, one per sentence, and compares the stored vectors with
# a matrix product: about **5 seconds**. This notebook measures both on the machine that runs it, with the
# same hand-written BERT (all-MiniLM-L6-v2) on both sides, using the harness `benchmarks/cost.py`.

# %%
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
ratios = [r.cross_seconds / r.bi_seconds for r in rows]
assert sum(r.cross_measured for r in rows) >= 1 and all(r.pairs == r.n * (r.n - 1) // 2 for r in rows)
assert ratios[-1] > ratios[0] > 1                    # the gap widens with n
assert loglog_slope([r.n for r in rows], [r.bi_seconds for r in rows]) < 1.5   # the bi-encoder is ~linear

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
assert cross_s > 100 * bi_s

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
