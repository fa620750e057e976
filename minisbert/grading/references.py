"""The references: the library's own modules (``minisbert.bert``), holding the given weights, and the
random and real inputs the checks feed them. The library is the answer key: its pieces are checked
against transformers and sentence-transformers by the test suite."""

from __future__ import annotations

import math

import torch

from ..bert import BertLayer
from ..config import BertConfig
from .context import Context


def config(H: int, num_heads: int, intermediate: int = 0, vocab: int = 30522, positions: int = 512, eps: float = 1e-12):
    return BertConfig(vocab_size=vocab, hidden_size=H, num_hidden_layers=1, num_attention_heads=num_heads,
                      intermediate_size=intermediate or 4 * H, max_position_embeddings=positions, layer_norm_eps=eps)


def library_layer(w: dict[str, torch.Tensor], num_heads: int):
    """minisbert.bert.BertLayer holding the weights ``w`` (checkpoint keys without ``encoder.layer.N.``)."""
    H, intermediate = w["intermediate.dense.weight"].shape[1], w["intermediate.dense.weight"].shape[0]
    layer = BertLayer(config(H, num_heads, intermediate))
    layer.load_state_dict(w, strict=True)
    return layer.eval()


def key_mask(mask: torch.Tensor) -> torch.Tensor:
    return mask.bool()[:, None, None, :]  # (B, 1, 1, T), as BertModel.forward builds it


def random_layer(H: int, num_heads: int, seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    layer = BertLayer(config(H, num_heads))
    with torch.no_grad():
        for name, p in layer.named_parameters():
            if name.endswith("LayerNorm.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p) / math.sqrt(p.shape[-1]) if p.dim() == 2 else 0.1 * torch.randn_like(p))
    return {k: v.detach().clone() for k, v in layer.state_dict().items()}


def random_hidden(B: int, T: int, H: int, lengths: list[int], seed: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, H, generator=g)
    mask = (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).long()  # (B, T), right padding
    return x, mask


def real_layer(ctx: Context, i: int) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in ctx.bert.encoder.layer[i].state_dict().items()}



def pair_vectors(ctx: Context, normalize: bool) -> tuple[torch.Tensor, torch.Tensor]:
    u = ctx.sentence_vectors(normalize)
    return u[0::2], u[1::2]  # (N, H) each: sentence a and sentence b of each pair

