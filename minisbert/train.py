"""Training a SentenceBert with one of the SBERT objectives, readable top to bottom.

Reimers & Gurevych 2019 (SBERT, sections 3 and 4) fine-tune with batch size 16, Adam with learning rate
2e-5 and a linear learning-rate warm-up over 10% of the training data. ``train`` does exactly that:

    for each epoch:
        shuffle the examples (a fixed permutation per (seed, epoch): runs repeat exactly)
        for each batch of 16:
            loss = objective(batch)                 # siamese forward + the objective's loss
            loss.backward()
            clip the gradient norm to 1.0           # one bad batch cannot throw the weights far
            AdamW step; learning-rate schedule step  # linear warm-up over 10%, then linear decay to 0
        evaluate on the dev split; keep the best model in ``out``
        write a checkpoint (model, head, optimizer, schedule, random generators, step)

Why these choices:

* warm-up: Adam's second-moment estimates start from nothing, so its first steps are badly scaled; a
  pretrained model is also easy to knock out of its good region. Starting the learning rate at 0 and
  raising it over the first 10% of the steps avoids both. The linear decay to 0 afterwards lets the
  last steps only fine-tune.
* AdamW (decoupled weight decay 0.01, none on biases and LayerNorm weights, as BERT's own recipe):
  decay on a LayerNorm gain would pull it towards 0, which is not a "smaller, simpler" model.
* gradient clipping at norm 1.0: BERT's recipe; it only acts on the rare exploding batch.

Checkpoints are written atomically: into a temporary folder beside the checkpoint, then swapped into
place with one rename, so a crash during a save leaves the previous checkpoint whole. Everything is
safetensors (the tensors: weights, Adam's moments) or JSON (step counters, the learning-rate schedule,
the random generators' states): nothing is pickled, so loading a checkpoint cannot run code.
A run resumed from its checkpoint continues exactly as if it had never stopped (same data order, same
dropout masks, same parameters; ``tests/test_train.py`` checks it).
"""

from __future__ import annotations

import json
import math
import random
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from .sbert import _finish_tree, _replace_dir  # flush + permissions, then one atomic swap
from .weights import WeightsError, load_state_strict, read_json, read_safetensors, save_tensors

CHECKPOINT_WEIGHTS = "objective.safetensors"  # model + head
CHECKPOINT_OPTIMIZER = "optimizer.safetensors"  # Adam's moments and step counts, one entry per parameter
CHECKPOINT_STATE = "trainer_state.json"  # step, losses, dev scores, schedule, optimizer settings, RNG states


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
    use_sdpa: bool = True  # fused attention kernel in training (the same maths, faster)
    checkpoint_every: int | None = None  # also write a checkpoint every this many steps
    stop_after_steps: int | None = None  # stop (with a checkpoint) after this many steps; the schedule still spans all epochs
    progress: bool = True  # tqdm bar with the running loss

    def check(self) -> None:
        def positive_int(name, allow_none=False):
            value = getattr(self, name)
            if allow_none and value is None:
                return
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")

        def number(name, low, high, allow_none=False):
            value = getattr(self, name)
            if allow_none and value is None:
                return
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")

        positive_int("epochs"), positive_int("batch_size")
        positive_int("checkpoint_every", allow_none=True), positive_int("stop_after_steps", allow_none=True)
        number("lr", 0, 10), number("head_lr", 0, 10, allow_none=True), number("weight_decay", 0, 1)
        number("warmup_ratio", 0, 1), number("max_grad_norm", 0, math.inf)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int, got {self.seed!r}")


