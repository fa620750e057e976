"""The fast inference path (minisbert/speed/fast.py) gives the plain path's vectors: max |Δ| ≤ 1e-6.

The plain path is ``Pooling(mode)(BertModel(...).last_hidden_state, attention_mask)``; the fast one packs
the real tokens, fuses Q/K/V and attends per length group. Compared on a tiny random BERT (every code
path, any mask layout) and on all-MiniLM-L6-v2 with real padded STS Benchmark batches, edge cases
included (one sentence, every length 1..max, 512 tokens). Bad inputs raise what the plain path raises.
"""

from __future__ import annotations

import time
import warnings

import pytest
import torch
import torch.nn.functional as F

from minisbert import BertConfig, BertModel
from minisbert.speed.fast import FastEncoder
from minisbert.pooling import POOLING_MODES, Pooling

TOL = 1e-6


def plain(bert, ids, mask=None, types=None, mode="mean"):
    with torch.inference_mode():
        out = bert(ids, mask, types).last_hidden_state
        return Pooling(mode)(out, torch.ones_like(ids) if mask is None else mask)


def fast(bert, ids, mask=None, types=None, mode="mean"):
    with torch.inference_mode():
        return FastEncoder(bert)(ids, mask, types, pooling=mode)


def assert_close(a, b, normalized=False):
    if normalized:
        a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    scale = max(1.0, b.abs().max().item())  # unnormalised vectors: relative to their size
    assert a.shape == b.shape
    assert (a - b).abs().max().item() <= TOL * scale


# ----------------------------------------------------------------------------------------------------
# A tiny random BERT


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                     intermediate_size=37, max_position_embeddings=64, type_vocab_size=2)
    return BertModel(cfg).eval()


def random_batch(lengths, T=None, left=False, seed=1):
    g = torch.Generator().manual_seed(seed)
    T = T or max(lengths)
    ids = torch.randint(1, 99, (len(lengths), T), generator=g)
    mask = torch.zeros_like(ids)
    for i, n in enumerate(lengths):
        if left:
            mask[i, T - n:] = 1
        else:
            mask[i, :n] = 1
    ids[mask == 0] = 0
    types = torch.randint(0, 2, ids.shape, generator=g) * mask
    return ids, mask, types


@pytest.mark.parametrize("mode", POOLING_MODES)
@pytest.mark.parametrize("left", [False, True], ids=["right-padded", "left-padded"])
def test_tiny_padded_batches(tiny, mode, left):
    ids, mask, types = random_batch([5, 17, 3, 17, 9, 1, 5], left=left)
    assert_close(fast(tiny, ids, mask, types, mode), plain(tiny, ids, mask, types, mode))


@pytest.mark.parametrize("mode", POOLING_MODES)
@pytest.mark.parametrize("lengths", [[16, 16], [16, 17], [31], [1]], ids=["32-tokens", "33-tokens", "31-tokens", "1-token"])
def test_tiny_token_counts_around_the_row_multiple(tiny, mode, lengths):
    """The packed rows are padded with zero rows up to a multiple of ROW_MULTIPLE (32): none, one short
    of a multiple, one past, many."""
    from minisbert.speed.fast import ROW_MULTIPLE

    assert ROW_MULTIPLE == 32
    ids, mask, types = random_batch(lengths)
    assert_close(fast(tiny, ids, mask, types, mode), plain(tiny, ids, mask, types, mode))


@pytest.mark.parametrize("mode", POOLING_MODES)
@pytest.mark.parametrize("lengths", [[17, 17, 3], [30, 2], [16, 16], [15, 15, 15, 15, 15]],
                         ids=["windows-into-the-next-group", "32-tokens-last-window-past-the-end",
                              "no-key-padding", "every-window-into-the-next-sentence"])
