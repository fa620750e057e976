"""The catalogue of usual mistakes, written out so that a student's result can be recognised as one of
them: each is the right computation with one step changed, and each carries the hint that names it. A
hint is shown only when the student's result equals the mistake's on the graded inputs."""

from __future__ import annotations

import math
import unicodedata

import torch
import torch.nn.functional as F

from ..tokenizer import _is_cjk, _is_control, _is_whitespace


def _is_punct_bert(c: str) -> bool:
    cp = ord(c)
    return 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126 or unicodedata.category(c).startswith("P")


def basic_variant(text: str, lower=True, accents=True, cjk=True, punct="bert", clean=True, split=str.split) -> list[str]:
    """basic_tokenize with one step changed or left out; the steps are those of minisbert/tokenizer.py."""
    out = []
    for c in text:
        if clean and (c in "\x00\ufffd" or _is_control(c)):
            continue
        c = " " if clean and _is_whitespace(c) else c
        out.append(f" {c} " if cjk and _is_cjk(ord(c)) else c)
    text = "".join(out)
    if accents:
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    if lower:
        text = text.replace("\u03a3", "\u03c3").lower()
    is_punct = {"bert": _is_punct_bert, "none": lambda c: False,
                "unicode": lambda c: unicodedata.category(c).startswith("P"),
                "ascii": lambda c: c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"}[punct]
    return [t for t in split("".join(f" {c} " if is_punct(c) else c for c in text)) if t is not None]


BASIC_WRONGS = [
    ("no lower-casing: the model is uncased, every word is lower-cased", lambda t: basic_variant(t, lower=False)),
    ("accents are kept: strip them (NFD, then drop the characters of category Mn)", lambda t: basic_variant(t, accents=False)),
    ("punctuation is not split off: every punctuation character is a token of its own",
     lambda t: basic_variant(t, punct="none")),
    ("only Unicode punctuation (category P*) is split: BERT also splits the ASCII symbols $ + < = > ^ ` | ~ "
     "(ASCII 33-47, 58-64, 91-96, 123-126)", lambda t: basic_variant(t, punct="unicode")),
    ("only ASCII punctuation is split: beyond ASCII, every character of Unicode category P* (“ ” … — ¿) splits too",
     lambda t: basic_variant(t, punct="ascii")),
    ("CJK ideographs need spaces around them (each one is a word)", lambda t: basic_variant(t, cjk=False)),
    ("control characters (category Cc, Cf) and U+FFFD are dropped, and every whitespace (\\t, \\n, U+00A0, ...) "
     "becomes a space", lambda t: basic_variant(t, clean=False)),
    ("split on runs of whitespace (str.split()), not on single spaces: no empty tokens",
     lambda t: basic_variant(t, split=lambda s: s.split(" "))),
]

BASIC_INPUTS = [
    "Hello, World!",
    "Héllo Wörld: naïve café, résumé and Ångström",
    "don't stop-believing; it's 5.00$ (or 4^2 = 16) ~ really?",
    "  tabs\tand\nnewlines\r\n  and   runs of spaces  ",
    "control\x00chars\x07and\u200bzero width\ufffdhere",
    "中文字符 mixed with English 日本語",
    "50°C costs €10 or £8",
    "“Quoted” ‘text’… ellipsis — dash ¿qué?",
    "a\u00a0non-breaking\u2003em space",
    "e-mail: someone@example.com #tag [brackets] {braces} <angle> C++ |pipe| `tick`",
    "",
]


def wordpiece_variant(word: str, vocab, prefix="##", longest=True, unk_whole=True, limit=100,
                      strict=True) -> list[str]:
    if limit and (len(word) > limit if strict else len(word) >= limit):
        return ["[UNK]"]
    pieces, start = [], 0
    while start < len(word):
        ends = range(len(word), start, -1) if longest else range(start + 1, len(word) + 1)
        end = next((e for e in ends if ((prefix if start else "") + word[start:e]) in vocab), None)
        if end is None:
            if unk_whole:
                return ["[UNK]"]
            pieces.append("[UNK]")
            start += 1
            continue
        pieces.append((prefix if start else "") + word[start:end])  # as looked up
        start = end
    return pieces


WORDPIECE_WRONGS = [
    ("continuation pieces are looked up and returned with the '##' prefix (un ##aff ##able): a piece that "
     "does not start the word is '##' + the piece", lambda w, v: wordpiece_variant(w, v, prefix="")),
    ("greedy means longest match first: try the longest prefix, then shorten it", lambda w, v: wordpiece_variant(w, v, longest=False)),
    ("if any part of the word has no piece, the whole word is ['[UNK]'], not just that part",
     lambda w, v: wordpiece_variant(w, v, unk_whole=False)),
    ("a word longer than 100 characters is ['[UNK]'] without looking it up", lambda w, v: wordpiece_variant(w, v, limit=0)),
    ("a word of exactly 100 characters is still looked up: only a word LONGER than 100 is ['[UNK]'] (> 100, not >= 100)",
     lambda w, v: wordpiece_variant(w, v, strict=False)),
]

TINY_VOCAB = frozenset(["[UNK]", "[CLS]", "[SEP]", "[PAD]", "un", "unw", "##aff", "##able", "want", "##want",
                        "##ed", "wa", "un##", "runn", "##ing", "##n", "##i", "a", "##a", "ab", "##b"])
TINY_WORDS = ["unaffable", "unwanted", "running", "unwantedx", "aab", "abab", "a", "want", "xyz"]


def layer_norm(x, weight, bias, eps):
    mu = x.mean(-1, keepdim=True)
    var = x.var(-1, keepdim=True, unbiased=False)
    return (x - mu) / torch.sqrt(var + eps) * weight + bias


def attention_variant(x, w, mask, num_heads, scale="sqrt_d", softmax_dim=-1, masked=True, merge="transpose",
                       split="heads_first", project=True):
    """Multi-head self-attention on a layer's weights ``w`` (checkpoint keys), with one step changed."""
    B, T, H = x.shape
    d = H // num_heads
    q, k, v = (F.linear(x, w[f"attention.self.{n}.weight"], w[f"attention.self.{n}.bias"]) for n in ("query", "key", "value"))

    def heads(t):
        if split == "heads_first":
            return t.view(B, T, num_heads, d).transpose(1, 2)  # (B, nh, T, d)
        if split == "no_transpose":
            return t.reshape(B, num_heads, T, d)  # (B, T, H) read as (B, nh, T, d): positions and heads mixed
        return t.view(B, T, d, num_heads).permute(0, 3, 1, 2)  # (B, nh, T, d), the columns dealt out wrongly

    q, k, v = heads(q), heads(k), heads(v)
    scores = q @ k.transpose(-2, -1)  # (B, nh, T, T)
    scores = scores / {"sqrt_d": math.sqrt(d), "none": 1.0, "d": d, "sqrt_H": math.sqrt(H)}[scale]
    if masked:
        scores = scores.masked_fill(mask[:, None, None, :] == 0, torch.finfo(scores.dtype).min)
    context = scores.softmax(dim=softmax_dim) @ v  # (B, nh, T, d)
    if merge == "transpose":
        context = context.transpose(1, 2).reshape(B, T, H)  # (B, T, nh·d)
    else:
        context = context.reshape(B, T, H)  # the heads' rows mixed up: (B, nh, T, d) read as (B, T, H)
    if project:
        context = F.linear(context, w["attention.output.dense.weight"], w["attention.output.dense.bias"])
    return context


def layer_variant(x, w, mask, num_heads, eps=1e-12, act="erf", pre_ln=False, residual=True):
    """A BERT layer (post-LayerNorm) with one step changed."""
    act = {"erf": lambda t: F.gelu(t), "tanh": lambda t: F.gelu(t, approximate="tanh"), "relu": F.relu}[act]
    ln1 = lambda t: layer_norm(t, w["attention.output.LayerNorm.weight"], w["attention.output.LayerNorm.bias"], eps)
    ln2 = lambda t: layer_norm(t, w["output.LayerNorm.weight"], w["output.LayerNorm.bias"], eps)
    ffn = lambda t: F.linear(act(F.linear(t, w["intermediate.dense.weight"], w["intermediate.dense.bias"])),
                             w["output.dense.weight"], w["output.dense.bias"])
    r = 1.0 if residual else 0.0
    if pre_ln:
        a = x + attention_variant(ln1(x), w, mask, num_heads)
        return a + ffn(ln2(a))
    a = ln1(r * x + attention_variant(x, w, mask, num_heads))
    return ln2(r * a + ffn(a))



ATTENTION_USUAL = "scores = q·kᵀ / √d, padded keys to -inf before a softmax over the keys (the last axis), then · v"


def attention_wrongs(x, w, mask, num_heads, head: int | None = None):
    """The usual attention mistakes; for one head, the slice of that head's output, before the projection."""
    def pick(**kw):
        def compute():
            out = attention_variant(x, w, mask, num_heads, **{"project": head is None, **kw})
            if head is None:
                return out
            d = x.shape[-1] // num_heads
            return out[..., head * d:(head + 1) * d]
        return compute

    d = x.shape[-1] // num_heads
    return [
        (f"the scores are not divided by √d (d = {d}, the head size): softmax(q·kᵀ / √d)", pick(scale="none")),
        ("divide by √d, the square root of the head size, not by d itself", pick(scale="d")),
        (f"d in √d is the head size ({d}), not the hidden size ({x.shape[-1]})", pick(scale="sqrt_H")),
        ("softmax over the wrong axis: each query's weights sum to 1 over the keys (dim=-1), not over the queries",
         pick(softmax_dim=-2)),
        ("the padding is not masked: set the scores of keys where mask == 0 to -inf (or a large negative) "
         "before the softmax", pick(masked=False)),
        ("the heads are put back together wrongly: (B, nh, T, d) → transpose to (B, T, nh, d) before reshaping to (B, T, H)",
         pick(merge="reshape")),
        ("the heads are split wrongly: head h holds the columns h·d .. (h+1)·d - 1, so view as (B, T, nh, d), then transpose",
         pick(split="columns_dealt")),
        ("the heads are split without the transpose: (B, T, H) → view (B, T, nh, d) → transpose(1, 2) gives "
         "(B, nh, T, d); viewing (B, T, H) directly as (B, nh, T, d) mixes positions and heads",
         pick(split="no_transpose")),
        ("the output projection (attention.output.dense) is missing after the heads are concatenated", pick(project=False)),
    ]



def layer_norm_after(attention, x, w):
    """A BERT layer whose attention is ``attention()`` (a wrong one), the rest right."""
    a = layer_norm(x + attention(), w["attention.output.LayerNorm.weight"], w["attention.output.LayerNorm.bias"], 1e-12)
    f = F.linear(F.gelu(F.linear(a, w["intermediate.dense.weight"], w["intermediate.dense.bias"])),
                 w["output.dense.weight"], w["output.dense.bias"])
    return layer_norm(a + f, w["output.LayerNorm.weight"], w["output.LayerNorm.bias"], 1e-12)

