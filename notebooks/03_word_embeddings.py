# %% [markdown]
# # 03 · BERT gives vectors for words
#
# BERT turns a text into **one vector per token**, and each vector depends on the whole sentence
# (Devlin et al. 2019; the "contextual word embeddings" of Peters et al. 2018). A static embedding table
# gives "bank" one vector, whatever it means; BERT gives the river bank and the money bank different ones.
# Vectors can then be compared with a distance. This notebook looks at both, and checks every vector
# against Hugging Face.

# %% [markdown]
# **You will learn** that BERT gives one vector per token and that it depends on the context (the two meanings
# of "bank"), how cosine similarity and Euclidean distance compare vectors, and how to look at vectors in 2-D
# (PCA).
#
# **Read alongside**: [`minisbert/similarity.py`](../minisbert/similarity.py) (`cos_sim`, `euclidean_sim`) and
# the output of [`minisbert/bert.py`](../minisbert/bert.py)'s `BertModel`.
#
# **Afterwards**: no exercise of its own: the next one, 7 `pooling`, comes with notebook 04 (see
# [exercises/README.md](../exercises/README.md)).
#
# **View**: the PCA view, `views.pca_view` (notebook 04 opens it on sentence vectors).
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
from _setup import MODEL_DIR, TOL  # weights, tolerance; seeds fixed

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
import transformers
transformers.logging.disable_progress_bar()
from minisbert import BertModel
from minisbert.tokenizer import BertTokenizer
from minisbert.similarity import cos_sim, euclidean_sim

model = BertModel.from_pretrained(MODEL_DIR)
hf = transformers.BertModel.from_pretrained(str(MODEL_DIR), attn_implementation="eager").eval()
tok = BertTokenizer.from_pretrained(MODEL_DIR)

def token_vectors(texts):
    """Last-layer vectors (B, T, H) of a padded batch, checked against transformers at real tokens."""
    batch = tok(texts)
    with torch.no_grad():
        ours = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]).last_hidden_state
        theirs = hf(**batch).last_hidden_state
    real = batch["attention_mask"].bool()
    assert (ours - theirs)[real].abs().max() < TOL
    return batch, ours


# %% [markdown]
# ## 1. The same word in different contexts
#
# Six sentences, three about rivers and three about money. We take the vector BERT gives the token
# `bank` in each.

# %%
river = ["We sat on the bank of the river and watched the water.",
         "The boat drifted toward the muddy bank.",
         "Fishermen lined the bank of the stream at dawn."]
money = ["She deposited the cheque at the bank on Monday.",
         "The bank raised its interest rates again.",
         "He asked the bank for a loan to buy a house."]
texts = river + money
batch, hidden = token_vectors(texts)
bank_id = tok.convert_tokens_to_ids("bank")
where = [row.tolist().index(bank_id) for row in batch["input_ids"]]
bank = torch.stack([hidden[i, j] for i, j in enumerate(where)])   # (6, H): one vector per occurrence
print("position of 'bank' in each sentence:", where, " vectors:", tuple(bank.shape))

static = model.embeddings.word_embeddings.weight[bank_id]         # the input table's single row for 'bank'
print("static input embedding: the same vector in all six sentences, norm", round(static.norm().item(), 3))

# %%
C = cos_sim(bank, bank)    # (6, 6) cosine similarity
labels = [f"river {i+1}" for i in range(3)] + [f"money {i+1}" for i in range(3)]
print("cosine similarity of the six 'bank' vectors")
print(" " * 9 + "".join(f"{l:>9}" for l in labels))
for l, row in zip(labels, C):
    print(f"{l:>9}" + "".join(f"{v:9.2f}" for v in row.tolist()))

off = ~torch.eye(6, dtype=torch.bool)
same = torch.zeros(6, 6, dtype=torch.bool); same[:3, :3] = same[3:, 3:] = True
within, across = C[same & off].mean().item(), C[~same].mean().item()
print(f"mean cosine, same meaning: {within:.3f}   different meaning: {across:.3f}")
assert within > across

# %% [markdown]
# ## 2. Cosine similarity against Euclidean distance
#
# For vectors u and v:
#
# - **cosine similarity** `cos(u, v) = u·v / (‖u‖ ‖v‖)`, in [−1, 1], looks only at the **direction**;
# - **Euclidean distance** `‖u − v‖` also sees the **length**.
#
# Token vectors from BERT do not all have the same length, so the two can rank neighbours differently. For
# unit vectors they agree exactly: `‖u − v‖² = 2 − 2 cos(u, v)`. (Sentence models such as
# all-MiniLM-L6-v2 normalise their sentence vectors for this reason; SBERT's triplet objective uses
# the Euclidean distance, its regression objective the cosine.)