def test_tiny_key_windows(tiny, mode, lengths):
    """Attention's key windows (rounded up to KEY_MULTIPLE = 16) read the next sentence's rows, or the
    zero rows after the last sentence, which must exist even when the tokens fill a row multiple."""
    from minisbert.speed.fast import KEY_MULTIPLE

    assert KEY_MULTIPLE == 16
    ids, mask, types = random_batch(lengths)
    assert_close(fast(tiny, ids, mask, types, mode), plain(tiny, ids, mask, types, mode))


def test_attention_masks_the_rows_its_key_windows_run_into():
    """fast.attention against SDPA per sentence on its own tokens, with huge values in the rows after
    each sentence: the padded keys get a weight of exactly zero, whatever they hold."""
    from minisbert.speed.fast import attention, key_padding

    g = torch.Generator().manual_seed(4)
    nh, hs = 2, 8
    groups = [(9, 2), (5, 3), (1, 1)]  # (L, n), longest first, as pack() orders them
    N = sum(L * n for L, n in groups)
    rows = N + key_padding(groups, torch.device("cpu"))
    assert rows == N + 15  # the last sentence (1 token) reads 15 rows past the end
    qkv = torch.randn(rows, 3 * nh * hs, generator=g)
    qkv[N:] = 1e4  # what a window past the end reads must not count
    got = attention(qkv, groups, nh)  # (rows, H)
    start = 0
    for L, n in groups:
        for _ in range(n):
            q, k, v = qkv[start:start + L].view(L, 3, nh, hs).permute(1, 2, 0, 3)  # each (nh, L, hs)
            want = F.scaled_dot_product_attention(q, k, v).transpose(0, 1).reshape(L, nh * hs)
            assert (got[start:start + L] - want).abs().max().item() <= TOL
            start += L
    assert torch.equal(got[N:], torch.zeros(rows - N, nh * hs))  # the extra rows: zeros


def test_tiny_every_length_up_to_max(tiny):
    lengths = list(range(1, 65))  # 1..max_position_embeddings, shuffled
    lengths = [lengths[i] for i in torch.randperm(64, generator=torch.Generator().manual_seed(2))]
    ids, mask, types = random_batch(lengths)
    for mode in POOLING_MODES:
        assert_close(fast(tiny, ids, mask, types, mode), plain(tiny, ids, mask, types, mode))


def test_tiny_defaults_and_a_single_sentence(tiny):
    ids = torch.randint(1, 99, (1, 12), generator=torch.Generator().manual_seed(3))
    assert_close(fast(tiny, ids), plain(tiny, ids))  # no mask, no token types: BERT's defaults


def test_mask_dtypes_and_a_hole_in_the_mask(tiny):
    ids, mask, types = random_batch([9, 6, 4])
    mask[0, 3] = 0  # a masked token in the middle: its key is hidden, pooling skips it
    want = plain(tiny, ids, mask, types)
    for m in (mask, mask.bool(), mask.float(), mask.int()):
        assert_close(fast(tiny, ids, m, types), want)


def test_a_row_without_real_tokens_gives_what_the_plain_path_gives(tiny):
    ids, mask, types = random_batch([4, 2])
    mask[1] = 0
    for mode in POOLING_MODES:
        assert torch.equal(fast(tiny, ids, mask, types, mode), plain(tiny, ids, mask, types, mode))


def encoder_on_a_copy(tiny):
    """A copy of the shared tiny model (its weights are about to change) and a FastEncoder on it."""
    model = BertModel(tiny.config).eval()
    model.load_state_dict(tiny.state_dict())
    return model, FastEncoder(model)


def test_fused_qkv_follows_weight_changes(tiny):
    model, encoder = encoder_on_a_copy(tiny)
    ids, mask, types = random_batch([7, 3])
    with torch.inference_mode():
        before = encoder(ids, mask, types)
    with torch.no_grad():
        model.encoder.layer[1].attention.self.value.weight.mul_(3.0)  # in place, as an optimizer step is
    with torch.inference_mode():
        after = encoder(ids, mask, types)
    assert (after - before).abs().max() > 1e-3
    assert_close(after, plain(model, ids, mask, types))
    model.load_state_dict(tiny.state_dict())  # back to the original weights
    with torch.inference_mode():
        assert_close(encoder(ids, mask, types), before)


