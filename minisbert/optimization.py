"""What both training loops share: the seed, AdamW and its parameter groups, the learning-rate schedule,
gradient clipping, and the state a run remembers between steps.

The SBERT fine-tuning loop (``minisbert/training.py``) and BERT pre-training (``minisbert/pretraining.py``)
both follow BERT's own recipe (Devlin et al. 2019, appendix A.2): AdamW with decoupled weight decay 0.01
that spares biases and LayerNorm weights, a linear warm-up of the learning rate then a linear decay to 0,
and the gradient clipped to norm 1.0. Both import these pieces from here; neither loop imports the other.

Why these choices:

* warm-up: Adam's second-moment estimates start from nothing, so its first steps are badly scaled; a
  pretrained model is also easy to knock out of its good region. Starting the learning rate at 0 and
  raising it over the first steps avoids both. The linear decay to 0 afterwards lets the last steps only
  fine-tune.
* no weight decay on biases and LayerNorm parameters: decay on a LayerNorm gain would pull it towards 0,
  which is not a "smaller, simpler" model.
* gradient clipping at norm 1.0: it only acts on the rare exploding batch, so one bad batch cannot throw
  the weights far.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn


def seed_everything(seed: int) -> None:
    """Seed torch, Python's ``random`` and numpy (data order uses its own generator, see
    ``minisbert.training.epoch_order``)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_optimizer(module: nn.Module, config) -> tuple[torch.optim.AdamW, list[str]]:
    """AdamW over every trainable parameter of ``module``, in up to four groups: (encoder | head) ×
    (decay | no decay).

    No weight decay on biases and LayerNorm parameters (BERT's recipe). The head (the
    ``head_parameters`` of an objective, e.g. the classifier of ``ClassificationObjective``) may get its
    own learning rate: a freshly initialised layer needs much larger steps than pretrained weights that
    should only be nudged. A module without ``head_parameters`` is all encoder: two groups.

    ``config``: a ``TrainConfig``, a ``PretrainConfig``, or any object with ``lr`` and ``weight_decay`` (and
    optionally ``head_lr``). Returns the optimizer and the parameters' names in the optimizer's order (for
    checkpoints).
    """
    head_ids = {id(p) for p in getattr(module, "head_parameters", [])}
    head_lr = getattr(config, "head_lr", None)
    head_lr = config.lr if head_lr is None else head_lr
    layer_norm_ids = {id(p) for m in module.modules() if isinstance(m, nn.LayerNorm) for p in m.parameters()}
    groups: dict[tuple[bool, bool], tuple[list, list]] = {}
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        is_head = id(p) in head_ids
        no_decay = name.endswith(".bias") or "LayerNorm" in name or id(p) in layer_norm_ids
        params, param_names = groups.setdefault((is_head, no_decay), ([], []))
        params.append(p)
        param_names.append(name)
    param_groups, names = [], []
    for (is_head, no_decay), (params, param_names) in sorted(groups.items()):
        param_groups.append({"params": params, "lr": head_lr if is_head else config.lr,
                             "weight_decay": 0.0 if no_decay else config.weight_decay})
        names.extend(param_names)
    try:
        # The fused kernel updates every parameter in one pass over memory: the same maths as the
        # per-tensor loop, and what transformers' Trainer uses by default. torch < 2.4 has no CPU version.
        optimizer = torch.optim.AdamW(param_groups, lr=config.lr, fused=True)
    except (RuntimeError, TypeError):
        optimizer = torch.optim.AdamW(param_groups, lr=config.lr)
    return optimizer, names


def linear_warmup_then_decay(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """The learning-rate multiplier after ``step`` steps: 0 → 1 over the warm-up, then 1 → 0 at the end."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return step / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return factor


def clip_grad_norm(parameters, max_norm: float) -> torch.Tensor:
    """Scale the gradients down to a total L2 norm of ``max_norm`` if it is larger; returns the norm
    before clipping, as ``nn.utils.clip_grad_norm_`` (``tests/test_packed.py`` checks the two agree).

    Written out so that it also takes a sparse gradient (the word embeddings' when training runs with the
    set-up of ``minisbert/speed/training.py``), counted by its rows, and so that gradients are only
    touched when they are clipped: ``clip_grad_norm_`` multiplies every gradient by 1.0 otherwise."""
    parameters = [p for p in parameters if p.grad is not None]
    grads = [p.grad.coalesce().values() if p.grad.is_sparse else p.grad for p in parameters]  # repeats summed
    norm = nn.utils.get_total_norm(grads)
    if not max_norm / (norm + 1e-6) >= 1.0:  # as clip_grad_norm_ decides it (a NaN norm clips too)
        nn.utils.clip_grads_with_norm_(parameters, max_norm, norm)
    return norm


@dataclass
class TrainState:
    """The fine-tuning loop's state: what a checkpoint remembers besides tensors."""

    step: int = 0  # optimizer steps done
    losses: list[float] = field(default_factory=list)  # the loss of every step
    dev_scores: list[float] = field(default_factory=list)  # the dev score after each epoch
    best_score: float | None = None
    best_epoch: int | None = None
    epoch_seconds: list[float] = field(default_factory=list)  # wall time of each epoch's training steps
