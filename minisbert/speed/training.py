"""The speed set-up of a fine-tuning run: the same maths as the plain loop of ``minisbert/training.py``,
less work per step. ``train`` calls ``set_up_for_training`` once, before its first step, and the function
it returns afterwards; ``TrainConfig.use_sdpa``, ``.packed`` and ``.fast_dropout`` switch the parts.

Each part has its plain twin and a test that the two agree (see ``README.md`` beside this file).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .dropout import use_fast_dropout


def set_up_for_training(objective: nn.Module, config, optimizer: torch.optim.Optimizer,
                        distributed: bool = False) -> Callable[[], None]:
    """Put ``objective`` in the state ``train`` trains it in; returns the function that undoes it.

    * dropout on (``objective.train()``), as in pre-training and in the paper's fine-tuning, with the
      cheaper mask of ``minisbert/speed/dropout.py`` (``config.fast_dropout``): the same rate (within
      1e-5) and an unbiased scale;
    * attention through SDPA (``config.use_sdpa``; on the CPU only while attention dropout is off or
      torch's, as SDPA has no fused CPU kernel with dropout) and, for a SentenceBert, the forward on
      packed tokens (``config.packed``, ``minisbert/speed/packed.py``): both the same maths as the plain
      forward;
    * in one process, the word embeddings' gradient is sparse (``nn.Embedding(sparse=True)``): the
      backward gives the rows of the tokens in the batch only, ``clip_grad_norm`` takes its norm from
      those rows, and just before ``optimizer.step()`` a hook adds them into a dense buffer kept from
      step to step, which becomes ``.grad``. The dense backward instead allocates and zero-fills a new
      (vocab, H) tensor on every forward, and its norm is one more pass over it. AdamW still sees a dense
      gradient, so every row is updated as before. Under torchrun the gradient stays dense:
      DistributedDataParallel averages gradients in its own dense buckets.
    """
    model = objective.model
    packs = hasattr(model, "packed_training")  # a SentenceBert; the cross-encoder runs the plain forward
    had = model.bert.use_sdpa, packs and model.packed_training
    # On the CPU, SDPA has no fused kernel with dropout: it runs the plain path's maths, with torch's
    # slower mask. There the plain path runs instead, with the fast dropout.
    attention_dropout = any(layer.attention.self.dropout.p > 0 for layer in model.bert.encoder.layer)
    on_cpu = model.bert.embeddings.word_embeddings.weight.device.type == "cpu"
    model.bert.use_sdpa = config.use_sdpa and not (config.fast_dropout and attention_dropout and on_cpu)
    if packs:
        model.packed_training = config.packed
    embeddings = model.bert.embeddings.word_embeddings
    hook = None
    if not distributed:
        weight, buffer = embeddings.weight, torch.zeros_like(embeddings.weight)
        filled = torch.zeros(0, dtype=torch.long, device=buffer.device)  # the rows the buffer holds

        def densify(_optimizer, _args, _kwargs) -> None:  # an optimizer step pre-hook
            nonlocal filled
            if weight.grad is not None and weight.grad.is_sparse:
                rows = weight.grad._indices()[0]  # (nnz,), a row once per token: index_add_ sums repeats
                # Only the last step's rows are non-zero (AdamW only reads the gradient): zeroing those
                # is zeroing the buffer, without a pass over all of it.
                buffer.index_fill_(0, filled, 0.0).index_add_(0, rows, weight.grad._values())
                filled, weight.grad = rows, buffer

        embeddings.sparse = True
        hook = optimizer.register_step_pre_hook(densify)
    objective.train()
    undo_dropout = use_fast_dropout(objective) if config.fast_dropout else None

    def restore() -> None:
        if undo_dropout is not None:
            undo_dropout()
        model.bert.use_sdpa = had[0]
        if packs:
            model.packed_training = had[1]
        embeddings.sparse = False
        if hook is not None:
            hook.remove()

    return restore
