"""Reference solution. It draws in another order than the library (uniform numbers, one per decision),
so it checks that the grader accepts any correct masking, not only the library's draws."""

import torch

MASK_TOKEN_ID = 103


def mlm_mask(input_ids, special_mask, vocab_size, generator):
    r = torch.rand(input_ids.shape, generator=generator)
    selected = (r < 0.15) & ~special_mask
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, -100))
    choice = torch.rand(input_ids.shape, generator=generator)
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator)
    inputs = input_ids.clone()
    inputs[selected & (choice < 0.8)] = MASK_TOKEN_ID
    to_random = selected & (choice >= 0.8) & (choice < 0.9)
    inputs[to_random] = random_ids[to_random]
    return inputs, labels
