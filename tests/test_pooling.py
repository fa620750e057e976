"""Pooling on hand-built tensors (values worked out by hand) and against sentence-transformers' Pooling."""

from __future__ import annotations

import pytest
import torch

from minisbert.pooling import POOLING_MODES, Pooling, cls_pooling, max_pooling, mean_pooling

pytestmark = pytest.mark.fast  # the whole module is in the fast lane (tests/conftest.py)

# Two sentences, T = 3, H = 2. Sentence 0 has 3 real tokens; sentence 1 has 2 and one [PAD] whose
# vector is huge, so any leak of padding into a result would be obvious.
TOKENS = torch.tensor([
    [[1.0, -2.0], [3.0, -4.0], [5.0, -9.0]],
    [[-1.0, -6.0], [-3.0, -2.0], [1e6, 1e6]],
])
MASK = torch.tensor([[1, 1, 1], [1, 1, 0]])


def test_mean_pooling_by_hand():
    expected = torch.tensor([[(1 + 3 + 5) / 3, (-2 - 4 - 9) / 3], [(-1 - 3) / 2, (-6 - 2) / 2]])
    assert torch.equal(mean_pooling(TOKENS, MASK), expected)


def test_max_pooling_by_hand_padding_never_wins():
    # Sentence 1's real tokens are all negative: padding filled with 0 instead of -inf would win.
    tokens = TOKENS.clone()
    tokens[1, 2] = 0.0
    expected = torch.tensor([[5.0, -2.0], [-1.0, -2.0]])
    assert torch.equal(max_pooling(tokens, MASK), expected)
    assert torch.equal(max_pooling(TOKENS, MASK), expected)


def test_cls_pooling_takes_the_first_real_token():
    assert torch.equal(cls_pooling(TOKENS, MASK), TOKENS[:, 0])
    left_padded = torch.tensor([[0, 1, 1], [1, 1, 0]])
    assert torch.equal(cls_pooling(TOKENS, left_padded), torch.stack([TOKENS[0, 1], TOKENS[1, 0]]))


def test_all_padding_row_gives_zero_not_nan():
    out = mean_pooling(TOKENS, torch.tensor([[0, 0, 0], [1, 0, 0]]))
    assert torch.equal(out[0], torch.zeros(2))  # count clamped to 1e-9: 0 / 1e-9 = 0, not 0 / 0
    assert torch.equal(out[1], TOKENS[1, 0])


@pytest.mark.parametrize("mode", POOLING_MODES)
def test_padding_gets_no_gradient(mode):
    tokens = TOKENS.clone().requires_grad_(True)
    Pooling(mode)(tokens, MASK).sum().backward()
    assert torch.equal(tokens.grad[1, 2], torch.zeros(2))


@pytest.mark.parametrize("mode", POOLING_MODES)
def test_pooling_does_not_depend_on_the_amount_of_padding(mode):
    torch.manual_seed(0)
    x = torch.randn(1, 5, 8)
    mask = torch.tensor([[1, 1, 1, 1, 1]])
    padded = torch.cat([x, torch.randn(1, 7, 8) * 100], dim=1)  # (1, 12, 8): 7 junk positions
    padded_mask = torch.cat([mask, torch.zeros(1, 7, dtype=torch.long)], dim=1)
    assert torch.allclose(Pooling(mode)(x, mask), Pooling(mode)(padded, padded_mask), atol=1e-6, rtol=0)


@pytest.mark.parametrize("mode", POOLING_MODES)
def test_against_sentence_transformers_pooling(mode):
    from sentence_transformers.sentence_transformer.modules import Pooling as STPooling

    torch.manual_seed(1)
    B, T, H = 6, 11, 16
    tokens = torch.randn(B, T, H)
    lengths = torch.tensor([11, 1, 5, 2, 9, 3])
    mask = (torch.arange(T)[None, :] < lengths[:, None]).long()  # (B, T), right-padded
    reference = STPooling(H, pooling_mode=mode)({"token_embeddings": tokens, "attention_mask": mask})
    assert torch.allclose(Pooling(mode)(tokens, mask), reference["sentence_embedding"], atol=1e-6, rtol=0)


@pytest.mark.parametrize("bad", ["sum", "MEAN", "", None, "mean_sqrt_len_tokens"])
def test_unknown_mode_lists_the_modes(bad):
    with pytest.raises(ValueError) as info:
        Pooling(bad)
    assert all(mode in str(info.value) for mode in POOLING_MODES)


def test_default_mode_is_mean():
    assert Pooling().mode == "mean"
