"""The grader for the coursework in ``exercises/``: a student's function against the library's.

Each exercise is one file in ``exercises/`` with a stub to fill in (``attention_head.py`` holds
``attention_head``). The grader runs the student's function twice, on small random inputs and on the
real thing (all-MiniLM-L6-v2's weights, sentences of the STS Benchmark, the real vocabulary), and
compares each result with what the library computes for the same inputs. The library is the answer key:
its pieces are checked against transformers and sentence-transformers by the test suite, and this module,
like the rest of ``minisbert``, never imports them.

A failure says what is wrong and where: the shape, or the first position that differs with both values
and the largest difference, or for a tokenizer the first input whose tokens differ. Then a hint. The
hints are not guesses: the grader also computes the usual mistakes (an unmasked mean, LayerNorm eps 1e-5,
tanh GELU, attention without 1/√d, softmax over the queries, WordPiece without ``##``, ...) and, when
the student's result equals one of them, names it. It never prints the reference code.

A student's file is loaded by path and run (that is the point). ``grade_folder`` runs it in a child
process with a time limit per exercise, so a crash or a hang costs that exercise and nothing else;
results come back as JSON over a pipe of their own, so whatever the student's code prints cannot be
mistaken for a result. ``grade_functions`` grades functions already in hand, in this process.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import math
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import types
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

DEFAULT_TIME_LIMIT = 60.0  # seconds per exercise; the real-model checks take well under one second
SETUP_TIME_LIMIT = 300.0  # importing torch and loading the model in a fresh process, on a busy machine
MODEL = "all-MiniLM-L6-v2"
MASK_TOKEN_ID = 103  # [MASK] in the uncased BERT vocabulary (exercises/mlm_mask.py says so too)

# Statuses of one graded exercise; only "pass" passes.
PASS, FAIL, TODO, ERROR, MISSING, CRASH, TIMEOUT = "pass", "fail", "todo", "error", "missing", "crash", "timeout"


@dataclass
class Result:
    """One exercise, graded: its status, a one-line summary, and the lines that explain it."""

    name: str
    status: str
    summary: str
    details: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Result":
        d = json.loads(text)
        return cls(str(d["name"]), str(d["status"]), str(d["summary"]), [str(x) for x in d["details"]])


class Fail(Exception):
    """Raised by a check: the student's answer is wrong; ``details`` say where and why."""

    def __init__(self, summary: str, details: list[str] | None = None, status: str = FAIL):
        super().__init__(summary)
        self.summary, self.details, self.status = summary, list(details or []), status


# ----------------------------------------------------------------------------------------------------
# Loading a student's file


def load_file(path: str | Path) -> types.ModuleType:
    """Import one Python file by path, under a name of its own (two students' files never collide).

    The file's folder is on ``sys.path`` while it loads, so an exercise may import a sibling
    (``from attention_head import attention_head``); the siblings it imported are then forgotten, so
    the next folder graded in this process gets its own.
    """
    path = Path(path).resolve()
    before = set(sys.modules)
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(f"_exercise_{abs(hash(str(path)))}_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None) or ""
            if Path(file).resolve().parent == path.parent:
                del sys.modules[name]
    return module


def _student_frame(tb, files: set[str]) -> str:
    """'file line N: code' of the deepest traceback frame inside the student's files, or ''."""
    where = ""
    for frame in traceback.extract_tb(tb):
        if str(Path(frame.filename).resolve()) in files:
            where = f"{Path(frame.filename).name} line {frame.lineno}: {frame.line}"
    return where


class _Student:
    """The student's functions, called so that their exceptions become readable failures."""

    def __init__(self, functions: dict[str, Callable], files: set[str]):
        self.functions, self.files = functions, files

    def __call__(self, name: str, *args):
        fn = self.functions.get(name)
        if not callable(fn):
            raise Fail(f"no function {name}() in the file", status=MISSING)
        args = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)  # theirs to modify
        try:
            return fn(*args)
        except NotImplementedError:
            raise Fail(f"{name}() is not written yet (it raises NotImplementedError)", status=TODO) from None
        except Exception as e:  # any error of theirs is a result to report, not a crash of the grader
            where = _student_frame(e.__traceback__, self.files)
            details = [f"at {where}"] if where else []
            raise Fail(f"{name}() raised {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".rstrip(": "),
                       details, status=ERROR) from None


# ----------------------------------------------------------------------------------------------------
# Comparing a result with the reference


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _first_hint(got, wrongs, same: Callable[[object, object], bool]) -> str | None:
    """The hint of the first usual mistake whose result equals the student's, if any."""
    for hint, compute in wrongs:
        try:
            if same(got, compute()):
                return hint
        except Exception:  # a variant that does not apply to these inputs
            continue
    return None


def _close(a: torch.Tensor, b: torch.Tensor, atol: float, rtol: float, valid: torch.Tensor | None = None) -> bool:
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a.shape != b.shape:
        return False
    a, b = a.detach().double(), b.detach().double()
    if valid is not None:
        a, b = a[valid], b[valid]
    return bool(torch.isclose(a, b, rtol=rtol, atol=atol).all())


def check_tensor(got, want: torch.Tensor, what: str, *, atol: float = 1e-5, rtol: float = 1e-4,
                 valid: torch.Tensor | None = None, wrongs=(), usual: str = "") -> float:
    """Fail unless ``got`` equals ``want`` within ``atol + rtol·|want|``; returns max |Δ|.

    ``valid``: a bool mask over the leading dimensions (B, T) of the positions that count (real tokens,
    not padding). ``wrongs``: (hint, compute) pairs, the usual mistakes computed on the same inputs.
    """
    shape = tuple(want.shape)
    if not isinstance(got, torch.Tensor):
        raise Fail(f"{what}: returned a {type(got).__name__}, expected a torch.Tensor of shape {shape}")
    if tuple(got.shape) != shape:
        hint = _first_hint(got, wrongs, lambda g, w: tuple(g.shape) == tuple(w.shape))
        raise Fail(f"{what}: wrong shape", [f"shape: yours {tuple(got.shape)}, expected {shape}"]
                   + ([f"hint: {hint}"] if hint else []))
    if not (got.dtype.is_floating_point or got.dtype == want.dtype):
        raise Fail(f"{what}: returned dtype {got.dtype}, expected {want.dtype}")
    g, w = got.detach().double(), want.detach().double()
    ok = torch.isclose(g, w, rtol=rtol, atol=atol)
    keep = torch.ones_like(ok) if valid is None else valid.reshape(valid.shape + (1,) * (ok.dim() - valid.dim())).expand_as(ok)
    bad = ~ok & keep
    delta = (g - w).abs()
    delta = torch.where(torch.isnan(delta), torch.full_like(delta, math.inf), delta)
    max_delta = float(delta[keep].max()) if keep.any() else 0.0
    if not bad.any():
        return max_delta
    first = [int(i) for i in bad.nonzero()[0]]
    at = f"[{', '.join(map(str, first))}]" if first else "(the scalar)"
    details = [f"first difference at {at}: yours {_fmt(float(g[tuple(first)]))}, expected "
               f"{_fmt(float(w[tuple(first)]))}; max |Δ| = {_fmt(max_delta)} (tolerance {atol:g} + {rtol:g}·|expected|)"]
    if valid is not None:
        details.append("(only real tokens count: positions where the mask is 0 are not compared)")
    hint = _first_hint(got, wrongs, lambda gg, ww: _close(gg, ww, atol, rtol, valid))
    details.append(f"hint: {hint}" if hint else f"hint: {usual}" if usual else "")
    raise Fail(f"{what}: values differ", [d for d in details if d])


