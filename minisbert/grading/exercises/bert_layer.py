"""Exercise 6, one BERT layer: attention, residual and LayerNorm, feed-forward, residual and LayerNorm."""

from __future__ import annotations

import torch

from ..compare import case, check_tensor, locate
from ..context import Context
from ..exercise import Exercise
from ..mistakes import attention_wrongs, layer_norm_after, layer_variant
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
    """The stages of the layer, each isolated by zeroing what comes after it (see ``compare.locate``):
    with the attention's and the feed-forward's output projections at zero the layer is LN2(LN1(x)); with
    only the feed-forward's at zero it is LN2(a), a = LN1(x + attention(x)); with the feed-forward's first
    projection at zero it is LN2(a + b2); then the whole layer."""
    zero = lambda *names: {f"{n}.{p}": torch.zeros_like(w[f"{n}.{p}"]) for n in names for p in ("weight", "bias")}

    def stage(label, weights):
        weights = {**w, **weights}
        with torch.no_grad():
            want, _ = library_layer(weights, num_heads)(x, key_mask(mask))
        return (label, lambda: student("bert_layer", x, dict(weights), mask, num_heads), want, mask.bool())

    return [stage("the residual + LayerNorm (both sub-layers at zero)", zero("attention.output.dense", "output.dense")),
            stage("the attention block and the first residual + LayerNorm", zero("output.dense")),
            stage("the second residual + LayerNorm (the feed-forward reduced to its bias)", zero("intermediate.dense")),
            stage("the feed-forward, W2·gelu(W1·a)", {})]


def check(student: Student, ctx: Context) -> list[str]:
    def run(x, w, mask, num_heads, what):
        with torch.no_grad():
            want, _ = library_layer(w, num_heads)(x, key_mask(mask))
        got = student("bert_layer", x, dict(w), mask, num_heads)
        wrongs = [
            ("LayerNorm eps is 1e-12 in BERT (the TensorFlow value it was trained with), not PyTorch's default 1e-5",
             lambda: layer_variant(x, w, mask, num_heads, eps=1e-5)),
            ("GELU is the exact erf form, 0.5·x·(1 + erf(x/√2)), not the tanh approximation",
             lambda: layer_variant(x, w, mask, num_heads, act="tanh")),
            ("the activation is GELU, not ReLU", lambda: layer_variant(x, w, mask, num_heads, act="relu")),
            ("BERT is post-LayerNorm: LN(x + sublayer(x)), not x + sublayer(LN(x))",
             lambda: layer_variant(x, w, mask, num_heads, pre_ln=True)),
            ("the residual connections are missing: LN(x + attention(x)), then LN(a + ffn(a))",
             lambda: layer_variant(x, w, mask, num_heads, residual=False)),
        ] + [(h, lambda f=f: layer_norm_after(f, x, w)) for h, f in attention_wrongs(x, w, mask, num_heads)[:5]]
        try:
            return check_tensor(got, want, what, valid=mask.bool(), wrongs=wrongs, rtol=1e-5,
                                usual="a = LN(x + attention(x)); out = LN(a + W2·gelu(W1·a)), LayerNorm eps 1e-12, erf GELU")
        except Fail as f:
            where = locate(_probes(student, x, w, mask, num_heads), rtol=1e-5)
            if where:
                f.details.insert(len(f.details) - 1, where)
            raise

    # Small inputs (std 0.05): LayerNorm's eps then matters, and eps 1e-5 is off by far more than the tolerance.
    x, mask = random_hidden(3, 7, 16, [7, 4, 2], seed=6)
    d1 = case("random inputs (B=3, T=7, H=16, 2 heads)", lambda: run(0.05 * x, _small(random_layer(16, 2, seed=7)), mask, 2,
                                                                       "bert_layer"))
    case("a batch of one sentence of one token (B=1, T=1)", lambda: run(0.05 * x[:1, :1], _small(random_layer(16, 2, seed=7)), mask[:1, :1], 2, "bert_layer"))
    h, mask = ctx.hidden(3)
    d2 = case(f"all-MiniLM-L6-v2 layer 3 on 8 sentences ({ctx.data})",
               lambda: run(h, real_layer(ctx, 3), mask, ctx.bert.config.num_attention_heads, "bert_layer"))
    return [f"max |Δ| {d1:.1e} on random inputs, {d2:.1e} on all-MiniLM-L6-v2 (real tokens)"]


def _small(w: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The layer's output projections scaled down, so that the sums entering each LayerNorm are small."""
    return {k: 0.05 * v if k.startswith(("attention.output.dense", "output.dense")) else v for k, v in w.items()}


EXERCISE = Exercise(
    "bert_layer", ('bert_layer',), "minisbert/bert.py: BertLayer.forward",
    "notebooks/02_bert_step_by_step.py", check,
    params={'bert_layer': ('x', 'weights', 'attention_mask', 'num_heads')},
    builtins=('scaled_dot_product_attention', 'MultiheadAttention', 'TransformerEncoderLayer', 'layer_norm', 'LayerNorm'),
)
