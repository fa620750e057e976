"""The fast inference path: BERT's forward pass again, arranged for speed, for ``SentenceBert.encode``.

``minisbert/bert.py`` is the model to read; this file computes the same function (``tests/test_fast.py``
checks max |Δ| ≤ 1e-6 against it) with the work laid out differently. It is inference only (no
dropout, no gradients) and returns pooled sentence vectors, not per-token states.

Where the time goes. ``torch.profiler`` over the plain padded forward that ``encode`` used before
(all-MiniLM-L6-v2, the 2,758 STS Benchmark test sentences sorted by length, batch 32, 2 CPU threads,
``experiments/perf_profile.py``): the matrix products (``aten::addmm``) take 87% of the time, attention
(``scaled_dot_product_attention``) 4%, GELU 4%, copies 2%, LayerNorm and additions 2%; Python and
everything else about 1%. The model costs ~21 MFLOP per token (6 layers × 2 × (4H² + 2·H·4H)), so the
forward is compute bound: it goes faster by doing fewer or faster matrix products, not by trimming Python.

The tricks (each measured on that set against sentence-transformers in the same run, see the README's
"Performance" section and ``experiments/results/perf_variants*.txt``):

1. **Packing**: every real token of the batch goes into one (N_tokens, H) matrix; embeddings, the
   Q/K/V, output and feed-forward products and every LayerNorm run on it, so no FLOP is spent on
   ``[PAD]``. Only attention needs the sentences apart. (``encode`` already sorts by length, so there
   is little padding to save there: ~0-3%; on unsorted batches the saving is the padding fraction.)
2. **Attention per length group, without a mask**: sentences are ordered by length, so the packed
   rows of all sentences of length L form one contiguous block, *viewed* (no copy) as (n, L, ...)
   and attended with ``scaled_dot_product_attention`` and no mask: no padded key to hide.
3. **Fused QKV**: one (N, H) × (H, 3H) product instead of three (N, H) × (H, H), the weight
   concatenated once from the loaded query/key/value weights (within noise on its own here, kept
   because it is one product instead of three in the code too).
4. **Weights packed once for oneDNN** (the largest gain, ~8%): ``F.linear`` on the CPU calls MKL's
   sgemm, which re-packs the weight into its blocked layout on every call; oneDNN takes it packed once.
5. **Pooling on the packed rows**: mean, max or CLS per length group, again a view.

Prepared weights (fused, packed) are cached and rebuilt whenever a weight changes (see
``PreparedWeights``). Tried and not kept: oneDNN's fused GELU in fp32 (slower than a separate GELU
on the Zen 1; bf16 uses it), plain-math attention instead of SDPA (same speed), batches regrouped by
token count (+0-4%, within noise, and it would change what ``batch_size`` means).

Numerically nothing changes but the order of float additions inside the matrix products (another
library and another matrix shape block the sums differently): ~1e-7 on a normalised sentence vector.

**bf16** (``precision="bf16"``, bfloat16: fp32's 8-bit exponent, a 7-bit mantissa). The weights of the
matrix products are prepared once in bf16 (and packed for oneDNN), and the products take bf16
activations: half the bytes, and on CPUs with bf16 instructions (AVX512-BF16, AMX-BF16; see
``minisbert/hardware.py``) several times the multiply rate (2048³: 2,000-2,500 GFLOP/s in bf16
against 300-390 in fp32 on a 2-core Sapphire Rapids with AMX; 406 against 142 on a 2-core Zen 4
without). Everything that sums many numbers and sets the scale stays in fp32: the embeddings, the
residual stream and every LayerNorm (a product's bf16 output is added to the fp32 residual before
normalising), attention, and the pooling; the sentence vectors come out in fp32. The products
themselves accumulate in fp32 inside oneDNN, which also applies the GELU to those fp32 sums before
rounding. Attention runs in fp32 because it is <1% of the FLOPs and torch's fp32 SDPA kernel was faster
than its bf16 one at these lengths. What is lost is the rounding of each product's inputs to 8 significant bits: ~2e-3 max |Δ| on the unit
sentence vectors of all-MiniLM-L6-v2 (STSb test), and STSb test Spearman within 0.1
(``tests/test_bf16.py``). Without bf16 instructions torch emulates bf16 with conversions: 5.5× slower
than fp32 on an AVX2-only Zen 1, which is why fp32 stays the default.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .bert import BertModel
from .checks import check_choice, check_pooling_mode
from .pooling import Pooling


# ----------------------------------------------------------------------------------------------------
# Weights prepared once for inference (fused Q/K/V, oneDNN layout), rebuilt when the weights change


#: The packed rows are padded with zero rows up to a multiple of this, so that batches of different
#: token counts share matrix shapes: oneDNN builds (JIT-compiles) a kernel for every new shape. A first
#: encode of STSb test, where every batch is a new shape, ran 12% faster in bf16 with 32 (19% with 64,
#: which cost a little on repeated shapes) on a 2-core Sapphire Rapids; the extra rows are never read.
#: (Training, minisbert/packed.py, rounds to 64: there the first-seen shapes cost more.)
ROW_MULTIPLE = 32

#: The precisions the fast path offers ("auto" is resolved before, by minisbert.hardware).
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
    a CPU linear) takes a W packed once (``_reorder_linear_weight``). On the reference 2-core AMD CPU that
    made each product ~5-8% faster (experiments/perf_gemm.py) and encode ~8% faster. Elsewhere (GPU,
    fp64, a torch without oneDNN) it is ``F.linear``.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, use_onednn: bool, dtype=None):
        dtype = dtype or weight.dtype
        weight, self.bias = weight.detach().to(dtype), bias.detach().to(dtype)  # no copy when already dtype
        self.onednn = use_onednn and onednn_available(weight)
        self.weight = torch.ops.mkldnn._reorder_linear_weight(weight, None) if self.onednn else weight

    def __call__(self, x: torch.Tensor, gelu: bool = False) -> torch.Tensor:
        """``x Wᵀ + b``, then the exact (erf) GELU when ``gelu``. In bf16 oneDNN applies the GELU inside
        the product, to the fp32 sums before they are rounded to bf16 (~3% faster encode on a Sapphire
        Rapids, and closer to fp32); in fp32 the separate ``F.gelu`` is kept, as it was faster there."""
        if self.onednn and gelu and self.weight.dtype == torch.bfloat16:
            return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "gelu", [], "none")
        y = torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "") if self.onednn \
            else F.linear(x, self.weight, self.bias)
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


class PreparedWeights:
    """Every layer's ``PreparedLayer``, rebuilt for a layer whenever one of its weights changes.

    A weight is identified by its storage address, device, dtype and version counter
    (``Tensor._version``, which every in-place write increments), so ``model.to(...)``,
    ``load_state_dict`` and optimizer steps all invalidate the prepared copy; the check costs a few
    microseconds per layer and call. The prepared copy costs memory once: one more copy of the layers'
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
        # by attribute: a module replaced since is seen too, and it costs a tenth of walking
        # layer.parameters() (which took 5% of a bf16 encode). Inference tensors (weights created under
        # torch.inference_mode) keep no version counter; they can only be written inside inference
        # mode, and such in-place writes are not detected.
        return tuple((p.data_ptr(), p.device, p.dtype, None if p.is_inference() else p._version)
                     for p in PreparedLayer.sources(layer))

    def layer(self, i: int) -> PreparedLayer:
        layer = self.bert.encoder.layer[i]
        key = self._fingerprint(layer)
        cached = self._cache.get(i)
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


