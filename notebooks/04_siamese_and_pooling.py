# %% [markdown]
# # 04 · Siamese BERT and pooling: from token vectors to a sentence vector
#
# BERT gives one vector per token (notebook 03). To compare two **sentences** with BERT itself, both are
# fed in together, `[CLS] a [SEP] b [SEP]`, and a classifier reads the output — a *cross-encoder*. It is
# accurate, but every pair needs its own forward pass. SBERT (Reimers & Gurevych 2019) instead runs each
# sentence through the same BERT **on its own** and pools its token vectors into one sentence vector;
# sentences are then compared with a cosine. This notebook shows why the first does not scale, why BERT's
# `[CLS]` vector is a poor sentence vector, and checks the siamese wrapper and its pooling against
# sentence-transformers.

# %% [markdown]
# **You will learn** why feeding every pair of sentences through BERT does not scale, how SBERT's siamese
# network and mean, max or `[CLS]` pooling make one vector per sentence, and how those vectors are compared
# (STSb Spearman, semantic search, paraphrase mining).
#
# **Read alongside**: [`minisbert/pooling.py`](../minisbert/pooling.py),
# [`minisbert/sbert.py`](../minisbert/sbert.py) and [`minisbert/similarity.py`](../minisbert/similarity.py).
#
# **Afterwards**: exercises 7 `pooling` and 12 `paraphrase_mining` — write them in `exercises/`, then `python
# -m minisbert grade pooling paraphrase_mining` (see [exercises/README.md](../exercises/README.md)).
#
# **View**: the similarity and PCA views (`views.similarity_view`, `views.pca_view`).
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
import time

import matplotlib.pyplot as plt
import torch
import transformers
transformers.logging.disable_progress_bar()
from sentence_transformers import SentenceTransformer, util
from minisbert import SentenceBert
from minisbert.io.data import load_stsb
from minisbert.evaluate import evaluate_sts, spearman
from minisbert.pooling import cls_pooling, max_pooling, mean_pooling
from minisbert.similarity import cos_sim, pairwise_cos_sim

sbert = SentenceBert.from_pretrained(MODEL_DIR)                 # BERT -> mean pooling -> L2 normalise
st = SentenceTransformer(str(MODEL_DIR), device="cpu").eval()   # the reference
print(sbert.pooling, "| normalize:", sbert.normalize, "| max_seq_length:", sbert.max_seq_length)

# %% [markdown]
# ## 1. Why feeding pairs does not scale
#
# A cross-encoder scores one pair per forward pass. Finding the most similar pair among n sentences means
# scoring all n(n − 1)/2 pairs; with n = 10,000 that is about 50 million passes — some 65 hours on a
# V100 GPU in the SBERT paper (§1). A bi-encoder runs n passes, stores the vectors, and compares all pairs
# with one matrix product (about 5 seconds in the paper). Notebook 06 measures both on this machine.

# %%
for n in [10, 100, 1_000, 10_000, 100_000]:
    print(f"n = {n:>7,}:  cross-encoder {n * (n - 1) // 2:>13,} passes   bi-encoder {n:>7,} passes")
assert 10_000 * 9_999 // 2 == 49_995_000

# %% [markdown]
# ## 2. The siamese network
#
# `SentenceBert` holds **one** BERT and one pooling layer. `forward(batch_a, batch_b)` runs that same
# module on each batch separately: `u = pool(BERT(a))`, `v = pool(BERT(b))`. "Siamese" means the two
# towers share every weight — here they are literally the same object. Nothing of `a` reaches `v`, so a
# sentence's vector does not depend on what it is compared with, and can be computed once and stored.

# %%
a = ["A man is playing a guitar.", "A woman is slicing an onion."]
b1 = ["Someone plays an instrument.", "A person cuts vegetables."]
b2 = ["The stock market fell.", "A cat sleeps on the sofa."]
with torch.no_grad():
    u1, v1 = sbert(sbert.tokenize(a), sbert.tokenize(b1))
    u2, v2 = sbert(sbert.tokenize(a), sbert.tokenize(b2))
print("u:", tuple(u1.shape), " cos(u, v) with b1:", pairwise_cos_sim(u1, v1), " with b2:", pairwise_cos_sim(u2, v2))
assert torch.equal(u1, u2)                        # a's vectors do not depend on their partner
reference = st.encode(a + b1, convert_to_tensor=True)
assert (torch.cat([u1, v1]) - reference).abs().max() < TOL

