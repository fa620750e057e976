"""Training on packed tokens (minisbert/speed/packed.py) computes what the plain padded forward computes.

Compared with dropout off, on a tiny random BERT (every mask layout, both attention paths, the rounding
of the packed rows) and on all-MiniLM-L6-v2 with a real STS Benchmark training batch: the output at
the real tokens within 1e-6, every parameter's gradient within 1e-5 of its size. Then what
``set_up_for_training`` adds around it: the word embeddings' sparse gradient, clipped by its rows and
densified into a kept buffer before each AdamW step, trains as the dense gradient does;
``clip_grad_norm`` equals torch's ``clip_grad_norm_``; and a whole ``train`` run with ``packed=False`` and one with ``packed=True`` end
at the same parameters.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from minisbert import BertConfig, BertModel, SentenceBert
from minisbert.bert import set_dropout
from minisbert.examples import stsb_regression
from minisbert.objectives import RegressionObjective
from minisbert.speed.packed import ROW_MULTIPLE, packed_last_hidden_state
from minisbert.tokenizer import BertTokenizer
from minisbert.optimization import clip_grad_norm, make_optimizer
from minisbert.speed.training import set_up_for_training
from minisbert.training import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_bert(seed=0, **overrides) -> BertModel:
    torch.manual_seed(seed)
    config = BertConfig(**{"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                           "intermediate_size": 64, "max_position_embeddings": 40, **overrides})
    return set_dropout(BertModel(config).train(), 0.0)  # training mode, but deterministic


def random_batch(B, T, seed=1, left=False):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    lengths[0] = T  # one full row
    ids = torch.randint(1, 100, (B, T), generator=g)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).long()  # (B, T), right padding
    if left:
        mask = mask.flip(1)
    types = torch.randint(0, 2, (B, T), generator=g) * mask
    return ids * mask, mask, types


def plain_and_packed(bert, ids, mask, types):
    """(plain, packed) last hidden states and the gradients of a loss that reads every real token."""
    outputs, grads = [], []
    weights = torch.randn(ids.shape + (bert.config.hidden_size,), generator=torch.Generator().manual_seed(3))
    for forward in (lambda: bert(ids, mask, types).last_hidden_state,
                    lambda: packed_last_hidden_state(bert, ids, mask, types)):
        bert.zero_grad(set_to_none=True)
        h = forward()  # (B, T, H)
        (h * weights * mask[..., None]).sum().backward()
        outputs.append(h.detach())
        grads.append({name: p.grad.clone() for name, p in bert.named_parameters() if p.grad is not None})
    return outputs, grads


def assert_grads_close(a: dict, b: dict, tol=1e-5):
    assert a.keys() == b.keys()
    for name in a:
        scale = max(1.0, a[name].abs().max().item())
        assert (a[name] - b[name]).abs().max().item() <= tol * scale, name


@pytest.mark.fast
@pytest.mark.parametrize("use_sdpa", [False, True], ids=["plain-attention", "sdpa"])
@pytest.mark.parametrize("B, T, left", [(7, 13, False), (5, 9, True), (1, 6, False), (4, 16, False)],
                         ids=["ragged", "left-padded", "one-sentence", "64-real-tokens"])
def test_tiny_packed_forward_and_gradients_equal_the_plain_ones(use_sdpa, B, T, left):
    bert = tiny_bert()
    bert.use_sdpa = use_sdpa
    ids, mask, types = random_batch(B, T, left=left)
    if (B, T) == (4, 16):
        mask[:] = 1  # N = 64 real tokens: no extra rows
        assert mask.sum() % ROW_MULTIPLE == 0
    (plain, packed), (g_plain, g_packed) = plain_and_packed(bert, ids, mask, types)
    real = mask.bool()
    assert (plain[real] - packed[real]).abs().max().item() <= 1e-6
    assert packed[~real].abs().max().item() == 0 if (~real).any() else True  # zeros at [PAD]
    assert_grads_close(g_plain, g_packed)


@pytest.mark.fast
def test_packed_forward_checks_its_inputs_as_the_plain_one():
    bert = tiny_bert()
    ids, mask, types = random_batch(3, 5)
    for bad, error in [(ids + 1000, ValueError), (ids.float(), TypeError), (ids[0], ValueError)]:
        with pytest.raises(error) as plain:
            bert(bad, mask if bad.dim() == 2 else None)
        with pytest.raises(error) as packed:
            packed_last_hidden_state(bert, bad, mask if bad.dim() == 2 else None)
        assert str(plain.value) == str(packed.value)


@pytest.mark.fast
def test_packed_forward_under_bf16_autocast_stays_close_to_fp32():
    bert = tiny_bert()
    ids, mask, types = random_batch(6, 12)
    with torch.no_grad():
        fp32 = bert(ids, mask, types).last_hidden_state
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = packed_last_hidden_state(bert, ids, mask, types)
    real = mask.bool()
    # LayerNorm outputs of size ~1; bf16 keeps 8 significant bits (relative rounding 2⁻⁸ ≈ 4e-3 per product)
    assert bf16.dtype == torch.float32
    assert (bf16[real] - fp32[real]).abs().max().item() < 0.1


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    return BertTokenizer.from_pretrained(model_dir)


def test_real_model_loss_and_gradients_packed_and_joint_equal_the_plain_ones(real_sbert, data_dir):
    """all-MiniLM-L6-v2 and 16 real STSb training pairs: the regression loss and its gradients, plain
    (one padded forward per column) against packed (one packed forward for both columns)."""
    batch = stsb_regression("train", data_dir)[:16]
    objective = RegressionObjective(copy.deepcopy(real_sbert))
    set_dropout(objective, 0.0)
    objective.train()
    losses, grads = [], []
    for packed in (False, True):
        objective.model.packed_training = packed
        objective.zero_grad(set_to_none=True)
        loss = objective(batch)
        loss.backward()
        losses.append(loss.item())
        grads.append({n: p.grad.clone() for n, p in objective.named_parameters() if p.grad is not None})
    assert abs(losses[0] - losses[1]) <= 1e-6 * max(1.0, abs(losses[0]))
    assert_grads_close(grads[0], grads[1])


@pytest.mark.fast
@pytest.mark.parametrize("max_norm", [1e-3, 1e6], ids=["clipping", "not-clipping"])
def test_sparse_word_embedding_gradient_trains_as_the_dense_one(tokenizer, max_norm):
    """Four training steps (forward, backward, clip, AdamW) with the dense gradient (as under torchrun)
    and with the sparse one densified before each step: the same gradient norms, the same dense
    gradient handed to AdamW, the same weights after each step. The batches share some words and not
    others, so the kept buffer must forget each earlier step's rows."""
    texts = [["A man plays a guitar.", "Two dogs run."], ["The sun is out.", "A man plays."],
             ["Nothing here repeats at all", "zebra"], ["A dog.", "Guitar music, loud and long."]]
    runs = []
    for distributed in (True, False):
        torch.manual_seed(0)
        model = SentenceBert(BertModel(BertConfig(vocab_size=len(tokenizer.vocab), hidden_size=32,
                                                  num_hidden_layers=1, num_attention_heads=2,
                                                  intermediate_size=64, max_position_embeddings=64)), tokenizer,
                             max_seq_length=64)
        objective = RegressionObjective(set_dropout(model, 0.0))
        config = TrainConfig(lr=1e-2, max_grad_norm=max_norm)
        optimizer = make_optimizer(objective, config)[0]
        restore = set_up_for_training(objective, config, optimizer, distributed=distributed)
        weight, seen = model.bert.embeddings.word_embeddings.weight, []
        assert model.bert.embeddings.word_embeddings.sparse is (not distributed)
        for a, b in texts:
            objective.zero_grad(set_to_none=True)
            loss = (objective.model.embed(model.tokenize([a, b])) ** 2).sum()
            loss.backward()
            assert weight.grad.is_sparse is (not distributed)
            norm = clip_grad_norm(objective.parameters(), max_norm)
            optimizer.step()
            assert weight.grad.layout == torch.strided  # AdamW got a dense gradient
            seen.append((norm, weight.grad.clone(), {n: p.detach().clone() for n, p in objective.named_parameters()}))
        restore()
        assert model.bert.embeddings.word_embeddings.sparse is False and model.packed_training is False
        runs.append(seen)
    for (norm_d, grad_d, params_d), (norm_s, grad_s, params_s) in zip(*runs):
        assert abs(norm_d - norm_s) <= 1e-6 * norm_d
        assert (grad_d - grad_s).abs().max().item() <= 1e-6 * grad_d.abs().max().item()  # the same sums in another order
        assert_grads_close(params_d, params_s, tol=1e-6)
    assert runs[1][1][1][tokenizer.vocab["guitar"]].abs().sum() == 0  # step 2 has no "guitar": step 1's rows are gone


