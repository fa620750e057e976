"""Training a SentenceBert with one of the SBERT objectives, readable top to bottom.

Reimers & Gurevych 2019 (SBERT, sections 3 and 4) fine-tune with batch size 16, Adam with learning rate
2e-5 and a linear learning-rate warm-up over 10% of the training data. ``train`` does exactly that:

    for each epoch:
        shuffle the examples (a fixed permutation per (seed, epoch): runs repeat exactly; with in-batch
            negatives, batches with no text twice, see no_duplicate_batches)
        for each batch of 16:
            loss = objective(batch)                 # siamese forward + the objective's loss
            loss.backward()
            clip the gradient norm to 1.0           # one bad batch cannot throw the weights far
            AdamW step; learning-rate schedule step  # linear warm-up over 10%, then linear decay to 0
        evaluate on the dev split; keep the best model in ``out``
        write a checkpoint (model, head, optimizer, schedule, random generators, step)

The optimizer, its schedule, the clipping and the seed are BERT's recipe, shared with pre-training
(``minisbert/optimization.py`` says why each is what it is).

Speed lives elsewhere: one call, ``set_up_for_training`` (``minisbert/speed/training.py``), switches on
the same maths done faster for the length of the run (the forward on packed tokens, a sparse gradient
for the word embeddings, a cheaper dropout mask), each part tested against this plain loop.

Checkpoints (``minisbert/io/checkpoint.py``) are written atomically and hold only safetensors and JSON. A
run resumed from its checkpoint continues exactly as if it had never stopped (same data order, same
dropout masks, same parameters; ``tests/test_train.py`` checks it): each epoch's order is drawn from
(seed, epoch) alone, so the resumed run rebuilds it and skips the batches already done.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .checks import check_positive_int, is_int, is_number
from .evaluate import evaluate_sts
from .io.checkpoint import (CHECKPOINT_OPTIMIZER, CHECKPOINT_STATE, CHECKPOINT_WEIGHTS,  # noqa: F401  (re-exported)
                            MAY_CHANGE, data_digest, load_checkpoint, save_checkpoint)
from .io.files import check_writable, remove_stale_staging, write_folder
from .optimization import TrainState, clip_grad_norm, linear_warmup_then_decay, make_optimizer, seed_everything
from .speed import distributed
from .speed.batching import show_progress
from .speed.hardware import choose_precision, resolve_precision
from .speed.training import set_up_for_training


@dataclass
class TrainConfig:
    """The SBERT paper's fine-tuning recipe (section 4) as defaults."""

    epochs: int = 1
    batch_size: int = 16
    lr: float = 2e-5  # the encoder's learning rate
    head_lr: float | None = None  # the classifier head's learning rate; None: the same as lr
    weight_decay: float = 0.01  # AdamW's decoupled decay, not applied to biases and LayerNorm weights
    warmup_ratio: float = 0.1  # linear warm-up over this fraction of all steps, then linear decay to 0
    max_grad_norm: float = 1.0  # gradient clipping
    seed: int = 0  # shuffling, dropout, head initialisation: the same seed gives the same run
    checkpoint_every: int | None = None  # also write a checkpoint every this many steps
    stop_after_steps: int | None = None  # stop (with a checkpoint) after this many steps; the schedule still spans all epochs
    max_steps: int | None = None  # end after this many steps if the epochs last longer (the schedule spans them)
    precision: str = "fp32"  # "bf16": forwards under torch.autocast (weights, AdamW in fp32); "auto"
    no_duplicates: bool | None = None  # batches with no text twice (no_duplicate_batches); None: when the
    #                                    objective has in-batch negatives (MultipleNegativesRankingObjective)
    progress: bool | None = None  # tqdm bar with the running loss; None: on a long run (minisbert.speed.batching.show_progress)
    # Speed only, the same maths (minisbert/speed/training.py, set_up_for_training):
    use_sdpa: bool = True  # torch's fused attention kernel
    packed: bool = True  # the forward on packed tokens, no work on [PAD] (minisbert/speed/packed.py)
    fast_dropout: bool = True  # dropout masks from 16 random bits per element (minisbert/speed/dropout.py)

    def check(self) -> None:
        def number(name, low, high, allow_none=False):
            value = getattr(self, name)
            if allow_none and value is None:
                return
            if not is_number(value) or not low <= value <= high:
                raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")

        for name in ("epochs", "batch_size"):
            check_positive_int(getattr(self, name), name)
        for name in ("checkpoint_every", "stop_after_steps", "max_steps"):
            check_positive_int(getattr(self, name), name, allow_none=True)
        choose_precision(self.precision)
        number("lr", 0, 10), number("head_lr", 0, 10, allow_none=True), number("weight_decay", 0, 1)
        number("warmup_ratio", 0, 1), number("max_grad_norm", 0, math.inf)
        if not is_int(self.seed):
            raise ValueError(f"seed must be an int, got {self.seed!r}")
        if self.no_duplicates is not None and not isinstance(self.no_duplicates, bool):
            raise ValueError(f"no_duplicates must be True, False or None, got {self.no_duplicates!r}")


