"""Build the step-through notebooks from the sources in this file, run them, and save them with outputs.

    .venv/bin/python notebooks/build.py                  # every notebook
    .venv/bin/python notebooks/build.py 02 03            # the ones whose name starts with 02 or 03
    .venv/bin/python notebooks/build.py --check          # committed notebooks' cells == the sources here?

Each notebook lives below as one string: ``%% md`` starts a markdown cell, ``%% code`` a code cell
(``%% code export=nb_name`` also writes that cell's first picture to ``docs/nb_name.png``, for the
README). Executing needs the project's venv (nbclient, ipykernel, transformers, sentence-transformers),
the weights under ``weights/`` and the data in ``$MINISBERT_DATA`` (default ``../shared/data``).
The committed notebooks carry the outputs of the last build; ``tests/test_notebooks.py`` executes them
again in a fresh kernel, and checks that their cells equal what this file builds.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DOCS = REPO / "docs"
KERNEL = "python3"
CELL_TIMEOUT = 300

# The first code cell of every notebook: one place that finds the weights and the data and makes runs
# repeatable. Figures are drawn by the inline backend (PNG in the notebook, Agg underneath).
SETUP = r'''
%matplotlib inline
import os, random, time
from pathlib import Path

import numpy as np
import torch
import matplotlib.pyplot as plt

from minisbert.weights import resolve_model_dir
import warnings
warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm in a kernel without widgets

random.seed(0); np.random.seed(0); torch.manual_seed(0)
torch.set_printoptions(precision=4, sci_mode=False, linewidth=120)
plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100})

MODEL_DIR = resolve_model_dir("all-MiniLM-L6-v2")  # weights/all-MiniLM-L6-v2 (make weights fetches it)
DATA_DIR = Path(os.environ.get("MINISBERT_DATA") or "../../shared/data")  # STS Benchmark and SICK
os.environ.setdefault("MINISBERT_DATA", str(DATA_DIR))
TOL = 1e-5  # max |ours - reference| allowed anywhere below (fp32)
'''


# ==================================================================================================
NB01 = r'''
%% md
# 01 · The tokenizer: from raw text to ids

BERT never sees characters. It reads a sequence of integer **ids**, one per *WordPiece* — a word or a
piece of a word from a fixed vocabulary of 30,522 entries (Devlin et al. 2019, §3 and appendix A;
WordPiece is from Wu et al. 2016, §4.1). This notebook takes text apart the way
`minisbert/tokenizer.py` does, step by step, and checks at every step that the ids are the ones Hugging
Face's tokenizer (the Rust `tokenizers` library behind `transformers.BertTokenizer`) produces.

The steps, in order: **clean** → **space out CJK ideographs** → **strip accents** → **lower-case** →
**split on whitespace and punctuation** → **WordPiece** each word → add **`[CLS]`/`[SEP]`**, truncate,
pad.

%% code
SETUP

import unicodedata
import transformers
from minisbert.tokenizer import BertTokenizer, basic_tokenize

tok = BertTokenizer.from_pretrained(MODEL_DIR)                 # ours: reads vocab.txt + tokenizer_config.json
hf = transformers.BertTokenizer.from_pretrained(str(MODEL_DIR))  # the reference (Rust tokenizers)
print(tok)
print("reference:", type(hf).__name__, "vocab", hf.vocab_size)
assert tok.vocab == hf.get_vocab()  # same 30,522 (token, id) entries

%% md
## 1. Cleaning

Before anything else the text is cleaned: the NUL character, the replacement character U+FFFD and
"other" characters (control Cc, format Cf such as the zero-width space, private use Co) are dropped;
every kind of whitespace (tab, newline, no-break space, any category Zs) becomes a plain space.
`basic_tokenize` runs steps 1–5; with lower-casing and accent stripping turned off we see cleaning and
splitting alone.

%% code
text = "Tab\there,\u00a0no-break\u00a0space, zero\u200bwidth, NUL\x00 and \ufffd."
for ch in ["\t", "\u00a0", "\u200b", "\x00", "\ufffd"]:
    print(f"U+{ord(ch):04X}  {unicodedata.category(ch)}  {unicodedata.name(ch, '<control>')}")
words = basic_tokenize(text, do_lower_case=False, strip_accents=False)
print(words)
assert "zerowidth" in words                      # U+200B (Cf) is dropped, gluing the two halves
assert "no" in words and "break" in words       # U+00A0 (Zs) is a space; "-" is punctuation

%% md
## 2. CJK ideographs, accents, case

Chinese and Japanese kanji are written without spaces, so every CJK ideograph becomes a word of its own
(Hangul, hiragana and katakana are not split this way). The uncased model then strips accents —
Unicode NFD splits `é` into `e` + U+0301 COMBINING ACUTE ACCENT (category Mn), and the marks are
dropped — and lower-cases.

%% code
word = "Café"
nfd = unicodedata.normalize("NFD", word)
print([f"{c!r} {unicodedata.category(c)}" for c in nfd])
print(basic_tokenize("Crème Brûlée at the CAFÉ"))
print(basic_tokenize("我喜欢BERT"))
assert basic_tokenize("Crème Brûlée at the CAFÉ") == ["creme", "brulee", "at", "the", "cafe"]
assert basic_tokenize("我喜欢BERT") == ["我", "喜", "欢", "bert"]

%% md
## 3. Punctuation

Every punctuation character is cut out as a one-character word. BERT's rule: all non-alphanumeric
ASCII (so `$`, `^` and `` ` ``, which Unicode calls symbols, split too) plus Unicode category P*.
Non-ASCII symbols such as `€`, `£` and `°` are not punctuation, so they stay inside their word.

%% code
text = "Don't pay $5 (or €5) at 100°C, e.g. x^2!"
print(basic_tokenize(text))
assert basic_tokenize(text) == ["don", "'", "t", "pay", "$", "5", "(", "or", "€5", ")", "at", "100°c",
                                ",", "e", ".", "g", ".", "x", "^", "2", "!"]

%% md
## 4. WordPiece: greedy longest match first

Each word is spelled with vocabulary pieces: take the **longest** prefix that is in the vocabulary, then
the longest continuation piece (written with a `##` prefix) from where it ended, and so on. It is
greedy, not linguistic: `unaffable` becomes `una ##ffa ##ble`, not `un ##aff ##able`. The cell below
prints every match as it is found (a display loop over `tok.vocab`; the library's `_wordpiece` does the
same search) and checks the result against both tokenizers.

%% code
def show_wordpiece(word, vocab=tok.vocab):
    """Print the greedy search: at each position, the longest piece in the vocabulary."""
    pieces, start = [], 0
    while start < len(word):
        prefix = "##" if start > 0 else ""
        for end in range(len(word), start, -1):        # longest candidate first
            if prefix + word[start:end] in vocab:
                tried = len(word) - end + 1
                print(f"  at {start:2d}: {prefix + word[start:end]!r:18} found after {tried} candidate(s)")
                pieces.append(prefix + word[start:end]); start = end
                break
        else:
            print(f"  at {start:2d}: nothing matches {prefix + word[start:]!r} -> the whole word is [UNK]")
            return ["[UNK]"]
    return pieces

for word in ["unaffable", "embeddings", "tokenization", "snowboarding"]:
    print(word)
    pieces = show_wordpiece(word)
    assert pieces == tok.tokenize(word) == hf.tokenize(word), (pieces, tok.tokenize(word), hf.tokenize(word))

%% md
If some part of a word matches nothing, BERT does not keep the pieces it found: the **whole word** becomes
`[UNK]`. So does any word longer than 100 characters. Characters outside the vocabulary (emoji, most
symbols) are the usual cause.

%% code
for text in ["I love 🤗 and ☃", "x" * 101, "naïve résumé"]:
    ours, theirs = tok.tokenize(text), hf.tokenize(text)
    print(f"{text[:30]!r:34} -> {ours}")
    assert ours == theirs
assert tok.tokenize("I love 🤗") == ["i", "love", "[UNK]"]

%% md
## 5. Special tokens, pairs and token types

A single sentence becomes `[CLS] A [SEP]`; a pair becomes `[CLS] A [SEP] B [SEP]`. The **token type**
(segment) id is 0 up to and including the first `[SEP]`, 1 after it: it selects one of two learned
segment embeddings, which is how BERT tells the two sentences apart (Devlin et al. 2019, figure 2).
A batch is padded on the right with `[PAD]` (id 0); the **attention mask** is 1 on real tokens and 0
on padding.

%% code
enc = tok(["How old are you?"], ["I am six years old."])
ids = enc["input_ids"][0]
for t, i, s, m in zip(tok.convert_ids_to_tokens(ids), ids.tolist(), enc["token_type_ids"][0].tolist(),
                      enc["attention_mask"][0].tolist()):
    print(f"{t:8} {i:6} type={s} mask={m}")
ref = hf(["How old are you?"], ["I am six years old."], return_tensors="pt")
for key in ("input_ids", "token_type_ids", "attention_mask"):
    assert torch.equal(enc[key], ref[key]), key

%% code
batch = ["A man is playing a guitar.", "Hi!", "Shorter texts are padded to the longest one in the batch."]
enc = tok(batch, padding=True)
ref = hf(batch, padding=True, return_tensors="pt")
print(enc["input_ids"])
print(enc["attention_mask"])
for key in ("input_ids", "token_type_ids", "attention_mask"):
    assert torch.equal(enc[key], ref[key]), key
print(tok.decode(enc["input_ids"][1]), "|", tok.decode(enc["input_ids"][1], skip_special_tokens=True))
assert tok.decode(enc["input_ids"][1]) == hf.decode(enc["input_ids"][1])

%% md
## 6. Truncation

Inputs longer than `max_length` (BERT has 512 positions; all-MiniLM-L6-v2 was trained with 256) are cut.
For a pair, "longest first" trims the longer side until the pair fits.

%% code
a = "one two three four five six seven eight nine ten"   # 10 tokens
b = "alpha beta gamma"                                   # 3 tokens; 10 + 3 + 3 special > 10
with warnings.catch_warnings():
    warnings.simplefilter("ignore")       # the tokenizer warns once when it truncates
    enc = tok([a], [b], max_length=10, truncation=True)
print(tok.convert_ids_to_tokens(enc["input_ids"][0]))
ref = hf([a], [b], max_length=10, truncation=True, return_tensors="pt")
assert torch.equal(enc["input_ids"], ref["input_ids"])

%% md
## 7. The same ids as Hugging Face on real data

Every sentence of the STS Benchmark test split (1,379 pairs), tokenized one by one, as batches and as
pairs: ours and the reference agree on every id.

%% code
from minisbert.data import load_stsb

pairs = load_stsb("test", DATA_DIR)
s1, s2 = [p.sentence1 for p in pairs], [p.sentence2 for p in pairs]
t0 = time.perf_counter()
ours = tok(s1, s2, padding=True)
print(f"{len(pairs)} pairs tokenized in {time.perf_counter() - t0:.2f} s; batch shape {tuple(ours['input_ids'].shape)}")
ref = hf(s1, s2, padding=True, return_tensors="pt")
for key in ("input_ids", "token_type_ids", "attention_mask"):
    assert torch.equal(ours[key], ref[key]), key
mismatch = [s for s in s1 + s2 if tok.tokenize(s) != hf.tokenize(s)]
assert not mismatch, mismatch[:3]
print("identical ids on all", 2 * len(pairs), "sentences")
'''


# ==================================================================================================
NB02 = r'''
%% md
# 02 · One sentence through BERT, by hand

BERT (Devlin et al. 2019) is the encoder of the Transformer (Vaswani et al. 2017): an embedding layer,
then L identical layers of **multi-head self-attention** and a **feed-forward network**, each wrapped in
a residual connection and LayerNorm. This notebook pushes one sentence through all-MiniLM-L6-v2
(L = 6 layers, H = 384, A = 12 heads of 32 dimensions, feed-forward 1,536) with explicit torch
operations on the model's own weight tensors, and checks every intermediate tensor against Hugging
Face's `transformers.BertModel`, layer by layer, with forward hooks.

%% code
SETUP

import math
import transformers
transformers.logging.disable_progress_bar()
from minisbert import BertModel
from minisbert.tokenizer import BertTokenizer
from minisbert.trace import record_outputs, traced_module_names

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

%% md
## 1. Embeddings: word + position + segment, then LayerNorm

Each token's input vector is the sum of three learned vectors: its **word** piece, its **position**
(BERT learns one vector per position 0…511 instead of the Transformer's sinusoids) and its **segment**
(token type A or B). LayerNorm then normalises each token vector over its H features:
`(x − mean) / sqrt(var + ε) · γ + β`, with the *biased* variance and **ε = 1e-12** (the TensorFlow
value the weights were trained with).

%% code
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

%% md
## 2. One attention head, with explicit tensors

Self-attention lets every token look at every other token (Vaswani et al. 2017, §3.2.1). Head h owns
32 of the 384 dimensions: rows `h·32 … h·32+31` of the query, key and value projections.

- queries `Q = x W_Qᵀ + b_Q`, keys `K`, values `V`, each (T, 32);
- scores `S = Q Kᵀ / √32`, (T, T): how well query i matches key j; dividing by √d keeps the scores'
  variance near 1 so the softmax does not saturate;
- weights `P = softmax(S)` over the keys (each row sums to 1);
- output `P V`, (T, 32): a weighted average of the value vectors.

%% code
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

%% md
## 3. All heads at once

The twelve heads are the same computation on twelve slices. Reshaping (T, H) to (A, T, 32) runs them as
one batched matrix product; their outputs are put side by side again, (T, H).

%% code
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

%% md
## 4. Projection, residual, LayerNorm

A dense layer mixes the heads' outputs; the result is **added to the layer's input** (the residual
connection, He et al. 2016) and normalised. BERT is *post*-LN, as the original Transformer:
`a = LN(x + dense(attention(x)))`.

%% code
out = model.encoder.layer[0].attention.output
with torch.no_grad():
    a = layer_norm(emb + context @ out.dense.weight.T + out.dense.bias, out.LayerNorm)  # (T, H)
check("encoder.layer.0.attention", a, ref["encoder.layer.0.attention"][0])

%% md
## 5. The feed-forward network

Each token then goes, on its own, through two dense layers with a GELU between them: H → 4H → H.
GELU(x) = x · Φ(x) = ½ x (1 + erf(x / √2)) (Hendrycks & Gimpel 2016), the exact erf form; the popular
tanh approximation is visibly off. Residual and LayerNorm again: `y = LN(a + W₂ GELU(W₁ a))`.

%% code
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

%% md
## 6. Layer after layer

The same five steps, with each layer's own weights, six times. Below, the steps above are put in one
function and run through all layers; every layer's output is checked against the reference's hooks.
Then the library's `BertModel` is traced the same way (`minisbert.trace`, the tool to reach for when
parity breaks): every module of both models, side by side.

%% code
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

%% code
ours = record_outputs(model, names, ids, mask, types)
print(f"{'module':40} {'shape':>16}  max |Δ| vs transformers")
for name in names:
    err = (ours[name] - ref[name]).abs().max().item()
    print(f"{name:40} {str(tuple(ours[name].shape)):>16}  {err:.1e}")
    assert err < TOL, name

%% md
## 7. Padding does not leak

In a batch, shorter sentences are padded. The mask gives padded **keys** a score of −∞ before the
softmax, so no real token ever attends to padding and a sentence's vectors do not depend on its
neighbours in the batch. (The padded positions themselves get vectors too; they are ignored, and not
compared.)

%% code
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

%% md
## 8. Attention maps

Each head learns its own pattern (Clark et al. 2019, "What Does BERT Look At?"). In this model, head 2
of layer 0 attends almost only to the **previous token** — a purely positional head — while head 1 of
layer 3 links the pronoun **"it" to "animal"**, the word it refers to. Many other heads put much of
their weight on `[CLS]`, `[SEP]` or punctuation, a known "no-op" pattern.

%% code export=nb_attention
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

%% code
fig, axes = plt.subplots(2, 6, figsize=(14, 5))
for hi, ax in enumerate(axes.flat):
    ax.imshow(maps[L - 1][0, hi], cmap="viridis", vmin=0)
    ax.set_title(f"layer {L - 1}, head {hi}", fontsize=9); ax.set_xticks([]); ax.set_yticks([])
fig.suptitle(f"All {A} heads of the last layer, {T} tokens")
fig.tight_layout()
plt.show()
'''


# ==================================================================================================
NB03 = r'''
%% md
# 03 · BERT gives vectors for words

BERT turns a text into **one vector per token**, and each vector depends on the whole sentence
(Devlin et al. 2019; the "contextual word embeddings" of Peters et al. 2018). A static embedding table
gives "bank" one vector, whatever it means; BERT gives the river bank and the money bank different ones.
Vectors can then be compared with a distance. This notebook looks at both, and checks every vector
against Hugging Face.

%% code
SETUP

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

%% md
## 1. The same word in different contexts

Six sentences, three about rivers and three about money. We take the vector BERT gives the token
`bank` in each.

%% code
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

%% code
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

%% md
## 2. Cosine similarity against Euclidean distance

For vectors u and v:

- **cosine similarity** `cos(u, v) = u·v / (‖u‖ ‖v‖)`, in [−1, 1], looks only at the **direction**;
- **Euclidean distance** `‖u − v‖` also sees the **length**.

Token vectors from BERT do not all have the same length, so the two can rank neighbours differently. For
unit vectors they agree exactly: `‖u − v‖² = 2 − 2 cos(u, v)`. (Sentence models such as
all-MiniLM-L6-v2 normalise their sentence vectors for this reason; SBERT's triplet objective uses
the Euclidean distance, its regression objective the cosine.)

%% code
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

%% md
The two rankings differ. By Euclidean distance the *short* vectors (`the`, `of`, `[SEP]`) are close to
everything, simply because they are short; cosine ignores the length and ranks `river` first. On the
normalised vectors (checked above) the two rankings are the same.

%% md
## 3. A 2-D picture

The vectors live in 384 dimensions. Principal component analysis projects them onto the two directions
along which they vary most: the top right-singular vectors of the centred matrix of vectors (an exact
SVD here; `torch.pca_lowrank` is the randomised version for large matrices). Besides the six `bank`
vectors, the plot shows the vectors of a few other words in the same sentences: the two meanings of
`bank` land in different regions, near the words of their own context.

%% code export=nb_bank_pca
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

%% md
The static input vector for `bank` is one point; after six layers of attention there are two clouds.
Comparing *words* this way is what BERT is good at out of the box. Comparing *sentences* is the next
question: notebook 04 shows why BERT's own outputs make a poor sentence vector and what SBERT does
about it.
'''


# ==================================================================================================
NB04 = r'''
%% md
# 04 · Siamese BERT and pooling: from token vectors to a sentence vector

BERT gives one vector per token (notebook 03). To compare two **sentences** with BERT itself, both are
fed in together, `[CLS] a [SEP] b [SEP]`, and a classifier reads the output — a *cross-encoder*. It is
accurate, but every pair needs its own forward pass. SBERT (Reimers & Gurevych 2019) instead runs each
sentence through the same BERT **on its own** and pools its token vectors into one sentence vector;
sentences are then compared with a cosine. This notebook shows why the first does not scale, why BERT's
`[CLS]` vector is a poor sentence vector, and checks the siamese wrapper and its pooling against
sentence-transformers.

%% code
SETUP

import transformers
transformers.logging.disable_progress_bar()
from sentence_transformers import SentenceTransformer, util
from minisbert import SentenceBert
from minisbert.data import load_stsb
from minisbert.evaluate import evaluate_sts, spearman
from minisbert.pooling import cls_pooling, max_pooling, mean_pooling
from minisbert.similarity import cos_sim, pairwise_cos_sim

sbert = SentenceBert.from_pretrained(MODEL_DIR)                 # BERT -> mean pooling -> L2 normalise
st = SentenceTransformer(str(MODEL_DIR), device="cpu").eval()   # the reference
print(sbert.pooling, "| normalize:", sbert.normalize, "| max_seq_length:", sbert.max_seq_length)

%% md
## 1. Why feeding pairs does not scale

A cross-encoder scores one pair per forward pass. Finding the most similar pair among n sentences means
scoring all n(n − 1)/2 pairs; with n = 10,000 that is about 50 million passes — some 65 hours on a
V100 GPU in the SBERT paper (§1). A bi-encoder runs n passes, stores the vectors, and compares all pairs
with one matrix product (about 5 seconds in the paper). Notebook 06 measures both on this machine.

%% code
for n in [10, 100, 1_000, 10_000, 100_000]:
    print(f"n = {n:>7,}:  cross-encoder {n * (n - 1) // 2:>13,} passes   bi-encoder {n:>7,} passes")
assert 10_000 * 9_999 // 2 == 49_995_000

%% md
## 2. The siamese network

`SentenceBert` holds **one** BERT and one pooling layer. `forward(batch_a, batch_b)` runs that same
module on each batch separately: `u = pool(BERT(a))`, `v = pool(BERT(b))`. "Siamese" means the two
towers share every weight — here they are literally the same object. Nothing of `a` reaches `v`, so a
sentence's vector does not depend on what it is compared with, and can be computed once and stored.

%% code
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

%% md
## 3. Pooling: mean, max, CLS

The pooling layer turns the (T, H) token vectors of a sentence into one H-vector (SBERT §3):

- **mean**: the average over the real tokens, `Σ_t m_t h_t / Σ_t m_t`, with `m` the attention mask
  (the default, and the best in the paper's ablation, table 6);
- **max**: the element-wise maximum over the real tokens;
- **CLS**: the vector of the first token, `[CLS]`.

Padding must be kept out of all three: a `[PAD]` position still gets a vector from BERT. Below, each
pooling is written out on a padded batch and compared with `minisbert.pooling` and with
sentence-transformers' `Pooling` module.

%% code
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

%% md
## 4. Which pooling makes a good sentence vector? STS Benchmark

The STS Benchmark (Cer et al. 2017) gives sentence pairs a gold similarity from 0 to 5. The SBERT
protocol (§4.1): embed both sentences, take the cosine, and report the **Spearman rank correlation**
with the gold scores (×100). We pool the *same* pretrained all-MiniLM-L6-v2 token vectors three ways,
and add BERT's own "sentence vector", the pooler output `tanh(W h_CLS + b)` trained for next-sentence
prediction. To stay within a minute on two CPU cores this uses **a random sample of 400 of the 1,379 test
pairs** (seed 0). The full split gives the same ordering (measured once, outside this notebook: mean 82.0,
max 78.8, CLS 73.5, pooler 73.1).

%% code
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

%% md
Mean pooling wins, and `[CLS]` alone is far behind. That is the paper's finding (table 1: BERT's CLS
vector scores *below* averaged GloVe word vectors): `[CLS]` was trained for next-sentence prediction,
not to place similar sentences close together, and all-MiniLM-L6-v2 was fine-tuned with mean pooling,
so only the average of its token vectors carries the trained geometry. The vectors of one BERT pass
serve all four columns; only the last, cheap step differs.

## 5. A similarity matrix

Eight sentences on four topics, encoded once each; all 28 pairs are then one (8, 384) × (384, 8) matrix
product. Paraphrases light up even when they share no content word.

%% code export=nb_similarity
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
'''


# ==================================================================================================
NB05 = r'''
%% md
# 05 · The three SBERT objectives, and one training step by hand

SBERT (Reimers & Gurevych 2019, §3) fine-tunes the siamese network with one of three objectives on the
sentence vectors u, v (and, for triplets, a, p, n):

| objective | formula | data |
|---|---|---|
| classification | `o = softmax(W · [u; v; abs(u − v)])`, W of shape (k, 3H), cross-entropy | NLI labels (here SICK's entailment labels) |
| regression | `(cos(u, v) − y)²`, mean squared error | gold similarity y in [0, 1] (STSb score / 5) |
| triplet | `max(‖a − p‖ − ‖a − n‖ + ε, 0)`, Euclidean, ε = 1 | (anchor, positive, negative) |

This notebook writes each loss out on real vectors, checks the loss **and the gradient of every one of
BERT's parameters** against sentence-transformers' `SoftmaxLoss`, `CosineSimilarityLoss` and
`TripletLoss`, takes one optimisation step by hand, and ends with a short real training run.

%% code
SETUP

import torch.nn.functional as F
import transformers
transformers.logging.disable_progress_bar()
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss, SoftmaxLoss, TripletLoss
from minisbert import SentenceBert
from minisbert.data import SICK_LABELS
from minisbert.examples import sick_classification, sick_triplets, stsb_regression
from minisbert.objectives import ClassificationObjective, RegressionObjective, TripletObjective

ours = SentenceBert.from_pretrained(MODEL_DIR).eval()              # eval: dropout off, so both libraries
st = SentenceTransformer(str(MODEL_DIR), device="cpu").eval()       # compute the same function
ours_params = dict(ours.bert.named_parameters())
st_params = dict(st[0].model.named_parameters())                    # the same names: the checkpoint's
assert ours_params.keys() == st_params.keys()

def zero_grads():
    ours.zero_grad(set_to_none=True); st.zero_grad(set_to_none=True)

def compare_gradients():
    """Largest |Δ| over the gradients of all BERT parameters (the pooler gets none: mean pooling skips it)."""
    diffs = {n: (p.grad - st_params[n].grad).abs().max().item() for n, p in ours_params.items() if p.grad is not None}
    largest = max(p.grad.abs().max().item() for p in ours_params.values() if p.grad is not None)
    worst = max(diffs, key=diffs.get)
    print(f"gradients of {len(diffs)} parameter tensors: largest entry {largest:.1e}, "
          f"max |Δ| vs sentence-transformers {diffs[worst]:.1e} ({worst})")
    assert diffs[worst] < TOL and largest > 100 * TOL
    return diffs

def embed(texts):
    return ours.embed(ours.tokenize(texts))                         # (B, H), with autograd

%% md
## 1. Classification: softmax over [u; v; |u − v|]

The classifier sees both vectors and their element-wise distance `|u − v|`: a linear layer on u and v
alone could not compute how far apart they are. The paper's ablation (table 6) found this
concatenation best. Six SICK pairs, one of each label at least:

%% code
examples = sick_classification("train", DATA_DIR)[:6]
for e in examples:
    print(f"{e.label:13} | {e.a} | {e.b}")
labels = torch.tensor([SICK_LABELS.index(e.label) for e in examples])

torch.manual_seed(0)
objective = ClassificationObjective(ours, SICK_LABELS).eval()
st_loss_fn = SoftmaxLoss(st, st.get_embedding_dimension(), len(SICK_LABELS))
with torch.no_grad():
    # A head with weights of order 1 (as after training): nn.Linear's small initial weights on unit
    # vectors give near-zero gradients, and a comparison of near-zero numbers would prove little.
    objective.classifier.weight.normal_(0, 1); objective.classifier.bias.normal_(0, 1)
    st_loss_fn.classifier.weight.copy_(objective.classifier.weight)
    st_loss_fn.classifier.bias.copy_(objective.classifier.bias)

zero_grads()
u, v = embed([e.a for e in examples]), embed([e.b for e in examples])       # (6, H) each
features = torch.cat([u, v, (u - v).abs()], dim=1)                          # (6, 3H)
W, b = objective.classifier.weight, objective.classifier.bias               # (3, 3H), (3,)
logits = features @ W.T + b                                                 # (6, 3)
log_p = logits - logits.logsumexp(dim=1, keepdim=True)                      # log softmax
loss = -log_p[torch.arange(len(examples)), labels].mean()                   # cross-entropy
loss.backward()
st_loss = st_loss_fn([st.preprocess([e.a for e in examples]), st.preprocess([e.b for e in examples])], labels)
st_loss.backward()
print(f"W: {tuple(W.shape)}   loss by hand {loss.item():.6f}   minisbert {objective(examples).item():.6f}   "
      f"sentence-transformers {st_loss.item():.6f}")
assert abs(loss.item() - st_loss.item()) < TOL and abs(objective(examples).item() - loss.item()) < TOL
_ = compare_gradients()
assert (W.grad - st_loss_fn.classifier.weight.grad).abs().max() < TOL

%% md
## 2. Regression: cosine similarity against the gold score

`cos(u, v)` is what the vectors are compared with after training, so the model is trained on exactly that
number. STSb scores (0–5) are scaled to [0, 1] where the data is read (`minisbert.examples`).

This is also where we take **one full training step by hand**: forward, loss, backward, then move every
weight against its gradient, `w ← w − η ∇w`, in both libraries. The two models must stay identical and
the loss must go down.

%% code
examples = stsb_regression("train", DATA_DIR)[:8]
y = torch.tensor([e.label for e in examples])
zero_grads()
u, v = embed([e.a for e in examples]), embed([e.b for e in examples])
cos = (u * v).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1))                    # (8,)
loss = ((cos - y) ** 2).mean()
loss.backward()
features = [st.preprocess([e.a for e in examples]), st.preprocess([e.b for e in examples])]
st_loss = CosineSimilarityLoss(st)(features, y)
st_loss.backward()
print("gold  ", y)
print("cosine", cos.detach())
print(f"loss by hand {loss.item():.6f}   minisbert {RegressionObjective(ours)(examples).item():.6f}   "
      f"sentence-transformers {st_loss.item():.6f}")
assert abs(loss.item() - st_loss.item()) < TOL
_ = compare_gradients()

%% code
lr = 1e-3                                       # plain gradient descent, one step
with torch.no_grad():
    for name, p in ours_params.items():
        if p.grad is not None:
            p -= lr * p.grad
            st_params[name] -= lr * st_params[name].grad
    after = RegressionObjective(ours)(examples).item()
    st_after = CosineSimilarityLoss(st)(features, y).item()
weight_diff = max((p - st_params[n]).abs().max().item() for n, p in ours_params.items())
print(f"loss before {loss.item():.6f} -> after one step {after:.6f}  (sentence-transformers: {st_after:.6f})")
print(f"largest difference between the two models' weights after the step: {weight_diff:.1e}")
assert after < loss.item() and abs(after - st_after) < TOL and weight_diff < 1e-6

%% md
## 3. Triplet: the anchor closer to the positive than to the negative, by a margin

`max(‖a − p‖ − ‖a − n‖ + ε, 0)`: zero once the negative is at least ε farther from the anchor than the
positive. The margin keeps the model from "solving" the task by putting every sentence on one point.
The triplets come from SICK: a sentence, one it entails, one that contradicts it. (The models here are
the ones after the step above — still identical in both libraries.)

%% code
triplets = sick_triplets("train", DATA_DIR)[:5]
print(triplets[0])
zero_grads()
a, p, n = (embed([getattr(t, f) for t in triplets]) for f in ("anchor", "positive", "negative"))
d_ap, d_an = (a - p).norm(dim=-1), (a - n).norm(dim=-1)
loss = torch.clamp(d_ap - d_an + 1.0, min=0).mean()
loss.backward()
st_loss = TripletLoss(st, triplet_margin=1.0)(                # the paper's ε = 1 (sentence-transformers' default is 5)
    [st.preprocess([getattr(t, f) for t in triplets]) for f in ("anchor", "positive", "negative")], None)
st_loss.backward()
print("‖a − p‖", d_ap.detach(), "\n‖a − n‖", d_an.detach())
print(f"loss by hand {loss.item():.6f}   minisbert {TripletObjective(ours)(triplets).item():.6f}   "
      f"sentence-transformers {st_loss.item():.6f}")
assert abs(loss.item() - st_loss.item()) < TOL and loss.item() > 0
_ = compare_gradients()

%% md
## 4. A short real training run

`minisbert.train.train` follows the paper's recipe (§3, "training details"): batches of 16, Adam with
learning rate 2e-5 (AdamW with weight decay 0.01 here, as in BERT's fine-tuning), a linear warm-up over
10 % of the steps, dropout on. Here: the classification objective on **336 SICK
training pairs, 112 of each label** (21 steps, one epoch; SICK is two-thirds NEUTRAL, and on the raw
slice a short run only learns to answer NEUTRAL). The head is new, so it gets a larger learning rate
(1e-2), and it reads the pooled vectors *before* L2 normalisation (normalised vectors have entries around
1/√384, on which a fresh head learns slowly). Accuracy is measured on 210 SICK test pairs, 70 of each
label (chance: 33 %), before and after. A demonstration sized to run in well under a minute on two CPU
cores, not a recipe for a good model.

%% code export=nb_loss_curve
from minisbert.train import TrainConfig, train

model = SentenceBert.from_pretrained(MODEL_DIR)                       # fresh weights
torch.manual_seed(0)
objective = ClassificationObjective(model, SICK_LABELS, normalize=False)

def balanced(examples, k):
    """The first k examples of each label, in file order."""
    return [e for label in SICK_LABELS for e in [e for e in examples if e.label == label][:k]]

train_examples = balanced(sick_classification("train", DATA_DIR), 112)    # 336 pairs
test_examples = balanced(sick_classification("test", DATA_DIR), 70)       # 210 pairs
before = objective.accuracy(test_examples)
t0 = time.perf_counter()
state = train(objective, train_examples, TrainConfig(epochs=1, batch_size=16, head_lr=1e-2, seed=0, progress=False))
seconds = time.perf_counter() - t0
after = objective.accuracy(test_examples)
print(f"{state.step} steps in {seconds:.1f} s; test accuracy {before:.1f}% -> {after:.1f}% on "
      f"{len(test_examples)} balanced pairs (chance 33.3%)")

losses = np.array(state.losses)
smooth = np.convolve(losses, np.ones(5) / 5, mode="valid")
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(np.arange(1, len(losses) + 1), losses, "o-", alpha=0.4, label="loss per batch")
ax.plot(np.arange(5, len(losses) + 1), smooth, lw=2, label="mean of the last 5")
ax.set_xlabel("step (batch of 16 SICK pairs)"); ax.set_ylabel("cross-entropy")
ax.set_xticks(range(0, len(losses) + 1, 5))
ax.set_title(f"Classification objective on SICK: test accuracy {before:.0f}% → {after:.0f}% (chance 33%)")
ax.legend()
fig.tight_layout()
plt.show()
assert losses[-5:].mean() < losses[:5].mean() and after > before + 10
'''


# ==================================================================================================
NB06 = r'''
%% md
# 06 · Cross-encoder against bi-encoder: what comparing every pair costs

To find the most similar pair among n sentences, a **cross-encoder** (BERT reading both sentences at once,
Devlin et al. 2019 §4.1) must run once per pair: n(n − 1)/2 forward passes. For n = 10,000 that is
49,995,000 passes, which the SBERT paper (Reimers & Gurevych 2019, §1) puts at about **65 hours** on a
V100 GPU. A **bi-encoder** (SBERT) runs n passes, one per sentence, and compares the stored vectors with
a matrix product: about **5 seconds**. This notebook measures both on the machine that runs it, with the
same hand-written BERT (all-MiniLM-L6-v2) on both sides, using `minisbert.cost`.

%% code
SETUP

import tempfile
from IPython.display import Image, display
import transformers
transformers.logging.disable_progress_bar()
from minisbert import SentenceBert
from minisbert.cross_encoder import CrossEncoder
from minisbert.cost import (extrapolate_seconds, format_table, loglog_slope, mining_sentences, n_pairs,
                            plot_cost, run_cost)
from minisbert.similarity import paraphrase_mining

bi = SentenceBert.from_pretrained(MODEL_DIR)
cross = CrossEncoder.from_pretrained(MODEL_DIR)       # the same BERT plus a new (untrained) one-output head
print(cross.extra_repr(), "| torch threads:", torch.get_num_threads())

%% md
## 1. What a cross-encoder reads

Both sentences in one input, `[CLS] a [SEP] b [SEP]`, token types 0 then 1; every token of `a` attends
to every token of `b` in every layer. The score is a linear layer on BERT's pooled `[CLS]` vector — the
head of `transformers.BertForSequenceClassification`, which we check it against (same weights, same
logits). The head here is untrained: its scores mean nothing yet, but its **cost** is that of any
cross-encoder, and cost is what this notebook is about.

%% code
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

%% md
## 2. Measured here

Paraphrase mining among the first n of a fixed shuffle of the STS Benchmark and SICK sentences, for
growing n. The bi-encoder does the whole job at every n (encode, then the top pairs by cosine,
`minisbert.similarity.paraphrase_mining`). The cross-encoder scores every pair for real while that fits
in a budget of 15 seconds; beyond it, its time is the number of pairs divided by its measured rate
(the work per pair does not depend on n, so that is plain arithmetic). Small sizes keep the notebook
short; `python -m minisbert cost` runs the same experiment up to n = 10,000.

%% code
sentences = mining_sentences(400, DATA_DIR)
report = run_cost(bi, cross, sentences, sizes=(10, 20, 40, 100, 200, 400), cross_budget=15.0, agreement_n=None)
print()
print(format_table(report))

rows = report.rows
ratios = [r.cross_seconds / r.bi_seconds for r in rows]
assert sum(r.cross_measured for r in rows) >= 1 and all(r.pairs == r.n * (r.n - 1) // 2 for r in rows)
assert ratios[-1] > ratios[0] > 1                    # the gap widens with n
assert loglog_slope([r.n for r in rows], [r.bi_seconds for r in rows]) < 1.5   # the bi-encoder is ~linear

%% md
## 3. The paper's n = 10,000, on this machine

The cross-encoder's time follows from its rate. The bi-encoder's is 10,000 encodes at its measured rate
plus the mining itself, which we time directly on 10,000 random unit vectors (the search does not care
what the vectors mean).

%% code
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

%% md
## 4. The cost plot

On log–log axes a cost proportional to n² is a line of slope 2, one proportional to n a line of slope 1:
the cross-encoder's line (measured points filled, extrapolated ones open) rises twice as steeply as the
bi-encoder's, and the gap between them is the factor that made SBERT practical.

%% code export=nb_cost
with tempfile.TemporaryDirectory() as tmp:
    path = plot_cost(report, Path(tmp) / "cost.png")
    display(Image(filename=str(path)))
'''


# ==================================================================================================
# Building, running, checking

NOTEBOOKS = {
    "01_tokenizer": NB01,
    "02_bert_step_by_step": NB02,
    "03_word_embeddings": NB03,
    "04_siamese_and_pooling": NB04,
    "05_objectives": NB05,
    "06_cross_vs_bi_encoder": NB06,
}


def parse_cells(source: str) -> list:
    '''The cells of one notebook source: ``%% md`` / ``%% code [export=name]`` start a cell.'''
    cells, kind, meta, lines = [], None, {}, []

    def flush():
        if kind is None:
            return
        text = "\n".join(lines).strip("\n")
        text = text.replace("SETUP", SETUP.strip("\n")) if kind == "code" and text.startswith("SETUP") else text
        cell = nbformat.v4.new_markdown_cell(text) if kind == "md" else nbformat.v4.new_code_cell(text)
        cell.metadata.update(meta)
        cells.append(cell)

    for line in source.strip("\n").split("\n"):
        if line.startswith("%% md") or line.startswith("%% code"):
            flush()
            words = line[3:].split()
            kind, meta, lines = words[0], {}, []
            for word in words[1:]:
                key, _, value = word.partition("=")
                assert key == "export" and value, f"unknown cell option {word!r}"
                meta["export"] = value
        else:
            lines.append(line)
    flush()
    return cells


def build(name: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = parse_cells(NOTEBOOKS[name])
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):  # stable ids, so a rebuild does not churn the diff
        cell["id"] = f"{name[:2]}-{i:02d}"
    return nb


def execute(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    # The kernel inherits this environment: the data folder, and this checkout first on the path (so
    # the notebooks run this repository's minisbert, whatever the venv has installed).
    if not os.environ.get("MINISBERT_DATA") and (REPO.parent / "shared" / "data").is_dir():
        os.environ["MINISBERT_DATA"] = str(REPO.parent / "shared" / "data")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as tests/test_notebooks.py runs them (see there)
    NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=KERNEL, resources={"metadata": {"path": str(HERE)}}).execute()
    return nb


def export_images(nb: nbformat.NotebookNode) -> list[Path]:
    written = []
    for cell in nb.cells:
        target = cell.metadata.get("export")
        if not target:
            continue
        pngs = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        assert pngs, f"cell marked export={target} drew no picture"
        DOCS.mkdir(exist_ok=True)
        path = DOCS / f"{target}.png"
        path.write_bytes(base64.b64decode(pngs[0]))
        written.append(path)
    return written


def sources(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def check() -> list[str]:
    '''Names of committed notebooks whose cells differ from what this file builds (or that are missing).'''
    stale = []
    for name in NOTEBOOKS:
        path = HERE / f"{name}.ipynb"
        if not path.is_file() or sources(nbformat.read(path, as_version=4)) != sources(build(name)):
            stale.append(name)
    return stale


def main(argv: list[str]) -> int:
    if argv[:1] == ["--check"]:
        stale = check()
        print("stale:", ", ".join(stale) if stale else "none")
        return 1 if stale else 0
    names = [n for n in NOTEBOOKS if not argv or any(n.startswith(a) for a in argv)]
    for name in names:
        nb = build(name)
        t0 = time.perf_counter()
        try:
            execute(nb)
        except Exception:
            failed = Path(os.environ.get("TMPDIR", "/tmp")) / f"{name}.failed.ipynb"
            nbformat.write(nb, failed)
            print(f"{name}: FAILED; the partly executed notebook is in {failed}", file=sys.stderr)
            raise
        seconds = time.perf_counter() - t0
        nbformat.write(nb, HERE / f"{name}.ipynb")
        images = export_images(nb)
        print(f"{name}: executed in {seconds:.1f} s" + "".join(f", wrote {p.relative_to(REPO)}" for p in images))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