def check_tokens(fn: Callable[[str], object], want: Callable[[str], list[str]], inputs: list[str], what: str,
                 wrongs: list[tuple[str, Callable[[str], list[str]]]], usual: str) -> None:
    """Fail at the first input whose tokens differ, showing both token lists from the first difference."""
    for text in inputs:
        got, expected = fn(text), want(text)
        if got == expected:
            continue
        if not isinstance(got, list) or not all(isinstance(t, str) for t in got):
            raise Fail(f"{what}: returned {type(got).__name__} {_short(repr(got))}, expected a list of str",
                       [f"input {text!r}"])
        i = next((k for k, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
        lo = max(0, i - 3)
        details = [f"first input whose tokens differ: {text!r}",
                   f"  yours:    {'... ' if lo else ''}{got[lo:lo + 8]}",
                   f"  expected: {'... ' if lo else ''}{expected[lo:lo + 8]}",
                   f"  (token {i} is the first that differs; yours has {len(got)} tokens, expected {len(expected)})"]
        hint = next((h for h, variant in wrongs if _safe(variant, text) == got), None)
        details.append(f"hint: {hint or usual}")
        raise Fail(f"{what}: tokens differ", details)


def _safe(fn, *args):
    try:
        return fn(*args)
    except Exception:
        return None


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def check_scalar(got, want: torch.Tensor, what: str, *, atol: float = 1e-6, rtol: float = 1e-5, wrongs=(),
                 usual: str = "") -> float:
    """A loss: a 0-dim tensor (a 1-element tensor or a float is accepted) equal to ``want``."""
    if isinstance(got, (float, int)) and not isinstance(got, bool):
        got = torch.tensor(float(got))
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.reshape(())
    return check_tensor(got, want.reshape(()), what, atol=atol, rtol=rtol, wrongs=wrongs, usual=usual)


# ----------------------------------------------------------------------------------------------------
# What the checks run on: the real model, its vocabulary, and sentences


_BUILT_IN_PAIRS = [  # used when the STS Benchmark is not found (the score is a made-up similarity in [0, 1])
    ("A man is playing a guitar.", "A man plays the guitar.", 0.95),
    ("A woman is slicing an onion.", "Someone is cutting an onion into pieces.", 0.8),
    ("Three dogs run across a snowy field.", "The stock market fell sharply on Monday.", 0.0),
    ("Kids are playing football in the park.", "Children play soccer outside.", 0.85),
    ("The cat sleeps.", "A cat is sleeping on the sofa next to the window in the afternoon sun.", 0.6),
    ("He didn't finish the report, did he?", "The report was finished on time.", 0.3),
    ("Prices rose 3.5% in May.", "Inflation went up in May.", 0.7),
    ("A plane is taking off.", "An air plane is taking off.", 1.0),
]


class Context:
    """The real model, tokenizer, vocabulary and sentences, loaded once per process on first use.

    ``model``: a model folder or fetched name, or a loaded ``SentenceBert`` (used as it is, never changed).
    """

    def __init__(self, model=MODEL):
        self._cache: dict[str, object] = {}
        if isinstance(model, (str, Path)):
            self.model_name = str(model)
        else:
            self.model_name, self._cache["sbert"] = "the given model", model

    def _get(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def sbert(self):
        from .sbert import SentenceBert

        return self._get("sbert", lambda: SentenceBert.from_pretrained(self.model_name).eval())

    @property
    def bert(self):
        return self.sbert.bert

    @property
    def tokenizer(self):
        if "sbert" in self._cache:
            return self.sbert.tokenizer
        from .tokenizer import BertTokenizer
        from .weights import resolve_model_dir

        # The tokenizer exercises need only vocab.txt: no need to load the weights for them.
        return self._get("tokenizer", lambda: BertTokenizer.from_pretrained(resolve_model_dir(self.model_name)))

    @property
    def vocab(self) -> frozenset[str]:
        return self._get("vocab", lambda: frozenset(self.tokenizer.vocab))

    @property
    def pairs(self) -> list[tuple[str, str, float]]:
        """16 sentence pairs with a similarity in [0, 1]: STS Benchmark test when found, else built in."""
        return self._get("pairs", self._load_pairs)

    def _load_pairs(self):
        from .data import load_stsb

        try:
            stsb = load_stsb("test")
        except (FileNotFoundError, ValueError):
            self._cache["data"] = "built-in sentences: the STS Benchmark was not found"
            return list(_BUILT_IN_PAIRS)
        self._cache["data"] = "STS Benchmark test"
        # Every 50th pair: a spread of genres, lengths and scores.
        return [(p.sentence1, p.sentence2, p.score / 5) for p in stsb[::50][:16]]

    @property
    def data(self) -> str:
        self.pairs
        return str(self._cache["data"])

    @property
    def sentences(self) -> list[str]:
        return list(dict.fromkeys(s for a, b, _ in self.pairs for s in (a, b)))

    def batch(self, n: int = 8, pairs: bool = False) -> dict[str, torch.Tensor]:
        """A padded batch of ``n`` sentences (or sentence pairs, with token types 0 and 1)."""
        a = [p[0] for p in self.pairs[:n]]
        b = [p[1] for p in self.pairs[:n]] if pairs else None
        return dict(self.tokenizer(a, b, padding=True, truncation=True, max_length=128))

    def hidden(self, layer: int, n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
        """The input of encoder layer ``layer`` (B, T, H) on a padded batch, and its mask (B, T)."""
        def make():
            batch = self.batch(n)
            with torch.no_grad():
                out = self.bert(batch["input_ids"], batch["attention_mask"], output_hidden_states=True)
            return out.hidden_states, batch["attention_mask"]
        states, mask = self._get(("hidden", n), make)
        return states[layer], mask

    def sentence_vectors(self, normalize: bool) -> torch.Tensor:
        """(2 · 16, H) mean-pooled vectors of the pairs' sentences, a then b, pair by pair."""
        def make():
            texts = [s for a, b, _ in self.pairs for s in (a, b)]
            return self.sbert.encode(texts, convert_to="torch", normalize=False, progress=False)
        u = self._get("vectors", make)
        return F.normalize(u, dim=-1) if normalize else u


# ----------------------------------------------------------------------------------------------------
# The usual mistakes, written out so that a student's result can be recognised as one of them


def _is_punct_bert(c: str) -> bool:
    cp = ord(c)
    return 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126 or unicodedata.category(c).startswith("P")


def _basic_variant(text: str, lower=True, accents=True, cjk=True, punct="bert", clean=True, split=str.split) -> list[str]:
    """basic_tokenize with one step changed or left out; the steps are those of minisbert/tokenizer.py."""
    from .tokenizer import _is_cjk, _is_control, _is_whitespace

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
    ("no lower-casing: the model is uncased, every word is lower-cased", lambda t: _basic_variant(t, lower=False)),
    ("accents are kept: strip them (NFD, then drop the characters of category Mn)", lambda t: _basic_variant(t, accents=False)),
    ("punctuation is not split off: every punctuation character is a token of its own",
     lambda t: _basic_variant(t, punct="none")),
    ("only Unicode punctuation (category P*) is split: BERT also splits the ASCII symbols $ + < = > ^ ` | ~ "
     "(ASCII 33-47, 58-64, 91-96, 123-126)", lambda t: _basic_variant(t, punct="unicode")),
    ("only ASCII punctuation is split: beyond ASCII, every character of Unicode category P* (“ ” … — ¿) splits too",
     lambda t: _basic_variant(t, punct="ascii")),
    ("CJK ideographs need spaces around them (each one is a word)", lambda t: _basic_variant(t, cjk=False)),
    ("control characters (category Cc, Cf) and U+FFFD are dropped, and every whitespace (\\t, \\n, U+00A0, ...) "
     "becomes a space", lambda t: _basic_variant(t, clean=False)),
    ("split on runs of whitespace (str.split()), not on single spaces: no empty tokens",
     lambda t: _basic_variant(t, split=lambda s: s.split(" "))),
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


def _wordpiece_variant(word: str, vocab, prefix="##", longest=True, unk_whole=True, limit=100) -> list[str]:
    if limit and len(word) > limit:
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
        pieces.append(("##" if start else "") + word[start:end])
        start = end
    return pieces


WORDPIECE_WRONGS = [
    ("continuation pieces are looked up and returned with the '##' prefix (un ##aff ##able): a piece that "
     "does not start the word is '##' + the piece", lambda w, v: _wordpiece_variant(w, v, prefix="")),
    ("greedy means longest match first: try the longest prefix, then shorten it", lambda w, v: _wordpiece_variant(w, v, longest=False)),
    ("if any part of the word has no piece, the whole word is ['[UNK]'], not just that part",
     lambda w, v: _wordpiece_variant(w, v, unk_whole=False)),
    ("a word longer than 100 characters is ['[UNK]'] without looking it up", lambda w, v: _wordpiece_variant(w, v, limit=0)),
]

TINY_VOCAB = frozenset(["[UNK]", "[CLS]", "[SEP]", "[PAD]", "un", "unw", "##aff", "##able", "want", "##want",
                        "##ed", "wa", "un##", "runn", "##ing", "##n", "##i", "a", "##a", "ab", "##b"])
TINY_WORDS = ["unaffable", "unwanted", "running", "unwantedx", "aab", "abab", "a", "want", "xyz"]


def _layer_norm(x, weight, bias, eps):
    mu = x.mean(-1, keepdim=True)
    var = x.var(-1, keepdim=True, unbiased=False)
    return (x - mu) / torch.sqrt(var + eps) * weight + bias


def _attention_variant(x, w, mask, num_heads, scale="sqrt_d", softmax_dim=-1, masked=True, merge="transpose",
                       split="heads_first", project=True):
    """Multi-head self-attention on a layer's weights ``w`` (checkpoint keys), with one step changed."""
    B, T, H = x.shape
    d = H // num_heads
    q, k, v = (F.linear(x, w[f"attention.self.{n}.weight"], w[f"attention.self.{n}.bias"]) for n in ("query", "key", "value"))

    def heads(t):
        if split == "heads_first":
            return t.view(B, T, num_heads, d).transpose(1, 2)  # (B, nh, T, d)
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


def _layer_variant(x, w, mask, num_heads, eps=1e-12, act="erf", pre_ln=False, residual=True):
    """A BERT layer (post-LayerNorm) with one step changed."""
    act = {"erf": lambda t: F.gelu(t), "tanh": lambda t: F.gelu(t, approximate="tanh"), "relu": F.relu}[act]
    ln1 = lambda t: _layer_norm(t, w["attention.output.LayerNorm.weight"], w["attention.output.LayerNorm.bias"], eps)
    ln2 = lambda t: _layer_norm(t, w["output.LayerNorm.weight"], w["output.LayerNorm.bias"], eps)
    ffn = lambda t: F.linear(act(F.linear(t, w["intermediate.dense.weight"], w["intermediate.dense.bias"])),
                             w["output.dense.weight"], w["output.dense.bias"])
    r = 1.0 if residual else 0.0
    if pre_ln:
        a = x + _attention_variant(ln1(x), w, mask, num_heads)
        return a + ffn(ln2(a))
    a = ln1(r * x + _attention_variant(x, w, mask, num_heads))
    return ln2(r * a + ffn(a))


# ----------------------------------------------------------------------------------------------------
# The references: the library's own modules, on the given weights


def _config(H: int, num_heads: int, intermediate: int = 0, vocab: int = 30522, positions: int = 512, eps: float = 1e-12):
    from .config import BertConfig

    return BertConfig(vocab_size=vocab, hidden_size=H, num_hidden_layers=1, num_attention_heads=num_heads,
                      intermediate_size=intermediate or 4 * H, max_position_embeddings=positions, layer_norm_eps=eps)


def _library_layer(w: dict[str, torch.Tensor], num_heads: int):
    """minisbert.bert.BertLayer holding the weights ``w`` (checkpoint keys without ``encoder.layer.N.``)."""
    from .bert import BertLayer

    H, intermediate = w["intermediate.dense.weight"].shape[1], w["intermediate.dense.weight"].shape[0]
    layer = BertLayer(_config(H, num_heads, intermediate))
    layer.load_state_dict(w, strict=True)
    return layer.eval()


def _key_mask(mask: torch.Tensor) -> torch.Tensor:
    return mask.bool()[:, None, None, :]  # (B, 1, 1, T), as BertModel.forward builds it


def _random_layer(H: int, num_heads: int, seed: int) -> dict[str, torch.Tensor]:
    from .bert import BertLayer

    torch.manual_seed(seed)
    layer = BertLayer(_config(H, num_heads))
    with torch.no_grad():
        for name, p in layer.named_parameters():
            if name.endswith("LayerNorm.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p) / math.sqrt(p.shape[-1]) if p.dim() == 2 else 0.1 * torch.randn_like(p))
    return {k: v.detach().clone() for k, v in layer.state_dict().items()}


def _random_hidden(B: int, T: int, H: int, lengths: list[int], seed: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, H, generator=g)
    mask = (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).long()  # (B, T), right padding
    return x, mask


def _real_layer(ctx: Context, i: int) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in ctx.bert.encoder.layer[i].state_dict().items()}


# ----------------------------------------------------------------------------------------------------
# The checks, one per exercise: each returns the lines of a pass message, or raises Fail


def _case(what: str, run: Callable[[], object]):
    """Run one case; a failure's summary names the inputs it failed on."""
    try:
        return run()
    except Fail as f:
        if f.status in (TODO, MISSING):  # nothing about these inputs in particular
            raise
        raise Fail(f"{what}: {f.summary}", f.details, f.status) from None


def check_basic_tokenize(student: _Student, ctx: Context) -> list[str]:
    from .tokenizer import basic_tokenize

    usual = "compare the steps one by one: clean, space out CJK, strip accents, lower-case, split off punctuation"
    fn = lambda t: student("basic_tokenize", t)
    _case("edge cases", lambda: check_tokens(fn, basic_tokenize, BASIC_INPUTS, "basic_tokenize", BASIC_WRONGS, usual))
    _case(ctx.data, lambda: check_tokens(fn, basic_tokenize, ctx.sentences, "basic_tokenize", BASIC_WRONGS, usual))
    return [f"same words as the library on {len(BASIC_INPUTS)} edge cases and {len(ctx.sentences)} sentences ({ctx.data})"]


def check_wordpiece(student: _Student, ctx: Context) -> list[str]:
    from .tokenizer import BertTokenizer, basic_tokenize

    def reference(vocab):
        tok = BertTokenizer({t: i for i, t in enumerate(sorted(vocab))})
        return lambda w: tok.convert_ids_to_tokens(list(tok._wordpiece(w)))

    usual = "start at the beginning of the word, take the longest piece in the vocabulary, continue after it with '##'"
    wrongs = lambda vocab: [(h, lambda w, f=f: f(w, vocab)) for h, f in WORDPIECE_WRONGS]
    fn = lambda vocab: (lambda w: student("wordpiece", w, vocab))
    _case("a tiny vocabulary", lambda: check_tokens(fn(TINY_VOCAB), reference(TINY_VOCAB), TINY_WORDS, "wordpiece",
                                                     wrongs(TINY_VOCAB), usual))
    words = list(dict.fromkeys(w for s in ctx.sentences for w in basic_tokenize(s)))
    words += ["unaffable", "tokenization", "xyzzyqq", "ünïcödé", "a" * 101, "antidisestablishmentarianism"]
    _case(f"the all-MiniLM-L6-v2 vocabulary ({len(ctx.vocab)} pieces)",
          lambda: check_tokens(fn(ctx.vocab), reference(ctx.vocab), words, "wordpiece", wrongs(ctx.vocab), usual))
    return [f"same pieces as the library on {len(TINY_WORDS)} words of a tiny vocabulary and {len(words)} words "
            f"with the real one"]


def check_embeddings(student: _Student, ctx: Context) -> list[str]:
    from .bert import BertEmbeddings

    def run(ids, types_, word, pos, typ, lnw, lnb, eps, what):
        config = _config(word.shape[1], 1, vocab=word.shape[0], positions=pos.shape[0], eps=eps)
        config.type_vocab_size = typ.shape[0]
        module = BertEmbeddings(config).eval()
        module.load_state_dict({"word_embeddings.weight": word, "position_embeddings.weight": pos,
                                "token_type_embeddings.weight": typ, "LayerNorm.weight": lnw, "LayerNorm.bias": lnb})
        with torch.no_grad():
            want = module(ids, types_)
        T = ids.shape[1]
        summed = lambda p=torch.arange(T), use_pos=True, use_type=True: (
            word[ids] + (pos[p] if use_pos else 0) + (typ[types_] if use_type else 0))
        wrongs = [
            ("LayerNorm eps: use the eps argument (1e-12 for BERT), not PyTorch's default 1e-5",
             lambda: _layer_norm(summed(), lnw, lnb, 1e-5)),
            ("the position embedding is missing: add position_embeddings[0..T-1]", lambda: _layer_norm(summed(use_pos=False), lnw, lnb, eps)),
            ("the token type (segment) embedding is missing: add token_type_embeddings[token_type_ids]",
             lambda: _layer_norm(summed(use_type=False), lnw, lnb, eps)),
            ("positions count from 0: position_ids = arange(T)", lambda: _layer_norm(summed(torch.arange(1, T + 1)), lnw, lnb, eps)),
            ("LayerNorm is missing after the sum", lambda: summed()),
            ("LayerNorm without its weight and bias (gamma, beta)", lambda: _layer_norm(summed(), 1.0, 0.0, eps)),
            ("LayerNorm normalises with the population variance (mean of squares, divide by H, not H - 1)",
             lambda: (summed() - summed().mean(-1, keepdim=True)) / torch.sqrt(summed().var(-1, keepdim=True) + eps) * lnw + lnb),
        ]
        got = student("embeddings", ids, types_, word, pos, typ, lnw, lnb, eps)
        return check_tensor(got, want, what, wrongs=wrongs, usual="word + position + token type, then LayerNorm over the last axis")

    g = torch.Generator().manual_seed(1)
    V, P, H, B, T = 40, 12, 16, 3, 7
    args = (torch.randint(V, (B, T), generator=g), torch.randint(2, (B, T), generator=g),
            0.05 * torch.randn(V, H, generator=g), 0.05 * torch.randn(P, H, generator=g), 0.05 * torch.randn(2, H, generator=g),
            1 + 0.1 * torch.randn(H, generator=g), 0.1 * torch.randn(H, generator=g), 1e-12)
    d1 = _case(f"random inputs (B={B}, T={T}, H={H})", lambda: run(*args, "embeddings"))
    batch = ctx.batch(8, pairs=True)
    e = {k: v.detach().clone() for k, v in ctx.bert.embeddings.state_dict().items()}
    real = (batch["input_ids"], batch["token_type_ids"], e["word_embeddings.weight"], e["position_embeddings.weight"],
            e["token_type_embeddings.weight"], e["LayerNorm.weight"], e["LayerNorm.bias"], ctx.bert.config.layer_norm_eps)
    d2 = _case(f"all-MiniLM-L6-v2 on 8 sentence pairs ({ctx.data})", lambda: run(*real, "embeddings"))
    return [f"max |Δ| {d1:.1e} on random inputs, {d2:.1e} on all-MiniLM-L6-v2"]


ATTENTION_USUAL = "scores = q·kᵀ / √d, padded keys to -inf before a softmax over the keys (the last axis), then · v"


def _attention_wrongs(x, w, mask, num_heads, head: int | None = None):
    """The usual attention mistakes; for one head, the slice of that head's output, before the projection."""
    def pick(**kw):
        def compute():
            out = _attention_variant(x, w, mask, num_heads, project=head is None, **kw)
            if head is None:
                return out
            d = x.shape[-1] // num_heads
            return out[..., head * d:(head + 1) * d]
        return compute

    d = x.shape[-1] // num_heads
    return [
        (f"the scores are not divided by √d (d = {d}, the head size): softmax(q·kᵀ / √d)", pick(scale="none")),
        (f"divide by √d, the square root of the head size, not by d itself", pick(scale="d")),
        (f"d in √d is the head size ({d}), not the hidden size ({x.shape[-1]})", pick(scale="sqrt_H")),
        ("softmax over the wrong axis: each query's weights sum to 1 over the keys (dim=-1), not over the queries",
         pick(softmax_dim=-2)),
        ("the padding is not masked: set the scores of keys where mask == 0 to -inf (or a large negative) "
         "before the softmax", pick(masked=False)),
        ("the heads are put back together wrongly: (B, nh, T, d) → transpose to (B, T, nh, d) before reshaping to (B, T, H)",
         pick(merge="reshape")),
        ("the heads are split wrongly: head h holds the columns h·d .. (h+1)·d - 1, so view as (B, T, nh, d), then transpose",
         pick(split="columns_dealt")),
        ("the output projection (attention.output.dense) is missing after the heads are concatenated", pick(project=False)),
    ]


def check_attention_head(student: _Student, ctx: Context) -> list[str]:
    def run(x, w, mask, num_heads, head, what):
        d = x.shape[-1] // num_heads
        rows = slice(head * d, (head + 1) * d)
        weights = [w[f"attention.self.{n}.{p}"][rows] for n in ("query", "key", "value") for p in ("weight", "bias")]
        with torch.no_grad():
            context, _ = _library_layer(w, num_heads).attention.self(x, _key_mask(mask))  # (B, T, H)
        want = context[..., rows]  # (B, T, d): the columns of this head
        got = student("attention_head", x, *weights, mask)
        wrongs = [(h, f) for h, f in _attention_wrongs(x, w, mask, num_heads, head) if "heads" not in h and "projection" not in h]
        return check_tensor(got, want, what, valid=mask.bool(), wrongs=wrongs, usual=ATTENTION_USUAL)

    x, mask = _random_hidden(3, 7, 16, [7, 4, 2], seed=2)
    d1 = _case("random inputs (B=3, T=7, H=16, head of size 8, padded rows)",
               lambda: run(x, _random_layer(16, 2, seed=3), mask, 2, 1, "attention_head"))
    h, mask = ctx.hidden(0)
    d2 = _case(f"all-MiniLM-L6-v2 layer 0, head 5, on 8 sentences ({ctx.data})",
               lambda: run(h, _real_layer(ctx, 0), mask, ctx.bert.config.num_attention_heads, 5, "attention_head"))
    return [f"max |Δ| {d1:.1e} on random inputs, {d2:.1e} on all-MiniLM-L6-v2 (real tokens)"]


def check_multi_head_attention(student: _Student, ctx: Context) -> list[str]:
    def run(x, w, mask, num_heads, what):
        with torch.no_grad():
            layer = _library_layer(w, num_heads)
            context, _ = layer.attention.self(x, _key_mask(mask))  # (B, T, H)
            want = layer.attention.output.dense(context)  # (B, T, H): the heads, concatenated and projected
        got = student("multi_head_attention", x, dict(w), mask, num_heads)
        return check_tensor(got, want, what, valid=mask.bool(), wrongs=_attention_wrongs(x, w, mask, num_heads),
                            usual=ATTENTION_USUAL)

    # H = 24, 4 heads of d = 6: √d, d and √H all differ, so each scaling mistake has a result of its own
    x, mask = _random_hidden(3, 7, 24, [7, 4, 2], seed=4)
    d1 = _case("random inputs (B=3, T=7, H=24, 4 heads)", lambda: run(x, _random_layer(24, 4, seed=5), mask, 4, "multi_head_attention"))
    h, mask = ctx.hidden(2)
    d2 = _case(f"all-MiniLM-L6-v2 layer 2 on 8 sentences ({ctx.data})",
               lambda: run(h, _real_layer(ctx, 2), mask, ctx.bert.config.num_attention_heads, "multi_head_attention"))
    return [f"max |Δ| {d1:.1e} on random inputs, {d2:.1e} on all-MiniLM-L6-v2 (real tokens)"]


def check_bert_layer(student: _Student, ctx: Context) -> list[str]:
    def run(x, w, mask, num_heads, what):
        with torch.no_grad():
            want, _ = _library_layer(w, num_heads)(x, _key_mask(mask))
        got = student("bert_layer", x, dict(w), mask, num_heads)
        wrongs = [
            ("LayerNorm eps is 1e-12 in BERT (the TensorFlow value it was trained with), not PyTorch's default 1e-5",
             lambda: _layer_variant(x, w, mask, num_heads, eps=1e-5)),
            ("GELU is the exact erf form, 0.5·x·(1 + erf(x/√2)), not the tanh approximation",
             lambda: _layer_variant(x, w, mask, num_heads, act="tanh")),
            ("the activation is GELU, not ReLU", lambda: _layer_variant(x, w, mask, num_heads, act="relu")),
            ("BERT is post-LayerNorm: LN(x + sublayer(x)), not x + sublayer(LN(x))",
             lambda: _layer_variant(x, w, mask, num_heads, pre_ln=True)),
            ("the residual connections are missing: LN(x + attention(x)), then LN(a + ffn(a))",
             lambda: _layer_variant(x, w, mask, num_heads, residual=False)),
        ] + [(h, lambda f=f: _layer_norm_after(f, x, w)) for h, f in _attention_wrongs(x, w, mask, num_heads)[:5]]
        return check_tensor(got, want, what, valid=mask.bool(), wrongs=wrongs, rtol=1e-5,
                            usual="a = LN(x + attention(x)); out = LN(a + W2·gelu(W1·a)), LayerNorm eps 1e-12, erf GELU")

    # Small inputs (std 0.05): LayerNorm's eps then matters, and eps 1e-5 is off by far more than the tolerance.
    x, mask = _random_hidden(3, 7, 16, [7, 4, 2], seed=6)
    d1 = _case("random inputs (B=3, T=7, H=16, 2 heads)", lambda: run(0.05 * x, _small(_random_layer(16, 2, seed=7)), mask, 2,
                                                                       "bert_layer"))
    h, mask = ctx.hidden(3)
    d2 = _case(f"all-MiniLM-L6-v2 layer 3 on 8 sentences ({ctx.data})",
               lambda: run(h, _real_layer(ctx, 3), mask, ctx.bert.config.num_attention_heads, "bert_layer"))
    return [f"max |Δ| {d1:.1e} on random inputs, {d2:.1e} on all-MiniLM-L6-v2 (real tokens)"]


def _small(w: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The layer's output projections scaled down, so that the sums entering each LayerNorm are small."""
    return {k: 0.05 * v if k.startswith(("attention.output.dense", "output.dense")) else v for k, v in w.items()}


def _layer_norm_after(attention, x, w):
    """A BERT layer whose attention is ``attention()`` (a wrong one), the rest right."""
    a = _layer_norm(x + attention(), w["attention.output.LayerNorm.weight"], w["attention.output.LayerNorm.bias"], 1e-12)
    f = F.linear(F.gelu(F.linear(a, w["intermediate.dense.weight"], w["intermediate.dense.bias"])),
                 w["output.dense.weight"], w["output.dense.bias"])
    return _layer_norm(a + f, w["output.LayerNorm.weight"], w["output.LayerNorm.bias"], 1e-12)


def check_pooling(student: _Student, ctx: Context) -> list[str]:
    from .pooling import cls_pooling, max_pooling, mean_pooling

    def run(x, mask, what):
        m = mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
        lengths = mask.sum(1)
        wrongs = {
            "mean_pool": [
                ("the mean includes the padding: sum over the real tokens only (multiply by the mask) and divide by "
                 "their number, mask.sum(1)", lambda: x.mean(1)),
                ("divide by the number of real tokens, mask.sum(1), not by T", lambda: (x * m).sum(1) / x.shape[1]),
            ],
            "max_pool": [
                ("padding wins the max: set padded positions to -inf (not 0) before taking the max",
                 lambda: x.masked_fill(m == 0, 0.0).max(1).values),
                ("the padding is not masked: padded positions can win the max; set them to -inf first", lambda: x.max(1).values),
            ],
            "cls_pool": [
                ("CLS pooling takes the first token, [CLS], at position 0", lambda: x[torch.arange(len(x)), lengths - 1]),
                ("CLS pooling takes the first token, [CLS], at position 0", lambda: x[:, -1]),
                ("CLS pooling takes one token, the first, not a mean", lambda: (x * m).sum(1) / m.sum(1)),
            ],
        }
        out = []
        for name, ref in (("mean_pool", mean_pooling), ("max_pool", max_pooling), ("cls_pool", cls_pooling)):
            got = student(name, x, mask)
            out.append(check_tensor(got, ref(x, mask), f"{name}", wrongs=wrongs[name],
                                    usual="pool over the real tokens only (attention_mask == 1)"))
        return max(out)

    g = torch.Generator().manual_seed(8)
    B, T, H = 4, 6, 8
    x = torch.randn(B, T, H, generator=g)
    x[:, :, :3] = -x[:, :, :3].abs() - 0.5  # in 3 dimensions every real token is negative: a 0 would win the max
    mask = (torch.arange(T)[None, :] < torch.tensor([6, 4, 2, 3])[:, None]).long()  # (B, T)
    x[mask == 0] = x[mask == 0].abs() + 2.0  # padding holds large values, as a [PAD] vector may
    d1 = _case(f"random inputs (B={B}, T={T}, H={H}, padded rows)", lambda: run(x, mask, "pooling"))
    batch = ctx.batch(8)
    with torch.no_grad():
        h = ctx.bert(batch["input_ids"], batch["attention_mask"]).last_hidden_state
    d2 = _case(f"all-MiniLM-L6-v2 token vectors of 8 sentences ({ctx.data})", lambda: run(h, batch["attention_mask"], "pooling"))
    return [f"mean, max and CLS pooling: max |Δ| {d1:.1e} on random inputs, {d2:.1e} on all-MiniLM-L6-v2"]


def _pair_vectors(ctx: Context, normalize: bool) -> tuple[torch.Tensor, torch.Tensor]:
    u = ctx.sentence_vectors(normalize)
    return u[0::2], u[1::2]  # (N, H) each: sentence a and sentence b of each pair


def check_classification_loss(student: _Student, ctx: Context) -> list[str]:
    from .objectives import ClassificationObjective

    def run(u, v, weight, bias, labels, what):
        objective = ClassificationObjective(types.SimpleNamespace(dim=u.shape[1]), ["0", "1", "2"])
        with torch.no_grad():
            objective.classifier.weight.copy_(weight)
            objective.classifier.bias.copy_(bias)
            want = objective.loss_from_embeddings(u, v, labels)
        logits = lambda f: F.linear(f, weight, bias)
        wrongs = [
            ("the third part is |u − v|, the element-wise absolute difference: without abs() the feature is not "
             "symmetric in u and v", lambda: F.cross_entropy(logits(torch.cat([u, v, u - v], 1)), labels)),
            ("the features are [u; v; |u − v|] (u ∗ v is not part of the paper's default)",
             lambda: F.cross_entropy(logits(torch.cat([u, v, u * v], 1)), labels)),
            ("the order is u, v, |u − v|: it must match the columns of W",
             lambda: F.cross_entropy(logits(torch.cat([(u - v).abs(), u, v], 1)), labels)),
            ("cross_entropy takes the raw logits and applies log-softmax itself: do not softmax first",
             lambda: F.cross_entropy(logits(torch.cat([u, v, (u - v).abs()], 1)).softmax(-1), labels)),
            ("the loss is the mean over the batch, not the sum",
             lambda: F.cross_entropy(logits(torch.cat([u, v, (u - v).abs()], 1)), labels, reduction="sum")),
        ]
        return check_scalar(student("classification_loss", u, v, weight, bias, labels), want, what, wrongs=wrongs,
                            usual="logits = [u; v; |u − v|] · Wᵀ + b, then the mean cross-entropy against the labels")

    g = torch.Generator().manual_seed(9)
    N, H, k = 6, 8, 3
    u, v = torch.randn(N, H, generator=g), torch.randn(N, H, generator=g)
    w, b = torch.randn(k, 3 * H, generator=g), torch.randn(k, generator=g)
    labels = torch.randint(k, (N,), generator=g)
    d1 = _case(f"random inputs (N={N}, H={H}, {k} labels)", lambda: run(u, v, w, b, labels, "classification_loss"))
    u, v = _pair_vectors(ctx, normalize=False)
    H = u.shape[1]
    w, b = 0.1 * torch.randn(k, 3 * H, generator=g), torch.randn(k, generator=g)
    labels = torch.randint(k, (len(u),), generator=g)
    d2 = _case(f"all-MiniLM-L6-v2 vectors of {len(u)} sentence pairs ({ctx.data})",
               lambda: run(u, v, w, b, labels, "classification_loss"))
    return [f"|Δ| {d1:.1e} on random inputs, {d2:.1e} on all-MiniLM-L6-v2 vectors"]


def check_regression_loss(student: _Student, ctx: Context) -> list[str]:
    from .objectives import RegressionObjective

    def run(u, v, scores, what):
        want = RegressionObjective(None).loss_from_embeddings(u, v, scores)
        cos = F.cosine_similarity(u, v, dim=-1)
        wrongs = [
            ("cosine similarity, not the dot product: divide u·v by ‖u‖ ‖v‖", lambda: F.mse_loss((u * v).sum(-1), scores)),
            ("the loss is the mean squared error, not the sum", lambda: ((cos - scores) ** 2).sum()),
            ("squared error, not absolute error", lambda: (cos - scores).abs().mean()),
            ("the model's score is the cosine similarity, not the cosine distance 1 − cos", lambda: F.mse_loss(1 - cos, scores)),
            ("the error is squared: (cos − score)², averaged", lambda: (cos - scores).mean()),
        ]
        return check_scalar(student("regression_loss", u, v, scores), want, what, wrongs=wrongs,
                            usual="mean over the batch of (cos(u, v) − score)²")

    g = torch.Generator().manual_seed(10)
    u, v = 3 * torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    d1 = _case("random inputs (N=6, H=8)", lambda: run(u, v, torch.rand(6, generator=g), "regression_loss"))
    u, v = _pair_vectors(ctx, normalize=False)
    scores = torch.tensor([s for _, _, s in ctx.pairs])
    d2 = _case(f"all-MiniLM-L6-v2 vectors (not normalised) and gold scores of {len(u)} pairs ({ctx.data})",
               lambda: run(u, v, scores, "regression_loss"))
    return [f"|Δ| {d1:.1e} on random inputs, {d2:.1e} on all-MiniLM-L6-v2 vectors"]


def check_triplet_loss(student: _Student, ctx: Context) -> list[str]:
    from .objectives import TripletObjective

    def run(a, p, n, margin, what):
        want = TripletObjective(None, "euclidean", margin).loss_from_embeddings(a, p, n)
        dp, dn = (a - p).norm(dim=-1), (a - n).norm(dim=-1)
        cos_d = lambda x, y: 1 - F.cosine_similarity(x, y, dim=-1)
        wrongs = [
            ("the distance is the Euclidean norm ‖a − p‖, not its square", lambda: F.relu((a - p).pow(2).sum(-1) - (a - n).pow(2).sum(-1) + margin).mean()),
            ("max(·, 0) is missing: a triplet already satisfied by the margin contributes 0, not a negative loss",
             lambda: (dp - dn + margin).mean()),
            ("use the margin argument", lambda: F.relu(dp - dn + 1.0).mean()),
            ("use the margin argument (5 is sentence-transformers' default, the paper's is 1)", lambda: F.relu(dp - dn + 5.0).mean()),
            ("the positive must end up closer: ‖a − p‖ − ‖a − n‖ + margin, not the other way round",
             lambda: F.relu(dn - dp + margin).mean()),
            ("the loss is the mean over the batch, not the sum", lambda: F.relu(dp - dn + margin).sum()),
            ("the paper's triplet objective uses the Euclidean distance, not the cosine distance",
             lambda: F.relu(cos_d(a, p) - cos_d(a, n) + margin).mean()),
        ]
        return check_scalar(student("triplet_loss", a, p, n, margin), want, what, wrongs=wrongs,
                            usual="mean over the batch of max(‖a − p‖ − ‖a − n‖ + margin, 0)")

    g = torch.Generator().manual_seed(11)
    a, p, n = (torch.randn(8, 6, generator=g) for _ in range(3))
    d1 = _case("random inputs (N=8, H=6, margin 0.5)", lambda: run(a, p, n, 0.5, "triplet_loss"))
    u, v = _pair_vectors(ctx, normalize=True)
    d2 = _case(f"all-MiniLM-L6-v2 vectors: anchor, its pair, another pair's sentence ({ctx.data}; margin 1)",
               lambda: run(u, v, v.roll(1, dims=0), 1.0, "triplet_loss"))
    return [f"|Δ| {d1:.1e} on random inputs, {d2:.1e} on all-MiniLM-L6-v2 vectors"]


def check_mlm_mask(student: _Student, ctx: Context) -> list[str]:
    """Any correct masking passes, whatever order it draws in: the grader checks the rules that always hold,
    then the proportions over 200,000 tokens, then that the draws come from ``generator``."""
    from .masking import MASK_PROBABILITY, MLM_PROBABILITY, RANDOM_PROBABILITY, mask_tokens

    def call(ids, special, vocab_size, seed):
        out = student("mlm_mask", ids, special, vocab_size, torch.Generator().manual_seed(seed))
        if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out)):
            raise Fail(f"returned {type(out).__name__}, expected a tuple (inputs, labels) of two tensors")
        inputs, labels = out
        for name, t in (("inputs", inputs), ("labels", labels)):
            if t.shape != ids.shape:
                raise Fail(f"{name}: wrong shape", [f"shape: yours {tuple(t.shape)}, expected {tuple(ids.shape)}"])
            if t.dtype.is_floating_point:
                raise Fail(f"{name}: holds {t.dtype}, expected integer token ids (torch.long)")
        return inputs, labels

    def rules(ids, special, inputs, labels, what):
        selected = labels != -100
        if (selected & special).any():
            b, t = (int(i) for i in (selected & special).nonzero()[0])
            raise Fail(f"{what}: a special token was selected", [
                f"at [{b}, {t}] (id {int(ids[b, t])}), special_mask is True but the label is {int(labels[b, t])}",
                "hint: [CLS], [SEP] and [PAD] are never selected: give them probability 0"])
        if not (labels[selected] == ids[selected]).all():
            b, t = (int(i) for i in (selected & (labels != ids)).nonzero()[0])
            raise Fail(f"{what}: a label is not the original token", [
                f"at [{b}, {t}]: label {int(labels[b, t])}, original token {int(ids[b, t])}",
                "hint: labels hold the original id where a token is selected and -100 everywhere else"])
        changed = (inputs != ids) & ~selected
        if changed.any():
            b, t = (int(i) for i in changed.nonzero()[0])
            hint = ("labels are -100 where nothing was selected: a token you changed must carry its label"
                    if (labels == -100).all() or (inputs[~selected] == MASK_TOKEN_ID).any()
                    else "only the selected tokens (label != -100) may change")
            raise Fail(f"{what}: a token that is not selected was changed",
                       [f"at [{b}, {t}]: {int(ids[b, t])} became {int(inputs[b, t])}, its label is -100", f"hint: {hint}"])

    # 1. The rules, on real sentences
    batch = ctx.batch(16)
    special = torch.isin(batch["input_ids"], torch.tensor(sorted(ctx.tokenizer.special_ids)))
    ids = batch["input_ids"]
    original = ids.clone()
    V = ctx.tokenizer.vocab_size
    what = f"all-MiniLM-L6-v2 tokens of {len(ids)} sentences ({ctx.data})"
    inputs, labels = _case(what, lambda: call(ids, special, V, 0))
    rules(ids, special, inputs, labels, what)
    if not torch.equal(ids, original):
        raise Fail("input_ids was modified in place", ["hint: work on a copy (input_ids.clone())"])

    # 2. The proportions, on 200,000 tokens: far more than enough to tell 80/10/10 from a mistake
    g = torch.Generator().manual_seed(12)
    B, T = 400, 500
    ids = torch.randint(1000, V, (B, T), generator=g)  # no special ids among them
    special = torch.zeros(B, T, dtype=torch.bool)
    special[:, 0] = special[:, -1] = True
    special[::3, -40:] = True  # padding at the end of every third row
    inputs, labels = _case(f"random ids ({B}×{T})", lambda: call(ids, special, V, 1))
    rules(ids, special, inputs, labels, f"random ids ({B}×{T})")
    selected = labels != -100
    n_real = int((~special).sum())
    n_sel = int(selected.sum())
    share = n_sel / n_real
    masked = int((inputs[selected] == MASK_TOKEN_ID).sum()) / max(n_sel, 1)
    kept = int((inputs[selected] == ids[selected]).sum()) / max(n_sel, 1)
    random = 1 - masked - kept
    replaced = inputs[selected & (inputs != ids) & (inputs != MASK_TOKEN_ID)]

    def within(x, p, n):  # 6 standard deviations of a binomial share: a right answer fails once in 10^9 runs
        return abs(x - p) <= 6 * math.sqrt(p * (1 - p) / max(n, 1))

    table = (f"selected {share:.1%} of the non-special tokens (expected 15%); of those [MASK] {masked:.1%} "
             f"(80%), random {random:.1%} (10%), unchanged {kept:.1%} (10%)")
    if not within(share, MLM_PROBABILITY, n_real):
        raise Fail("the share of selected tokens is wrong",
                   [table, "hint: select each non-special token on its own, with probability 0.15"])
    if not (within(masked, MASK_PROBABILITY, n_sel) and within(random, RANDOM_PROBABILITY, n_sel)):
        if masked > 0.99:
            hint = "not every selected token becomes [MASK]: 80% [MASK], 10% a random token, 10% left as they are"
        elif within(random, 0.2 * RANDOM_PROBABILITY, n_sel):
            hint = ("of the 20% that are not [MASK], half (not 10% of them) get a random token: 0.1 / (1 − 0.8) = 0.5")
        else:
            hint = "80% of the selected become [MASK] (id 103), 10% a random id in [0, vocab_size), 10% stay"
        raise Fail("the 80/10/10 split is wrong", [table, f"hint: {hint}"])
    if replaced.numel() and (replaced.float().std() < V / 6 or int(replaced.max()) >= V or int(replaced.min()) < 0):
        raise Fail("the random tokens are not uniform over the vocabulary",
                   [f"their ids range from {int(replaced.min())} to {int(replaced.max())}, std {float(replaced.float().std()):.0f} "
                    f"(uniform over [0, {V}) has std {V / math.sqrt(12):.0f})",
                    "hint: draw them with torch.randint(vocab_size, ..., generator=generator)"])

    # 3. The draws come from the generator: the same seed gives the same masks, another seed others
    again = call(ids, special, V, 1)
    other = call(ids, special, V, 2)
    if not (torch.equal(again[0], inputs) and torch.equal(again[1], labels)):
        raise Fail("two calls with generators seeded alike gave different masks",
                   ["hint: pass generator=generator to every random draw (torch.bernoulli, torch.rand, torch.randint)"])
    if torch.equal(other[1], labels):
        raise Fail("another seed gave the same masks", ["hint: draw from the generator you are given"])
    same = mask_tokens(ids, special, V, MASK_TOKEN_ID, torch.Generator().manual_seed(1))
    note = (" and, draw for draw, the same masks as the library (and transformers' collator)"
            if torch.equal(same[0], inputs) and torch.equal(same[1], labels) else
            " (the library draws in another order, so its masks differ from yours: both are right)")
    return [table, f"special tokens never selected, labels right, repeatable with the generator{note}"]


def check_paraphrase_mining(student: _Student, ctx: Context) -> list[str]:
    from .similarity import paraphrase_mining

    def run(emb, top_k, what):
        want = paraphrase_mining(emb, top_k=top_k)
        got = student("paraphrase_mining", emb, top_k)
        if not isinstance(got, (list, tuple)):
            raise Fail(f"{what}: returned {type(got).__name__}, expected a list of (score, i, j)")
        try:
            got = [(float(s), int(i), int(j)) for s, i, j in got]
        except (TypeError, ValueError):
            raise Fail(f"{what}: expected a list of (score, i, j) tuples, got {_short(repr(got[:3]))} ...") from None
        n = len(emb)
        if any(i == j for _, i, j in got):
            raise Fail(f"{what}: a sentence is paired with itself", ["hint: leave out the diagonal (i == j) of the score matrix"])
        if any(i > j for _, i, j in got):
            raise Fail(f"{what}: a pair has i > j", ["hint: write each pair once, as (score, i, j) with i < j"])
        if len(set((i, j) for _, i, j in got)) < len(got):
            raise Fail(f"{what}: a pair appears twice",
                       ["hint: a pair found from both of its sentences, (i, j) and (j, i), is kept once"])
        scores = [s for s, _, _ in got]
        if scores != sorted(scores, reverse=True):
            raise Fail(f"{what}: the pairs are not sorted best first", ["hint: sort by score, highest first"])
        theirs, ours = {(i, j): s for s, i, j in got}, {(i, j): s for s, i, j in want}
        missing, extra = sorted(set(ours) - set(theirs), key=lambda p: -ours[p]), sorted(set(theirs) - set(ours))
        if missing or extra:
            details = [f"yours has {len(got)} pairs, expected {len(want)}"]
            if missing:
                details.append(f"missing: pair {missing[0]} (score {ours[missing[0]]:.4f})")
            if extra:
                details.append(f"not expected: pair {extra[0]} (score {theirs[extra[0]]:.4f})")
            dot = {(min(i, j), max(i, j)) for i in range(n) for j in range(n) if i != j}
            norms = emb.norm(dim=1)
            if len(got) == min(top_k, len(want)) < len(want):
                hint = "top_k is per sentence: each sentence contributes its top_k best partners, not top_k pairs in all"
            elif len(got) == len(dot) > len(want):
                hint = "keep only each sentence's top_k best partners (a pair stays when either sentence picked the other)"
            elif not torch.allclose(norms, torch.ones_like(norms)) and extra:
                hint = "score with the cosine similarity (normalise the vectors first), not the dot product"
            else:
                hint = "for each sentence, its top_k others by cosine similarity; a pair is kept once, as (i, j) with i < j"
            raise Fail(f"{what}: not the same pairs", details + [f"hint: {hint}"])
        worst = max(abs(theirs[p] - ours[p]) for p in ours) if ours else 0.0
        if worst > 1e-5:
            p = max(ours, key=lambda q: abs(theirs[q] - ours[q]))
            raise Fail(f"{what}: scores differ", [f"pair {p}: yours {theirs[p]:.6f}, expected {ours[p]:.6f}",
                                                   "hint: the score is the cosine similarity of the two vectors"])
        return len(want)

    g = torch.Generator().manual_seed(13)
    emb = 2 * torch.randn(12, 8, generator=g)
    n1 = _case("random vectors (12 × 8, top_k 2)", lambda: run(emb, 2, "paraphrase_mining"))
    emb = ctx.sbert.encode(ctx.sentences, convert_to="torch", progress=False)
    n2 = _case(f"all-MiniLM-L6-v2 vectors of {len(emb)} sentences ({ctx.data}; top_k 3)", lambda: run(emb, 3, "paraphrase_mining"))
    return [f"the same {n1} and {n2} pairs as the library, best first, scores within 1e-5"]


# ----------------------------------------------------------------------------------------------------
# The exercises


@dataclass(frozen=True)
class Exercise:
    name: str  # the file exercises/<name>.py
    functions: tuple[str, ...]  # what the file must define
    library: str  # where the library does the same
    notebook: str
    check: Callable[[_Student, Context], list[str]]


EXERCISES: dict[str, Exercise] = {e.name: e for e in [
    Exercise("basic_tokenize", ("basic_tokenize",), "minisbert/tokenizer.py: basic_tokenize",
             "notebooks/01_tokenizer.py", check_basic_tokenize),
    Exercise("wordpiece", ("wordpiece",), "minisbert/tokenizer.py: BertTokenizer._wordpiece",
             "notebooks/01_tokenizer.py", check_wordpiece),
    Exercise("embeddings", ("embeddings",), "minisbert/bert.py: BertEmbeddings.forward",
             "notebooks/02_bert_step_by_step.py", check_embeddings),
    Exercise("attention_head", ("attention_head",), "minisbert/bert.py: BertSelfAttention.forward (one head of it)",
             "notebooks/02_bert_step_by_step.py", check_attention_head),
    Exercise("multi_head_attention", ("multi_head_attention",),
             "minisbert/bert.py: BertSelfAttention.forward, then BertSelfOutput.dense",
             "notebooks/02_bert_step_by_step.py", check_multi_head_attention),
    Exercise("bert_layer", ("bert_layer",), "minisbert/bert.py: BertLayer.forward",
             "notebooks/02_bert_step_by_step.py", check_bert_layer),
    Exercise("pooling", ("mean_pool", "max_pool", "cls_pool"),
             "minisbert/pooling.py: mean_pooling, max_pooling, cls_pooling",
             "notebooks/04_siamese_and_pooling.py", check_pooling),
    Exercise("classification_loss", ("classification_loss",),
             "minisbert/objectives.py: ClassificationObjective.loss_from_embeddings", "notebooks/05_objectives.py",
             check_classification_loss),
    Exercise("regression_loss", ("regression_loss",), "minisbert/objectives.py: RegressionObjective.loss_from_embeddings",
             "notebooks/05_objectives.py", check_regression_loss),
    Exercise("triplet_loss", ("triplet_loss",), "minisbert/objectives.py: TripletObjective.loss_from_embeddings",
             "notebooks/05_objectives.py", check_triplet_loss),
    Exercise("mlm_mask", ("mlm_mask",), "minisbert/masking.py: mask_tokens", "notebooks/07_pretraining_bert.py",
             check_mlm_mask),
    Exercise("paraphrase_mining", ("paraphrase_mining",), "minisbert/similarity.py: paraphrase_mining",
             "notebooks/04_siamese_and_pooling.py", check_paraphrase_mining),
]}


TOKENIZER_EXERCISES = {"basic_tokenize", "wordpiece"}  # graded without the model's weights


def check_names(names) -> list[str]:
    """The exercises to grade: all of them for an empty list; ValueError naming an unknown one.

    A function's name stands for the exercise (file) that holds it: ``mean_pool`` grades ``pooling``.
    """
    by_function = {f: e.name for e in EXERCISES.values() for f in e.functions}
    names = list(dict.fromkeys(by_function.get(n, n) for n in names)) if names else list(EXERCISES)
    unknown = [n for n in names if n not in EXERCISES]
    if unknown:
        raise ValueError(f"unknown exercise {unknown[0]!r}; the exercises are: {', '.join(EXERCISES)}")
    return list(dict.fromkeys(names))


def grade_functions(name: str, functions: dict[str, Callable], context: Context, files: set[str] = frozenset()) -> Result:
    """Grade the functions of one exercise in this process (no time limit: see ``grade_folder``)."""
    exercise = EXERCISES[name]
    student = _Student(functions, {str(Path(f).resolve()) for f in files})
    try:
        notes = exercise.check(student, context)
    except Fail as f:
        return Result(name, f.status, f.summary, f.details)
    except Exception as e:  # the student's result broke a comparison in a way no check foresaw
        return Result(name, ERROR, f"checking your result raised {type(e).__name__}: {e}",
                      ["hint: return what the docstring asks for (a tensor of the stated shape, or a list)"])
    return Result(name, PASS, notes[0], notes[1:] + [f"the library does the same in {exercise.library}; "
                                                      f"step by step in {exercise.notebook}"])


def grade_file(name: str, folder: str | Path, context: Context) -> Result:
    """Load ``folder/<name>.py`` and grade it, in this process."""
    path = Path(folder) / f"{name}.py"
    if not path.is_file():
        return Result(name, MISSING, f"no file {path}")
    try:
        module = load_file(path)
    except BaseException as e:  # noqa: BLE001 - a syntax error or sys.exit() at import is the student's
        if isinstance(e, KeyboardInterrupt):
            raise
        where = _student_frame(e.__traceback__, {str(path.resolve())})
        detail = f"{type(e).__name__}: {e}".strip()
        if isinstance(e, SyntaxError):
            where = f"{path.name} line {e.lineno}: {(e.text or '').strip()}"
        return Result(name, ERROR, f"{path.name} cannot be imported ({_short(detail.splitlines()[0])})",
                      [f"at {where}"] if where else [])
    functions = {f: getattr(module, f, None) for f in EXERCISES[name].functions}
    return grade_functions(name, functions, context, {str(path)})


# ----------------------------------------------------------------------------------------------------
# A folder in a child process, with a time limit per exercise


def grade_folder(folder: str | Path, names=None, time_limit: float = DEFAULT_TIME_LIMIT, model: str = MODEL,
                 quiet_student: bool = True, on_result: Callable[[Result], None] | None = None) -> dict[str, Result]:
    """Grade ``folder/<name>.py`` for each exercise in a child process; a crash or hang costs one exercise.

    The child loads the model first (its own time limit, ``SETUP_TIME_LIMIT``), then announces each
    exercise before grading it. An exercise that takes longer than ``time_limit`` seconds is a timeout; a
    child that dies is a crash of the exercise it was on. Either way the child is killed and a new one
    grades the remaining exercises. ``quiet_student``: discard what the student's code prints (instructor
    mode); otherwise it reaches this process's stdout and stderr.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder} (--dir names the folder holding the exercise files)")
    if not (isinstance(time_limit, (int, float)) and time_limit > 0 and math.isfinite(time_limit)):
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    remaining = check_names(names)
    from .weights import resolve_model_dir

    model = str(resolve_model_dir(model))  # a model not fetched is the caller's to fix: say so here, not in the child
    results: dict[str, Result] = {}

    def record(result: Result):
        results[result.name] = result
        remaining.remove(result.name)
        if on_result:
            on_result(result)

    while remaining:
        for r in _run_worker(folder, list(remaining), time_limit, model, quiet_student):
            record(r)
    return {n: results[n] for n in check_names(names)}


def _run_worker(folder: Path, names: list[str], time_limit: float, model: str, quiet: bool):
    """One child process: yields results until it ends; its last exercise, if unfinished, as crash or timeout."""
    read_fd, write_fd = os.pipe()
    stderr = tempfile.TemporaryFile() if quiet else None
    command = [sys.executable, "-m", "minisbert.grade", "--worker", str(write_fd), "--model", model,
               str(folder.resolve()), *names]
    process = subprocess.Popen(command, pass_fds=(write_fd,), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL if quiet else None, stderr=stderr, start_new_session=True)
    os.close(write_fd)
    current, deadline, buffer, finished = None, time.monotonic() + SETUP_TIME_LIMIT, b"", 0
    ended = None  # None while running; "eof" or "timeout"
    try:
        while ended is None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([read_fd], [], [], wait)[0]:
                ended = "timeout"
                break
            chunk = os.read(read_fd, 65536)
            if not chunk:
                ended = "eof"
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                message = json.loads(line)
                if "start" in message:
                    current, deadline = message["start"], time.monotonic() + time_limit
                elif "setup_error" in message:
                    raise RuntimeError(f"the grader could not start: {message['setup_error']}")
                else:
                    result = Result.from_json(json.dumps(message["result"]))
                    current, deadline, finished = None, time.monotonic() + SETUP_TIME_LIMIT, finished + 1
                    yield result
    finally:
        if ended == "eof":
            try:  # the pipe closes a moment before the process exits
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        os.close(read_fd)
    tail = ""
    if stderr is not None:
        stderr.seek(0)
        lines = stderr.read().decode("utf-8", "replace").strip().splitlines()
        tail = lines[-1] if lines else ""
        stderr.close()
    if current is None:
        if finished == len(names):
            return
        raise RuntimeError(f"the grader's child process failed before grading ({ended}, exit code "
                           f"{process.returncode}){': ' + tail if tail else ''}")
    if ended == "timeout":
        yield Result(current, TIMEOUT, f"stopped after the time limit of {time_limit:g} s",
                     ["hint: look for a loop that never ends (a while loop whose index does not move)"])
    else:
        code = process.returncode
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        yield Result(current, CRASH, f"the process running it died ({how})",
                     [f"last line on stderr: {_short(tail, 200)}"] if tail else [])


def _worker(fd: int, folder: str, names: list[str], model: str) -> int:
    """The child's side: load the context, then grade each exercise, one JSON line per message on ``fd``."""
    channel = os.fdopen(fd, "w", buffering=1, encoding="utf-8")

    def send(message: dict):
        channel.write(json.dumps(message) + "\n")
        channel.flush()

    context = Context(model)
    try:  # the slow part, before any exercise's clock starts
        context.tokenizer, context.pairs
        if set(names) - TOKENIZER_EXERCISES:
            context.sbert
    except Exception as e:
        send({"setup_error": f"{type(e).__name__}: {e}"})
        return 2
    for name in names:
        send({"start": name})
        result = grade_file(name, folder, context)
        send({"result": asdict(result)})
    return 0


# ----------------------------------------------------------------------------------------------------
# Reports


def format_result(result: Result, exercise_width: int = 22) -> str:
    """One exercise as the command prints it: a status line, then its details indented."""
    label = "PASS" if result.passed else result.status.upper()
    lines = [f"{result.name:<{exercise_width}} {label:<7} {result.summary}"]
    lines += [f"{'':<{exercise_width}}         {d}" for d in result.details]
    return "\n".join(lines)


def scores_table(results: dict[str, dict[str, Result]], names: list[str]) -> str:
    """CSV text: one row per student, one column per exercise (its status), then the number passed."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", *names, "passed"])
    for student, graded in results.items():
        writer.writerow([student, *(graded[n].status for n in names), sum(graded[n].passed for n in names)])
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    """The child process's entry: ``python -m minisbert.grade --worker FD --model M FOLDER NAME ...``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 5 or argv[0] != "--worker" or argv[2] != "--model":
        print("minisbert.grade runs as the grader's child process; use `python -m minisbert grade`", file=sys.stderr)
        return 2
    return _worker(int(argv[1]), argv[4], argv[5:], argv[3])


if __name__ == "__main__":
    sys.exit(main())
