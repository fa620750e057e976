# %% [markdown]
# # 02 · One sentence through BERT, by hand
#
# BERT (Devlin et al. 2019) is the encoder of the Transformer (Vaswani et al. 2017): an embedding layer,
# then L identical layers of **multi-head self-attention** and a **feed-forward network**, each wrapped in
# a residual connection and LayerNorm. This notebook pushes one sentence through all-MiniLM-L6-v2
# (L = 6 layers, H = 384, A = 12 heads of 32 dimensions, feed-forward 1,536) with explicit torch
# operations on the model's own weight tensors, and checks every intermediate tensor against Hugging
# Face's `transformers.BertModel`, layer by layer, with forward hooks.

# %% [markdown]
# **You will learn** what happens inside BERT, one tensor at a time: the embeddings, one attention head, all
# heads, the residual connections and LayerNorm, the feed-forward network, and the attention maps.
#
# **Read alongside**: [`minisbert/bert.py`](../minisbert/bert.py) (`BertEmbeddings`, `BertSelfAttention`,
# `BertLayer`).
#
# **Afterwards**: exercises 3 `embeddings`, 4 `attention_head`, 5 `multi_head_attention` and 6 `bert_layer` —
# write them in `exercises/`, then `python -m minisbert grade embeddings attention_head multi_head_attention
# bert_layer` (see [exercises/README.md](../exercises/README.md)).
#
# **View**: `python -m minisbert view "The animal didn't cross the street because it was too tired." --layer 3
# --heads 1 --out it.html` (head, model and neuron views).
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
import math

import matplotlib.pyplot as plt
import torch
import transformers
transformers.logging.disable_progress_bar()
from minisbert import BertModel
from minisbert.tokenizer import BertTokenizer
from minisbert.parity.trace import record_outputs, traced_module_names

model = BertModel.from_pretrained(MODEL_DIR)        # eval mode: dropout is the identity
hf = transformers.BertModel.from_pretrained(str(MODEL_DIR), attn_implementation="eager").eval()
tok = BertTokenizer.from_pretrained(MODEL_DIR)
cfg = model.config
H, A, L = cfg.hidden_size, cfg.num_attention_heads, cfg.num_hidden_layers
hs = H // A  # head size
print(f"H={H}  heads={A} x {hs}  layers={L}  FFN={cfg.intermediate_size}  eps={cfg.layer_norm_eps}")

sentence = "The animal didn't cross the street because it was too tired."
enc = tok([sentence])
ids, types, mask = enc["input_ids"], enc["token_type_ids"], enc["attention_mask"]
tokens = tok.convert_ids_to_tokens(ids[0])
T = len(tokens)
print(T, "tokens:", tokens)

# Every module's output in the reference, recorded by forward hooks (same names in both models).
names = traced_module_names(L)
ref = record_outputs(hf, names, input_ids=ids, attention_mask=mask, token_type_ids=types)
with torch.no_grad():
    ref_out = hf(input_ids=ids, attention_mask=mask, token_type_ids=types, output_attentions=True)

def check(name, ours, theirs):
    err = (ours - theirs).abs().max().item()
    print(f"{name:42} max |Δ| = {err:.1e}")
    assert err < TOL, name


# %% [markdown]
# ## 1. Embeddings: word + position + segment, then LayerNorm
#
# Each token's input vector is the sum of three learned vectors: its **word** piece, its **position**
# (BERT learns one vector per position 0…511 instead of the Transformer's sinusoids) and its **segment**
# (token type A or B). LayerNorm then normalises each token vector over its H features:
# `(x − mean) / sqrt(var + ε) · γ + β`, with the *biased* variance and **ε = 1e-12** (the TensorFlow
# value the weights were trained with).

# %%
E = model.embeddings
with torch.no_grad():
    word = E.word_embeddings.weight[ids[0]]            # (T, H): one row of the table per token id
    pos = E.position_embeddings.weight[:T]             # (T, H): rows 0..T-1
    seg = E.token_type_embeddings.weight[types[0]]     # (T, H): all segment 0 here
    x = word + pos + seg                               # (T, H)

    def layer_norm(x, ln, eps=cfg.layer_norm_eps):
        mu = x.mean(-1, keepdim=True)
        var = x.var(-1, keepdim=True, unbiased=False)
        return (x - mu) / torch.sqrt(var + eps) * ln.weight + ln.bias

    emb = layer_norm(x, E.LayerNorm)                   # (T, H)