# %% [markdown]
# ## 3. Pooling: mean, max, CLS
#
# The pooling layer turns the (T, H) token vectors of a sentence into one H-vector (SBERT §3):
#
# - **mean**: the average over the real tokens, `Σ_t m_t h_t / Σ_t m_t`, with `m` the attention mask
#   (the default, and the best in the paper's ablation, table 6);
# - **max**: the element-wise maximum over the real tokens;
# - **CLS**: the vector of the first token, `[CLS]`.
#
# Padding must be kept out of all three: a `[PAD]` position still gets a vector from BERT. Below, each
# pooling is written out on a padded batch and compared with `minisbert.pooling` and with
# sentence-transformers' `Pooling` module.

# %%
from sentence_transformers.sentence_transformer.modules.pooling import Pooling as STPooling

batch = sbert.tokenize(["A man is playing a guitar.", "Hi!", "Three dogs run across a snowy field."])
with torch.no_grad():
    h = sbert.bert(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]).last_hidden_state  # (B, T, H)
m = batch["attention_mask"]                                          # (B, T)
by_hand = {
    "mean": (h * m[..., None]).sum(1) / m.sum(1, keepdim=True),
    "max": h.masked_fill(m[..., None] == 0, float("-inf")).max(1).values,
    "cls": h[:, 0],
}
library = {"mean": mean_pooling, "max": max_pooling, "cls": cls_pooling}
for mode, pooled in by_hand.items():
    ref = STPooling(sbert.dim, pooling_mode=mode)({"token_embeddings": h, "attention_mask": m})["sentence_embedding"]
    err = max((pooled - library[mode](h, m)).abs().max().item(), (pooled - ref).abs().max().item())
    print(f"{mode:4}: {tuple(pooled.shape)}, max |Δ| vs minisbert and sentence-transformers = {err:.1e}")
    assert err < TOL
wrong = h.mean(1)                                                    # averaging the padding in as well
print("mean over padding too, sentence 2 ('Hi!'), max error:", (wrong - by_hand["mean"])[1].abs().max().item())

# %% [markdown]
# ## 4. Which pooling makes a good sentence vector? STS Benchmark
#
# The STS Benchmark (Cer et al. 2017) gives sentence pairs a gold similarity from 0 to 5. The SBERT
# protocol (§4.1): embed both sentences, take the cosine, and report the **Spearman rank correlation**
# with the gold scores (×100). We pool the *same* pretrained all-MiniLM-L6-v2 token vectors three ways,
# and add BERT's own "sentence vector", the pooler output `tanh(W h_CLS + b)` trained for next-sentence
# prediction. To stay within a minute on two CPU cores this uses **a random sample of 400 of the 1,379 test
# pairs** (seed 0). The full split gives the same ordering (measured once, outside this notebook: mean 82.0,
# max 78.8, CLS 73.5, pooler 73.1).

# %%
pairs = load_stsb("test", DATA_DIR)
sample = [pairs[i] for i in torch.randperm(len(pairs), generator=torch.Generator().manual_seed(0))[:400].tolist()]
sentences = list(dict.fromkeys([p.sentence1 for p in sample] + [p.sentence2 for p in sample]))
row = {s: i for i, s in enumerate(sentences)}
gold = torch.tensor([p.score for p in sample])

t0 = time.perf_counter()
vectors = {mode: torch.empty(len(sentences), sbert.dim) for mode in ["mean", "max", "cls", "pooler"]}
order = sorted(range(len(sentences)), key=lambda i: -len(sentences[i]))      # similar lengths together
sbert.bert.use_sdpa = True             # the fused attention kernel: the same numbers, faster
with torch.inference_mode():
    for start in range(0, len(order), 64):
        rows = order[start:start + 64]
        enc = sbert.tokenize([sentences[i] for i in rows])
        out = sbert.bert(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])  # one BERT pass
        for mode, pool in library.items():
            vectors[mode][rows] = pool(out.last_hidden_state, enc["attention_mask"])
        vectors["pooler"][rows] = out.pooler_output
sbert.bert.use_sdpa = False
print(f"{len(sentences)} sentences through BERT once in {time.perf_counter() - t0:.1f} s")

results = {}
for mode, vec in vectors.items():
    cosines = pairwise_cos_sim(vec[[row[p.sentence1] for p in sample]], vec[[row[p.sentence2] for p in sample]])
    results[mode] = 100 * spearman(cosines, gold)
    print(f"{mode + ' pooling' if mode != 'pooler' else 'BERT pooler (CLS + tanh)':26} Spearman {results[mode]:5.1f}")

