"""The fast inference path: BERT's forward pass again, arranged for speed, for ``SentenceBert.encode``.

``minisbert/bert.py`` is the model to read; this file computes the same function (``tests/test_fast.py``
checks max |Δ| ≤ 1e-6 against it) with the work laid out differently. It is inference only (no
dropout, no gradients) and returns pooled sentence vectors, not per-token states.

The idea. Nearly all of a BERT forward's arithmetic is in its matrix products: per token and layer
2 × (4H² + 2·H·4H) FLOPs for the Q/K/V and output projections and the feed-forward pair, ~21 MFLOP per
token for all-MiniLM-L6-v2's 6 layers of H = 384, while attention's scores over sentences of 10-50
tokens are under 1% of that. So the forward is compute bound: it goes faster by doing fewer or faster
matrix products, not by trimming Python. Each trick below does one of the two; docs/performance.md
measures them (a profile of the plain forward, and each trick against sentence-transformers).

1. **Packing**: every real token of the batch goes into one (N_tokens, H) matrix; embeddings, the
   Q/K/V, output and feed-forward products and every LayerNorm run on it, so no FLOP is spent on
   ``[PAD]``. Only attention needs the sentences apart. (``encode`` already sorts by length, so
   little padding is left to save there; on unsorted batches the saving is the padding fraction.)
2. **Attention per length group**: sentences are ordered by length, so the packed
   rows of all sentences of length L form one contiguous block, *viewed* (no copy) as (n, L, ...)
   and attended with ``scaled_dot_product_attention``. On the CPU each sentence's keys are a window
   of the packed rows rounded up to a multiple of 16 (``KEY_MULTIPLE``), the rows past its end
   masked out: torch's CPU kernel computes the softmax's exponentials a whole vector of 16 floats at
   a time (AVX-512) and one by one over the rest, and at sentence lengths the rest would be most of
   them. Still no copy (the windows overlap).
3. **Fused QKV**: one (N, H) × (H, 3H) product instead of three (N, H) × (H, H), the weight
   concatenated once from the loaded query/key/value weights.
4. **Weights packed once for oneDNN**: ``F.linear`` on the CPU calls MKL's sgemm, which re-packs the
   weight into its blocked layout on every call; oneDNN takes it packed once.
5. **Pooling on the packed rows**: mean, max or CLS per length group, again a view.

Prepared weights (fused, packed) are cached and rebuilt whenever a weight changes (see
``PreparedWeights``). oneDNN adds the residual inside the second and fourth products (the same
bits in fp32, one pass over the rows fewer), and applies the GELU inside the third: always in bf16,
in fp32 only on CPUs with AVX-512 (see ``Linear.__call__``).

Numerically nothing changes but the order of float additions inside the matrix products (another
library and another matrix shape block the sums differently): ~1e-7 on a normalised sentence vector.

**bf16** (``precision="bf16"``, bfloat16: fp32's 8-bit exponent, a 7-bit mantissa). The weights of the
matrix products are prepared once in bf16 (and packed for oneDNN), and the activations between them are
bf16: half the bytes, and on CPUs with bf16 instructions (AVX512_BF16, AMX-BF16; see
``minisbert/speed/hardware.py``) several times fp32's multiply rate. Every sum that sets a scale is still
taken in fp32: the products accumulate in fp32 inside oneDNN, which also adds the bias and the residual
and applies the GELU to those fp32 sums before rounding once to bf16; LayerNorm computes its mean and
variance in fp32 (its weight and bias stay fp32); attention runs in fp32 (under 1% of the FLOPs, so bf16
would save little there, and fp32 keeps it exact); the embeddings and pooling are fp32, and the sentence
vectors come out in fp32. What is lost is the rounding to 8 significant bits of each product's inputs
and of the residual stream between layers: ``tests/test_bf16.py`` bounds the change of the unit sentence
vectors of all-MiniLM-L6-v2 (STSb test) by 1e-2 and of STSb test Spearman by 0.1. The residual stream
stays bf16 because oneDNN adds it inside the product: an fp32 stream would take separate adds and
conversions, passes over memory that the fused add does not need. Without bf16 instructions torch
emulates bf16 with conversions, slower than fp32, which is why fp32 stays the default
(docs/performance.md gives the rates and the accuracy machine by machine).
"""

from __future__ import annotations

import functools
import threading

import torch
import torch.nn.functional as F

from ..bert import BertModel
from ..checks import check_choice, check_pooling_mode
from .hardware import cpu_flags
from ..pooling import Pooling