# %%
one, one_hidden = token_vectors(["The bank of the river was steep and muddy."])
vecs = one_hidden[0]                                               # (T, H), one per token
toks = tok.convert_ids_to_tokens(one["input_ids"][0])
print("token norms:", {t: round(n, 2) for t, n in zip(toks, vecs.norm(dim=-1).tolist())})

q = toks.index("bank")
cos_rank = cos_sim(vecs[q], vecs)[0].argsort(descending=True).tolist()
euc_rank = euclidean_sim(vecs[q], vecs)[0].argsort(descending=True).tolist()   # -distance: higher = closer
print("neighbours of 'bank' by cosine:   ", [toks[i] for i in cos_rank[1:]])
print("neighbours of 'bank' by Euclidean:", [toks[i] for i in euc_rank[1:]])
assert cos_rank != euc_rank and toks[cos_rank[1]] == "river"

unit = F.normalize(vecs, dim=-1)
d2 = torch.cdist(unit, unit) ** 2
assert torch.allclose(d2, 2 - 2 * cos_sim(unit, unit), atol=1e-5)     # ‖u − v‖² = 2 − 2 cos for unit vectors
assert cos_sim(unit[q], unit)[0].argsort(descending=True).tolist() == euclidean_sim(unit[q], unit)[0].argsort(descending=True).tolist()

from sentence_transformers import util                         # the reference for the similarity functions
assert (cos_sim(vecs, vecs) - util.cos_sim(vecs, vecs)).abs().max() < TOL
assert (euclidean_sim(vecs, vecs) - util.euclidean_sim(vecs, vecs)).abs().max() < TOL

# %% [markdown]
# The two rankings differ. By Euclidean distance the *short* vectors (`the`, `of`, `[SEP]`) are close to
# everything, simply because they are short; cosine ignores the length and ranks `river` first. On the
# normalised vectors (checked above) the two rankings are the same.

# %% [markdown]
# ## 3. A 2-D picture
#
# The vectors live in 384 dimensions. Principal component analysis projects them onto the two directions
# along which they vary most: the top right-singular vectors of the centred matrix of vectors (an exact
# SVD here; `torch.pca_lowrank` is the randomised version for large matrices). Besides the six `bank`
# vectors, the plot shows the vectors of a few other words of the same sentences, the words that carry
# each sentence's meaning. A word the vocabulary splits into pieces has no single vector: "cheque" is two
# tokens, `che ##que`, so it is left out (averaging its pieces' vectors is one way to give it one).

# %%
words = ["bank", "river", "water", "stream", "boat", "loan", "interest", "cheque", "house", "rates"]
pieces = {w: tok.tokenize(w) for w in words}
print({w: p for w, p in pieces.items() if len(p) > 1}, "-> not plotted")
words = {w for w, p in pieces.items() if len(p) == 1}
assert words == {"bank", "river", "water", "stream", "boat", "loan", "interest", "house", "rates"}

# %% export="nb_bank_pca"
points, names, kinds = [], [], []
for s, text in enumerate(texts):
    for j, t in enumerate(tok.convert_ids_to_tokens(batch["input_ids"][s])):
        if t in words:
            points.append(hidden[s, j]); names.append(t); kinds.append("river" if s < 3 else "money")
assert set(names) == words                                # every listed word is plotted
X = torch.stack(points)                                   # (N, H)
Xc = X - X.mean(0)                                        # centre
U, Sv, Vh = torch.linalg.svd(Xc, full_matrices=False)     # Xc = U diag(S) Vh
xy = Xc @ Vh[:2].T                                        # (N, 2): coordinates on the top two components
explained = (Sv[:2] ** 2 / (Sv ** 2).sum()).tolist()       # share of the variance on each axis
assert torch.allclose(U[:, :2] * Sv[:2], xy, atol=1e-4)      # the same coordinates, U·S

fig, ax = plt.subplots(figsize=(7.5, 5.5))
for kind, color in [("river", "tab:blue"), ("money", "tab:orange")]:
    for is_bank, marker, size in [(True, "*", 260), (False, "o", 60)]:
        sel = [i for i, (k, n) in enumerate(zip(kinds, names)) if k == kind and (n == "bank") == is_bank]
        ax.scatter(xy[sel, 0], xy[sel, 1], c=color, marker=marker, s=size, edgecolor="k", linewidth=0.5,
                   label=f"'bank' in a {kind} sentence" if is_bank else f"other words, {kind} sentences")
for (px, py), n in zip(xy.tolist(), names):
    ax.annotate(n, (px, py), textcoords="offset points", xytext=(5, 4), fontsize=9)
