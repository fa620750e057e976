"""Exercise 4, one attention head: softmax(q·kᵀ/√d + mask)·v for one head's slice of the weights."""

from __future__ import annotations

import torch

from ..compare import case, check_tensor
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
from ..student import Student


def check(student: Student, ctx: Context) -> list[str]:
    def run(x, w, mask, num_heads, head, what):
        d = x.shape[-1] // num_heads
        rows = slice(head * d, (head + 1) * d)
        weights = [w[f"attention.self.{n}.{p}"][rows] for n in ("query", "key", "value") for p in ("weight", "bias")]
        with torch.no_grad():
            context, _ = library_layer(w, num_heads).attention.self(x, key_mask(mask))  # (B, T, H)
        want = context[..., rows]  # (B, T, d): the columns of this head
        got = student("attention_head", x, *weights, mask)
        wrongs = [(h, f) for h, f in attention_wrongs(x, w, mask, num_heads, head) if "heads" not in h and "projection" not in h]
        return check_tensor(got, want, what, valid=mask.bool(), wrongs=wrongs, usual=ATTENTION_USUAL)

    x, mask = random_hidden(3, 7, 16, [7, 4, 2], seed=2)
    d1 = case("random inputs (B=3, T=7, H=16, head of size 8, padded rows)",
               lambda: run(x, random_layer(16, 2, seed=3), mask, 2, 1, "attention_head"))
    case("a batch of one sentence of one token (B=1, T=1)", lambda: run(x[:1, :1], random_layer(16, 2, seed=3), mask[:1, :1], 2, 0, "attention_head"))
    h, mask = ctx.hidden(0)
    d2 = case(f"all-MiniLM-L6-v2 layer 0, head 5, on 8 sentences ({ctx.data})",
               lambda: run(h, real_layer(ctx, 0), mask, ctx.bert.config.num_attention_heads, 5, "attention_head"))
    return [f"max |Δ| {d1:.1e} on random inputs, {d2:.1e} on all-MiniLM-L6-v2 (real tokens)"]


EXERCISE = Exercise(
    "attention_head", ('attention_head',), "minisbert/bert.py: BertSelfAttention.forward (one head of it)",
    "notebooks/02_bert_step_by_step.py", check,
    params={'attention_head': ('x', 'wq', 'bq', 'wk', 'bk', 'wv', 'bv', 'attention_mask')},
    builtins=('scaled_dot_product_attention', 'MultiheadAttention', 'multi_head_attention_forward'),
)
