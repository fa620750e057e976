"""Dropout with a cheaper random mask, for training (``TrainConfig.fast_dropout``, on by default).

Dropout (Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from Overfitting", JMLR
2014) zeroes each element with probability p while training and scales the others by 1 / (1 - p), so
that every element keeps its expected value. BERT applies it (p = 0.1) to the embeddings and to every
sub-layer's output: 13 times a forward in all-MiniLM-L6-v2, each over every token's hidden vector.

What costs is the mask, not the maths. ``nn.Dropout`` on the CPU draws one random float per element
with torch's ``bernoulli_`` and compares it with p. This draws 64 random bits at a time (``random_``
on int64: one draw serves four elements) and reads them as four 16-bit integers u, uniform on
0..65535: an element is dropped when u < round(p · 65536). The drop probability is therefore that
count over 65536 (0.1000061 for p = 0.1, against 0.1 ± 2⁻²⁴ for ``bernoulli_``'s float comparison), and
the kept elements are scaled by 65536 / (65536 - count), the inverse of the real keep probability, so
that the expectation is still exactly the input. The mask is saved for the backward as booleans.

It replaces the hidden vectors' dropouts and attention's dropout on its weights (``set_up_for_training``
then runs attention's plain path on the CPU, where SDPA has no fused kernel with dropout anyway);
docs/performance.md measures what each saves in a training step. It draws from torch's default
generator, as ``nn.Dropout`` does, so ``torch.manual_seed`` and a checkpoint's saved generator
state reproduce its masks; the random stream differs from ``nn.Dropout``'s, so the masks do too.
``tests/test_dropout.py`` checks the rate, the scale, the gradient and that eval mode is the identity.
"""

from __future__ import annotations

import torch
import torch.nn as nn

#: The mask's resolution: 16 random bits per element.
LEVELS = 1 << 16


def dropped_count(p: float) -> int:
    """How many of the 65536 levels drop an element: ``round(p · 65536)``."""
    return round(p * LEVELS)


class FastDropout(nn.Dropout):
    """``nn.Dropout(p)`` with the cheaper mask above; in eval mode (or p = 0) the identity.

    A subclass, so ``isinstance(m, nn.Dropout)`` and ``m.p`` (read by ``set_dropout`` and by attention's
    SDPA call) work as before."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        count = dropped_count(self.p)
        n = x.numel()
        words = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device).random_(-2**63, None)  # all 64 bits
        u = words.view(torch.int16)[:n].view(x.shape)  # (…x.shape), uniform on -32768..32767: u + 32768 on 0..65535
        keep = u >= count - LEVELS // 2  # u + 32768 ≥ count: kept with probability 1 - count/65536
        return x * keep * (LEVELS / (LEVELS - count))


def use_fast_dropout(model: nn.Module):
    """Replace every ``nn.Dropout`` in ``model`` by a ``FastDropout`` of the same p; returns the function
    that puts the originals back."""
    swapped = []
    for parent in model.modules():
        for name, child in parent.named_children():
            if type(child) is nn.Dropout:
                fast = FastDropout(child.p)
                fast.train(child.training)
                setattr(parent, name, fast)
                swapped.append((parent, name, child))

    def restore() -> None:
        for parent, name, child in swapped:
            child.p = getattr(parent, name).p  # set_dropout may have changed it since
            child.train(getattr(parent, name).training)
            setattr(parent, name, child)

    return restore