def attention(qkv: torch.Tensor, groups, num_heads: int) -> torch.Tensor:
    """Self-attention of each sentence over its own tokens. qkv (N, 3H) → context (N, H)."""
    N, H3 = qkv.shape
    H = H3 // 3
    out = []
    for g in group_views(qkv, groups):  # (n, L, 3H)
        n, L, _ = g.shape
        q, k, v = g.view(n, L, 3, num_heads, H // num_heads).permute(2, 0, 3, 1, 4)  # each (n, nh, L, hs)
        context = F.scaled_dot_product_attention(q, k, v)  # (n, nh, L, hs); all keys real: no mask
        out.append(context.transpose(1, 2).reshape(n * L, H))  # (n·L, H): heads side by side again
    extra = N - sum(L * n for L, n in groups)  # the rows added up to ROW_MULTIPLE: zeros, never read
    if extra:
        out.append(qkv.new_zeros(extra, H))
    return out[0] if len(out) == 1 else torch.cat(out)  # (N, H)


def layer_forward(layer, w: PreparedLayer, x: torch.Tensor, groups) -> torch.Tensor:
    """One encoder layer on packed tokens, the same maths as ``BertLayer``. x (N, H) → (N, H).

    The matrix products run in ``w.dtype``; attention, the residual stream ``x`` and the LayerNorms stay
    in x's dtype (fp32). In fp32 every ``.to`` below is a no-op.
    """
    attn = layer.attention
    qkv = w.qkv(x.to(w.dtype))  # (N, 3H): Q, K and V in one matrix product
    # Attention in fp32 even in bf16: it is <1% of the FLOPs, and at these lengths (L ≈ 10-50) torch's
    # fp32 SDPA kernel is faster than its bf16 one (+9% encode on a Sapphire Rapids), and exact.
    context = attention(qkv.to(x.dtype), groups, attn.self.num_heads)  # (N, H)
    # fp32 + bf16 adds in fp32 (type promotion, in the same pass: no separate conversion of the product)
    a = attn.output.LayerNorm(x + w.attn_out(context.to(w.dtype)))  # (N, H), residual + LayerNorm in fp32
    h = w.ffn_in(a.to(w.dtype), gelu=True)  # (N, I), the exact erf GELU as in bert.gelu
    return layer.output.LayerNorm(a + w.ffn_out(h))  # (N, H)


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
        x = embed(bert, ids, positions, types)  # (N, H)
        x = F.pad(x, (0, 0, 0, -x.shape[0] % ROW_MULTIPLE))  # (M, H): zero rows up to a multiple
        for i, layer in enumerate(bert.encoder.layer):
            x = layer_forward(layer, weights.layer(i), x, groups)  # (N, H)
        pooled = pool(x, groups, pooling)  # (B, H), packed order
        return torch.empty_like(pooled).index_copy_(0, order, pooled)  # (B, H), input order
