"""Reference solution (the cross-entropy written out as -log softmax)."""

import torch


def classification_loss(u, v, weight, bias, labels):
    features = torch.cat([u, v, (u - v).abs()], dim=1)  # (N, 3H)
    logits = features @ weight.T + bias  # (N, k)
    return -logits.log_softmax(dim=-1)[torch.arange(len(labels)), labels].mean()
