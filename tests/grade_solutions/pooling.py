"""Reference solution."""

import torch


def mean_pool(token_embeddings, attention_mask):
    m = attention_mask.unsqueeze(-1).float()  # (B, T, 1)
    return (token_embeddings * m).sum(1) / m.sum(1).clamp(min=1e-9)


def max_pool(token_embeddings, attention_mask):
    return token_embeddings.masked_fill(attention_mask.unsqueeze(-1) == 0, float("-inf")).max(dim=1).values


def cls_pool(token_embeddings, attention_mask):
    return token_embeddings[:, 0]
