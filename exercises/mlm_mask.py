"""Exercise 11: masking for BERT's masked-language-model pre-training (15%, then 80/10/10).

Grade it: python -m minisbert grade mlm_mask
"""

import torch

MASK_TOKEN_ID = 103  # the id of [MASK] in the uncased BERT vocabulary


def mlm_mask(input_ids, special_mask, vocab_size, generator):
    """Choose the tokens BERT must predict and corrupt them; returns (inputs, labels).

    Devlin et al. 2019, section 3.1 ("Task #1: Masked LM") and appendix A.1:

        select 15% of the tokens at random, never a special one ([CLS], [SEP], [PAD]); of those
            80% are replaced by [MASK]        my dog is hairy -> my dog is [MASK]
            10% by a random token             my dog is hairy -> my dog is apple
            10% are left unchanged            my dog is hairy -> my dog is hairy

    Each token is selected independently with probability 0.15 (so the count varies a little). The
    labels hold the original id at the selected positions and -100 everywhere else, the value
    PyTorch's cross_entropy ignores (ignore_index=-100), so the loss counts selected tokens only.

    Every random draw must come from ``generator``, so that the same seed gives the same masks. Any
    order of drawing is right: the grader checks the rules, then the proportions over 200,000 tokens,
    then that the same seed repeats the masks.

    Args:
        input_ids: (B, T) long token ids. Do not modify it: return new tensors.
        special_mask: (B, T) bool, True where a token must never be selected.
        vocab_size: random replacements are drawn uniformly from [0, vocab_size).
        generator: a torch.Generator.

    Returns:
        inputs: (B, T) long, the corrupted copy fed to the model.
        labels: (B, T) long, the original id where selected, -100 elsewhere.

    Hints:
        - ``torch.bernoulli(torch.full(shape, p), generator=generator)`` draws 0/1 with probability p;
          ``torch.rand(shape, generator=generator) < p`` does too.
        - Of the 20% that are not [MASK], half get a random token: 0.1 / (1 − 0.8) = 0.5.
    """
    raise NotImplementedError