ax.set_xlabel(f"PC 1 ({explained[0]:.0%} of variance)"); ax.set_ylabel(f"PC 2 ({explained[1]:.0%})")
ax.set_title("Contextual token vectors of all-MiniLM-L6-v2, projected to 2-D (PCA)")
ax.legend(fontsize=8, loc="best")
fig.tight_layout()
plt.show()

# %% [markdown]
# A picture in two of 384 dimensions can mislead, so here are the distances it suggests, measured: the mean
# Euclidean distance from the `bank` points of each kind of sentence to each group of points, in the plane
# of the plot and in the full 384-dimensional space.

# %%
def group(kind, bank):
    return [i for i, (k, n) in enumerate(zip(kinds, names)) if k == kind and (n == "bank") == bank]

def mean_distance(P, a, b):
    D = torch.cdist(P[a], P[b])                                          # (len(a), len(b))
    if a == b:                                                           # within a group: leave out the zeros
        return D[~torch.eye(len(a), dtype=torch.bool)].mean().item()
    return D.mean().item()

targets = {"river words": group("river", False), "money words": group("money", False),
           "river 'bank's": group("river", True), "money 'bank's": group("money", True)}
dist = {}
print(f"{'mean distance from':>24}" + "".join(f"{t:>15}" for t in targets))
for kind in ("river", "money"):
    for space, P in (("plot", xy), ("384-d", X)):
        dist[kind, space] = {t: mean_distance(P, group(kind, True), g) for t, g in targets.items()}
        print(f"{kind + ' bank, ' + space:>24}" + "".join(f"{d:15.2f}" for d in dist[kind, space].values()))
for space in ("plot", "384-d"):
    r, m = dist["river", space], dist["money", space]
    # the six 'bank's are nearer one another than any other word is, and form two groups by meaning
    assert max(r["river 'bank's"], r["money 'bank's"], m["money 'bank's"]) < min(r["river words"], m["money words"])
    assert r["river 'bank's"] < r["money 'bank's"] and m["money 'bank's"] < m["river 'bank's"]
    # the money 'bank' sits nearer the money words; the river 'bank' nearer the river words, but only just
    assert m["money words"] < m["river words"] and r["river words"] < r["money words"]
    assert r["money words"] - r["river words"] < m["river words"] - m["money words"]

# %% [markdown]
# What the figure shows, then, and the table measures:
#
# - The six `bank` vectors stay close to one another, closer than any other word comes to them: a token's
#   vector is first of all the vector of its word.
# - Within that group the two meanings separate: two tight clouds, each nearer its own kind of `bank` than
#   the other kind (the cosines of section 1 say the same).
# - The context words pull less than the picture of "near the words of their own context" would suggest.
#   The money `bank` is clearly nearer the money words than the river words. The river `bank` is nearer the
#   river words too, but only by a little, in the plot and in the full space alike.
#
# So the static input vector for `bank` is one point, and after six layers of attention there are two
# clouds. Comparing *words* this way is what BERT is good at out of the box. Comparing *sentences* is the
# next question: notebook 04 shows why BERT's own outputs make a poor sentence vector and what SBERT does
# about it.

# %% [markdown]
# ## 4. The same word vectors, as sentence-transformers users ask for them
#
# `SentenceBert.encode(..., output_value="token_embeddings")` returns BERT's word vectors directly: one
# (T, H) tensor per sentence, over its real tokens only ([CLS] and [SEP] included, no padding), as
# sentence-transformers' `encode` does. They are the rows of `hidden` above. Average them and scale the
# average to length 1, and you have this model's sentence vector, what `encode` returns by default: the
# step notebook 04 takes apart.

# %%
from minisbert import SentenceBert

sbert = SentenceBert.from_pretrained(MODEL_DIR)
words = sbert.encode(texts, output_value="token_embeddings")      # a list of (T_i, H) tensors
print("token vectors per sentence:", [tuple(w.shape) for w in words])
for i, w in enumerate(words):
    T = int(batch["attention_mask"][i].sum())                      # this sentence's real tokens
    assert w.shape == (T, hidden.shape[-1]) and (w - hidden[i, :T]).abs().max() < TOL
sentences = sbert.encode(texts, convert_to_tensor=True)             # (6, H), the default output
pooled = F.normalize(torch.stack([w.mean(dim=0) for w in words]), dim=-1)
print("mean of the token vectors, normalised, against encode's sentence vectors: max |Δ| =",
      f"{(pooled - sentences).abs().max().item():.1e}")
assert (pooled - sentences).abs().max() < TOL

# %% [markdown]
# ## Next
#
# You can now compare contextual word vectors and say what a distance, and a 2-D projection, does and does not
# show.
#
# 1. No exercise of its own: the next one, 7 `pooling`, comes with notebook 04.
# 2. Then open notebook [04 · siamese BERT and pooling](04_siamese_and_pooling.ipynb): from token vectors to a
#    sentence vector.
