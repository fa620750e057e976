# %% [markdown]
# # 01 · The tokenizer: from raw text to ids
#
# BERT never sees characters. It reads a sequence of integer **ids**, one per *WordPiece* — a word or a
# piece of a word from a fixed vocabulary of 30,522 entries (Devlin et al. 2019, §3 and appendix A;
# WordPiece is from Wu et al. 2016, §4.1). This notebook takes text apart the way
# `minisbert/tokenizer.py` does, step by step, and checks at every step that the ids are the ones Hugging
# Face's tokenizer (the Rust `tokenizers` library behind `transformers.BertTokenizer`) produces.
#
# The steps, in order: **clean** → **space out CJK ideographs** → **strip accents** → **lower-case** →
# **split on whitespace and punctuation** → **WordPiece** each word → add **`[CLS]`/`[SEP]`**, truncate,
# pad.

# %% [markdown]
# **You will learn** how BERT turns raw text into ids: cleaning, accents, lower case, punctuation, WordPiece's
# greedy longest match, `[UNK]`, sentence pairs and token types, truncation and padding.
#
# **Read alongside**: [`minisbert/tokenizer.py`](../minisbert/tokenizer.py).
#
# **Afterwards**: exercises 1 `basic_tokenize` and 2 `wordpiece` — write them in `exercises/`, then `python -m
# minisbert grade basic_tokenize wordpiece` (see [exercises/README.md](../exercises/README.md)).
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
from _setup import MODEL_DIR, DATA_DIR  # weights, data folder; seeds fixed

# %%
import time
import unicodedata
import warnings

import torch
import transformers
from minisbert.tokenizer import BertTokenizer, basic_tokenize

tok = BertTokenizer.from_pretrained(MODEL_DIR)                 # ours: reads vocab.txt + tokenizer_config.json
hf = transformers.BertTokenizer.from_pretrained(str(MODEL_DIR))  # the reference (Rust tokenizers)
print(tok)
print("reference:", type(hf).__name__, "vocab", hf.vocab_size)
assert tok.vocab == hf.get_vocab()  # same 30,522 (token, id) entries

# %% [markdown]
# ## 1. Cleaning
#
# Before anything else the text is cleaned: the NUL character, the replacement character U+FFFD and
# "other" characters (control Cc, format Cf such as the zero-width space, private use Co) are dropped;
# every kind of whitespace (tab, newline, no-break space, any category Zs) becomes a plain space.
# `basic_tokenize` runs steps 1–5; with lower-casing and accent stripping turned off we see cleaning and
# splitting alone.

# %%
text = "Tab\there,\u00a0no-break\u00a0space, zero\u200bwidth, NUL\x00 and \ufffd."
for ch in ["\t", "\u00a0", "\u200b", "\x00", "\ufffd"]:
    print(f"U+{ord(ch):04X}  {unicodedata.category(ch)}  {unicodedata.name(ch, '<control>')}")
words = basic_tokenize(text, do_lower_case=False, strip_accents=False)
print(words)
assert "zerowidth" in words                      # U+200B (Cf) is dropped, gluing the two halves
assert "no" in words and "break" in words       # U+00A0 (Zs) is a space; "-" is punctuation

# %% [markdown]
# ## 2. CJK ideographs, accents, case
#
# Chinese and Japanese kanji are written without spaces, so every CJK ideograph becomes a word of its own
# (Hangul, hiragana and katakana are not split this way). The uncased model then strips accents —
# Unicode NFD splits `é` into `e` + U+0301 COMBINING ACUTE ACCENT (category Mn), and the marks are
# dropped — and lower-cases.

# %%
word = "Café"
nfd = unicodedata.normalize("NFD", word)
print([f"{c!r} {unicodedata.category(c)}" for c in nfd])
print(basic_tokenize("Crème Brûlée at the CAFÉ"))
print(basic_tokenize("我喜欢BERT"))
assert basic_tokenize("Crème Brûlée at the CAFÉ") == ["creme", "brulee", "at", "the", "cafe"]
assert basic_tokenize("我喜欢BERT") == ["我", "喜", "欢", "bert"]

# %% [markdown]
# ## 3. Punctuation
#
# Every punctuation character is cut out as a one-character word. BERT's rule: all non-alphanumeric
# ASCII (so `$`, `^` and `` ` ``, which Unicode calls symbols, split too) plus Unicode category P*.
# Non-ASCII symbols such as `€`, `£` and `°` are not punctuation, so they stay inside their word.