# ----------------------------------------------------------------------------------------------------
# Weights prepared once for inference (fused Q/K/V, oneDNN layout), rebuilt when the weights change


#: The packed rows are padded with zero rows up to a multiple of this, so that batches of different
#: token counts share matrix shapes: oneDNN builds (JIT-compiles) a kernel for every new shape, and a
#: first encode, where nearly every batch is a new shape, would spend its time building them. A larger
#: multiple meets fewer shapes but adds rows to every product; the extra rows are never read.
#: (Training, minisbert/speed/packed.py, rounds to 64; docs/performance.md has both measurements.)
ROW_MULTIPLE = 32

#: The precisions the fast path offers ("auto" is resolved before, by minisbert.speed.hardware).
PRECISIONS = ("fp32", "bf16")


def onednn_available(t: torch.Tensor) -> bool:
    """Whether the oneDNN matrix product can be used for this weight: fp32 (or bf16 where oneDNN has
    bf16 kernels) on the CPU, op present."""
    if not (t.device.type == "cpu" and torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")):
        return False
    if t.dtype == torch.bfloat16:
        return torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return t.dtype == torch.float32


class Linear:
    """``y = x Wᵀ + b`` with W prepared once: reordered into oneDNN's blocked layout on the CPU.

    torch's ``F.linear`` hands fp32 CPU products to MKL's sgemm, which re-packs W into its blocked
    layout on every call; oneDNN (``torch.ops.mkldnn._linear_pointwise``, the op torch.compile emits for
    a CPU linear) takes a W packed once (``_reorder_linear_weight``), so a call does only the product
    (``experiments/perf_gemm.py`` compares the two; docs/performance.md). Elsewhere (GPU, fp64, a torch
    without oneDNN) it is ``F.linear``.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, use_onednn: bool, dtype=None,
                 fuse_gelu: bool | None = None):
        dtype = dtype or weight.dtype
        weight, self.bias = weight.detach().to(dtype), bias.detach().to(dtype)  # no copy when already dtype
        self.onednn = use_onednn and onednn_available(weight)
        self.weight = torch.ops.mkldnn._reorder_linear_weight(weight, None) if self.onednn else weight
        if fuse_gelu is None:  # the same numbers either way; which is faster depends on the CPU
            fuse_gelu = dtype == torch.bfloat16 or "avx512f" in cpu_flags()
        self.fuse_gelu = self.onednn and fuse_gelu

    def __call__(self, x: torch.Tensor, gelu: bool = False, residual: torch.Tensor | None = None) -> torch.Tensor:
        """``x Wᵀ + b``, then the exact (erf) GELU when ``gelu``, or plus ``residual`` when given.

        oneDNN adds the residual inside the product, to its fp32 sums, and rounds once: one pass over
        the rows fewer, and in bf16 the residual stream is rounded once per product, not twice. It can
        apply the GELU there too (``fuse_gelu``), to the fp32 sums before they are rounded: in bf16
        that saves a pass and is closer to fp32, as the GELU sees the unrounded sums; in fp32 it gives
        the same bits, and oneDNN's fused GELU beats a separate ``F.gelu`` only on CPUs with AVX-512
        (docs/performance.md), so fp32 fuses it only there."""
        if self.onednn and residual is not None:
            return torch.ops.mkldnn._linear_pointwise.binary(x, residual, self.weight, self.bias, "add")
        if gelu and self.fuse_gelu:
            return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "gelu", [], "none")
        y = torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "") if self.onednn \
            else F.linear(x, self.weight, self.bias)
        if residual is not None:
            return residual + y  # (no oneDNN: two roundings in bf16)
        return F.gelu(y) if gelu else y


class PreparedLayer:
    """One encoder layer's four matrix products, ready for inference.

    ``qkv`` is the fused ``[query; key; value]`` product: a (3H, H) weight and (3H,) bias concatenated
    once from the loaded weights, so that Q, K and V come out of one (N, H) × (H, 3H) product.
    ``dtype`` is what the products compute in (None: the weights' own): the weights are cast to it once, here.
    """

    @staticmethod
    def sources(layer) -> tuple[torch.Tensor, ...]:
        """The loaded tensors the prepared products are made from: each Linear's weight and bias."""
        s = layer.attention.self
        return tuple(t for linear in (s.query, s.key, s.value, layer.attention.output.dense,
                                      layer.intermediate.dense, layer.output.dense)
                     for t in (linear.weight, linear.bias))

    def __init__(self, layer, use_onednn: bool, dtype=None):
        s, a = layer.attention.self, layer.attention.output
        qkv_weight = torch.cat([s.query.weight, s.key.weight, s.value.weight]).detach()  # (3H, H)
        qkv_bias = torch.cat([s.query.bias, s.key.bias, s.value.bias]).detach()  # (3H,)
        self.dtype = dtype or qkv_weight.dtype
        self.qkv = Linear(qkv_weight, qkv_bias, use_onednn, dtype)
        self.attn_out = Linear(a.dense.weight, a.dense.bias, use_onednn, dtype)
        self.ffn_in = Linear(layer.intermediate.dense.weight, layer.intermediate.dense.bias, use_onednn, dtype)
        self.ffn_out = Linear(layer.output.dense.weight, layer.output.dense.bias, use_onednn, dtype)


#: Held while a layer is prepared: encode's worker threads (minisbert/speed/batching.py) share one encoder, and
#: their first batches would otherwise each prepare the same layer.
_PREPARING = threading.Lock()


class PreparedWeights:
    """Every layer's ``PreparedLayer``, rebuilt for a layer whenever one of its weights changes.

    A weight is identified by its storage address, device, dtype and version counter
    (``Tensor._version``, which every in-place write increments), so ``model.to(...)``,
    ``load_state_dict`` and optimizer steps all invalidate the prepared copy; the check is one tuple
    comparison per layer and call. The prepared copy costs memory once: one more copy of the layers'
    matrices (42 MB for all-MiniLM-L6-v2 in fp32, half that in bf16; the embeddings are not copied).
    """

    def __init__(self, bert: BertModel, use_onednn: bool = True, dtype=None):
        self.bert = bert
        self.use_onednn = use_onednn
        self.dtype = dtype
        self._cache: dict[int, tuple[tuple, PreparedLayer]] = {}

    @staticmethod
    def _fingerprint(layer) -> tuple:
        # Only the tensors PreparedLayer copies (the LayerNorms are read from the modules at each call),
        # by attribute: a module replaced since is seen too, and it is much cheaper than walking
        # layer.parameters() on every call. Inference tensors (weights created under
        # torch.inference_mode) keep no version counter; they can only be written inside inference
        # mode, and such in-place writes are not detected.
        return tuple((p.data_ptr(), p.device, p.dtype, None if p.is_inference() else p._version)
                     for p in PreparedLayer.sources(layer))

    def layer(self, i: int) -> PreparedLayer:
        layer = self.bert.encoder.layer[i]
        key = self._fingerprint(layer)
        cached = self._cache.get(i)
        if cached is None or cached[0] != key:
            with _PREPARING:
                cached = self._cache.get(i)  # another thread may have prepared it while this one waited
                if cached is None or cached[0] != key:
                    with torch.no_grad():
                        cached = self._cache[i] = (key, PreparedLayer(layer, self.use_onednn, self.dtype))
        return cached[1]

    def __getstate__(self):  # copies and pickles carry no prepared weights (oneDNN tensors cannot be pickled)
        return {"bert": self.bert, "use_onednn": self.use_onednn, "dtype": self.dtype, "_cache": {}}


# ----------------------------------------------------------------------------------------------------
# Packing: from a padded (B, T) batch to the (N,) real tokens, and the length groups


def pack(input_ids, attention_mask, token_type_ids):
    """Order the sentences by length (longest first) and keep only their real tokens.

    Returns ``ids, positions, types`` (each (N,), N = number of real tokens, sentence after sentence),
    ``order`` (B,) (row j of the packed batch is row ``order[j]`` of the input) and ``groups``, a list
    of ``(L, n)``: n consecutive sentences of L real tokens each. Positions are the tokens' columns in
    the padded batch, as the plain path uses them (so a left-padded batch gives the same vectors).
    """
    mask = attention_mask.bool()  # (B, T)
    lengths = mask.sum(dim=1)  # (B,)
    order = torch.argsort(lengths, descending=True, stable=True)  # (B,)
    mask = mask[order]  # (B, T)
    T = input_ids.shape[1]
    positions = torch.arange(T, device=input_ids.device).expand_as(mask)  # (B, T)
    ids, positions, types = input_ids[order][mask], positions[mask], token_type_ids[order][mask]  # (N,)
    L, n = torch.unique_consecutive(lengths[order], return_counts=True)
    return ids, positions, types, order, list(zip(L.tolist(), n.tolist()))


def group_views(x: torch.Tensor, groups):
    """Yield each length group of the packed rows ``x`` (N, D) as a view (n, L, D): no copy."""
    start = 0
    for L, n in groups:
        yield x[start:start + n * L].view(n, L, x.shape[-1])  # (n, L, D)
        start += n * L


# ----------------------------------------------------------------------------------------------------
# The forward pass on packed tokens


def embed(bert: BertModel, ids, positions, types) -> torch.Tensor:
    e = bert.embeddings
    x = e.word_embeddings(ids) + e.position_embeddings(positions) + e.token_type_embeddings(types)  # (N, H)
    return e.LayerNorm(x)


#: In attention on the CPU, each sentence of L tokens attends over a window of keys padded up to a
#: multiple of this, the padded keys masked out. torch's CPU SDPA kernel computes the softmax's
#: exponentials over whole vectors of 16 floats (AVX-512; 8 with AVX2) and one at a time over what is
#: left, so at sentence lengths (L ≈ 10-30) most of them would run one at a time; a window rounded up
#: to 16 keys runs in whole vectors (docs/performance.md times the kernel both ways).
KEY_MULTIPLE = 16


def padded_keys(L: int, device) -> int:
    """How many keys a sentence of L tokens attends over: L rounded up to KEY_MULTIPLE on the CPU."""
    return L + (-L % KEY_MULTIPLE if device.type == "cpu" else 0)


def key_padding(groups, device) -> int:
    """How many rows past the last sentence attention reads: the last (shortest) group's padded keys."""
    L = groups[-1][0]
    return padded_keys(L, device) - L


@functools.lru_cache(maxsize=1024)
def _key_mask(L: int, P: int, dtype, device) -> torch.Tensor:
    """(1, 1, 1, P): 0 for the L real keys, -inf for the P - L padded ones, added to every score."""
    return torch.zeros(P, dtype=dtype, device=device).masked_fill_(
        torch.arange(P, device=device) >= L, float("-inf")).view(1, 1, 1, P)  # (1, 1, 1, P)


def attention(qkv: torch.Tensor, groups, num_heads: int, out_dtype=None) -> torch.Tensor:
    """Self-attention of each sentence over its own tokens. qkv (N, 3H) → context (N, H), in
    ``out_dtype`` (default qkv's): each group's context is written straight into its rows, converted
    on the way.

    On the CPU the keys of a group of length L are padded to P (``KEY_MULTIPLE``) without a copy: the
    window of sentence i is the P rows from its first token on, which run into the next sentence's
    rows (or, for the last one, into the zero rows after them, ``key_padding``); the mask gives those
    keys a weight of exactly 0. qkv must be contiguous, with ``key_padding`` rows after the sentences.
    """
    N, H3 = qkv.shape
    H, nh = H3 // 3, num_heads
    hs = H // nh
    out = qkv.new_empty(N, H, dtype=out_dtype or qkv.dtype)  # (N, H)
    start = 0
    for L, n in groups:
        P = padded_keys(L, qkv.device)
        # Views of qkv's rows (no copy): sentence i of the group starts at row start + i·L, head h's
        # query at column h·hs, its key at H + h·hs, its value at 2H + h·hs.
        at = qkv.storage_offset() + start * H3
        q = qkv.as_strided((n, nh, L, hs), (L * H3, hs, H3, 1), at)  # (n, nh, L, hs)
        k = qkv.as_strided((n, nh, P, hs), (L * H3, hs, H3, 1), at + H)  # (n, nh, P, hs): overlapping windows
        v = qkv.as_strided((n, nh, P, hs), (L * H3, hs, H3, 1), at + 2 * H)  # (n, nh, P, hs)
        mask = _key_mask(L, P, qkv.dtype, qkv.device) if P != L else None  # (1, 1, 1, P)
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (n, nh, L, hs)
        out[start:start + n * L].view(n, L, nh, hs).copy_(context.transpose(1, 2))  # heads side by side
        start += n * L
    out[start:] = 0  # the rows added up to ROW_MULTIPLE: never read, but kept finite
    return out  # (N, H)


def layer_forward(layer, w: PreparedLayer, x: torch.Tensor, groups) -> torch.Tensor:
    """One encoder layer on packed tokens, the same maths as ``BertLayer``. x (N, H) → (N, H), both in
    ``w.dtype``: the matrix products, the residual stream and the LayerNorms' inputs and outputs.

    In bf16 every sum is still taken in fp32: the products' (with their bias and the residual add)
    inside oneDNN, LayerNorm's mean and variance (torch's CPU kernel accumulates bf16 in fp32, and its
    weight and bias stay fp32), and attention, which runs in fp32.
    """
    attn = layer.attention
    qkv = w.qkv(x)  # (N, 3H): Q, K and V in one matrix product
    # Attention in fp32 even in bf16: it is <1% of the FLOPs, so bf16 would save little there, and fp32
    # keeps it exact (docs/performance.md compares torch's two SDPA kernels at these lengths).
    context = attention(qkv.to(torch.promote_types(qkv.dtype, torch.float32)), groups,
                        attn.self.num_heads, x.dtype)  # (N, H)
    a = attn.output.LayerNorm(w.attn_out(context, residual=x))  # (N, H): LN(x + context Wᵀ + b)
    h = w.ffn_in(a, gelu=True)  # (N, I), the exact erf GELU as in bert.gelu
    return layer.output.LayerNorm(w.ffn_out(h, residual=a))  # (N, H): LN(a + h W₂ᵀ + b₂)


def pool(h: torch.Tensor, groups, mode: str) -> torch.Tensor:
    """Pool each sentence's packed token vectors. h (N, H) → (B, H), in packed (length) order."""
    check_pooling_mode(mode)
    if mode == "mean":
        parts = [g.mean(dim=1) for g in group_views(h, groups)]  # each (n, H)
    elif mode == "max":
        parts = [g.amax(dim=1) for g in group_views(h, groups)]
    else:  # "cls"
        parts = [g[:, 0] for g in group_views(h, groups)]  # the first real token
    return torch.cat(parts)  # (B, H)


# ----------------------------------------------------------------------------------------------------
# The entry point


class FastEncoder:
    """Pooled sentence vectors from a padded batch, computed on packed tokens.

    >>> fast = FastEncoder(sbert.bert)
    >>> with torch.inference_mode():
    ...     u = fast(input_ids, attention_mask, token_type_ids, pooling="mean")  # (B, H)

    It gives what ``pooling(bert(...).last_hidden_state, attention_mask)`` gives (within float
    rounding) and checks its inputs the same way; it refuses to run where it would differ (a model in
    training mode, where dropout is active, or with gradients enabled, which it does not propagate).

    ``precision="bf16"`` runs the matrix products in bf16 on weights prepared once in bf16 (see the
    module's docstring); the output stays fp32.
    """

    def __init__(self, bert: BertModel, use_onednn: bool = True):
        if not isinstance(bert, BertModel):
            raise TypeError(f"bert must be a minisbert BertModel, got {type(bert).__name__}")
        self.bert = bert
        self.weights = PreparedWeights(bert, use_onednn)  # the model's own dtype (fp32)
        self.weights_bf16 = PreparedWeights(bert, use_onednn, torch.bfloat16)  # prepared on first bf16 call

    def __call__(self, input_ids, attention_mask=None, token_type_ids=None, pooling: str = "mean",
                 precision: str = "fp32"):
        bert = self.bert
        check_pooling_mode(pooling)
        check_choice(precision, "precision", PRECISIONS)
        if bert.training or (torch.is_grad_enabled() and any(p.requires_grad for p in bert.parameters())):
            raise RuntimeError(
                "the fast path is for inference only: call model.eval() and run it under "
                "torch.inference_mode() (or torch.no_grad()); train with the plain BertModel forward"
            )
        input_ids, attention_mask, token_type_ids = bert._check_inputs(input_ids, attention_mask, token_type_ids)
        if not attention_mask.bool().any(dim=1).all():
            # A row without a single real token has no sentence to pack; the plain path defines what
            # it gives (attention over padding), so let it answer.
            return Pooling(pooling)(bert(input_ids, attention_mask, token_type_ids).last_hidden_state,
                                    attention_mask)
        ids, positions, types, order, groups = pack(input_ids, attention_mask, token_type_ids)
        weights = self.weights_bf16 if precision == "bf16" else self.weights
        x = embed(bert, ids, positions, types)  # (N, H), in the model's dtype (fp32)
        model_dtype = x.dtype
        rows = x.shape[0] + key_padding(groups, x.device)  # attention's key windows read this far
        M = rows + -rows % ROW_MULTIPLE  # then zero rows up to a multiple
        x = F.pad(x, (0, 0, 0, M - x.shape[0]))  # (M, H)
        x = x.to(torch.bfloat16 if precision == "bf16" else model_dtype)  # the residual stream's dtype
        for i, layer in enumerate(bert.encoder.layer):
            x = layer_forward(layer, weights.layer(i), x, groups)  # (M, H)
        pooled = pool(x.to(model_dtype), groups, pooling)  # (B, H), packed order, pooled in fp32
        return torch.empty_like(pooled).index_copy_(0, order, pooled)  # (B, H), input order