def test_refuses_training_mode_and_gradients(tiny):
    ids, mask, types = random_batch([3, 2])
    tiny.train()
    try:
        with torch.inference_mode(), pytest.raises(RuntimeError, match="inference only"):
            FastEncoder(tiny)(ids, mask, types)
    finally:
        tiny.eval()
    with pytest.raises(RuntimeError, match="inference only"):
        FastEncoder(tiny)(ids, mask, types)  # autograd on, parameters require grad
    with pytest.raises(TypeError, match="BertModel"):
        FastEncoder(torch.nn.Linear(2, 2))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"input_ids": [[1, 2]]},
        {"input_ids": torch.ones(3, dtype=torch.long)},
        {"input_ids": torch.ones(1, 3)},
        {"input_ids": torch.full((1, 3), 99)},
        {"input_ids": torch.full((1, 3), -1)},
        {"input_ids": torch.ones(1, 65, dtype=torch.long)},
        {"input_ids": torch.ones(0, 3, dtype=torch.long)},
        {"input_ids": torch.ones(2, 3, dtype=torch.long), "attention_mask": torch.ones(2, 4)},
        {"input_ids": torch.ones(1, 3, dtype=torch.long), "attention_mask": torch.full((1, 3), 2)},
        {"input_ids": torch.ones(1, 3, dtype=torch.long), "token_type_ids": torch.full((1, 3), 2)},
        {"input_ids": torch.ones(1, 3, dtype=torch.long), "token_type_ids": torch.ones(1, 3)},
    ],
)
def test_bad_inputs_raise_what_the_plain_path_raises(tiny, kwargs):
    with pytest.raises(Exception) as want, torch.inference_mode():
        tiny(**kwargs)
    with pytest.raises(want.type, match=str(want.value).replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")), torch.inference_mode():
        FastEncoder(tiny)(**kwargs)


def test_unknown_pooling_mode(tiny):
    ids, mask, types = random_batch([3])
    with pytest.raises(ValueError, match="unknown pooling mode"), torch.inference_mode():
        FastEncoder(tiny)(ids, mask, types, pooling="median")


# ----------------------------------------------------------------------------------------------------
# all-MiniLM-L6-v2 on real sentences


@pytest.fixture(scope="module")
def real(real_sbert):
    return real_sbert  # the run's shared model (tests/conftest.py)


@pytest.fixture(scope="module")
def stsb_sentences(data_dir):
    from minisbert.io.data import load_stsb

    return [s for p in load_stsb("test", data_dir)[:200] for s in (p.sentence1, p.sentence2)]


def test_real_model_on_padded_stsb_batches(real, stsb_sentences):
    for start in (0, 300):  # input order: lengths mixed, plenty of padding
        batch = real.tokenize(stsb_sentences[start:start + 64])
        ids, mask, types = batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]
        assert mask.eq(0).any()
        with torch.inference_mode():
            hidden = real.bert(ids, mask, types).last_hidden_state  # (B, T, H), the plain path
        for mode in POOLING_MODES:
            want = Pooling(mode)(hidden, mask)
            got = fast(real.bert, ids, mask, types, mode)
            assert_close(got, want, normalized=True)
            assert_close(got, want)


