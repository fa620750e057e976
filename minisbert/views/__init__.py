"""See inside: interactive HTML views of attention, queries and keys, and sentence vectors.

Each view is a function that runs the model's own forward and returns a ``View``: one self-contained HTML
document (its JavaScript and CSS inline; no CDN, no server, no network) that Jupyter shows inline and
``.save(path)`` writes to a file any browser opens offline.

    head_view       one layer, one or several heads: tokens in two columns, lines weighted by attention
                    (the style of bertviz, Vig 2019, "A Multiscale Visualization of Attention in the
                    Transformer Model", https://arxiv.org/abs/1906.05714)
    model_view      every layer x head as a small attention map; a click opens that head in the head view
    neuron_view     one head, one query token: q, each key's k, the products q_i k_i, the sum / sqrt(d),
                    the softmax: ``BertSelfAttention.forward`` step by step
    pair_view       a cross-encoder input [CLS] a [SEP] b [SEP] (attention from a to b isolatable), with a
                    toggle to the two sentences encoded separately, as the bi-encoder does
    similarity_view the cosine similarity matrix of a list of sentences' vectors
    pca_view        the sentence vectors projected on their first two principal components

Where the numbers come from. Attention is ``BertModel(..., output_attentions=True)``. The queries and keys
are the outputs of ``attention.self.query`` and ``.key`` of each layer, read with forward hooks and split
into heads by the module's own ``split_heads`` (``capture_qkv``): no copy of the attention code. The page
carries them as JSON in ``<script type="application/json" id="minisbert-data">``, apart from the drawing
code: ``tokens``, ``attention[layer][head][query][key]``, and for the neuron view
``q[layer][head][token][dim]`` and ``k[...]``.

These three are whole numbers in thousandths: ``attention[l][h][i][j] / scale`` is the weight, with
``scale = 1000``, so every number is within 5e-4 of the model's. Why not decimals: the weights of a long
input are mostly small, and "0.004" costs six characters where "4" costs two: the page is much smaller
and opens sooner. A page carries L · nh · T² weights, a size that grows with the square of the input's
length; ``attention_page`` cuts an input whose page would pass ``max_mb`` (50 MB by default) and says so
on the page. The measured sizes are in docs/views.md. (``tests/test_views.py`` checks the JSON against
the model and against transformers within 5e-4; ``tests/test_browser.py`` opens every view in headless
Chromium, long inputs included.)
"""

from __future__ import annotations

import html
import json
import math
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..bert import BertModel
from ..checks import check_int_range, check_texts
from ..io.files import write_text

SCALE = 1000  # attention, q and k are stored as round(x * SCALE): 3 decimals kept, so within 5e-4
MAX_PAGE_MB = 50  # an attention page's largest size: past it a browser takes long to open it, or gives up
BOX_ROWS = 32  # the head and neuron views show this many token rows at most; a longer input scrolls in its box
DECIMALS = 4  # the sentence-vector views' few numbers (similarities, coordinates) as plain decimals
ASSETS = Path(__file__).resolve().parent  # view.js and view.css, shipped as package data

__all__ = ["View", "capture_qkv", "attention_data", "head_view", "model_view", "neuron_view", "pair_view",
           "similarity_view", "pca_view", "attention_page", "SCALE", "MAX_PAGE_MB"]


# ----------------------------------------------------------------------------------------------------
# The page


