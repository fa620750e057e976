# %% [markdown]
# # 08 · After SBERT: in-batch negatives and SimCSE
#
# SBERT (2019) trains on NLI with a softmax classifier over [u; v; |u − v|] (notebook 05). Two ideas that
# came right after it train nearly every sentence encoder in use today, all-MiniLM-L6-v2 included:
#
# - **In-batch negatives** (Henderson et al. 2017, "Efficient Natural Language Response Suggestion for
#   Smart Reply", §4.4; sentence-transformers' `MultipleNegativesRankingLoss`). In a batch of
#   (anchor, positive[, hard negative]) rows, every anchor must pick its own positive out of all the
#   batch's candidates: the other rows' positives are negatives that cost no labelling.
# - **SimCSE** (Gao, Yao & Chen 2021, "SimCSE: Simple Contrastive Learning of Sentence Embeddings"). The
#   same loss with each sentence as its own positive: two passes through BERT with dropout on differ only
#   by the dropout noise. No labels at all, and it spreads out vectors that a raw BERT packs into a narrow
#   cone (**anisotropy**: every pair of sentences looks alike to the cosine).
#
# This notebook computes the loss by hand on a batch of four NLI triplets with the real all-MiniLM-L6-v2 and
# checks it, and every gradient, against sentence-transformers. It then measures anisotropy, the mean
# cosine of 1,000 random pairs of STSb sentences, before and after a short SimCSE run.

# %% [markdown]
# **You will learn** how in-batch negatives turn a batch into a classification over all its candidates (the
# similarity matrix, the labels on its diagonal, the scale), how SimCSE makes training pairs out of unlabelled
# sentences with dropout, and what anisotropy is and how contrastive training lowers it.
#
# **Read alongside**: [`minisbert/objectives.py`](../minisbert/objectives.py) (`MultipleNegativesRankingObjective`)
# and [`minisbert/examples.py`](../minisbert/examples.py) (`nli_triplets`, `simcse_pairs`, `corpus_sentences`);
# the whole story in [docs/after_sbert.md](../docs/after_sbert.md).
#
# **Afterwards**: the exercise `in_batch_negatives_loss` — write it in `exercises/`, then
# `python -m minisbert grade in_batch_negatives_loss` (see [exercises/README.md](../exercises/README.md)).
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
import math
import random
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
import transformers
transformers.logging.disable_progress_bar()
from matplotlib.patches import Rectangle
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
from minisbert import BertConfig, BertModel, SentenceBert
from minisbert.evaluate import evaluate_sts, random_sentence_pairs
from minisbert.examples import corpus_sentences, nli_triplets, simcse_pairs
from minisbert.io.data import load_stsb
from minisbert.objectives import MultipleNegativesRankingObjective
from minisbert.speed.batching import quiet_progress
from minisbert.training import TrainConfig, train

ours = SentenceBert.from_pretrained(MODEL_DIR).eval()              # eval: dropout off, so both libraries
st = SentenceTransformer(str(MODEL_DIR), device="cpu").eval()       # compute the same function
ours_params = dict(ours.bert.named_parameters())
st_params = dict(st[0].model.named_parameters())                    # the same names: the checkpoint's
assert ours_params.keys() == st_params.keys()

def embed(texts):
    return ours.embed(ours.tokenize(texts))                         # (B, H), with autograd

# %% [markdown]
# ## 1. In-batch negatives by hand, on a batch of four
#
# SNLI as triplets (`nli_triplets`, built as sentence-transformers builds its AllNLI triplets): each premise
# is an **anchor**, a hypothesis it entails is its **positive**, and a hypothesis that contradicts it is its
# **hard negative**. Four rows:

# %%
batch = nli_triplets("train", DATA_DIR)[:4]
for i, t in enumerate(batch):
    print(f"a{i + 1}: {t.anchor}\np{i + 1}: {t.positive}\nn{i + 1}: {t.negative}\n")
B = len(batch)

