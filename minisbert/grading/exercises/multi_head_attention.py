"""Exercise 5, multi-head attention: split into heads, attend, concatenate, project."""

from __future__ import annotations

import torch

from ..compare import case, check_tensor, locate
from ..context import Context
from ..exercise import Exercise
from ..mistakes import ATTENTION_USUAL, attention_wrongs
from ..references import (
    key_mask,
    library_layer,
    random_hidden,
    random_layer,
    real_layer,
)
from ..results import Fail
from ..student import Student


def _probes(student: Student, x, w, mask, num_heads):
    """The stages of multi-head attention, each isolated on probe inputs (see ``compare.locate``)."""
    _, T, H = x.shape
    d = H // num_heads
    eye = {"attention.output.dense.weight": torch.eye(H), "attention.output.dense.bias": torch.zeros(H)}

    def reference(weights, x, mask):
        with torch.no_grad():
            layer = library_layer(weights, num_heads)
            return layer.attention.output.dense(layer.attention.self(x, key_mask(mask))[0])  # (B, T, H)

    def stage(label, weights, x, mask):
        weights = {k: v.contiguous() for k, v in weights.items()}
        return (label, lambda: student("multi_head_attention", x, dict(weights), mask, num_heads),
                reference(weights, x, mask), mask.bool())

    # 1. the head split and merge: q = k = 0, so every query attends evenly to every key (no padding);
    #    the output is the mean of v, head by head, and the projection is the identity
    full = torch.ones_like(mask)
    zero_qk = {**w, **eye, **{f"attention.self.{n}.{p}": torch.zeros_like(w[f"attention.self.{n}.{p}"])
                              for n in ("query", "key") for p in ("weight", "bias")}}
    # 2. the per-head scores: v of key t is the one-hot e_t inside each head, so the output holds, for each
    #    head and query, its attention weights over the keys (T <= d on this probe)
    Tp = min(T, d)
    xp = x[:, :Tp].clone()
    xp[..., :Tp] = torch.eye(Tp)  # position t carries e_t in the first Tp features
    wv = torch.zeros(H, H)
    for h in range(num_heads):
        wv[h * d:h * d + Tp, :Tp] = torch.eye(Tp)
    one_hot_v = {**w, **eye, "attention.self.value.weight": wv, "attention.self.value.bias": torch.zeros(H)}
    # 3. the context, softmax(q·kᵀ/√d)·v, with the real weights; 4. then the output projection
    return [stage("the head split and merge", zero_qk, x, full),
            stage("the per-head scores (q·kᵀ/√d, the mask, the softmax over the keys)", one_hot_v, xp, mask[:, :Tp]),
            stage("the context (the weights times v, heads concatenated)", {**w, **eye}, x, mask),
            stage("the output projection (attention.output.dense)", w, x, mask)]


def check(student: Student, ctx: Context) -> list[str]:
    def run(x, w, mask, num_heads, what):
        with torch.no_grad():
            layer = library_layer(w, num_heads)
            context, _ = layer.attention.self(x, key_mask(mask))  # (B, T, H)
            want = layer.attention.output.dense(context)  # (B, T, H): the heads, concatenated and projected
        got = student("multi_head_attention", x, dict(w), mask, num_heads)
        try:
            return check_tensor(got, want, what, valid=mask.bool(), wrongs=attention_wrongs(x, w, mask, num_heads),
                                usual=ATTENTION_USUAL)
        except Fail as f:
            where = locate(_probes(student, x, w, mask, num_heads))
            if where:
                f.details.insert(len(f.details) - 1, where)
            raise

    # H = 24, 4 heads of d = 6: √d, d and √H all differ, so each scaling mistake has a result of its own
    x, mask = random_hidden(3, 7, 24, [7, 4, 2], seed=4)
    d1 = case("random inputs (B=3, T=7, H=24, 4 heads)", lambda: run(x, random_layer(24, 4, seed=5), mask, 4, "multi_head_attention"))
    case("a batch of one sentence of one token (B=1, T=1)", lambda: run(x[:1, :1], random_layer(24, 4, seed=5), mask[:1, :1], 4, "multi_head_attention"))
    h, mask = ctx.hidden(2)
    d2 = case(f"all-MiniLM-L6-v2 layer 2 on 8 sentences ({ctx.data})",
              lambda: run(h, real_layer(ctx, 2), mask, ctx.bert.config.num_attention_heads, "multi_head_attention"))
    return [f"max |Δ| {d1:.1e} on random inputs, {d2:.1e} on all-MiniLM-L6-v2 (real tokens)"]

EXERCISE = Exercise(
    "multi_head_attention", ('multi_head_attention',), "minisbert/bert.py: BertSelfAttention.forward, then BertSelfOutput.dense",
    "notebooks/02_bert_step_by_step.py", check,
    params={'multi_head_attention': ('x', 'weights', 'attention_mask', 'num_heads')},
    builtins=('scaled_dot_product_attention', 'MultiheadAttention', 'multi_head_attention_forward'),
)
