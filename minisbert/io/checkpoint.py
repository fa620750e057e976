"""Training checkpoints: everything a run needs to continue exactly as if it had never stopped.

A checkpoint is a folder of three files:

    objective.safetensors   the trained module's parameters (the model, and the objective's head if any)
    optimizer.safetensors   Adam's step count and two moment estimates, per parameter, keyed by its name
    trainer_state.json      the run's identity, the loop's state (a dataclass: step, losses, ...), the
                            optimizer's settings per group, the learning-rate schedule, the random
                            generators' states (torch for dropout, Python's and numpy's)

Everything is safetensors (tensors) or JSON: nothing is pickled, so loading a checkpoint cannot run code.
The folder is written atomically (``minisbert.io.files.write_folder``): into a temporary folder beside it,
flushed, then swapped into place, so a crash during a save leaves the previous checkpoint whole. A
non-empty folder without ``trainer_state.json`` is never replaced.

Resume means the same run. ``run``, a dict the loop builds, holds what defines the run: the data's
digest (``data_digest``), the model's configuration, the optimiser's settings, the seed, the batch size,
the length of the schedule. ``load_checkpoint`` compares it field by field with the saved one and refuses
a checkpoint that differs in any of them, in one line that names each field with its old and new value
and says how to start afresh. The entries under ``run["may_change"]`` (how often to evaluate or save,
when to stop early, the device, progress bars) may differ on resume; each one that does is printed.
docs/hardening.md lists both kinds.

The functions work for any ``nn.Module`` trained by any loop: the fine-tuning loop of
``minisbert.training`` keeps a ``TrainState`` here, another loop can keep its own dataclass
(``save_checkpoint(..., state)`` / ``load_checkpoint(..., state_type=MyState)``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..optimization import TrainState
from .files import read_json, write_folder, write_json
from .weights import WeightsError, load_state_strict, read_safetensors, save_tensors

CHECKPOINT_WEIGHTS = "objective.safetensors"  # model + head
CHECKPOINT_OPTIMIZER = "optimizer.safetensors"  # Adam's moments and step counts, one entry per parameter
CHECKPOINT_STATE = "trainer_state.json"  # run, loop state, schedule, optimizer settings, RNG states
CHECKPOINT_FILES = (CHECKPOINT_WEIGHTS, CHECKPOINT_OPTIMIZER, CHECKPOINT_STATE)
MAY_CHANGE = "may_change"  # the key of ``run`` holding the settings that may differ on resume


def save_checkpoint(folder: str | Path, objective: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler, names: list[str], state, run: dict) -> None:
    """Write module, optimizer, schedule, RNG states and the loop's ``state`` to ``folder``, atomically.

    Args:
        folder: the checkpoint folder (replaced if it holds a checkpoint; refused if it holds other files).
        objective: the module being trained; all of its ``state_dict`` is saved.
        optimizer, scheduler: their states are saved (the optimizer's per parameter name).
        names: the parameters' names in the optimizer's order (``minisbert.training.make_optimizer`` gives them).
        state: the loop's state, any dataclass of JSON-serialisable fields (e.g. ``TrainState``).
        run: what identifies the run (data size, batch size, seed, ...); ``load_checkpoint`` refuses a
            checkpoint whose ``run`` differs.
    """
    if not dataclasses.is_dataclass(state) or isinstance(state, type):
        raise TypeError(f"state must be a dataclass instance, got {type(state).__name__}")

    def fill(staging: Path) -> None:
        save_tensors(objective.state_dict(), staging / CHECKPOINT_WEIGHTS)

        # Adam keeps, per parameter, its step count and two moment estimates: tensors into safetensors,
        # keyed by parameter name; the settings of each group (lr, betas, weight decay) into JSON.
        opt = optimizer.state_dict()
        moments = {f"{names[i]}/{key}": value for i, entry in opt["state"].items() for key, value in entry.items()}
        save_tensors(moments, staging / CHECKPOINT_OPTIMIZER)
        groups = [{k: v for k, v in g.items() if k != "params"} | {"params": [names[i] for i in g["params"]]}
                  for g in opt["param_groups"]]

        write_json(staging / CHECKPOINT_STATE, {
            "run": run,
            "state": dataclasses.asdict(state),
            "optimizer_param_groups": groups,
            "scheduler": scheduler.state_dict(),
            "rng": rng_state(),
        }, indent=None)  # one line: the random generators' states are thousands of numbers

    write_folder(folder, fill, markers=(CHECKPOINT_STATE,), what="checkpoint folder", owned=CHECKPOINT_FILES)


def load_checkpoint(folder: str | Path, objective: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler, names: list[str], run: dict, *, state_type: type | None = None, log=print):
    """Restore what ``save_checkpoint`` wrote into live objects; returns the loop's state to continue from.

    ``state_type``: the dataclass the saved state is rebuilt as (default: ``minisbert.training.TrainState``).
    The module, optimizer and scheduler must be built as for the saved run: the same parameters, in the
    same order (``names``), or a ``WeightsError`` says so; a different ``run`` is a ``ValueError``
    (``check_same_run``); ``log`` is told each setting under ``run["may_change"]`` that changed.
    """
    state_type = TrainState if state_type is None else state_type
    folder = Path(folder)
    saved = read_json(folder / CHECKPOINT_STATE, error=WeightsError)
    if not isinstance(saved, dict) or not isinstance(saved.get("run"), dict):
        raise WeightsError(f"{folder / CHECKPOINT_STATE}: not a checkpoint's state (no 'run' object)")
    check_same_run(folder, saved["run"], run, log=log)

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

    set_rng_state(saved["rng"])
    return state_type(**saved["state"])


# ----------------------------------------------------------------------------------------------------
# The run's identity


def _flat(d: dict, prefix: str = "") -> dict:
    """{"model": {"hidden_size": 64}} -> {"model.hidden_size": 64}: nested settings, one field each."""
    out = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def check_same_run(folder: str | Path, saved: dict, run: dict, log=print) -> None:
    """Refuse (``ValueError``, one line) to resume from a checkpoint whose ``run`` differs from this one's
    in any field outside ``run["may_change"]``; tell ``log`` each ``may_change`` setting that changed.

    Every field of ``run`` is compared (one the checkpoint does not record counts as a difference); what
    the checkpoint records beyond them is not: the loop that resumes says, by its ``run``, what defines it.
    """
    old = _flat({k: v for k, v in saved.items() if k != MAY_CHANGE})
    new = _flat({k: v for k, v in run.items() if k != MAY_CHANGE})
    # JSON has no tuples: compare as the checkpoint stores them.
    new = json.loads(json.dumps(new))
    missing = "(not recorded)"
    differ = [f"{key} {old.get(key, missing)!r} -> {new[key]!r}"
              for key in sorted(new) if old.get(key, missing) != new[key]]
    if differ:
        raise ValueError(
            f"cannot resume from {folder}: it is a different run ({'; '.join(differ)}); resume with the "
            f"checkpoint's settings, or start afresh without --resume after removing {folder} (or with "
            f"another --out)")
    old_may = _flat(saved.get(MAY_CHANGE) or {})
    new_may = json.loads(json.dumps(_flat(run.get(MAY_CHANGE) or {})))
    for key in sorted(set(old_may) & set(new_may)):
        if old_may[key] != new_may[key]:
            log(f"resuming with {key} changed: {old_may[key]!r} -> {new_may[key]!r}")


def data_digest(examples) -> str:
    """The sha256 of a run's training data, for ``run``: of the arrays of packed examples (any object with
    numpy-array fields, e.g. ``minisbert.io.corpus.Examples``) or of a list of dataclass examples
    (``PairExample``, ``TripletExample``). The same data gives the same digest in any process."""
    digest = hashlib.sha256()
    if dataclasses.is_dataclass(examples) and not isinstance(examples, type):
        for f in dataclasses.fields(examples):
            value = np.ascontiguousarray(getattr(examples, f.name))
            digest.update(f"{f.name}:{value.dtype.str}:{value.shape}".encode())
            digest.update(value.tobytes())
        return digest.hexdigest()
    for example in examples:
        fields = dataclasses.astuple(example) if dataclasses.is_dataclass(example) else example
        digest.update(json.dumps([type(example).__name__, *map(str, fields)], ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------------
# The random generators, as JSON


def rng_state() -> dict:
    """The states of torch's (dropout masks), Python's and numpy's global generators, as JSON lists."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state().tolist(),
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
    }


def set_rng_state(rng: dict) -> None:
    """Put the generators back in the states ``rng_state`` returned."""
    torch.set_rng_state(torch.tensor(rng["torch"], dtype=torch.uint8))
    version, internal, gauss = rng["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = rng["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
