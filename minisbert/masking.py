"""Masking for the masked-language-model task, as in the BERT paper.

Devlin et al. 2019, section 3.1 ("Task #1: Masked LM") and appendix A.1:

    select 15% of the tokens (never [CLS], [SEP] or [PAD]) as prediction targets; of those
        80% are replaced by [MASK]         my dog is hairy → my dog is [MASK]
        10% by a random token              my dog is hairy → my dog is apple
        10% are left unchanged             my dog is hairy → my dog is hairy

Why not always [MASK]: [MASK] never occurs when the model is used, so a model that only ever saw it at
the positions it had to predict would learn nothing useful about the vectors of real tokens. The random
and unchanged 10% make it keep a good vector for every token, since it cannot tell which ones will be
scored.

The labels hold the original token at the selected positions and -100 elsewhere (transformers'
"ignore" value), so the loss is computed at the selected positions only.

``mask_tokens`` draws in exactly the order of transformers' ``DataCollatorForLanguageModeling``
(a Bernoulli(0.15) per token, then Bernoulli(0.8) for [MASK], then Bernoulli(0.5) among the rest for a
random token, then the random tokens), so with the same ``torch.Generator`` state both give the same
masks; ``tests/test_masking.py`` checks it. Masks are drawn anew for every batch (RoBERTa's "dynamic
masking", Liu et al. 2019), from a generator the training loop seeds per step, so a resumed run draws
the same masks as an uninterrupted one.

Whole-word masking (Google's later BERT release) selects words instead of pieces: when a word is chosen,
every WordPiece of it (``play ##ing``) is a target, so the model cannot guess ``##ing`` from ``play``.
"""

from __future__ import annotations

import torch

from .checks import check_positive_int

MLM_PROBABILITY = 0.15  # the fraction of tokens selected as targets (the paper's 15%)
MASK_PROBABILITY = 0.8  # of the selected: replaced by [MASK]
RANDOM_PROBABILITY = 0.1  # of the selected: replaced by a uniformly random token; the other 10% stay


def mask_tokens(
    input_ids: torch.Tensor,
    special_mask: torch.Tensor,
    vocab_size: int,
    mask_token_id: int,
    generator: torch.Generator | None = None,
    mlm_probability: float = MLM_PROBABILITY,
    word_starts: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Select and corrupt tokens for the masked-LM task; returns ``(inputs, labels)``.

    Args:
        input_ids: (B, T) token ids, with [CLS], [SEP] and [PAD] in place.
        special_mask: (B, T) bool, True at tokens that must never be selected ([CLS], [SEP], [PAD]).
        vocab_size: random replacements are drawn uniformly from ``[0, vocab_size)``.
        mask_token_id: the id of ``[MASK]``.
        generator: the random source (a seeded ``torch.Generator`` makes the masks repeatable).
        mlm_probability: the chance that a token (or with ``word_starts``, a word) is selected.
        word_starts: (B, T) bool for whole-word masking, True at the first piece of every word (False at
            ``##`` continuation pieces). A word is selected as a whole: the draw at its first piece decides
            for all its pieces.

    Returns ``inputs`` (B, T), a corrupted copy, and ``labels`` (B, T): the original id where selected,
    -100 elsewhere.
    """
    _check(input_ids, special_mask, vocab_size, mask_token_id, mlm_probability, word_starts)
    labels = input_ids.clone()
    special_mask = special_mask.bool()

    probability = torch.full(labels.shape, mlm_probability)  # (B, T)
    probability.masked_fill_(special_mask, 0.0)
    selected = torch.bernoulli(probability, generator=generator).bool()  # (B, T)
    if word_starts is not None:
        selected = _spread_to_whole_words(selected & word_starts.bool(), word_starts.bool()) & ~special_mask
    labels[~selected] = -100

    inputs = input_ids.clone()
    to_mask = torch.bernoulli(torch.full(labels.shape, MASK_PROBABILITY), generator=generator).bool() & selected
    inputs[to_mask] = mask_token_id
    # Among the 20% left, half get a random token: 0.1 / (1 - 0.8) = 0.5.
    random_share = RANDOM_PROBABILITY / (1 - MASK_PROBABILITY)
    to_random = torch.bernoulli(torch.full(labels.shape, random_share), generator=generator).bool() & selected & ~to_mask
    random_ids = torch.randint(vocab_size, labels.shape, dtype=torch.long, generator=generator)
    inputs[to_random] = random_ids[to_random]
    return inputs, labels


def _spread_to_whole_words(chosen_starts: torch.Tensor, word_starts: torch.Tensor) -> torch.Tensor:
    """True at every piece of a word whose first piece is chosen (continuation pieces follow their start)."""
    # Number the words along each row: a piece belongs to the word of the last word start at or before it.
    word_index = word_starts.long().cumsum(dim=1)  # (B, T): 1, 1, 2, 3, 3, 3, ...
    chosen_words = torch.zeros(word_index.shape[0], word_index.shape[1] + 1, dtype=torch.bool)  # (B, T + 1)
    chosen_words.scatter_(1, word_index * chosen_starts.long(), chosen_starts)  # unchosen starts write to 0
    chosen_words[:, 0] = False  # index 0: "no word yet" and the dump for unchosen starts
    return chosen_words.gather(1, word_index)  # (B, T)


def word_starts(input_ids: torch.Tensor, continuation_ids: torch.Tensor) -> torch.Tensor:
    """(B, T) bool: True where a token begins a word, False at ``##`` continuation pieces.

    ``continuation_ids`` is a (V,) bool tensor, True for vocabulary entries that start with ``##``
    (``BertTokenizer.continuation_mask()``).
    """
    return ~continuation_ids[input_ids]


def _check(input_ids, special_mask, vocab_size, mask_token_id, mlm_probability, word_starts) -> None:
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2:
        raise ValueError("input_ids must be a (batch, seq_len) tensor of token ids")
    if not isinstance(special_mask, torch.Tensor) or special_mask.shape != input_ids.shape:
        raise ValueError(f"special_mask must be a tensor of the same shape as input_ids {tuple(input_ids.shape)}")
    if word_starts is not None and (not isinstance(word_starts, torch.Tensor) or word_starts.shape != input_ids.shape):
        raise ValueError(f"word_starts must be a tensor of the same shape as input_ids {tuple(input_ids.shape)}")
    check_positive_int(vocab_size, "vocab_size")
    if not (0 <= mask_token_id < vocab_size):
        raise ValueError(f"mask_token_id must lie in [0, {vocab_size}), got {mask_token_id!r}")
    if not (0.0 < mlm_probability < 1.0):
        raise ValueError(f"mlm_probability must lie in (0, 1), got {mlm_probability!r}")