# ----------------------------------------------------------------------------------------------------
# The loop


def train(objective: nn.Module, examples: list, config: TrainConfig | None = None, *,
          dev: Callable[[nn.Module], float] | None = None, out: str | Path | None = None,
          checkpoint_dir: str | Path | None = None, resume: bool = False) -> TrainState:
    """Fine-tune ``objective.model`` (and the objective's head) on ``examples``.

    Args:
        objective: a ``minisbert.objectives`` objective wrapping the SentenceBert to train.
        examples: the training examples (``PairExample`` or ``TripletExample``), checked before any step.
        config: the hyper-parameters (``TrainConfig()``: the paper's recipe).
        dev: called with the objective after each epoch; higher is better (e.g. dev Spearman). The
            model of the best epoch is saved to ``out``; without ``dev`` the last one is.
        out: folder for the trained model (sentence-transformers layout, plus the head if there is one).
        checkpoint_dir: folder for the checkpoint (default: ``<out>-checkpoint`` when ``out`` is given).
        resume: continue from the checkpoint in ``checkpoint_dir``.

    Returns the final ``TrainState`` (every step's loss, the dev scores, the best epoch). The objective
    in memory holds the last epoch's weights; ``out`` holds the best epoch's.

    Started by ``torchrun`` (several processes), it trains data-parallel (``minisbert/speed/distributed.py``):
    each rank takes its ``batch_size`` slice of every global batch of ``world size × batch_size``
    examples, gradients are averaged across ranks, and only rank 0 evaluates and writes.
    """
    # 0. Check everything before the first step: a bad example or setting found after an hour of
    #    training wastes the hour.
    config = config or TrainConfig()
    config.check()
    objective.check_examples(examples, "examples")
    out, checkpoint_dir = _output_folders(config, out, checkpoint_dir, resume)

    # 1. Seed every generator (head initialisation happened before: seed it yourself if it matters;
    #    dropout from here on draws from torch's generator), then the optimizer and its schedule. Under
    #    torchrun, join the other ranks: a step takes world.size × batch_size examples.
    device = next(objective.parameters()).device
    world = distributed.setup(device)
    precision = resolve_precision(config.precision, device)
    seed_everything(config.seed)
    global_batch = world.size * config.batch_size
    steps_per_epoch = math.ceil(len(examples) / global_batch)
    total_steps = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    warmup_steps = math.ceil(config.warmup_ratio * total_steps)
    optimizer, names = make_optimizer(objective, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_warmup_then_decay(warmup_steps, total_steps))
    run = run_identity(objective, examples, config, precision, world)  # a resumed run must match it
    state = load_checkpoint(checkpoint_dir, objective, optimizer, scheduler, names, run) if resume else TrainState()
    stepper = distributed.wrap(objective, world)  # the objective itself, or its DDP wrapper
    no_duplicates = config.no_duplicates
    if no_duplicates is None:
        no_duplicates = getattr(objective, "in_batch_negatives", False)

    def checkpoint() -> None:
        if checkpoint_dir is not None and world.is_main:
            save_checkpoint(checkpoint_dir, objective, optimizer, scheduler, names, state, run)
        distributed.barrier(world)  # no rank runs ahead of a checkpoint it might resume from

    objective.train()  # dropout on, as in the paper's fine-tuning
    restore = set_up_for_training(objective, config, optimizer, distributed=world.distributed)  # speed only
    try:
        for epoch in range(state.step // steps_per_epoch, math.ceil(total_steps / steps_per_epoch)):
            # 2. This epoch's batches: from a permutation drawn from (seed, epoch) alone. A resumed run
            #    starts at the batch where it stopped; max_steps may end the last epoch early.
            batches = epoch_batches(examples, global_batch, config.seed, epoch, steps_per_epoch, no_duplicates)
            first_batch = state.step - epoch * steps_per_epoch
            epoch_end = min(steps_per_epoch, total_steps - epoch * steps_per_epoch)
            shown = config.progress if world.is_main else False  # one bar, rank 0's
            bar = _progress(shown, range(first_batch, epoch_end), epoch, config.epochs)
            started = time.perf_counter()
            stopping = False
            for b in bar:
                # 3. One step: forward, backward, clip, update, schedule.
                indices, weight = batches[b], 1.0
                if world.distributed:  # this rank's slice; its own dropout stream, from (seed, rank, step)
                    indices, weight = distributed.shard(indices, world, config.batch_size)
                    torch.manual_seed(distributed.step_seed(config.seed, world.rank, state.step))
                batch = [examples[i] for i in indices]
                loss = training_step(stepper, batch, optimizer, scheduler, config.max_grad_norm,
                                     precision=precision, scale=weight)
                state.losses.append(distributed.weighted_mean(loss, weight, world))
                state.step += 1
                _show_loss(bar, state.losses, scheduler)

                # A checkpoint when asked to stop or every checkpoint_every steps; the last step of an
                # epoch is checkpointed below instead, after the evaluation.
                stopping = config.stop_after_steps is not None and state.step >= config.stop_after_steps
                every = config.checkpoint_every and state.step % config.checkpoint_every == 0
                if (stopping or every) and b < epoch_end - 1:
                    checkpoint()
                if stopping:
                    break
            if hasattr(bar, "close"):
                bar.close()
            if state.step < epoch * steps_per_epoch + epoch_end:  # stopped in the middle of the epoch
                return state
            if first_batch == 0:  # only whole epochs are timed (not a resumed part of one)
                state.epoch_seconds.append(time.perf_counter() - started)

            # 4. End of epoch: evaluate on dev, keep the best model, checkpoint (rank 0 alone).
            if dev is not None and world.is_main:
                score = float(dev(objective))
                objective.train()
                state.dev_scores.append(score)
                if state.best_score is None or score > state.best_score:
                    state.best_score, state.best_epoch = score, epoch
                    if out is not None:
                        save_model(objective, out)
            elif out is not None and state.step == total_steps and world.is_main:
                save_model(objective, out)
            checkpoint()
            if stopping:
                return state
        return state
    except RuntimeError as e:
        distributed.raise_if_rank_lost(e, world, checkpoint_dir)
        raise
    finally:
        restore()


def run_identity(objective: nn.Module, examples: list, config: TrainConfig, precision: str, world) -> dict:
    """What defines a run, recorded in its checkpoint: ``--resume`` refuses a run that differs in any of
    these, and prints a change in the ``MAY_CHANGE`` ones (``docs/hardening.md`` lists both)."""
    bert = getattr(getattr(objective, "model", None), "bert", None)
    run = {"data_sha256": data_digest(examples), "examples": len(examples), "batch_size": config.batch_size,
           "epochs": config.epochs, "seed": config.seed, "objective": type(objective).__name__,
           "lr": config.lr, "head_lr": config.head_lr, "weight_decay": config.weight_decay,
           "warmup_ratio": config.warmup_ratio, "max_grad_norm": config.max_grad_norm, "precision": precision,
           "max_seq_length": getattr(getattr(objective, "model", None), "max_seq_length", None)}
    run |= {"model": dataclasses.asdict(bert.config)} if dataclasses.is_dataclass(getattr(bert, "config", None)) else {}
    run |= {"max_steps": config.max_steps} if config.max_steps else {}
    run |= {"world_size": world.size} if world.distributed else {}
    run[MAY_CHANGE] = {"stop_after_steps": config.stop_after_steps, "checkpoint_every": config.checkpoint_every,
                       "use_sdpa": config.use_sdpa, "packed": config.packed, "fast_dropout": config.fast_dropout}
    return run


def _output_folders(config: TrainConfig, out, checkpoint_dir, resume: bool) -> tuple[Path | None, Path | None]:
    """``out`` and ``checkpoint_dir`` as paths, after checking that the run can write (and read) them."""
    out = Path(out) if out is not None else None
    if checkpoint_dir is None and out is not None:
        checkpoint_dir = out.with_name(out.name + "-checkpoint")
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    # Writable and replaceable now, before the first step (docs/hardening.md); what a killed earlier write
    # of them left behind (hidden staging folders, by their name pattern) is removed.
    if out is not None:
        check_writable(out, name="out")
    if checkpoint_dir is not None:
        check_writable(checkpoint_dir, markers=(CHECKPOINT_STATE,), what="checkpoint folder", name="checkpoint_dir")
    if resume and (checkpoint_dir is None or not (checkpoint_dir / CHECKPOINT_STATE).is_file()):
        raise FileNotFoundError(f"cannot resume: no checkpoint in {checkpoint_dir}")
    if (config.stop_after_steps or config.checkpoint_every) and checkpoint_dir is None:
        raise ValueError("stop_after_steps and checkpoint_every need a checkpoint_dir (or out) to write to")
    for folder in (out, checkpoint_dir):
        if folder is not None and distributed.world().is_main:
            for stale in remove_stale_staging(folder):
                print(f"removed {stale}, left by an interrupted write")
    return out, checkpoint_dir


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The order of the n examples in ``epoch``: a permutation that depends on (seed, epoch) alone."""
    return torch.randperm(n, generator=_epoch_generator(seed, epoch))


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def epoch_batches(examples: list, batch_size: int, seed: int, epoch: int, num_batches: int,
                  no_duplicates: bool = False) -> list[list[int]]:
    """The ``num_batches`` batches of example indices of ``epoch``, each of at most ``batch_size``.

    Plainly, consecutive slices of ``epoch_order``; with ``no_duplicates``, ``no_duplicate_batches``.
    """
    if no_duplicates:
        return no_duplicate_batches(examples, batch_size, seed, epoch, num_batches)
    order = epoch_order(len(examples), seed, epoch).tolist()
    return [order[b * batch_size:(b + 1) * batch_size] for b in range(num_batches)]


def example_texts(example) -> tuple[str, ...]:
    """The texts of an example, not its label: (a, b) of a pair, (anchor, positive, negative) of a triplet."""
    if hasattr(example, "anchor"):
        return example.anchor, example.positive, example.negative
    return example.a, example.b


def no_duplicate_batches(examples: list, batch_size: int, seed: int, epoch: int,
                         num_batches: int) -> list[list[int]]:
    """``num_batches`` full batches of example indices in which no text appears twice.

    With in-batch negatives every other row's positive is a negative, so a text repeated inside a batch
    is a false negative: the right answer of one row offered as a wrong one to another (SNLI's
    hypotheses repeat: "A man is sleeping." is written for many premises). This is sentence-transformers'
    ``NoDuplicatesBatchSampler``: walk the epoch's shuffled order (``epoch_order``) and put each example
    into the batch being filled unless one of its texts is already there; an example that collides stays
    in the queue, in its place, and goes into a later batch. The label is not a text and may repeat.

    Every batch is full (``min(batch_size, n)`` rows, so no batch has too few negatives and every rank
    of a distributed run gets its whole share). The rows left at the end of a pass, too few or too alike
    to fill a batch, wait for the next pass, a fresh shuffle of all the examples, as
    sentence-transformers' sampler reshuffles when a pass gives fewer batches than an epoch needs (at
    most two extra passes). Examples with too few distinct texts for the batch size are a ValueError.
    """
    size = min(batch_size, len(examples))
    texts = [set(example_texts(e)) for e in examples]
    generator = _epoch_generator(seed, epoch)  # the first pass walks epoch_order(n, seed, epoch)
    batches: list[list[int]] = []
    for _ in range(3):  # one pass, and at most two more (sentence-transformers' _MAX_RESAMPLE_PASSES)
        order = torch.randperm(len(examples), generator=generator).tolist()
        waiting: list[int] = []  # examples skipped for a collision, in their order
        fresh = 0  # the next example of `order` not yet looked at
        while len(batches) < num_batches:
            batch, seen, still_waiting = [], set(), []
            # The queue is `waiting` followed by order[fresh:]; take from its head while the batch has room.
            for i in waiting:
                if len(batch) < size and not texts[i] & seen:
                    batch.append(i)
                    seen |= texts[i]
                else:
                    still_waiting.append(i)
            while len(batch) < size and fresh < len(order):
                i = order[fresh]
                fresh += 1
                if texts[i] & seen:
                    still_waiting.append(i)
                else:
                    batch.append(i)
                    seen |= texts[i]
            waiting = still_waiting
            if len(batch) < size:  # this pass's leftovers cannot fill a batch
                break
            batches.append(batch)
        if len(batches) == num_batches:
            return batches
    raise ValueError(f"batch_size {batch_size}: the {len(examples)} examples have too few distinct texts to "
                     f"make {num_batches} batches of {size} without a repeated text; use a smaller batch_size")


def training_step(objective: nn.Module, batch: list, optimizer: torch.optim.Optimizer, scheduler,
                  max_grad_norm: float, *, precision: str = "fp32", scale: float = 1.0) -> float:
    """One optimizer step on ``batch``: forward, backward, clip the gradient norm, update, schedule.
    Returns the batch's loss.

    ``precision="bf16"``: the forward runs under ``torch.autocast`` in bfloat16 (matrix products in bf16,
    LayerNorm, softmax and the losses in fp32; the weights, gradients and AdamW stay fp32). The context
    holds one forward only: autocast caches a bf16 copy of each weight while it lasts, and a context
    around several steps would keep computing with the first step's weights. ``scale``: the loss is
    multiplied by it before ``backward`` (a rank's share of the global batch, ``minisbert.speed.distributed``).
    """
    device_type = next(objective.parameters()).device.type
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        loss = objective(batch)
    optimizer.zero_grad(set_to_none=True)
    (loss * scale if scale != 1.0 else loss).backward()
    clip_grad_norm(objective.parameters(), max_grad_norm)
    optimizer.step()
    scheduler.step()
    return loss.item()


def _progress(enabled: bool | None, steps: range, epoch: int, epochs: int):
    if not show_progress(enabled, len(steps)):
        return steps
    from tqdm.auto import tqdm

    return tqdm(steps, desc=f"epoch {epoch + 1}/{epochs}", unit="step", initial=steps.start,
                total=steps.stop, dynamic_ncols=True)


def _show_loss(bar, losses: list[float], scheduler) -> None:
    """The running loss (mean of the last 50 steps) and the learning rate on the progress bar, if any."""
    if hasattr(bar, "set_postfix"):
        recent = losses[-50:]
        bar.set_postfix(loss=f"{sum(recent) / len(recent):.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")


# ----------------------------------------------------------------------------------------------------
# Dev scores (higher is better)


def sts_dev(examples: list) -> Callable[[nn.Module], float]:
    """Spearman ×100 between cos(u, v) and the gold scores of regression ``examples`` (SBERT's STS metric)."""

    triples = [(e.a, e.b, float(e.label)) for e in examples]
    return lambda objective: evaluate_sts(objective.model, triples)["spearman"]


def accuracy_dev(examples: list) -> Callable[[nn.Module], float]:
    """Classification accuracy (%) of a ``ClassificationObjective`` on labelled ``examples``."""
    return lambda objective: objective.accuracy(examples)


# ----------------------------------------------------------------------------------------------------
# Saving the trained model


def save_model(objective: nn.Module, out: str | Path) -> None:
    """The model as a sentence-transformers folder, plus the head (if any), replaced in one step."""

    def fill(folder: Path) -> None:
        objective.model.write_files(folder)
        if hasattr(objective, "save_head"):
            objective.save_head(folder)

    write_folder(out, fill)
