"""Training on packed tokens: BERT's forward with no work spent on [PAD] outside attention.

``minisbert/bert.py`` is the model to read; this file runs the same modules in another layout, for
training (``TrainConfig.packed``, on by default). A padded batch spends every token-wise operation on
its [PAD] positions too, and training batches are not sorted by length, so a good share of the plain
forward's matrix products, LayerNorms, GELUs and dropouts work on padding (docs/performance.md gives the
share for STS Benchmark).

Here every token-wise step (the embeddings, the Q/K/V, output and feed-forward products, LayerNorm,
GELU, dropout) runs on the (N, H) matrix of the N real tokens. Only attention needs each sentence's
tokens side by side: it scatters Q, K and V back into the padded (B, T) layout, attends with the
key mask exactly as the plain forward does, and gathers the real rows out again (the "unpad/pad"
around variable-length attention, as in transformers' FlashAttention path). Attention is a few
percent of the FLOPs at sentence lengths, so its padding costs little.

It calls the model's own modules, so autograd, dropout, ``torch.autocast`` and the weights are the
plain forward's. The same function within float rounding: ``tests/test_packed.py`` checks the output
and every parameter's gradient against the plain forward, dropout off. With dropout on, the masks are
drawn over N rows instead of B·T, so the random stream differs from the plain forward's.

Where it is not used: ``encode`` has its own inference path (``minisbert/speed/fast.py``), and pre-training
reads full 128-token blocks, which leave little padding to remove.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..bert import BertLayer, BertModel


#: The packed matrix gets zero rows up to a multiple of this. oneDNN builds (JIT-compiles) a kernel for
#: every new matrix shape and caches it; N real tokens differ from batch to batch, so without rounding
#: nearly every training step would meet new shapes and wait for their kernels (docs/performance.md).
#: The extra rows are never read back, so they get no gradient. (encode's fast path,
#: minisbert/speed/fast.py, rounds to 32 for the same reason.)
ROW_MULTIPLE = 64


def unpack(x: torch.Tensor, rows: torch.Tensor, B: int, T: int) -> torch.Tensor:
    """Packed rows (≥ N, D) → the padded layout (B, T, D), zeros at [PAD]. ``rows`` (N,) holds each real
    token's index in the flattened (B·T) batch; rows of x past the N-th are the rounding's extra rows."""
    x = x[:rows.shape[0]]  # (N, D)
    return x.new_zeros(B * T, x.shape[-1]).index_copy(0, rows, x).view(B, T, x.shape[-1])  # (B, T, D)


def packed_layer(layer: BertLayer, x: torch.Tensor, rows: torch.Tensor, gather: torch.Tensor, B: int, T: int,
                 key_mask: torch.Tensor) -> torch.Tensor:
    """One encoder layer on packed tokens, the maths of ``BertLayer``. x (M, H) → (M, H), M ≥ N rows.

    ``gather`` (M,) is ``rows`` followed by the place the extra rows copy their context from (any place:
    their values are never used)."""
    s = layer.attention.self
    q, k, v = (s.split_heads(unpack(proj(x), rows, B, T))  # each (B, nh, T, hs)
               for proj in (s.query, s.key, s.value))
    context, _ = s.attend(q, k, v, key_mask)  # (B, nh, T, hs)
    context = context.transpose(1, 2).reshape(B * T, x.shape[-1])[gather]  # (M, H): heads side by side, packed
    a = layer.attention.output(context, x)  # (M, H): dense, dropout, residual, LayerNorm
    return layer.output(layer.intermediate(a), a)  # (M, H)


def packed_last_hidden_state(bert: BertModel, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                             token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
    """``bert(input_ids, attention_mask, token_type_ids).last_hidden_state`` (B, T, H), computed on the
    real tokens only; the rows at [PAD] are zeros (pooling never reads them). Differentiable."""
    input_ids, attention_mask, token_type_ids = bert._check_inputs(input_ids, attention_mask, token_type_ids)
    B, T = input_ids.shape
    mask = attention_mask.bool()  # (B, T)
    rows = mask.flatten().nonzero().squeeze(1)  # (N,): the real tokens' places in the flattened batch
    positions = torch.arange(T, device=input_ids.device).repeat(B)[rows]  # (N,): each token's column

    e = bert.embeddings
    x = (e.word_embeddings(input_ids.flatten()[rows])             # (N, H)
         + e.position_embeddings(positions)                       # (N, H)
         + e.token_type_embeddings(token_type_ids.flatten()[rows]))  # (N, H)
    x = e.dropout(e.LayerNorm(x))
    extra = -len(rows) % ROW_MULTIPLE
    x = F.pad(x, (0, 0, 0, extra))  # (M, H), M = N + extra: zero rows up to a multiple of ROW_MULTIPLE
    gather = F.pad(rows, (0, extra), value=0)  # (M,)
    key_mask = mask[:, None, None, :]  # (B, 1, 1, T), as BertModel.forward makes it
    for layer in bert.encoder.layer:
        x = packed_layer(layer, x, rows, gather, B, T, key_mask)  # (M, H)
    return unpack(x, rows, B, T)  # (B, T, H)