# %% [markdown]
# Every anchor is scored against **every** candidate of the batch: the four positives, then the four hard
# negatives, 2B = 8 columns. The scores are cosines times a scale of 20, and row i is a classification over
# the 8 columns whose right answer is column i, its own positive: **the labels are the diagonal**,
# `[0, 1, 2, 3]`. For anchor 1, p2, p3, p4 and all four contradictions are negatives; only n1 was written
# for it, the other six come free with the batch. The loss is the cross-entropy, averaged over the rows:
#
#     scores = scale · cos(aᵢ, [p₁ … p_B; n₁ … n_B]ⱼ)        (B, 2B)
#     loss   = −mean_i log softmax(scores_i)[i]

# %%
ours.zero_grad(set_to_none=True); st.zero_grad(set_to_none=True)
a = embed([t.anchor for t in batch])                                  # (4, H)
p = embed([t.positive for t in batch])                                # (4, H)
n = embed([t.negative for t in batch])                                # (4, H)
scale = 20.0
candidates = torch.cat([p, n], dim=0)                                 # (8, H): positives, then hard negatives
cosines = F.normalize(a, dim=-1) @ F.normalize(candidates, dim=-1).T  # (4, 8)
scores = scale * cosines                                              # (4, 8)
labels = torch.arange(B)                                              # row i's answer is column i
log_p = scores - scores.logsumexp(dim=1, keepdim=True)                # log softmax over the 8 candidates
loss = -log_p[torch.arange(B), labels].mean()
loss.backward()

st_loss = MultipleNegativesRankingLoss(st, scale=scale)(
    [st.preprocess([getattr(t, f) for t in batch]) for f in ("anchor", "positive", "negative")], None)
st_loss.backward()
with torch.no_grad():
    minisbert_loss = MultipleNegativesRankingObjective(ours, scale=scale)(batch)

print("labels", labels.tolist())
print("P(own positive) per anchor", log_p.detach().exp()[torch.arange(B), labels])
print(f"loss by hand {loss.item():.6f}   minisbert {minisbert_loss.item():.6f}   "
      f"sentence-transformers {st_loss.item():.6f}")
assert abs(loss.item() - st_loss.item()) < TOL and abs(minisbert_loss.item() - loss.item()) < TOL

diffs = {name: (q.grad - st_params[name].grad).abs().max().item() for name, q in ours_params.items() if q.grad is not None}
largest = max(q.grad.abs().max().item() for q in ours_params.values() if q.grad is not None)
worst = max(diffs, key=diffs.get)
print(f"gradients of {len(diffs)} parameter tensors: largest entry {largest:.1e}, "
      f"max |Δ| vs sentence-transformers {diffs[worst]:.1e} ({worst})")
assert diffs[worst] < TOL and largest > 100 * TOL

# %% [markdown]
# The similarity matrix, as cosines (the scores are these times 20). The boxes mark the labels, one per row
# on the diagonal; right of the white line are the hard negatives. all-MiniLM-L6-v2 was trained with this
# loss, so every anchor already ranks its own positive first. Look at the second-highest cell of each row:
# it is the anchor's own contradiction. That is what makes a negative *hard*: written against this very
# premise, it tends to keep its subject and setting ("The boy skates down the sidewalk."), so the words
# look alike and only the meaning tells them apart.

# %% export="nb_08_in_batch"
def short(text, k=30):
    return text if len(text) <= k else text[:k - 1] + "…"

