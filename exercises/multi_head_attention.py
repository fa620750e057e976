"""Exercise 5: multi-head self-attention, all heads of one BERT layer at once.

Grade it: python -m minisbert grade multi_head_attention
"""

import math

import torch


def multi_head_attention(x, layer_weights, mask, num_heads):
    """All the heads of one layer's self-attention, concatenated and projected back to H.

    Vaswani et al. 2017, section 3.2.2:

        MultiHead(x) = Concat(head_1, ..., head_h) Woᵀ + bo
        head_i       = softmax(Q_i K_iᵀ / √d) V_i,   d = H / num_heads

    Q = x Wqᵀ + bq is computed for all heads at once, (B, T, H); head i owns the columns
    i·d .. (i+1)·d - 1 of it. So reshape to (B, T, nh, d) and move the heads forward, (B, nh, T, d),
    attend, then undo both steps to get (B, T, H) back before the output projection.

    Args:
        x: (B, T, H) token vectors.
        layer_weights: dict of one layer's tensors, named as in the checkpoint without the
            "encoder.layer.N." prefix. This exercise uses
                "attention.self.query.weight" (H, H), "attention.self.query.bias" (H,),
                "attention.self.key.*", "attention.self.value.*" likewise,
                "attention.output.dense.weight" (H, H) and "attention.output.dense.bias" (H,): Wo, bo.
        mask: (B, T) long, 1 for a real token, 0 for padding.
        num_heads: nh; 12 for all-MiniLM-L6-v2 (H = 384, d = 32).

    Returns:
        (B, T, H), after the output projection (before the residual and LayerNorm, which are the
        next exercise's). Only real tokens are graded.

    Hints:
        - ``t.view(B, T, nh, d).transpose(1, 2)`` splits; ``c.transpose(1, 2).reshape(B, T, H)`` merges.
        - √d uses the head size d, not H.

    Write it yourself: ``F.scaled_dot_product_attention`` and ``nn.MultiheadAttention`` do it whole, and
    the grader flags them in the report (your teacher may forbid them).
    """
    raise NotImplementedError
