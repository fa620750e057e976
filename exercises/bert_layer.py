"""Exercise 6: one BERT encoder layer: attention and feed-forward, residuals, post-LayerNorm.

Grade it: python -m minisbert grade bert_layer
"""

import math

import torch


def bert_layer(x, layer_weights, mask, num_heads):
    """One encoder layer of BERT (post-LayerNorm, as the original Transformer).

    Vaswani et al. 2017, section 3.1 ("LayerNorm(x + Sublayer(x))") and 3.3; Devlin et al. 2019:

        a   = LayerNorm(x + MultiHead(x))                         attention.output.LayerNorm
        out = LayerNorm(a + W2 · GELU(W1 · a + b1) + b2)          output.LayerNorm

    W1 (I, H) is "intermediate.dense", W2 (H, I) is "output.dense" (I = 4H in the paper, 1536 here).
    Two numbers decide whether the result matches the pretrained model to 1e-6 or only to 1e-3:

        - LayerNorm eps = 1e-12, the TensorFlow value BERT was trained with (PyTorch's default is 1e-5);
        - GELU is the exact form x · Φ(x) = 0.5 · x · (1 + erf(x / √2)) (Hendrycks & Gimpel 2016),
          not the tanh approximation.

    Args:
        x: (B, T, H) token vectors, the previous layer's output.
        layer_weights: dict of the layer's tensors named as in the checkpoint without
            "encoder.layer.N.": the attention ones of exercise 5 plus
                "attention.output.LayerNorm.weight" / ".bias" (H,),
                "intermediate.dense.weight" (I, H) / ".bias" (I,),
                "output.dense.weight" (H, I) / ".bias" (H,),
                "output.LayerNorm.weight" / ".bias" (H,).
        mask: (B, T) long, 1 for a real token, 0 for padding.
        num_heads: attention heads.

    Returns:
        (B, T, H). No dropout (inference). Only real tokens are graded.

    Hints:
        - You may paste in your multi_head_attention, or import it: the grader puts the exercise folder
          on the path, so ``from multi_head_attention import multi_head_attention`` works.
        - ``torch.nn.functional.gelu(t)`` is the erf form; ``approximate="tanh"`` is not.

    Write it yourself: ``nn.TransformerEncoderLayer``, ``F.scaled_dot_product_attention`` and
    ``F.layer_norm`` / ``nn.LayerNorm`` are flagged in the report (your teacher may forbid them).
    """
    raise NotImplementedError
