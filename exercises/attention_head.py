"""Exercise 4: one attention head, masked scaled dot-product attention.

Grade it: python -m minisbert grade attention_head
"""

import math

import torch


def attention_head(x, wq, bq, wk, bk, wv, bv, mask):
    """One head of BERT's self-attention, with padding masked out.

    Vaswani et al. 2017 ("Attention Is All You Need"), section 3.2.1, equation (1):

        Attention(Q, K, V) = softmax(Q Kᵀ / √d) V

    with Q = x Wqᵀ + bq, K = x Wkᵀ + bk, V = x Wvᵀ + bv, and d the head size. Dividing by √d keeps
    the scores' variance near 1 whatever d is, so the softmax does not saturate. Padding: a key
    whose mask is 0 must get weight 0, so its score is set to a large negative number (or -inf)
    BEFORE the softmax, which runs over the keys: each query's weights sum to 1.

    Args:
        x: (B, T, H) token vectors.
        wq, wk, wv: (d, H) projection weights, stored (out, in) like nn.Linear's weight.
        bq, bk, bv: (d,) biases.
        mask: (B, T) long, 1 for a real token, 0 for padding.

    Returns:
        (B, T, d): for each token, the attention-weighted sum of the value vectors. Rows of padded
        tokens are not graded (only real tokens' outputs are compared).

    Hints:
        - ``q @ k.transpose(-2, -1)`` gives (B, T, T): row i holds query i's score against every key.
        - ``scores.masked_fill(mask[:, None, :] == 0, float("-inf"))`` broadcasts the key mask over
          the queries.

    Write it yourself: ``F.scaled_dot_product_attention`` and ``nn.MultiheadAttention`` do it whole, and
    the grader flags them in the report (your teacher may forbid them).
    """
    raise NotImplementedError
