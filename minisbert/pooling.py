"""Pooling: from one vector per token to one vector per sentence.

Reimers & Gurevych 2019, "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks"
(https://arxiv.org/abs/1908.10084), section 3: SBERT adds a pooling operation to the output of BERT to
derive a fixed-size sentence embedding, and tries three:

* ``mean``: the average of the token vectors (the default; best in the paper's ablation, table 6);
* ``max``: the element-wise maximum over the tokens;
* ``cls``: the output vector of the ``[CLS]`` token.

Batches are padded, so every function takes the ``attention_mask`` (B, T), 1 on real tokens and 0 on
``[PAD]``, and padding never reaches a result: a padded token's vector is whatever BERT computed for a
``[PAD]`` input, not zero, and averaging or maximising it in would make a sentence's vector depend on
the length of its neighbours in the batch.
"""

from __future__ import annotations

import torch
from torch import nn

POOLING_MODES = ("mean", "max", "cls")


def check_pooling_mode(mode) -> None:
    """ValueError unless ``mode`` is one of ``POOLING_MODES``."""
    if mode not in POOLING_MODES:
        raise ValueError(f"unknown pooling mode {mode!r}; choose one of {', '.join(POOLING_MODES)}")


def mean_pooling(token_embeddings: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Masked mean: sum of the real tokens' vectors / number of real tokens. (B, T, H) → (B, H).

    The count is clamped to at least 1e-9 (as sentence-transformers does) so that an all-padding row
    gives a zero vector instead of 0 / 0 = NaN; a real row always has ≥ 2 tokens ([CLS] and [SEP]).
    """
    mask = attention_mask.unsqueeze(-1).to(token_embeddings.dtype)  # (B, T, 1): 1 real, 0 padding
    summed = (token_embeddings * mask).sum(dim=1)  # (B, H)
    counts = mask.sum(dim=1).clamp(min=1e-9)  # (B, 1)
    return summed / counts


def max_pooling(token_embeddings: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Masked element-wise max over the tokens. (B, T, H) → (B, H).

    Padding is set to -inf before the max, so it can never win (setting it to 0 would, wherever every
    real token is negative in some dimension). sentence-transformers 6.x does the same.
    """
    padding = (attention_mask == 0).unsqueeze(-1)  # (B, T, 1), True on [PAD]
    return token_embeddings.masked_fill(padding, float("-inf")).max(dim=1).values  # (B, H)


def cls_pooling(token_embeddings: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The first real token's vector, which is [CLS] for BERT's right-padded inputs. (B, T, H) → (B, H).

    With right padding that is always position 0; taking the first position where the mask is 1
    (``argmax`` returns the first maximum) also gives the right token for a left-padded batch.
    """
    first = attention_mask.to(torch.int32).argmax(dim=1)  # (B,): index of the first real token
    return token_embeddings[torch.arange(token_embeddings.shape[0], device=token_embeddings.device), first]  # (B, H)


POOLING_FUNCTIONS = {"mean": mean_pooling, "max": max_pooling, "cls": cls_pooling}


class Pooling(nn.Module):
    """The pooling layer of SBERT: ``Pooling("mean")(token_embeddings, attention_mask) -> (B, H)``.

    It has no parameters; it is a module so that it sits in the model next to BERT and prints with it.
    """

    def __init__(self, mode: str = "mean"):
        super().__init__()
        check_pooling_mode(mode)
        self.mode = mode

    def forward(self, token_embeddings: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return POOLING_FUNCTIONS[self.mode](token_embeddings, attention_mask)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