print("norm of x per token (first 5):", x.norm(dim=-1)[:5])
print("after LayerNorm, mean / std of token 0:", emb[0].mean().item(), emb[0].std(unbiased=False).item())
check("embeddings", emb, ref["embeddings"][0])

# The wrong epsilon (PyTorch's default 1e-5) is already visible here:
err = (layer_norm(x, E.LayerNorm, eps=1e-5) - ref["embeddings"][0]).abs().max().item()
print(f"with eps=1e-5 instead: max |Δ| = {err:.1e}")

# %% [markdown]
# ## 2. One attention head, with explicit tensors
#
# Self-attention lets every token look at every other token (Vaswani et al. 2017, §3.2.1). Head h owns
# 32 of the 384 dimensions: rows `h·32 … h·32+31` of the query, key and value projections.
#
# - queries `Q = x W_Qᵀ + b_Q`, keys `K`, values `V`, each (T, 32);
# - scores `S = Q Kᵀ / √32`, (T, T): how well query i matches key j; dividing by √d keeps the scores'
#   variance near 1 so the softmax does not saturate;
# - weights `P = softmax(S)` over the keys (each row sums to 1);
# - output `P V`, (T, 32): a weighted average of the value vectors.

# %%
att = model.encoder.layer[0].attention.self
h = 0
rows = slice(h * hs, (h + 1) * hs)
with torch.no_grad():
    q = emb @ att.query.weight[rows].T + att.query.bias[rows]     # (T, hs)
    k = emb @ att.key.weight[rows].T + att.key.bias[rows]         # (T, hs)
    v = emb @ att.value.weight[rows].T + att.value.bias[rows]     # (T, hs)
    S = q @ k.T / math.sqrt(hs)                                   # (T, T)
    P = S.softmax(dim=-1)                                         # (T, T), rows sum to 1
    head0 = P @ v                                                 # (T, hs)
print("scores", tuple(S.shape), " row sums of P:", P.sum(-1)[:4])
check("layer 0 head 0 attention weights", P, ref_out.attentions[0][0, h])
check("layer 0 head 0 output", head0, ref["encoder.layer.0.attention.self"][0, :, rows])


# %% [markdown]
# ## 3. All heads at once
#
# The twelve heads are the same computation on twelve slices. Reshaping (T, H) to (A, T, 32) runs them as
# one batched matrix product; their outputs are put side by side again, (T, H).

# %%
def split_heads(t):                     # (T, H) -> (A, T, hs)
    return t.view(T, A, hs).transpose(0, 1)

with torch.no_grad():
    Q = split_heads(emb @ att.query.weight.T + att.query.bias)   # (A, T, hs)
    K = split_heads(emb @ att.key.weight.T + att.key.bias)       # (A, T, hs)
    V = split_heads(emb @ att.value.weight.T + att.value.bias)   # (A, T, hs)
    P_all = (Q @ K.transpose(-2, -1) / math.sqrt(hs)).softmax(-1)  # (A, T, T)
    context = (P_all @ V).transpose(0, 1).reshape(T, H)           # (T, H): heads side by side
check("layer 0 attention weights, all heads", P_all, ref_out.attentions[0][0])
check("encoder.layer.0.attention.self", context, ref["encoder.layer.0.attention.self"][0])

# %% [markdown]
# ## 4. Projection, residual, LayerNorm
#
# A dense layer mixes the heads' outputs; the result is **added to the layer's input** (the residual
# connection, He et al. 2016) and normalised. BERT is *post*-LN, as the original Transformer:
# `a = LN(x + dense(attention(x)))`.

# %%
out = model.encoder.layer[0].attention.output
with torch.no_grad():
    a = layer_norm(emb + context @ out.dense.weight.T + out.dense.bias, out.LayerNorm)  # (T, H)
check("encoder.layer.0.attention", a, ref["encoder.layer.0.attention"][0])

# %% [markdown]
# ## 5. The feed-forward network
#
# Each token then goes, on its own, through two dense layers with a GELU between them: H → 4H → H.
# GELU(x) = x · Φ(x) = ½ x (1 + erf(x / √2)) (Hendrycks & Gimpel 2016), the exact erf form; the popular
# tanh approximation is visibly off. Residual and LayerNorm again: `y = LN(a + W₂ GELU(W₁ a))`.

# %%
layer0 = model.encoder.layer[0]
def gelu(t):
    return 0.5 * t * (1 + torch.erf(t / math.sqrt(2)))

