"""Reference solution."""

import torch


def regression_loss(u, v, scores):
    cos = (u * v).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1))
    return ((cos - scores) ** 2).mean()