def test_real_model_single_sentence_and_512_tokens(real):
    long_text = " ".join(["the quick brown fox jumps over the lazy dog near the riverbank"] * 60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tokenizer says it truncated the long text: that is the point
        batch = real.tokenizer([long_text, "short"], padding=True, truncation=True, max_length=512,
                               return_tensors="pt")
    assert batch["input_ids"].shape[1] == 512
    for rows in (slice(0, 2), slice(1, 2)):  # 512 tokens beside a padded short one; a batch of one
        args = [batch[k][rows] for k in ("input_ids", "attention_mask", "token_type_ids")]
        assert_close(fast(real.bert, *args), plain(real.bert, *args), normalized=True)


@pytest.mark.parametrize("use_onednn", [True, False], ids=["onednn", "F.linear"])
def test_both_matrix_product_backends(tiny, use_onednn):
    ids, mask, types = random_batch([6, 11, 2])
    encoder = FastEncoder(tiny, use_onednn=use_onednn)
    with torch.inference_mode():
        got = encoder(ids, mask, types)
    assert encoder.weights.layer(0).qkv.onednn == (use_onednn and torch.backends.mkldnn.is_available())
    assert_close(got, plain(tiny, ids, mask, types))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_linear_gelu_inside_the_product_or_after_it(dtype):
    """fast.Linear's two ways to a GELU (oneDNN's, inside the product, and F.gelu after it; which one
    runs depends on the CPU) and its residual add, against F.linear in fp32."""
    from minisbert.speed.fast import Linear

    g = torch.Generator().manual_seed(5)
    w, b, x, r = (torch.randn(*shape, generator=g) for shape in ((48, 32), (48,), (40, 32), (40, 48)))
    want_gelu = F.gelu(F.linear(x.to(dtype).float(), w.to(dtype).float(), b.to(dtype).float()))
    want_add = r.to(dtype).float() + F.linear(x.to(dtype).float(), w.to(dtype).float(), b.to(dtype).float())
    # Relative to the size of each output (|values| up to ~15 here): bf16 rounds it to 8 significant
    # bits, once or (F.linear, then the add) twice: ≤ 2 × 2⁻⁹ ≈ 3.9e-3.
    bound = 1e-6 if dtype == torch.float32 else 1e-2

    def err(got, want):
        return ((got.float() - want).abs() / want.abs().clamp_min(1.0)).max().item()

    with torch.inference_mode():
        for use_onednn in (True, False):
            for fuse in (True, False):
                linear = Linear(w, b, use_onednn, dtype, fuse_gelu=fuse)
                assert linear.fuse_gelu == (fuse and linear.onednn)
                got = linear(x.to(dtype), gelu=True)
                assert got.dtype == dtype and err(got, want_gelu) <= bound
                got = linear(x.to(dtype), residual=r.to(dtype))
                assert got.dtype == dtype and err(got, want_add) <= bound


def test_float64_model_takes_the_plain_matrix_product(tiny):
    import copy

    model = copy.deepcopy(tiny).double()
    ids, mask, types = random_batch([6, 3])
    encoder = FastEncoder(model)
    with torch.inference_mode():
        got = encoder(ids, mask, types)
    assert not encoder.weights.layer(0).qkv.onednn
    assert (got - plain(model, ids, mask, types)).abs().max().item() <= 1e-12


def test_encode_fast_and_plain_give_the_same_vectors(real, stsb_sentences):
    import copy
    import pickle

    sentences = stsb_sentences[:64] + ["", "a", "word " * 300]  # empty, one token, truncated at 256
    assert real.fast_inference  # the default
    fast_vectors = real.encode(sentences, batch_size=32, convert_to="torch")
    one = real.encode(sentences[5], convert_to="torch")
    real.fast_inference = False
    try:
        plain_vectors = real.encode(sentences, batch_size=32, convert_to="torch")
    finally:
        real.fast_inference = True
    assert (fast_vectors - plain_vectors).abs().max().item() <= TOL
    assert (one - plain_vectors[5]).abs().max().item() <= TOL
    # A model that has encoded (and so holds prepared weights) still copies and pickles.
    copy.deepcopy(real)
    pickle.loads(pickle.dumps(real))


# ----------------------------------------------------------------------------------------------------
# bf16 (precision="bf16"): bf16 weights, products and activations; sums in fp32; fp32 pooling and output.
# Bounded, not exact: a tiny random BERT measured ~1e-2 on unit vectors (random weights give larger
# activations per bit than trained ones); all-MiniLM-L6-v2 is bounded in tests/test_bf16.py.

BF16_TINY_BOUND = 5e-2


@pytest.mark.parametrize("use_onednn", [True, False], ids=["onednn", "F.linear"])
@pytest.mark.parametrize("mode", POOLING_MODES)
@pytest.mark.parametrize("left", [False, True], ids=["right-padded", "left-padded"])
def test_tiny_bf16_is_close_to_the_plain_fp32_forward(tiny, mode, left, use_onednn):
    """Both backends: oneDNN adds the residual inside the product; F.linear (a GPU, a CPU without
    oneDNN's bf16) adds it after."""
    ids, mask, types = random_batch([5, 17, 3, 17, 9, 1, 5], left=left)
    with torch.inference_mode():
        want = Pooling(mode)(tiny(ids, mask, types).last_hidden_state, mask)
        got = FastEncoder(tiny, use_onednn=use_onednn)(ids, mask, types, pooling=mode, precision="bf16")
        fp32 = FastEncoder(tiny, use_onednn=use_onednn)(ids, mask, types, pooling=mode, precision="fp32")
    assert got.dtype == torch.float32 and got.shape == want.shape
    err = (F.normalize(got, dim=-1) - F.normalize(want, dim=-1)).abs().max().item()
    assert 0 < err <= BF16_TINY_BOUND  # > 0: bf16 really ran (an fp32 run would be within 1e-6)
    assert (fp32 - want).abs().max().item() <= 1e-6 * max(1.0, want.abs().max().item())


def test_bf16_weights_are_prepared_once_and_follow_changes(tiny):
    model, encoder = encoder_on_a_copy(tiny)
    ids, mask, types = random_batch([7, 3])
    with torch.inference_mode():
        before = encoder(ids, mask, types, precision="bf16")
        prepared = encoder.weights_bf16.layer(0)
        assert prepared.dtype == torch.bfloat16 and prepared.qkv.bias.dtype == torch.bfloat16
        encoder(ids, mask, types, precision="bf16")
        assert encoder.weights_bf16.layer(0) is prepared  # cached, not rebuilt per call
    with torch.no_grad():
        model.encoder.layer[0].attention.self.value.weight.mul_(3.0)
    with torch.inference_mode():
        after = encoder(ids, mask, types, precision="bf16")
    assert encoder.weights_bf16.layer(0) is not prepared
    assert (after - before).abs().max() > 1e-2


def test_bad_precision_is_refused(tiny):
    ids, mask, types = random_batch([3])
    with torch.inference_mode(), pytest.raises(ValueError, match="precision"):
        FastEncoder(tiny)(ids, mask, types, precision="fp16")


def test_threads_sharing_an_encoder_prepare_each_layer_once(tiny, monkeypatch):
    """encode's workers (minisbert/speed/batching.py) share one FastEncoder: the first call on each thread
    finds the layers unprepared, and only one thread may prepare each (a lock in PreparedWeights)."""
    import threading

    import minisbert.speed.fast as fast

    model, encoder = encoder_on_a_copy(tiny)
    built = []
    barrier = threading.Barrier(4)

    class Counted(fast.PreparedLayer):
        def __init__(self, *args, **kwargs):
            built.append(threading.get_ident())
            time.sleep(0.01)  # a slow preparation: without the lock, the other threads would start their own
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(fast, "PreparedLayer", Counted)
    ids, mask, types = random_batch([7, 3])
    results = [None] * 4

    def work(k):
        barrier.wait()
        with torch.inference_mode():
            results[k] = encoder(ids, mask, types, precision="bf16")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(built) == len(model.encoder.layer)  # 3 layers, each prepared once
    assert all(torch.equal(r, results[0]) for r in results)