with torch.no_grad():
    pre = a @ layer0.intermediate.dense.weight.T + layer0.intermediate.dense.bias   # (T, 4H)
    inner = gelu(pre)
    y = layer_norm(a + inner @ layer0.output.dense.weight.T + layer0.output.dense.bias, layer0.output.LayerNorm)
check("encoder.layer.0.intermediate", inner, ref["encoder.layer.0.intermediate"][0])
check("encoder.layer.0 (whole layer)", y, ref["encoder.layer.0"][0])
tanh_gelu = torch.nn.functional.gelu(pre, approximate="tanh")
print(f"tanh-approximate GELU would be off by up to {(tanh_gelu - inner).abs().max().item():.1e} here")


# %% [markdown]
# ## 6. Layer after layer
#
# The same five steps, with each layer's own weights, six times. Below, the steps above are put in one
# function and run through all layers; every layer's output is checked against the reference's hooks.
# Then the library's `BertModel` is traced the same way (`minisbert.trace`, the tool to reach for when
# parity breaks): every module of both models, side by side.

# %%
def layer_by_hand(x, layer):
    s = layer.attention.self
    Q, K, V = (split_heads(x @ m.weight.T + m.bias) for m in (s.query, s.key, s.value))   # (A, T, hs)
    ctx = ((Q @ K.transpose(-2, -1) / math.sqrt(hs)).softmax(-1) @ V).transpose(0, 1).reshape(T, H)
    o = layer.attention.output
    a = layer_norm(x + ctx @ o.dense.weight.T + o.dense.bias, o.LayerNorm)
    f = gelu(a @ layer.intermediate.dense.weight.T + layer.intermediate.dense.bias)
    return layer_norm(a + f @ layer.output.dense.weight.T + layer.output.dense.bias, layer.output.LayerNorm)

with torch.no_grad():
    x = emb
    for i, layer in enumerate(model.encoder.layer):
        x = layer_by_hand(x, layer)
        check(f"by hand: encoder.layer.{i}", x, ref[f"encoder.layer.{i}"][0])
    pooled = torch.tanh(x[0] @ model.pooler.dense.weight.T + model.pooler.dense.bias)  # tanh(dense(h_CLS))
check("by hand: pooler", pooled, ref_out.pooler_output[0])

# %%
ours = record_outputs(model, names, ids, mask, types)
print(f"{'module':40} {'shape':>16}  max |Δ| vs transformers")
for name in names:
    err = (ours[name] - ref[name]).abs().max().item()
    print(f"{name:40} {str(tuple(ours[name].shape)):>16}  {err:.1e}")
    assert err < TOL, name

# %% [markdown]
# ## 7. Padding does not leak
#
# In a batch, shorter sentences are padded. The mask gives padded **keys** a score of −∞ before the
# softmax, so no real token ever attends to padding and a sentence's vectors do not depend on its
# neighbours in the batch. (The padded positions themselves get vectors too; they are ignored, and not
# compared.)

# %%
batch = tok([sentence, "A short one."])
with torch.no_grad():
    o = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], output_attentions=True)
    r = hf(**batch, output_attentions=True)
    alone = model(*[tok(["A short one."])[k] for k in ("input_ids", "attention_mask", "token_type_ids")])
real = batch["attention_mask"].bool()
n = int(real[1].sum())
check("batched last_hidden_state (real tokens)", o.last_hidden_state[real], r.last_hidden_state[real])
check("short sentence: padded batch vs alone", o.last_hidden_state[1, :n], alone.last_hidden_state[0])
pad_weight = o.attentions[-1][1][:, :n, n:].max().item()
print("largest attention weight on a padded key:", pad_weight)
assert pad_weight == 0.0

# %% [markdown]
# ## 8. Attention maps
#
# Each head learns its own pattern (Clark et al. 2019, "What Does BERT Look At?"). In this model, head 2
# of layer 0 attends almost only to the **previous token** — a purely positional head — while head 1 of
# layer 3 links the pronoun **"it" to "animal"**, the word it refers to. Many other heads put much of
# their weight on `[CLS]`, `[SEP]` or punctuation, a known "no-op" pattern.

# %% export="nb_attention"
with torch.no_grad():
    maps = model(ids, mask, types, output_attentions=True).attentions   # L tensors (1, A, T, T)
for i in range(L):
    check(f"attention weights, layer {i}", maps[i], ref_out.attentions[i])

