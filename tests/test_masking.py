"""Masking as in the BERT paper: proportions, special tokens, repeatability, and transformers' collator."""

import pytest
import torch

from minisbert.masking import _spread_to_whole_words, mask_tokens

pytestmark = pytest.mark.fast

V, MASK = 30522, 103


def sample(B=256, T=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, V, (B, T), generator=g)
    lengths = torch.randint(8, T + 1, (B,), generator=g)
    special = torch.zeros(B, T, dtype=torch.bool)
    for i, n in enumerate(lengths.tolist()):
        ids[i, 0], ids[i, n - 1], ids[i, n:] = 101, 102, 0
        special[i, 0] = special[i, n - 1:] = True
    return ids, special


def test_proportions_match_the_paper_over_a_large_sample():
    ids, special = sample()
    inputs, labels = mask_tokens(ids, special, V, MASK, torch.Generator().manual_seed(1))
    selected = labels != -100
    n_candidates, n_selected = int((~special).sum()), int(selected.sum())
    assert abs(n_selected / n_candidates - 0.15) < 0.005  # ~22,000 candidates: 4 standard errors
    as_mask = (inputs == MASK) & selected
    unchanged = (inputs == ids) & selected
    random = selected & ~as_mask & ~unchanged
    assert abs(int(as_mask.sum()) / n_selected - 0.8) < 0.015
    assert abs(int(random.sum()) / n_selected - 0.1) < 0.012
    assert abs(int(unchanged.sum()) / n_selected - 0.1) < 0.012  # (a random token equal to the original counts here; 1 in 30,000)
    assert torch.equal(labels[selected], ids[selected])  # labels hold the original tokens
    assert torch.equal(inputs[~selected], ids[~selected])  # nothing else changes


def test_special_tokens_are_never_selected():
    ids, special = sample(seed=2)
    for seed in range(5):
        inputs, labels = mask_tokens(ids, special, V, MASK, torch.Generator().manual_seed(seed), mlm_probability=0.9)
        assert (labels[special] == -100).all()
        assert torch.equal(inputs[special], ids[special])


def test_the_same_seed_gives_the_same_masks_and_another_seed_others():
    ids, special = sample(B=8, seed=3)
    a = mask_tokens(ids, special, V, MASK, torch.Generator().manual_seed(7))
    b = mask_tokens(ids, special, V, MASK, torch.Generator().manual_seed(7))
    c = mask_tokens(ids, special, V, MASK, torch.Generator().manual_seed(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


def test_the_same_masks_as_transformers_collator_with_the_same_generator(model_dir):
    from transformers import AutoTokenizer, DataCollatorForLanguageModeling

    hf_tok = AutoTokenizer.from_pretrained(model_dir)
    assert len(hf_tok) == V and hf_tok.mask_token_id == MASK
    collator = DataCollatorForLanguageModeling(hf_tok, mlm_probability=0.15)
    ids, special = sample(B=16, seed=4)
    collator.generator = torch.Generator().manual_seed(11)
    ref_inputs, ref_labels = collator.torch_mask_tokens(ids.clone(), special_tokens_mask=special.long())
    inputs, labels = mask_tokens(ids, special, V, MASK, torch.Generator().manual_seed(11))
    assert torch.equal(labels, ref_labels)
    assert torch.equal(inputs, ref_inputs)


def test_whole_word_masking_selects_every_piece_of_a_chosen_word():
    ids, special = sample(B=64, seed=5)
    g = torch.Generator().manual_seed(6)
    starts = torch.rand(ids.shape, generator=g) < 0.6  # ~40% of the pieces continue a word
    starts |= special
    inputs, labels = mask_tokens(ids, special, V, MASK, torch.Generator().manual_seed(7), word_starts=starts)
    selected = labels != -100
    for row in range(ids.shape[0]):
        word = -1
        words: dict[int, set[bool]] = {}
        for t in range(ids.shape[1]):
            if starts[row, t]:
                word += 1
            if not special[row, t]:
                words.setdefault(word, set()).add(bool(selected[row, t]))
        assert all(len(flags) == 1 for flags in words.values())  # all pieces of a word, or none
    n_words = int((starts & ~special).sum())
    n_chosen_words = int((selected & starts).sum())
    assert abs(n_chosen_words / n_words - 0.15) < 0.01
    assert (labels[special] == -100).all()


def test_spread_to_whole_words_by_hand():
    starts = torch.tensor([[1, 1, 0, 0, 1, 1, 0]], dtype=torch.bool)  # words: [0] [1 2 3] [4] [5 6]
    chosen = torch.tensor([[0, 1, 0, 0, 0, 1, 0]], dtype=torch.bool)
    assert _spread_to_whole_words(chosen, starts).int().tolist() == [[0, 1, 1, 1, 0, 1, 1]]


@pytest.mark.parametrize("kwargs, message", [
    (dict(vocab_size=0), "vocab_size must be a positive int"),
    (dict(mask_token_id=V), "mask_token_id must lie in"),
    (dict(mlm_probability=1.5), "mlm_probability must lie in"),
])
def test_bad_arguments_are_named(kwargs, message):
    ids, special = sample(B=2, T=10)
    args = dict(vocab_size=V, mask_token_id=MASK) | kwargs
    with pytest.raises(ValueError, match=message):
        mask_tokens(ids, special, **args)
    with pytest.raises(ValueError, match="special_mask must be"):
        mask_tokens(ids, special[:, :5], V, MASK)
