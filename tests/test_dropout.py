"""FastDropout (minisbert/speed/dropout.py): nn.Dropout's rate, scale and gradient from a cheaper random mask.

Its masks differ from nn.Dropout's (another random stream), so these tests check the function's
properties: the drop rate within 5 standard deviations on millions of elements, in each of the four
16-bit lanes of a random word; kept elements scaled by the inverse of the real keep probability; the
gradient; eval mode and p = 0 as the identity; masks reproduced by the seed; and the swap that
``set_up_for_training`` makes and undoes.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from minisbert.bert import set_dropout
from minisbert.speed.dropout import FastDropout, use_fast_dropout

pytestmark = pytest.mark.fast


def test_drop_rate_and_scale():
    p, n = 0.1, 4_000_000
    torch.manual_seed(0)
    out = FastDropout(p).train()(torch.ones(n))
    dropped = (out == 0).double()
    q = round(p * 65536) / 65536  # the real drop probability: 6554 / 65536
    sd = math.sqrt(q * (1 - q) / (n / 4))
    for lane in range(4):  # the four 16-bit pieces of each 64-bit random word
        assert abs(dropped[lane::4].mean().item() - q) < 5 * sd
    kept = out[out != 0]
    assert torch.equal(kept, torch.full_like(kept, 1 / (1 - q)))  # scaled by 1 / keep probability
    assert abs(out.double().mean().item() - 1.0) < 5 * math.sqrt(q / (1 - q) / n)  # unbiased


@pytest.mark.parametrize("p", [0.5, 0.9, 1e-3])
def test_other_rates(p):
    n = 1_000_000
    torch.manual_seed(1)
    out = FastDropout(p).train()(torch.ones(n))
    q = round(p * 65536) / 65536
    assert abs((out == 0).double().mean().item() - q) < 5 * math.sqrt(q * (1 - q) / n)


def test_gradient_is_the_mask_times_the_scale():
    torch.manual_seed(2)
    x = torch.randn(37, 11, requires_grad=True)  # 407 elements: not a multiple of four
    out = FastDropout(0.3).train()(x)
    out.sum().backward()
    scale = 1 / (1 - round(0.3 * 65536) / 65536)
    keep = out.detach() != 0
    assert torch.allclose(out.detach(), x.detach() * keep * scale)
    assert torch.equal(x.grad, keep.float() * scale)


def test_identity_in_eval_mode_and_at_p_zero():
    x = torch.randn(5, 7)
    assert FastDropout(0.1).eval()(x) is x
    assert FastDropout(0.0).train()(x) is x


def test_the_seed_reproduces_the_mask_and_bf16_stays_bf16():
    x = torch.randn(64, 48, dtype=torch.bfloat16)
    drop = FastDropout(0.1).train()
    torch.manual_seed(3)
    a = drop(x)
    torch.manual_seed(3)
    b = drop(x)
    c = drop(x)
    assert a.dtype == torch.bfloat16 and torch.equal(a, b) and not torch.equal(b, c)


def test_swap_and_restore_keep_p_and_mode():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.2), nn.Sequential(nn.Dropout(0.3))).train()
    originals = [model[1], model[2][0]]
    restore = use_fast_dropout(model)
    assert [type(m) for m in (model[1], model[2][0])] == [FastDropout, FastDropout]
    assert [m.p for m in (model[1], model[2][0])] == [0.2, 0.3]
    set_dropout(model, 0.0)  # FastDropout is an nn.Dropout: set_dropout reaches it
    model.eval()
    restore()
    assert [model[1], model[2][0]] == originals
    assert all(m.p == 0.0 and not m.training for m in originals)


@pytest.mark.parametrize("fast", [True, False])
def test_set_up_for_training_swaps_the_dropouts_and_puts_them_back(model_dir, fast):
    from minisbert import BertConfig, BertModel, BertTokenizer, SentenceBert
    from minisbert.objectives import RegressionObjective
    from minisbert.optimization import make_optimizer
    from minisbert.speed.training import set_up_for_training
    from minisbert.training import TrainConfig

    tokenizer = BertTokenizer.from_pretrained(model_dir)
    bert = BertModel(BertConfig(vocab_size=len(tokenizer.vocab), hidden_size=32, num_hidden_layers=1,
                                num_attention_heads=2, intermediate_size=64, max_position_embeddings=64))
    objective = RegressionObjective(SentenceBert(bert, tokenizer, max_seq_length=64))
    config = TrainConfig(fast_dropout=fast)
    restore = set_up_for_training(objective, config, make_optimizer(objective, config)[0])
    kinds = {type(m) for m in objective.modules() if isinstance(m, nn.Dropout)}
    assert kinds == ({FastDropout} if fast else {nn.Dropout})
    # On the CPU, attention with dropout takes the plain path (SDPA would draw torch's mask) when the
    # dropout is the fast one; without attention dropout, SDPA's fused kernel.
    assert bert.use_sdpa is (not fast)
    restore()
    assert {type(m) for m in objective.modules() if isinstance(m, nn.Dropout)} == {nn.Dropout}
    assert bert.use_sdpa is False  # as it was before
    set_dropout(bert, 0.0)
    restore = set_up_for_training(objective, config, make_optimizer(objective, config)[0])
    assert bert.use_sdpa is True
    restore()