prev = torch.diagonal(maps[0][0, 2], offset=-1).mean().item()
it, animal = tokens.index("it"), tokens.index("animal")
row = maps[3][0, 1, it]
print(f"layer 0 head 2: mean weight on the previous token {prev:.3f}")
print(f"layer 3 head 1: 'it' gives {row[animal]:.2f} of its attention to 'animal'")
assert prev > 0.99 and row.argmax().item() == animal

fig, axes = plt.subplots(1, 2, figsize=(13, 5.8))
for ax, (li, hi, what) in zip(axes, [(0, 2, "previous token"), (3, 1, "'it' → 'animal'")]):
    ax.imshow(maps[li][0, hi], cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(T), tokens, rotation=90); ax.set_yticks(range(T), tokens)
    ax.set_xlabel("key (attended to)"); ax.set_ylabel("query")
    ax.set_title(f"layer {li}, head {hi}: {what}")
fig.tight_layout()
plt.show()

# %%
fig, axes = plt.subplots(2, 6, figsize=(14, 5.6), layout="constrained")   # constrained: room for every title
for hi, ax in enumerate(axes.flat):
    ax.imshow(maps[L - 1][0, hi], cmap="viridis", vmin=0)
    ax.set_title(f"head {hi}", fontsize=10); ax.set_xticks([]); ax.set_yticks([])
fig.suptitle(f"All {A} heads of the last layer (layer {L - 1}), {T} tokens: queries down, keys across")
plt.show()

# %% [markdown]
# ## 9. The same attention, interactive
#
# `minisbert.views` draws these maps from the model's own forward as HTML pages that run in the notebook
# (and `.save("page.html")` writes them to open in any browser, offline). The **head view** puts the
# queries on the left and the keys on the right, one line per pair, its opacity the weight: hover "it" to
# see layer 3, head 1 send it to "animal". Every number on the page is the model's, rounded to 3 decimals.

# %%
from minisbert import views

head = views.head_view(model, sentence, tokenizer=tok, layer=3, heads=[1])
page = torch.tensor(head.data["attention"]) / head.data["scale"]      # (L, A, T, T), as the page holds it
for i in range(L):
    assert (page[i] - maps[i][0]).abs().max() <= 5e-4                 # the page's numbers are the model's
head

# %% [markdown]
# The **model view**: every layer × head at once, as small maps (queries down, keys across). The
# previous-token head of layer 0 is the diagonal band in column H2; a click opens a head in the head view
# below the grid.

# %%
views.model_view(model, sentence, tokenizer=tok)

# %% [markdown]
# The **neuron view** is section 2's hand computation for one query token: its q, each key's k, the
# products q_i·k_i, their sum over √d, the softmax. Here for "it" in layer 3, head 1; pick another query,
# head or layer in the page. Its q and k are the outputs of the layer's `query` and `key` modules, read with
# forward hooks (`views.capture_qkv`), the same tensors the attention multiplies:

# %%
neuron = views.neuron_view(model, sentence, tokenizer=tok, layer=3, head=1, query=it)
att3 = model.encoder.layer[3].attention.self
with torch.no_grad():
    h3 = model(ids, mask, types, output_hidden_states=True).hidden_states[3]   # layer 3's input (1, T, H)
    q3 = att3.split_heads(att3.query(h3))[0, 1]                        # (T, hs): head 1's queries
    k3 = att3.split_heads(att3.key(h3))[0, 1]                          # (T, hs): head 1's keys
by_hand = (q3[it] @ k3.T / math.sqrt(hs)).softmax(-1)                  # (T,): the row the page draws
page_q = torch.tensor(neuron.data["q"][3][1]) / neuron.data["scale"]
assert (page_q - q3).abs().max() <= 5e-4 and (by_hand - row).abs().max() < TOL
print("softmax(q·k/√d) for 'it':", [f"{w:.3f}" for w in by_hand.tolist()])
neuron

# %% [markdown]
# ## Next
#
# You can now compute a BERT layer by hand from its weights and read an attention map.
#
# 1. Write exercises 3 `embeddings`, 4 `attention_head`, 5 `multi_head_attention` and 6 `bert_layer` in
#    `exercises/` and grade them: `python -m minisbert grade embeddings attention_head multi_head_attention
#    bert_layer`. When one passes, read the library's version beside yours.
# 2. Then open notebook [03 · word embeddings](03_word_embeddings.ipynb): what the vectors BERT outputs are
#    good for.
