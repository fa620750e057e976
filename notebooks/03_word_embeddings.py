# %% [markdown]
# # 03 · BERT gives vectors for words
#
# BERT turns a text into **one vector per token**, and each vector depends on the whole sentence
# (Devlin et al. 2019; the "contextual word embeddings" of Peters et al. 2018). A static embedding table
# gives "bank" one vector, whatever it means; BERT gives the river bank and the money bank different ones.
# Vectors can then be compared with a distance. This notebook looks at both, and checks every vector
# against Hugging Face.

# %%
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
# vectors, the plot shows the vectors of a few other words in the same sentences: the two meanings of
# `bank` land in different regions, near the words of their own context.

# %% export="nb_bank_pca"
words = {"bank", "river", "water", "stream", "boat", "loan", "interest", "cheque", "house", "rates"}
points, names, kinds = [], [], []
for s, text in enumerate(texts):
    for j, t in enumerate(tok.convert_ids_to_tokens(batch["input_ids"][s])):
        if t in words:
            points.append(hidden[s, j]); names.append(t); kinds.append("river" if s < 3 else "money")
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
# The static input vector for `bank` is one point; after six layers of attention there are two clouds.
# Comparing *words* this way is what BERT is good at out of the box. Comparing *sentences* is the next
# question: notebook 04 shows why BERT's own outputs make a poor sentence vector and what SBERT does
# about it.