@dataclass
class View:
    """One self-contained HTML page: ``data`` (the JSON the page draws) plus the inline JS and CSS.

    In Jupyter it shows inline (an ``<iframe srcdoc=...>``, so that its script runs in a page of its own
    whatever the notebook front end allows); ``save(path)`` writes the page atomically.
    """

    data: dict
    title: str = "minisbert"
    height: int = 620  # pixels of the inline frame in a notebook

    @property
    def html(self) -> str:
        # "<" as \u003c: the JSON (sentences included) can never close its <script> element early.
        payload = json.dumps(self.data, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(self.title)}</title>\n<style>{_asset('view.css')}</style></head>\n<body>\n"
            f"<script type=\"application/json\" id=\"minisbert-data\">{payload}</script>\n"
            f"<main id=\"minisbert\"></main>\n<script>{_asset('view.js')}</script>\n</body></html>\n"
        )

    def __repr__(self) -> str:  # not the data: a notebook keeps this text beside the page
        panels = "+".join(self.data.get("panels", []))
        return f"<View {panels}: {self.title!r}>"

    def save(self, path: str | Path) -> Path:
        """Write the page to ``path`` (complete or absent: ``minisbert.io.files.write_text``)."""
        path = Path(path)
        write_text(path, self.html)
        return path

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" style="width:100%;'
                f'height:{self.height}px;border:0" sandbox="allow-scripts"></iframe>')


def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def _rounded(x) -> list:
    """A tensor as nested lists of Python floats, rounded to ``DECIMALS`` places."""
    a = np.round(x.detach().cpu().double().numpy(), DECIMALS)
    a[a == 0] = 0.0  # no "-0.0" in the JSON
    return a.tolist()


def _thousandths(x) -> np.ndarray:
    """A tensor as whole numbers, ``round(x * SCALE)``: "4" for 0.004 in the JSON (see the docstring)."""
    return np.rint(x.detach().cpu().double().numpy() * SCALE).astype(np.int32)


# ----------------------------------------------------------------------------------------------------
# The numbers


@contextmanager
def capture_qkv(bert: BertModel):
    """Record every layer's queries, keys and values, per head, during the forward passes inside the block.

    >>> with capture_qkv(model) as qkv:
    ...     model(ids, output_attentions=True)
    >>> qkv[3]["q"].shape   # layer 3: (B, nh, T, hs)

    Forward hooks on ``attention.self.query``, ``.key`` and ``.value`` keep their outputs (B, T, H), split
    into heads by ``BertSelfAttention.split_heads`` itself: the very tensors the attention multiplies.
    """
    qkv: list[dict[str, torch.Tensor]] = [{} for _ in bert.encoder.layer]
    handles = []
    for i, layer in enumerate(bert.encoder.layer):
        att = layer.attention.self
        for name in ("q", "k", "v"):
            linear = {"q": att.query, "k": att.key, "v": att.value}[name]

            def keep(module, inputs, output, i=i, name=name, att=att):
                qkv[i][name] = att.split_heads(output.detach())  # (B, T, H) -> (B, nh, T, hs)

            handles.append(linear.register_forward_hook(keep))
    try:
        yield qkv
    finally:
        for h in handles:
            h.remove()


def _parts(model, tokenizer):
    """(BertModel, tokenizer) from a SentenceBert / CrossEncoder, or from a BertModel and a tokenizer."""
    bert = model if isinstance(model, BertModel) else getattr(model, "bert", None)
    if not isinstance(bert, BertModel):
        raise TypeError(f"model must be a minisbert BertModel, SentenceBert or CrossEncoder, got {type(model).__name__}")
    tokenizer = tokenizer if tokenizer is not None else getattr(model, "tokenizer", None)
    if tokenizer is None:
        raise ValueError("tokenizer is missing: pass tokenizer= with a BertModel (a SentenceBert carries its own)")
    if bert.training:
        raise ValueError("model is in training mode (dropout would change the attention): call model.eval() first")
    return bert, tokenizer


def _title(text: str) -> str:
    return f"minisbert: {text[:60]}"