@dataclass
class TrainState:
    """What a checkpoint remembers besides tensors."""

    step: int = 0  # optimizer steps done
    losses: list[float] = field(default_factory=list)  # the loss of every step
    dev_scores: list[float] = field(default_factory=list)  # the dev score after each epoch
    best_score: float | None = None
    best_epoch: int | None = None
    epoch_seconds: list[float] = field(default_factory=list)  # wall time of each epoch's training steps


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
    """
    # 0. Check everything before the first step: a bad example or setting found after an hour of
    #    training wastes the hour.
    config = config or TrainConfig()
    config.check()
    objective.check_examples(examples, "examples")
    out = Path(out) if out is not None else None
    if checkpoint_dir is None and out is not None:
        checkpoint_dir = out.with_name(out.name + "-checkpoint")
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if out is not None:
        _check_replaceable(out)
    if resume and (checkpoint_dir is None or not (checkpoint_dir / CHECKPOINT_STATE).is_file()):
        raise FileNotFoundError(f"cannot resume: no checkpoint in {checkpoint_dir}")
    if (config.stop_after_steps or config.checkpoint_every) and checkpoint_dir is None:
        raise ValueError("stop_after_steps and checkpoint_every need a checkpoint_dir (or out) to write to")

    # 1. Seed every generator: head initialisation happened before (seed it yourself if it matters),
    #    dropout from here on draws from torch's generator.
    seed_everything(config.seed)
    steps_per_epoch = math.ceil(len(examples) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    warmup_steps = math.ceil(config.warmup_ratio * total_steps)
    optimizer, names = make_optimizer(objective, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_warmup_then_decay(warmup_steps, total_steps))
    run = {"examples": len(examples), "batch_size": config.batch_size, "epochs": config.epochs, "seed": config.seed}

    state = TrainState()
    if resume:
        state = load_checkpoint(checkpoint_dir, objective, optimizer, scheduler, names, run)

    model = objective.model
    had_sdpa = model.bert.use_sdpa
    model.bert.use_sdpa = config.use_sdpa
    objective.train()  # dropout on, as in pre-training and in the paper's fine-tuning
    try:
        for epoch in range(state.step // steps_per_epoch, config.epochs):
            # 2. This epoch's order: a permutation drawn from (seed, epoch) alone, so a resumed run
            #    can rebuild it and skip the batches already done.
            order = torch.randperm(len(examples), generator=torch.Generator().manual_seed(config.seed * 1_000_003 + epoch))
            first_batch = state.step - epoch * steps_per_epoch
            bar = _progress(config.progress, range(first_batch, steps_per_epoch), epoch, config.epochs)
            started = time.perf_counter()
            stopping = False
            for b in bar:
                batch = [examples[i] for i in order[b * config.batch_size:(b + 1) * config.batch_size].tolist()]

                # 3. One step: forward, backward, clip, update, schedule.
                loss = objective(batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(objective.parameters(), config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                state.step += 1
                state.losses.append(loss.item())

                if hasattr(bar, "set_postfix"):
                    recent = state.losses[-50:]
                    bar.set_postfix(loss=f"{sum(recent) / len(recent):.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
                stopping = config.stop_after_steps is not None and state.step >= config.stop_after_steps
                end_of_epoch = b == steps_per_epoch - 1  # checkpointed below, after the evaluation
                every = config.checkpoint_every and state.step % config.checkpoint_every == 0
                if not end_of_epoch and (stopping or every):
                    save_checkpoint(checkpoint_dir, objective, optimizer, scheduler, names, state, run)
                if stopping:
                    break
            if hasattr(bar, "close"):
                bar.close()
            if state.step < (epoch + 1) * steps_per_epoch:  # stopped in the middle of the epoch
                return state
            if first_batch == 0:  # only whole epochs are timed (not a resumed part of one)
                state.epoch_seconds.append(time.perf_counter() - started)

            # 4. End of epoch: evaluate on dev, keep the best model, checkpoint.
            if dev is not None:
                score = float(dev(objective))
                objective.train()
                state.dev_scores.append(score)
                if state.best_score is None or score > state.best_score:
                    state.best_score, state.best_epoch = score, epoch
                    if out is not None:
                        save_model(objective, out)
            elif out is not None and epoch == config.epochs - 1:
                save_model(objective, out)
            if checkpoint_dir is not None:
                save_checkpoint(checkpoint_dir, objective, optimizer, scheduler, names, state, run)
            if stopping:
                return state
        return state
    finally:
        model.bert.use_sdpa = had_sdpa


def _progress(enabled: bool, steps: range, epoch: int, epochs: int):
    if not enabled:
        return steps
    from tqdm.auto import tqdm

    return tqdm(steps, desc=f"epoch {epoch + 1}/{epochs}", unit="step", initial=steps.start,
                total=steps.stop, dynamic_ncols=True)


# ----------------------------------------------------------------------------------------------------
# Dev scores (higher is better)


def sts_dev(examples: list) -> Callable[[nn.Module], float]:
    """Spearman ×100 between cos(u, v) and the gold scores of regression ``examples`` (SBERT's STS metric)."""
    from .evaluate import evaluate_sts

    triples = [(e.a, e.b, float(e.label)) for e in examples]
    return lambda objective: evaluate_sts(objective.model, triples)["spearman"]


def accuracy_dev(examples: list) -> Callable[[nn.Module], float]:
    """Classification accuracy (%) of a ``ClassificationObjective`` on labelled ``examples``."""
    return lambda objective: objective.accuracy(examples)


# ----------------------------------------------------------------------------------------------------
# Optimiser and schedule


def make_optimizer(objective: nn.Module, config: TrainConfig) -> tuple[torch.optim.AdamW, list[str]]:
    """AdamW over every trainable parameter, in up to four groups: (encoder | head) × (decay | no decay).

    The head (the classifier of ``ClassificationObjective``) may get its own learning rate: a freshly
    initialised layer needs much larger steps than pretrained weights that should only be nudged.
    Returns the optimizer and the parameters' names in the optimizer's order (for checkpoints).
    """
    head_ids = {id(p) for p in getattr(objective, "head_parameters", [])}
    head_lr = config.lr if config.head_lr is None else config.head_lr
    groups: dict[tuple[bool, bool], tuple[list, list]] = {}
    for name, p in objective.named_parameters():
        if not p.requires_grad:
            continue
        is_head = id(p) in head_ids
        no_decay = name.endswith(".bias") or "LayerNorm" in name
        params, param_names = groups.setdefault((is_head, no_decay), ([], []))
        params.append(p)
        param_names.append(name)
    param_groups, names = [], []
    for (is_head, no_decay), (params, param_names) in sorted(groups.items()):
        param_groups.append({"params": params, "lr": head_lr if is_head else config.lr,
                             "weight_decay": 0.0 if no_decay else config.weight_decay})
        names.extend(param_names)
    try:
        # The fused kernel updates every parameter in one pass over memory: the same maths, but ~5× faster
        # than the per-tensor loop on CPU (22.7M parameters: ~50 ms instead of ~250 ms a step), and what
        # transformers' Trainer uses by default. torch < 2.4 has no CPU version of it.
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


def seed_everything(seed: int) -> None:
    """Seed torch, Python's ``random`` and numpy (data order uses its own generator, see ``train``)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------------------------------
# Saving the trained model


def save_model(objective: nn.Module, out: str | Path) -> None:
    """The model as a sentence-transformers folder, plus the head (if any), replaced in one step."""
    out = Path(out)
    _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        folder = staging / "model"
        objective.model.save(folder)
        if hasattr(objective, "save_head"):
            objective.save_head(folder)
        _finish_tree(folder)
        _replace_dir(folder, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_replaceable(folder: Path) -> None:
    """Refuse to overwrite a non-empty folder that is not a model folder (someone's files)."""
    if folder.exists():
        if not folder.is_dir():
            raise ValueError(f"out: {folder} exists and is not a folder")
        if any(folder.iterdir()) and not (folder / "modules.json").is_file():
            raise ValueError(f"out: {folder} is a non-empty folder that is not a model folder; not replacing it")


# ----------------------------------------------------------------------------------------------------
# Checkpoints


def save_checkpoint(folder: str | Path, objective: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler, names: list[str], state: TrainState, run: dict) -> None:
    """Write model + head, optimizer, schedule, RNG states and step to ``folder``, atomically.

    Everything goes to a temporary folder beside ``folder`` first, is flushed to disk, and only then
    swapped in with one rename: a crash at any point leaves either the old checkpoint or the new one.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        save_tensors(objective.state_dict(), staging / CHECKPOINT_WEIGHTS)

        # Adam keeps, per parameter, its step count and two moment estimates: tensors into safetensors,
        # keyed by parameter name; the settings of each group (lr, betas, weight decay) into JSON.
        opt = optimizer.state_dict()
        moments = {f"{names[i]}/{key}": value for i, entry in opt["state"].items() for key, value in entry.items()}
        save_tensors(moments, staging / CHECKPOINT_OPTIMIZER)
        groups = [{k: v for k, v in g.items() if k != "params"} | {"params": [names[i] for i in g["params"]]}
                  for g in opt["param_groups"]]

        trainer_state = {
            "run": run,
            "state": asdict(state),
            "optimizer_param_groups": groups,
            "scheduler": scheduler.state_dict(),
            "rng": {
                "torch": torch.get_rng_state().tolist(),  # dropout masks
                "python": _python_rng_state(),
                "numpy": _numpy_rng_state(),
            },
        }
        (staging / CHECKPOINT_STATE).write_text(json.dumps(trainer_state) + "\n", encoding="utf-8")
        _finish_tree(staging)
        _replace_dir(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def load_checkpoint(folder: str | Path, objective: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler, names: list[str], run: dict) -> TrainState:
    """Restore what ``save_checkpoint`` wrote into live objects; returns the TrainState to continue from."""
    folder = Path(folder)
    path = folder / CHECKPOINT_STATE
    saved = read_json(path, error=WeightsError)
    if saved["run"] != run:
        raise ValueError(f"the checkpoint in {folder} is from a different run ({saved['run']}); "
                         f"this one is {run}: resume with the same data, batch size, epochs and seed")

    load_state_strict(objective, read_safetensors(folder / CHECKPOINT_WEIGHTS), source=str(folder / CHECKPOINT_WEIGHTS),
                      key_map=lambda k: k)

    moments = read_safetensors(folder / CHECKPOINT_OPTIMIZER)
    index = {name: i for i, name in enumerate(names)}
    groups = saved["optimizer_param_groups"]
    if [n for g in groups for n in g["params"]] != names:
        raise WeightsError(f"{folder}: the checkpoint's optimizer holds other parameters than this objective")
    opt_state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in moments.items():
        name, _, slot = key.rpartition("/")
        opt_state.setdefault(index[name], {})[slot] = value
    param_groups = [g | {"params": [index[n] for n in g["params"]], "betas": tuple(g["betas"])} for g in groups]
    optimizer.load_state_dict({"state": opt_state, "param_groups": param_groups})
    scheduler.load_state_dict(saved["scheduler"])

    rng = saved["rng"]
    torch.set_rng_state(torch.tensor(rng["torch"], dtype=torch.uint8))
    version, internal, gauss = rng["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = rng["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    return TrainState(**saved["state"])


def _python_rng_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _numpy_rng_state() -> list:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)]