assert results["mean"] > results["max"] > results["cls"] and results["mean"] > results["pooler"]

# Cross-checks: the statistic against scipy, and the loop above against the library's own evaluation
# (SentenceBert.encode + evaluate_sts) on the first 100 pairs of the sample.
import scipy.stats
def mean_cosines(ps):
    return pairwise_cos_sim(vectors["mean"][[row[p.sentence1] for p in ps]], vectors["mean"][[row[p.sentence2] for p in ps]])
assert abs(spearman(mean_cosines(sample), gold) - scipy.stats.spearmanr(mean_cosines(sample), gold).statistic) < 1e-9
head = sample[:100]
assert abs(evaluate_sts(sbert, head)["spearman"] - 100 * spearman(mean_cosines(head), gold[:100])) < 1e-3

# %% [markdown]
# Mean pooling wins, and `[CLS]` alone is far behind. That is the paper's finding (table 1: BERT's CLS
# vector scores *below* averaged GloVe word vectors): `[CLS]` was trained for next-sentence prediction,
# not to place similar sentences close together, and all-MiniLM-L6-v2 was fine-tuned with mean pooling,
# so only the average of its token vectors carries the trained geometry. The vectors of one BERT pass
# serve all four columns; only the last, cheap step differs.
#
# ## 5. A similarity matrix
#
# Eight sentences on four topics, encoded once each; all 28 pairs are then one (8, 384) × (384, 8) matrix
# product. Paraphrases light up even when they share no content word.

# %% export="nb_similarity"
sentences = ["A man is playing a guitar.", "Someone is performing music on an instrument.",
             "A woman is slicing an onion.", "A person is cutting vegetables in the kitchen.",
             "The stock market fell sharply today.", "Shares dropped at the close of trading.",
             "A cat sleeps on the sofa.", "The kitten is napping on the couch."]
emb = sbert.encode(sentences, convert_to="torch")                    # (8, 384), unit length
S = cos_sim(emb, emb)                                                # (8, 8)
reference = st.encode(sentences, convert_to_tensor=True)
assert (S - util.cos_sim(reference, reference)).abs().max() < TOL
off = S - 2 * torch.eye(8)
assert all(off[i].argmax().item() == i ^ 1 for i in range(8))        # each sentence's nearest is its paraphrase

fig, ax = plt.subplots(figsize=(9, 5.6))
im = ax.imshow(S, cmap="magma", vmin=0, vmax=1)
ax.set_xticks(range(8), [str(i + 1) for i in range(8)])
ax.set_yticks(range(8), [f"{s} {i + 1}" for i, s in enumerate(sentences)], fontsize=8)
for i in range(8):
    for j in range(8):
        ax.text(j, i, f"{S[i, j]:.2f}", ha="center", va="center", fontsize=7, color="w" if S[i, j] < 0.6 else "k")
fig.colorbar(im, ax=ax, label="cosine similarity", shrink=0.85)
ax.set_title("Cosine similarity of sentence vectors (all-MiniLM-L6-v2, minisbert)", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# The same matrix as an interactive page (`minisbert.views`): hover a cell for its two sentences and
# their cosine. It runs in the notebook, and `.save("similarity.html")` writes it for any browser, offline.

# %%
from minisbert import views

page = views.similarity_view(sbert, sentences)
assert (torch.tensor(page.data["similarity"]) - S).abs().max() <= 5e-4   # the page's numbers are S
page

# %% [markdown]
# And the eight vectors in two dimensions: their projection on the two directions of largest variance
# (principal component analysis of the 384-dimensional vectors). The four topics fall into four places,
# each paraphrase pair side by side; hover a point to read its sentence.

# %%
views.pca_view(sbert, sentences, labels=["music", "music", "cooking", "cooking", "markets", "markets", "cats", "cats"])

# %% [markdown]
# ## Next
#
# You can now turn sentences into vectors with a pooling of your choice and rank sentences by similarity.
#
# 1. Write exercises 7 `pooling` and 12 `paraphrase_mining` in `exercises/` and grade them: `python -m
#    minisbert grade pooling paraphrase_mining`. When one passes, read the library's version beside yours.
# 2. Then open notebook [05 · objectives](05_objectives.ipynb): how SBERT is trained.