def _check_text(text, name: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError(f"{name} is empty: give a sentence to look at")
    return text


def _input_ids(tok, text: str, pair: str | None, max_length: int):
    """The tokenizer's ids, segments and mask for ``[CLS] text [SEP] (pair [SEP])``, cut to ``max_length``
    tokens, longest side first (three tensors of shape (1, T))."""
    with warnings.catch_warnings():  # the tokenizer's own truncation warning: the page carries the note instead
        warnings.simplefilter("ignore")
        batch = tok([text], None if pair is None else [pair], truncation=True, max_length=max_length,
                    return_tensors="pt")
    return batch["input_ids"], batch["token_type_ids"], batch["attention_mask"]


def _forward(bert: BertModel, ids, segments, mask, qk: bool) -> dict:
    """One forward of the model on one input: its attention (and q, k) as arrays of thousandths."""
    device = bert.embeddings.word_embeddings.weight.device
    with torch.no_grad(), capture_qkv(bert) as qkv:
        out = bert(ids.to(device), mask.to(device), segments.to(device), output_attentions=True)
    arrays = {"attention": _thousandths(torch.stack([a[0] for a in out.attentions]))}  # (L, nh, T, T)
    if qk:
        arrays["q"] = _thousandths(torch.stack([layer["q"][0] for layer in qkv]))  # (L, nh, T, hs)
        arrays["k"] = _thousandths(torch.stack([layer["k"][0] for layer in qkv]))  # (L, nh, T, hs)
    return arrays


def _input_data(bert: BertModel, tok, ids, segments, mask, qk: bool) -> dict:
    """The page's description of one input (before the note): tokens, segments, shapes, and the arrays."""
    cfg = bert.config
    data = {"tokens": tok.convert_ids_to_tokens(ids[0].tolist()), "segments": segments[0].tolist(),
            "layers": cfg.num_hidden_layers, "heads": cfg.num_attention_heads, "head_size": cfg.head_size,
            "scale": SCALE, "note": ""}
    data.update(_forward(bert, ids, segments, mask, qk))
    return data


def _separately(bert: BertModel, tok, data: dict) -> list[dict]:
    """The two sentences of a pair input, each through the model on its own as the bi-encoder does:
    ``[CLS] a [SEP]`` and ``[CLS] b [SEP]``, with the very tokens the pair input kept of each."""
    ids = tok.convert_tokens_to_ids(data["tokens"])
    seg = data["segments"]
    first_sep = seg.index(1) - 1  # [CLS] a [SEP] b [SEP]: the first [SEP] is the last token of segment 0
    parts = (ids[1:first_sep], ids[first_sep + 1:-1])
    alone = []
    for part in parts:
        one = torch.tensor([[tok.cls_token_id, *part, tok.sep_token_id]])  # (1, T_part)
        alone.append(_input_data(bert, tok, one, torch.zeros_like(one), torch.ones_like(one), qk=False))
    return alone


def _json_chars(a: np.ndarray) -> int:
    """The length of ``json.dumps(a.tolist(), separators=(",", ":"))`` for an int array, without writing it."""
    magnitude = np.abs(a).astype(np.float64)
    digits = np.floor(np.log10(np.maximum(magnitude, 1))).astype(np.int64) + 1  # 0..9 -> 1, 10..99 -> 2, ...
    chars = int(digits.sum()) + int((a < 0).sum())
    for k, n in enumerate(a.shape):  # each list: "[" + n - 1 commas + "]" = n + 1 characters
        chars += math.prod(a.shape[:k]) * (n + 1)
    return chars


def _skeleton(data: dict) -> tuple[dict, int]:
    """``data`` with each array written as 0, and the characters the arrays add beyond that one."""
    out, extra = {}, 0
    for key, value in data.items():
        if isinstance(value, np.ndarray):
            out[key], extra = 0, extra + _json_chars(value) - 1
        elif key == "separate":
            parts = [_skeleton(part) for part in value]
            out[key], extra = [p for p, _ in parts], extra + sum(e for _, e in parts)
        else:
            out[key] = value
    return out, extra


def _page_bytes(data: dict, title: str = "minisbert") -> int:
    """The size in bytes of the page that ``data`` (its arrays not yet turned into lists) makes, exactly,
    without writing the arrays out (the numbers are ASCII: one byte a character)."""
    skeleton, extra = _skeleton(data)
    return len(View(skeleton, title).html.encode("utf-8")) + extra


def _listed(data: dict) -> dict:
    """``data`` with its arrays as nested lists of whole numbers (what the JSON carries)."""
    out = {}
    for key, value in data.items():
        if isinstance(value, np.ndarray):
            out[key] = value.tolist()
        elif key == "separate":
            out[key] = [_listed(part) for part in value]
        else:
            out[key] = value
    return out


def _attention_inputs(model, text: str, pair: str | None, tokenizer, qk: bool, separate: bool, max_mb: float,
                      settings: dict | None = None) -> dict:
    """The data of an attention page whose JSON stays under ``max_mb`` megabytes, arrays still as arrays.

    A page carries L · nh · T² weights (up to twice as many with a pair's two sentences alone), so its size
    grows with the square of the input's length T. The input is cut to the model's positions; if the page
    would still pass ``max_mb``, to the T that fits (the longer sentence cut first), and ``note`` says so.
    ``settings`` (the panels and what they open on) are part of the page, and of its size.
    """
    bert, tok = _parts(model, tokenizer)
    text = _check_text(text, "text")
    pair = None if pair is None else _check_text(pair, "pair")
    if not (isinstance(max_mb, (int, float)) and not isinstance(max_mb, bool) and max_mb > 0):
        raise ValueError(f"max_mb must be a positive number of megabytes, got {max_mb!r}")
    positions = bert.config.max_position_embeddings
    full = len(tok(text, pair, truncation=False, max_length=10**9, return_tensors=None)["input_ids"])
    fewest = 3 if pair is None else 5  # [CLS] a [SEP] (b [SEP]): one token of each sentence
    limit, budget, first_size = min(full, positions), max_mb * 1e6, None
    while True:
        ids, segments, mask = _input_ids(tok, text, pair, limit)
        data = _input_data(bert, tok, ids, segments, mask, qk)
        if separate:
            data["separate"] = _separately(bert, tok, data)
        data.update(settings or {})
        size = _page_bytes(data, _title(text))
        first_size = first_size or size
        if size <= budget:
            break
        if limit <= fewest:
            raise ValueError(f"max_mb={max_mb} is too small: a page of {limit} tokens takes {size / 1e6:.2f} MB")
        # The size is about c · T² (plus terms in T): scale T by the square root of what must go.
        limit = max(fewest, min(limit - 1, int(limit * math.sqrt(budget / size) * 0.98)))
    reasons = []
    if full > positions:
        reasons.append(f"the model has {positions} positions")
    if limit < min(full, positions):
        reasons.append(f"a page of {min(full, positions)} would take {first_size / 1e6:.0f} MB, over the "
                       f"{max_mb:g} MB limit of a page")
    if reasons:
        data["note"] = (f"The input has {full} tokens but " + ", and ".join(reasons) + f": the view shows the "
                        f"first {limit}" + (" (the longer sentence cut first)." if pair is not None else "."))
    return data


def attention_data(model, text: str, pair: str | None = None, tokenizer=None, qk: bool = False,
                   max_mb: float = MAX_PAGE_MB) -> dict:
    """The JSON a view draws: tokens, segments and ``attention[layer][head][query][key]`` (and q, k), the
    last three in thousandths (divide by ``data["scale"]``).

    ``text`` (and ``pair``, for a cross-encoder input ``[CLS] text [SEP] pair [SEP]``) longer than the
    model's position table is cut to fit, longest side first; so is an input whose page would pass
    ``max_mb`` megabytes. ``note`` then says so and the page shows it.
    """
    return _listed(_attention_inputs(model, text, pair, tokenizer, qk, separate=False, max_mb=max_mb))


# ----------------------------------------------------------------------------------------------------
# The attention views


def _page_height(panels, n: int, layers: int) -> int:
    """Pixels of a notebook's inline frame: each panel fits a screen, whatever the input's length."""
    rows = min(n, BOX_ROWS) * 18  # the head and neuron views scroll inside a box of BOX_ROWS token rows
    thumb = 76 if n > 64 else 56  # the model view's maps, in CSS pixels (view.css: .thumb, .grid.large)
    per_panel = {"head": 170 + rows, "pair": 200 + rows, "model": 110 + layers * (thumb + 6),
                 "neuron": 130 + min(n + 3, BOX_ROWS) * 18}
    return 40 + sum(per_panel[p] for p in panels)


def attention_page(model, text: str, pair: str | None = None, tokenizer=None, panels=("head", "model", "neuron"),
                   layer: int = 0, heads=None, head: int = 0, query: int = 0, max_mb: float = MAX_PAGE_MB) -> View:
    """One page with several attention panels over the same input (what ``python -m minisbert view`` saves).

    ``panels``: any of "head", "model", "neuron", "pair" (the pair panel needs ``pair``). ``layer`` and
    ``heads`` (a list; default ``[head]``, one head) start the head and pair panels; ``layer``, ``head`` and
    ``query`` (a token index) start the neuron panel. Everything can be changed in the page.

    The page stays under ``max_mb`` megabytes: a longer input is cut (see ``attention_data``), and the page
    says so in a note.
    """
    panels = list(panels)
    for p in panels:
        if p not in ("head", "model", "neuron", "pair"):
            raise ValueError(f"panels must hold 'head', 'model', 'neuron' or 'pair', got {p!r}")
    if "pair" in panels and pair is None:
        raise ValueError("pair is missing: the pair panel shows a cross-encoder input of two sentences")
    cfg = _parts(model, tokenizer)[0].config
    L, A = cfg.num_hidden_layers, cfg.num_attention_heads
    check_int_range(layer, "layer", 0, L - 1, f" (the model has {L} layers)")
    if heads is not None:
        if isinstance(heads, (str, bytes)) or not hasattr(heads, "__iter__"):
            raise TypeError(f"heads must be a list of head indices, got {type(heads).__name__}")
        heads = list(heads)
        if not heads:
            raise ValueError("heads is empty: pick at least one head")
        for h in heads:
            check_int_range(h, "heads", 0, A - 1, f" (the model has {A} heads)")
    check_int_range(head, "head", 0, A - 1, f" (the model has {A} heads)")
    heads = [head] if heads is None else heads
    settings = {"panels": panels, "layer": layer, "selected_heads": heads, "head": head, "query": query}
    data = _listed(_attention_inputs(model, text, pair, tokenizer, qk="neuron" in panels,
                                     separate="pair" in panels, max_mb=max_mb, settings=settings))
    check_int_range(query, "query", 0, len(data["tokens"]) - 1, f" (the input has {len(data['tokens'])} tokens)")
    return View(data, title=_title(text), height=_page_height(panels, len(data["tokens"]), L))


def head_view(model, text: str, pair: str | None = None, tokenizer=None, layer: int = 0, heads=None,
              max_mb: float = MAX_PAGE_MB) -> View:
    """Tokens in two columns, query on the left, key on the right, a line per pair weighted by attention.

    ``heads`` (default ``[0]``) are the heads drawn at first, one colour each; layer and heads can be
    changed in the page. A line's opacity and width are its weight relative to the strongest weight of its
    query's row, so that a row's strongest lines show at any length (a raw weight is about 1/T). Hovering a
    token keeps only its lines, scrolls the other column to its strongest partner, and writes the
    strongest weights beside the tokens as numbers. A long input scrolls inside a box of ``BOX_ROWS`` rows.
    """
    return attention_page(model, text, pair, tokenizer, ("head",), layer=layer, heads=heads, max_mb=max_mb)


def model_view(model, text: str, pair: str | None = None, tokenizer=None, max_mb: float = MAX_PAGE_MB) -> View:
    """Every layer x head as a small attention map (rows: queries, columns: keys); a click opens that
    head in the head view drawn below the grid."""
    return attention_page(model, text, pair, tokenizer, ("model", "head"), max_mb=max_mb)


def neuron_view(model, text: str, pair: str | None = None, tokenizer=None, layer: int = 0, head: int = 0,
                query: int = 0, max_mb: float = MAX_PAGE_MB) -> View:
    """For one head and one query token: q, each key's k, the elementwise products q_i k_i, their sum
    divided by sqrt(d) (the score), and the softmax over the keys, beside the model's own attention row.

    This is ``BertSelfAttention.forward`` for one row, ``softmax(q Kᵀ / √d)``, computed in the page from the
    model's q and k (rounded), so the last two columns agree to the rounding.
    """
    return attention_page(model, text, pair, tokenizer, ("neuron",), layer=layer, head=head, query=query,
                          max_mb=max_mb)


def pair_view(model, a: str, b: str, tokenizer=None, layer: int = 0, heads=None, max_mb: float = MAX_PAGE_MB) -> View:
    """The head view of a cross-encoder input ``[CLS] a [SEP] b [SEP]`` (Reimers & Gurevych 2019, section 1).

    A filter keeps only attention from sentence A to sentence B (or B to A); a toggle shows the same
    layer and heads with a and b encoded separately, as the bi-encoder does: there no line joins the
    two sentences, since neither input ever sees the other (each sentence keeps the tokens the pair
    input kept of it). The model view of the pair follows.
    """
    return attention_page(model, a, b, tokenizer, ("pair", "model"), layer=layer, heads=heads, max_mb=max_mb)


# ----------------------------------------------------------------------------------------------------
# The sentence-vector views


def _sentence_vectors(model, sentences, name: str = "sentences") -> tuple[list[str], torch.Tensor]:
    if not hasattr(model, "encode"):
        raise TypeError(f"model must be a SentenceBert (it has encode), got {type(model).__name__}")
    sentences = check_texts(sentences, name)
    if len(sentences) < 2:
        raise ValueError(f"{name} must hold at least 2 sentences to compare, got {len(sentences)}")
    for i, s in enumerate(sentences):
        if not s.strip():
            raise ValueError(f"{name}[{i}] is empty")
    return sentences, model.encode(sentences, convert_to="torch").float().cpu()


def similarity_view(model, sentences) -> View:
    """The cosine similarity of every pair of sentence vectors, as a matrix; hover a cell for its pair."""
    sentences, u = _sentence_vectors(model, sentences)
    u = torch.nn.functional.normalize(u, dim=-1)
    data = {"panels": ["similarity"], "sentences": sentences, "similarity": _rounded(u @ u.T)}  # (N, N)
    return View(data, title="minisbert: similarity", height=min(1400, 320 + 34 * len(sentences)))


def pca_view(model, sentences, labels=None) -> View:
    """The sentence vectors on their first two principal components (centred, then SVD); hover a point.

    ``labels`` (one short string per sentence, optional) colours the points by group.
    """
    sentences, u = _sentence_vectors(model, sentences)
    if labels is not None:
        labels = check_texts(labels, "labels")
        if len(labels) != len(sentences):
            raise ValueError(f"labels has {len(labels)} entries but sentences has {len(sentences)}")
    centred = u.double() - u.double().mean(0)  # (N, H)
    _, s, vt = torch.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T  # (N, 2): coordinates on the two leading directions
    explained = (s[:2] ** 2 / (s ** 2).sum()).tolist()
    data = {"panels": ["pca"], "sentences": sentences, "labels": labels, "xy": _rounded(xy),
            "explained": [round(e, 4) for e in explained]}
    return View(data, title="minisbert: PCA", height=560)
