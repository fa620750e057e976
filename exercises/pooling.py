"""Exercise 7: pooling, one vector per token -> one vector per sentence (mean, max, CLS).

Grade it: python -m minisbert grade pooling
"""

import torch


def mean_pool(token_embeddings, attention_mask):
    """The mean of the real tokens' vectors, SBERT's default pooling.

    Reimers & Gurevych 2019 (Sentence-BERT), section 3: "computing the mean of all output vectors
    (MEAN-strategy)"; table 6 finds it best. Batches are padded, and the vector BERT computes for a
    [PAD] token is not zero, so the mean must skip padding:

        u[b] = Σ_t mask[b, t] · h[b, t] / max(Σ_t mask[b, t], 1e-9)

    (the clamp at 1e-9 is sentence-transformers': an all-padding row gives 0, not NaN).

    Args:
        token_embeddings: (B, T, H) float, BERT's last hidden state.
        attention_mask: (B, T) long, 1 for a real token, 0 for padding.

    Returns:
        (B, H).

    Hint: ``attention_mask.unsqueeze(-1)`` is (B, T, 1), which broadcasts against (B, T, H).
    """
    raise NotImplementedError


def max_pool(token_embeddings, attention_mask):
    """The element-wise maximum over the real tokens (SBERT's MAX-strategy).

        u[b, i] = max over t with mask[b, t] = 1 of h[b, t, i]

    Padding must never win: setting it to 0 is not enough wherever every real token is negative in
    some dimension. Set padded positions to -inf before the max.

    Args / Returns: as mean_pool, (B, T, H) and (B, T) -> (B, H).

    Hint: ``tensor.masked_fill(condition, value)``, then ``.max(dim=1).values``.
    """
    raise NotImplementedError


def cls_pool(token_embeddings, attention_mask):
    """The vector of the [CLS] token, the first token of every (right-padded) input.

    Devlin et al. 2019 train the [CLS] vector for next-sentence prediction; SBERT's table 1 shows it
    is a poor sentence vector without fine-tuning. Here it is for comparison.

    Args / Returns: as mean_pool, (B, T, H) and (B, T) -> (B, H).

    Hint: BERT's batches are padded on the right, so [CLS] is at position 0 of every row.
    """
    raise NotImplementedError