cos = cosines.detach()
fig, ax = plt.subplots(figsize=(10, 5), layout="constrained")
image = ax.imshow(cos, cmap="viridis", vmin=cos.min().item(), vmax=1)
for i in range(B):
    for j in range(2 * B):
        ax.text(j, i, f"{cos[i, j]:.2f}", ha="center", va="center", fontsize=8,
                color="black" if cos[i, j] > (cos.min() + 1) / 2 else "white")
    ax.add_patch(Rectangle((i - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", lw=2.5))
ax.axvline(B - 0.5, color="white", lw=3)
ax.set_xticks(range(2 * B), [f"p{j + 1}: {short(t.positive)}" for j, t in enumerate(batch)]
              + [f"n{j + 1}: {short(t.negative)}" for j, t in enumerate(batch)], rotation=40, ha="right", fontsize=8)
ax.set_yticks(range(B), [f"a{i + 1}: {short(t.anchor)}" for i, t in enumerate(batch)], fontsize=8)
ax.set_xlabel("candidates: the batch's positives | its hard negatives")
ax.set_title(f"In-batch negatives (all-MiniLM-L6-v2): row i's label is column i, boxed; loss {loss.item():.4f}")
fig.colorbar(image, ax=ax, shrink=0.7, label="cosine (the scores: × 20)")
plt.show()
assert (cos.argmax(dim=1) == labels).all()                    # every anchor ranks its own positive first
wrong = cos.clone(); wrong[torch.arange(B), labels] = -2      # (4, 8): the right answers masked out
assert (wrong.argmax(dim=1) == labels + B).all()              # the closest wrong one: the anchor's own contradiction

# %% [markdown]
# **Why the scale?** Cosines lie in [−1, 1], and a softmax over eight numbers that close is nearly flat: at
# scale 1, although every anchor already ranks its own positive first (above), the right column gets only a
# small share of the probability and the loss stays high, so training would keep pushing on rows that are
# already right. The scale 20 is an inverse temperature (0.05, SimCSE's choice) that lets the right column
# take most of the probability. Without the hard negatives the matrix is the left half, (B, B), and the
# loss is the same cross-entropy over four columns:

# %%
with torch.no_grad():
    for s in (1.0, scale):
        share = (s * cos).softmax(dim=1)[torch.arange(B), labels]   # (4,): each anchor's own positive
        print(f"scale {s:4.0f}: P(own positive) {share.numpy().round(3)}   loss {F.cross_entropy(s * cos, labels).item():.4f}"
              f"   (a uniform guess: P = 1/8, loss ln 8 = {math.log(8):.4f})")
    without = F.cross_entropy(scale * cos[:, :B], labels)             # (4, 4): positives only
    st_without = MultipleNegativesRankingLoss(st, scale=scale)(
        [st.preprocess([getattr(t, f) for t in batch]) for f in ("anchor", "positive")], None)
    ours_without = MultipleNegativesRankingObjective(ours, scale=scale).loss_from_embeddings(a, p)
print(f"without hard negatives: by hand {without.item():.6f}   minisbert {ours_without.item():.6f}   "
      f"sentence-transformers {st_without.item():.6f}")
assert abs(without.item() - st_without.item()) < TOL and abs(ours_without.item() - without.item()) < TOL
assert F.cross_entropy(1.0 * cos, labels) > math.log(2) > F.cross_entropy(scale * cos, labels)  # the mean log P(own) < ln ½ at scale 1

# %% [markdown]
# ## 2. SimCSE: a sentence is its own positive
#
# Unsupervised SimCSE needs only sentences. `simcse_pairs` turns a list of them into (s, s) rows, each
# distinct sentence once (a sentence listed twice would meet itself as a negative). The objective is the one
# above, without hard negatives. What keeps "pick your own copy" from being trivial is **dropout**: in
# training mode BERT zeroes 10% of its activations at random, so the two passes over the same sentence give
# two slightly different vectors, and the model must keep them closer to each other than to any other
# sentence of the batch.
#
# The model we train here is a **tiny BERT with random weights** (2 layers, H = 128, all-MiniLM-L6-v2's
# vocabulary). Why not all-MiniLM-L6-v2 itself? It was trained with this very loss on a billion pairs, and
# its vectors are already spread out (measured below): there is no anisotropy left for a short run to
# remove. A random BERT's mean-pooled vectors, on the other hand, lie in a narrow cone, as a raw
# pre-trained BERT's do (for a simpler reason: what every sentence shares, [CLS], [SEP], the position and
# token-type embeddings, survives the averaging, while the words' random vectors partly cancel), and a
# short run on two CPU cores moves them.

# %%
torch.manual_seed(0)
config = BertConfig(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512,
                    max_position_embeddings=64)                   # dropout 0.1, BERT's default
tiny = SentenceBert(BertModel(config), ours.tokenizer, pooling="mean", max_seq_length=32)
sentence = ["Two dogs are running through the snow."]
tiny.train()                                                      # dropout on
first, second = tiny.embed(tiny.tokenize(sentence)), tiny.embed(tiny.tokenize(sentence))
tiny.eval()                                                       # dropout off
third, fourth = tiny.embed(tiny.tokenize(sentence)), tiny.embed(tiny.tokenize(sentence))
print(f"the same sentence twice, dropout on:  cosine {F.cosine_similarity(first, second).item():.4f}")
print(f"the same sentence twice, dropout off: cosine {F.cosine_similarity(third, fourth).item():.4f}")
assert not torch.allclose(first, second) and torch.allclose(third, fourth)

# %% [markdown]
# ## 3. Anisotropy, before and after a short SimCSE run
#
# Anisotropy is measured here as the **mean cosine between the vectors of 1,000 random pairs of STSb
# sentences** (distinct sentences of STSb test, each pair two different ones). Random sentences mostly mean
# unrelated things, so a good encoder gives them cosines spread around a low value. Near 1, every sentence
# looks like every other one: the vectors share one dominant direction and the differences that carry
# meaning are small beside it (Ethayarajh 2019; the SimCSE paper connects its loss to this).

# %%
stsb = load_stsb("test", DATA_DIR)
random_pairs = random_sentence_pairs(stsb, 1000, seed=0)  # the sample that anisotropy() and experiments/table1.py use

def random_pair_cosines(model):
    """The cosine of each of the 1,000 random pairs (1,000,); their mean is the anisotropy
    (``minisbert.evaluate.anisotropy`` returns that mean; the histogram below needs every cosine)."""
    model.eval()
    with quiet_progress(), torch.no_grad():
        u = model.encode([s for s, _ in random_pairs], convert_to="torch")
        v = model.encode([s for _, s in random_pairs], convert_to="torch")
    return F.cosine_similarity(u, v)

def stsb_spearman(model):
    with quiet_progress():
        return evaluate_sts(model, stsb)["spearman"]

warnings.filterwarnings("ignore", message="an input longer than the limit")  # the tiny model reads 32 tokens at most

cosines_minilm = random_pair_cosines(ours)
cosines_before = random_pair_cosines(tiny)
spearman_before = stsb_spearman(tiny)
print(f"1,000 random pairs of distinct STSb test sentences, e.g. {random_pairs[0]}")
print(f"anisotropy, all-MiniLM-L6-v2:  {cosines_minilm.mean().item():.3f}")
print(f"anisotropy, tiny random BERT:  {cosines_before.mean().item():.3f}")

# %% [markdown]
# The SimCSE run: the pre-training corpus' sentences (`corpus_sentences`: books and speeches, split as
# pre-training splits them), 3,200 of them drawn at random, as (s, s) pairs; 50 steps of 64 rows (each
# sentence's negatives: the 63 others of its batch), learning rate 1e-3 (a small model from scratch takes
# large steps; the SimCSE paper fine-tunes BERT-base at 3e-5), dropout on as `train` leaves it, sentences cut
# to 32 tokens (the measurement cuts the few long STSb sentences the same way). Well under a minute on two
# CPU cores.

# %%
sentences = corpus_sentences(DATA_DIR)
pairs = simcse_pairs(random.Random(0).sample(sentences, 50 * 64))
print(f"{len(sentences):,} corpus sentences; {len(pairs):,} SimCSE rows, e.g. {pairs[1]}")
state = train(MultipleNegativesRankingObjective(tiny), pairs,
              TrainConfig(epochs=1, batch_size=64, lr=1e-3, seed=0, progress=False))
cosines_after = random_pair_cosines(tiny)
spearman_after = stsb_spearman(tiny)
print(f"{state.step} steps; loss {np.mean(state.losses[:5]):.3f} (first 5 steps) -> {np.mean(state.losses[-5:]):.4f} "
      f"(last 5; ln 64 = {math.log(64):.3f} is a uniform guess)")
print(f"anisotropy, tiny BERT: {cosines_before.mean().item():.3f} -> {cosines_after.mean().item():.3f}")
print(f"STSb test Spearman, tiny BERT: {spearman_before:.2f} -> {spearman_after:.2f}")

# %% [markdown]
# The cosines of the 1,000 random pairs, before and after, with all-MiniLM-L6-v2's for reference. Before,
# the random BERT gives every pair a cosine near 1; after fifty steps of SimCSE the distribution has moved
# down and widened: the vectors fill more of the space.

# %% export="nb_08_anisotropy"
fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
bins = np.linspace(-0.3, 1.0, 66)
for values, label, colour in ((cosines_before, "tiny random BERT", "tab:red"),
                              (cosines_after, f"the same after SimCSE ({state.step} steps)", "tab:blue"),
                              (cosines_minilm, "all-MiniLM-L6-v2 (for reference)", "tab:gray")):
    ax.hist(values.numpy(), bins=bins, alpha=0.55, color=colour, label=f"{label}: mean {values.mean().item():.3f}")
    ax.axvline(values.mean().item(), color=colour, ls="--", lw=1.5)
ax.set_xlabel("cosine between the vectors of two random STSb sentences")
ax.set_ylabel("pairs (of 1,000)")
ax.set_title("Anisotropy: SimCSE spreads the vectors out (dashed: the means)")
ax.legend(loc="upper left")
plt.show()
assert state.losses[-1] < state.losses[0]
assert cosines_after.mean() < cosines_before.mean() - 0.1     # anisotropy went down, visibly

# %% [markdown]
# Lower anisotropy is not the same thing as better sentence vectors. SimCSE's task is easy for the random
# model (the loss falls close to 0 within these steps): telling one sentence's two noisy copies from 63
# other sentences needs no understanding of language. The STSb Spearman printed above moves little, and not
# necessarily up: there is no knowledge of language in a random BERT for the contrast to spread out. From a BERT that has read a
# lot of text, the same recipe spreads out vectors that already carry meaning, and that is where SimCSE's
# gains on STS come from: from BERT-base, without a single label, the SimCSE paper averages 76.3 over seven
# STS tasks, above SBERT-NLI's 74.9 trained on NLI's labels (and 81.6 for SimCSE with NLI's hard negatives).

# %% [markdown]
# ## Table 1, extended: from a BERT pre-trained here
#
# A tiny random BERT has no knowledge of language to spread out. What do these objectives do for a BERT
# that has read something? [`experiments/table1.py`](../experiments/table1.py) answers on two CPU cores,
# in about two and a half hours, so this notebook reads its committed results instead of running them. It
# pre-trains a 4-layer, 256-wide BERT from scratch on the course's public-domain corpus (masked LM and
# next-sentence prediction), then trains it three ways: the paper's softmax objective on SNLI (notebook 05),
# SimCSE on the corpus' sentences, and in-batch negatives on SNLI's triplets. Each run is repeated from a
# randomly initialised BERT of the same size: the difference is what pre-training bought. A second BERT,
# (h), is pre-trained another way, below. Every model's anisotropy is measured as above.
# [docs/pretraining.md](../docs/pretraining.md#table-1) tells the whole story.

# %%
import json
from _setup import REPO

table1 = json.loads((REPO / "experiments" / "results" / "table1" / "table1.json").read_text())
rows = [("raw BERT, mean pooling (b)", "raw", "raw_random_init"), ("SBERT-NLI, softmax (c)", "nli", "nli_random_init"),
        ("SimCSE on the corpus (f)", "simcse", "simcse_random_init"),
        ("in-batch negatives on SNLI (g)", "mnrl", "mnrl_random_init")]
rows += [(f"{label[:-4]} from (h)", f"{ours}_next_segment", control) for label, ours, control in rows]

def row(key):
    result = table1[key]
    return result["mean"] if key.startswith("raw") else result

print(f"{'STSb test Spearman x 100':36} {'pre-trained':>11} {'random init':>11}   anisotropy (pre-trained, random)")
for label, ours, control in rows:
    a, b = row(ours), row(control)
    print(f"{label:36} {a['stsb_test']:11.2f} {b['stsb_test']:11.2f}   {a['anisotropy']:.3f}, {b['anisotropy']:.3f}")
for name, score in table1["paper"].items():
    print(f"  the paper, {name}: {score}")

# %% export="nb_08_table1"
fig, ax = plt.subplots(figsize=(11, 4), layout="constrained")
x = np.arange(len(rows))
ax.bar(x - 0.2, [row(ours)["stsb_test"] for _, ours, _ in rows], 0.4, label="from our pre-trained BERT")
ax.bar(x + 0.2, [row(control)["stsb_test"] for _, _, control in rows], 0.4, color="0.65", label="from a random BERT")
ax.axhline(table1["paper"]["InferSent - GloVe"], ls=":", color="tab:red", label="InferSent (the paper's Table 1)")
ax.axhline(table1["paper"]["Avg. GloVe embeddings"], ls="--", color="tab:green", label="averaged GloVe")
ax.set_xticks(x, [label.replace(", ", ",\n").replace(" on ", "\non ").replace(" from", "\nfrom")
                  for label, _, _ in rows], fontsize=8)
ax.set_ylabel("STSb test Spearman x 100")
ax.set_title("What pre-training buys each objective (4-layer BERT, 2 CPU cores)")
ax.legend(loc="upper left", fontsize=8)
plt.show()

# %% [markdown]
# Read the bars in pairs. In-batch negatives use SNLI far better than the paper's softmax objective, from
# either start. But the BERT pre-trained as BERT was (masked LM and next-sentence prediction) does *not* pay
# here: a random BERT ends several points above it under in-batch negatives. The random BERT gives every word
# its own random vector, so two sentences that share words start close together, and that is most of what STS
# asks. Our BERT's word vectors, after a short masked-LM training, no longer keep words apart as well
# ([docs/pretraining.md](../docs/pretraining.md#what-pre-training-does-to-in-batch-negatives) measures it by
# swapping them).
#
# The last four pairs are BERT (h): the same budget, but its word vectors keep their random start (frozen),
# it reads segments of about a sentence, and a next-segment task on mean-pooled vectors takes next-sentence
# prediction's place: each segment must pick the one that follows it among its batch's, and a batch is
# neighbouring passages of the text, so a segment's subject alone does not find its partner. Now every bar
# from the pre-trained start stands above its random twin: the raw vectors, the paper's softmax objective
# and SimCSE gain several points. Under in-batch negatives, 128 triplets a batch, it is the one bar from our
# own BERT above InferSent's line, more than 2 points above the random BERT's. Part of that lead is the
# steps: at 64 triplets a batch, with twice the steps, the random BERT comes within 2 points of it. SNLI's
# 27,195 triplets, seen twice, teach a random BERT much of what this pre-training teaches. How the gap holds
# over five seeds and both batch sizes, where it comes from genre by genre, and what drawing batches at
# random from the whole text cost, is in
# [docs/pretraining.md](../docs/pretraining.md#more-in-batch-negatives-the-pipelines-g).

# %% [markdown]
# ## Next
#
# You can now write the in-batch negatives loss, tell its labels and scale apart, and say what SimCSE's
# dropout does and what anisotropy measures.
#
# 1. Write the exercise `in_batch_negatives_loss` in `exercises/` and grade it:
#    `python -m minisbert grade in_batch_negatives_loss`. When it passes, read
#    `MultipleNegativesRankingObjective` in [`minisbert/objectives.py`](../minisbert/objectives.py) beside yours.
# 2. Train with them: `python -m minisbert train --objective mnrl --data snli` (NLI triplets, hard negatives)
#    and `python -m minisbert train --objective simcse --data corpus` (unlabelled sentences).
#    [docs/after_sbert.md](../docs/after_sbert.md) describes both recipes, the NLI triplets, and how batches
#    are kept free of duplicate texts (a duplicate is a false negative).