@pytest.mark.fast
@pytest.mark.parametrize("max_norm", [1e-3, 1.0, 1e6], ids=["clips", "about-1", "never-clips"])
def test_clip_grad_norm_is_torchs(max_norm):
    torch.manual_seed(0)
    grads = [torch.randn(5, 3) * 0.3, torch.randn(7) * 0.3, torch.randn(2, 2) * 0.3]
    ours, theirs = ([nn.Parameter(torch.zeros_like(g)) for g in grads] for _ in range(2))
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = g.clone(), g.clone()
    norm = clip_grad_norm(ours, max_norm)
    assert torch.equal(norm, nn.utils.clip_grad_norm_(theirs, max_norm))
    for p, q in zip(ours, theirs):
        assert torch.equal(p.grad, q.grad)  # bit for bit


@pytest.mark.fast
@pytest.mark.parametrize("max_norm", [1e-3, 1e6], ids=["clips", "never-clips"])
def test_clip_grad_norm_counts_a_sparse_gradient_by_its_rows(max_norm):
    """An uncoalesced sparse gradient (a row once per token, repeats included) clips as its dense sum does."""
    torch.manual_seed(0)
    rows, values = torch.tensor([[3, 1, 3, 7]]), torch.randn(4, 5)
    sparse = torch.sparse_coo_tensor(rows, values, (10, 5), check_invariants=True)
    ours, theirs = nn.Parameter(torch.zeros(10, 5)), nn.Parameter(torch.zeros(10, 5))
    other, other_dense = (nn.Parameter(torch.zeros(6)) for _ in range(2))
    ours.grad, theirs.grad = sparse.clone(), sparse.to_dense()
    other.grad = torch.randn(6)
    other_dense.grad = other.grad.clone()
    norm = clip_grad_norm([ours, other], max_norm)
    expected = nn.utils.clip_grad_norm_([theirs, other_dense], max_norm)
    assert abs(norm.item() - expected.item()) <= 1e-6 * expected.item()
    assert (ours.grad.to_dense() - theirs.grad).abs().max().item() <= 1e-6
    assert (other.grad - other_dense.grad).abs().max().item() <= 1e-6


def test_train_with_and_without_packing_ends_at_the_same_parameters(tiny_sbert_folder, data_dir):
    examples = stsb_regression("train", data_dir)[:48]
    ends = []
    for packed in (False, True):
        objective = RegressionObjective(set_dropout(SentenceBert.from_pretrained(tiny_sbert_folder), 0.0))
        train(objective, examples, TrainConfig(batch_size=16, max_steps=3, seed=5, packed=packed, progress=False))
        assert objective.model.packed_training is False  # restored
        ends.append({n: p.detach().clone() for n, p in objective.named_parameters()})
    assert_grads_close(*ends)  # the same closeness check, on parameters
    optimizer_groups = make_optimizer(RegressionObjective(SentenceBert.from_pretrained(tiny_sbert_folder)),
                                      TrainConfig())[0].param_groups
    assert len(optimizer_groups) == 2  # the set-up did not change what AdamW holds