# %%
text = "Don't pay $5 (or €5) at 100°C, e.g. x^2!"
print(basic_tokenize(text))
assert basic_tokenize(text) == ["don", "'", "t", "pay", "$", "5", "(", "or", "€5", ")", "at", "100°c",
                                ",", "e", ".", "g", ".", "x", "^", "2", "!"]


# %% [markdown]
# ## 4. WordPiece: greedy longest match first
#
# Each word is spelled with vocabulary pieces: take the **longest** prefix that is in the vocabulary, then
# the longest continuation piece (written with a `##` prefix) from where it ended, and so on. It is
# greedy, not linguistic: `unaffable` becomes `una ##ffa ##ble`, not `un ##aff ##able`. The cell below
# prints every match as it is found (a display loop over `tok.vocab`; the library's `_wordpiece` does the
# same search) and checks the result against both tokenizers.

# %%
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

# %% [markdown]
# If some part of a word matches nothing, BERT does not keep the pieces it found: the **whole word** becomes
# `[UNK]`. So does any word longer than 100 characters. Characters outside the vocabulary (emoji, most
# symbols) are the usual cause.

# %%
for text in ["I love 🤗 and ☃", "x" * 101, "naïve résumé"]:
    ours, theirs = tok.tokenize(text), hf.tokenize(text)
    print(f"{text[:30]!r:34} -> {ours}")
    assert ours == theirs
assert tok.tokenize("I love 🤗") == ["i", "love", "[UNK]"]

# %% [markdown]
# ## 5. Special tokens, pairs and token types
#
# A single sentence becomes `[CLS] A [SEP]`; a pair becomes `[CLS] A [SEP] B [SEP]`. The **token type**
# (segment) id is 0 up to and including the first `[SEP]`, 1 after it: it selects one of two learned
# segment embeddings, which is how BERT tells the two sentences apart (Devlin et al. 2019, figure 2).
# A batch is padded on the right with `[PAD]` (id 0); the **attention mask** is 1 on real tokens and 0
# on padding.

# %%
enc = tok(["How old are you?"], ["I am six years old."])
ids = enc["input_ids"][0]
for t, i, s, m in zip(tok.convert_ids_to_tokens(ids), ids.tolist(), enc["token_type_ids"][0].tolist(),
                      enc["attention_mask"][0].tolist()):
    print(f"{t:8} {i:6} type={s} mask={m}")
ref = hf(["How old are you?"], ["I am six years old."], return_tensors="pt")
for key in ("input_ids", "token_type_ids", "attention_mask"):
    assert torch.equal(enc[key], ref[key]), key

# %%
batch = ["A man is playing a guitar.", "Hi!", "Shorter texts are padded to the longest one in the batch."]
enc = tok(batch, padding=True)
ref = hf(batch, padding=True, return_tensors="pt")
print(enc["input_ids"])
print(enc["attention_mask"])
for key in ("input_ids", "token_type_ids", "attention_mask"):
    assert torch.equal(enc[key], ref[key]), key
print(tok.decode(enc["input_ids"][1]), "|", tok.decode(enc["input_ids"][1], skip_special_tokens=True))
assert tok.decode(enc["input_ids"][1]) == hf.decode(enc["input_ids"][1])

# %% [markdown]
# ## 6. Truncation
#
# Inputs longer than `max_length` (BERT has 512 positions; all-MiniLM-L6-v2 was trained with 256) are cut.
# For a pair, "longest first" trims the longer side until the pair fits.

# %%
a = "one two three four five six seven eight nine ten"   # 10 tokens
b = "alpha beta gamma"                                   # 3 tokens; 10 + 3 + 3 special > 10
with warnings.catch_warnings():
    warnings.simplefilter("ignore")       # the tokenizer warns once when it truncates
    enc = tok([a], [b], max_length=10, truncation=True)
print(tok.convert_ids_to_tokens(enc["input_ids"][0]))
ref = hf([a], [b], max_length=10, truncation=True, return_tensors="pt")
assert torch.equal(enc["input_ids"], ref["input_ids"])

# %% [markdown]
# ## 7. The same ids as Hugging Face on real data
#
# Every sentence of the STS Benchmark test split (1,379 pairs), tokenized one by one, as batches and as
# pairs: ours and the reference agree on every id.

# %%
from minisbert.io.data import load_stsb

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

# %% [markdown]
# ## Next
#
# You can now tokenize any text as BERT does and explain every id, including the `##` pieces and `[UNK]`.
#
# 1. Write exercises 1 `basic_tokenize` and 2 `wordpiece` in `exercises/` and grade them: `python -m minisbert
#    grade basic_tokenize wordpiece`. When one passes, read the library's version beside yours.
# 2. Then open notebook [02 · BERT step by step](02_bert_step_by_step.ipynb): the ids go through the model.
