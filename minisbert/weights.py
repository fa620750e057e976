"""safetensors ↔ modules: strict, checked copies of checkpoint tensors, and atomic saves.

Only the safetensors format is read (a JSON header and raw little-endian bytes): nothing is ever
unpickled, so a checkpoint cannot run code. Before the bytes are handed to the safetensors library the
header is checked here (its length, every dtype, shape and byte range), so a file that lies about
itself is refused with a message that names it, before anything large is allocated.

Checkpoints of the same BERT come with a few spellings of the same names; ``canonical_key`` maps them
onto the names of ``minisbert.bert``'s modules:

* ``bert.embeddings...`` (a model saved with a task head) → ``embeddings...``;
* ``LayerNorm.gamma`` / ``LayerNorm.beta`` (TensorFlow-era names) → ``LayerNorm.weight`` / ``.bias``;
* ``embeddings.position_ids`` (a buffer older transformers saved: always ``arange(512)``) → dropped;
* ``cls.predictions.*`` (masked-LM head), ``cls.seq_relationship.*`` (next-sentence head) and
  ``classifier.*`` (a fine-tuning head) → dropped when loading the bare encoder.

After the mapping, keys and shapes must match the model exactly; otherwise ``WeightsError`` lists every
missing, unexpected and mis-shaped key at once, and the model is not touched.
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
from pathlib import Path

import torch
from torch import nn

from .files import atomic_write, read_json  # noqa: F401  (read_json re-exported: the I/O lives in files.py)

# safetensors dtype names → bytes per element (the ones a BERT checkpoint can hold).
DTYPE_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors library's own limit; real headers are kilobytes
HEAD_PREFIXES = ("cls.", "classifier.")
SKIPPED_KEYS = ("embeddings.position_ids",)


class WeightsError(ValueError):
    """A checkpoint that cannot be loaded: corrupt, truncated, or not matching the model."""


def check_safetensors_header(path: Path) -> dict:
    """Read and validate a safetensors header; returns {name: {"dtype", "shape", "data_offsets"}}.

    Layout: 8 bytes little-endian u64 N, N bytes of JSON, then the data. Each tensor's
    ``data_offsets`` [begin, end) is relative to the start of the data and must equal
    prod(shape) × dtype size; together the tensors must lie inside the file.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise WeightsError(f"{path}: truncated safetensors file ({size} bytes, no header length)")
        (header_len,) = struct.unpack("<Q", prefix)
        if header_len > MAX_HEADER_BYTES or 8 + header_len > size:
            raise WeightsError(
                f"{path}: header declares {header_len} bytes but the file has {size} bytes "
                f"(truncated or not a safetensors file)"
            )
        raw = f.read(header_len)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WeightsError(f"{path}: header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise WeightsError(f"{path}: header must be a JSON object")
    header.pop("__metadata__", None)

    data_size = size - 8 - header_len
    for name, info in header.items():
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise WeightsError(f"{path}: tensor {name!r} has a malformed header entry: {info!r}") from None
        if dtype not in DTYPE_SIZES:
            raise WeightsError(f"{path}: tensor {name!r} has unsupported dtype {dtype!r}")
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            raise WeightsError(f"{path}: tensor {name!r} has an invalid shape {shape!r}")
        expected = math.prod(shape) * DTYPE_SIZES[dtype]
        if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end <= data_size):
            raise WeightsError(
                f"{path}: tensor {name!r} claims bytes [{begin}, {end}) but the data section has {data_size} bytes"
            )
        if end - begin != expected:
            raise WeightsError(
                f"{path}: tensor {name!r} of shape {shape} and dtype {dtype} needs {expected} bytes, "
                f"header gives {end - begin}"
            )
    return header


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file, after ``check_safetensors_header`` has vetted it."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    check_safetensors_header(path)
    try:
        return load_file(str(path))
    except Exception as e:  # the library's own checks (overlapping ranges, ...) as a typed error
        raise WeightsError(f"{path}: cannot read safetensors file: {e}") from None


def canonical_key(key: str) -> str | None:
    """The module name a checkpoint key belongs to, or None for keys the bare encoder does not hold."""
    if key.startswith("bert."):
        key = key[len("bert."):]
    if key.startswith(HEAD_PREFIXES) or key in SKIPPED_KEYS:
        return None
    if key.endswith("LayerNorm.gamma"):
        key = key[: -len("gamma")] + "weight"
    elif key.endswith("LayerNorm.beta"):
        key = key[: -len("beta")] + "bias"
    return key


def load_state_strict(module: nn.Module, tensors: dict[str, torch.Tensor], source: str = "checkpoint",
                      key_map=canonical_key) -> None:
    """Copy ``tensors`` into ``module`` after checking names and shapes match exactly.

    Every problem is collected first and reported together; the module is only written to when there
    are none, so a failed load never leaves a half-loaded model behind.
    """
    expected = module.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    for key, tensor in tensors.items():
        name = key_map(key)
        if name is None:
            continue
        if name in mapped:
            raise WeightsError(f"{source}: two keys map to {name!r} (one of them is {key!r})")
        mapped[name] = tensor

    missing = sorted(set(expected) - set(mapped))
    unexpected = sorted(set(mapped) - set(expected))
    misshaped = [
        f"{k}: checkpoint {tuple(mapped[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(set(mapped) & set(expected))
        if mapped[k].shape != expected[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing keys ({len(missing)}): {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected)}")
    if misshaped:
        problems.append(f"shape mismatches ({len(misshaped)}): {'; '.join(misshaped)}")
    if problems:
        raise WeightsError(f"{source} does not match the model:\n  " + "\n  ".join(problems))

    with torch.no_grad():
        for name, target in expected.items():
            target.copy_(mapped[name].to(target.dtype))


def load_model_weights(module: nn.Module, path: str | Path, key_map=canonical_key) -> None:
    load_state_strict(module, read_safetensors(path), source=str(path), key_map=key_map)


def save_tensors(tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict | None = None) -> None:
    """Write tensors to a safetensors file atomically (contiguous CPU copies, as the format requires)."""
    from safetensors.torch import save_file

    plain = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(plain, tmp, metadata={"format": "pt", **(metadata or {})}))


def save_model_weights(module: nn.Module, path: str | Path) -> None:
    save_tensors(module.state_dict(), path)


# ----------------------------------------------------------------------------------------------------
# Where fetched models (and data, minisbert.data) live

def source_checkout() -> Path | None:
    """The repository root when minisbert runs from a source checkout (``pip install -e .``, or the
    repository on ``sys.path``), else None (a normal ``pip install .``: the package sits in site-packages).

    The test is a ``pyproject.toml`` beside the package folder: a checkout has one, an installed copy never
    does (site-packages holds packages, not projects).
    """
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def minisbert_home() -> Path:
    """The per-user folder for fetched weights and data: ``$MINISBERT_HOME``, else the platform's cache
    folder (``$XDG_CACHE_HOME/minisbert`` or ``~/.cache/minisbert`` on Linux, ``~/Library/Caches/minisbert``
    on macOS, ``%LOCALAPPDATA%\\minisbert`` on Windows). A cache, not a config folder: everything in it can be
    fetched again."""
    env = os.environ.get("MINISBERT_HOME")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "minisbert"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "minisbert"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "minisbert"


def weights_root() -> Path:
    """Where fetched models live: ``$MINISBERT_WEIGHTS``; else, in a source checkout, its ``weights/``
    folder (so ``make`` and CI find what ``make weights`` fetched); else ``minisbert_home()/weights``."""
    env = os.environ.get("MINISBERT_WEIGHTS")
    if env:
        return Path(env).expanduser()
    checkout = source_checkout()
    return checkout / "weights" if checkout is not None else minisbert_home() / "weights"


def resolve_model_dir(name_or_path: str | Path, holds: str = "config.json and model.safetensors") -> Path:
    """A model folder from a path, or from a model name fetched under ``weights_root()``.

    A name may be the short one (``all-MiniLM-L6-v2``) or the hub's (``sentence-transformers/all-MiniLM-L6-v2``,
    what sentence-transformers and transformers users type): both name the same fetched folder.
    ``holds``: what such a folder holds, for the message when there is none.
    """
    from .fetch import KNOWN_MODELS  # fetch.py imports this module: imported here, when needed

    if not isinstance(name_or_path, (str, Path)):
        raise TypeError(f"model must be a folder path or a model name, got {type(name_or_path).__name__}")
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    name = str(name_or_path)
    short = next((short for short, spec in KNOWN_MODELS.items() if name in (short, spec.hub_id)), name)
    fetched = weights_root() / short
    if fetched.is_dir():
        return fetched
    fetch_name = short if short in KNOWN_MODELS else "all-MiniLM-L6-v2"
    raise FileNotFoundError(
        f"no model folder at {path} and no fetched model named {short!r} in {weights_root()}; "
        f"run `python -m minisbert fetch {fetch_name}` or pass a folder with {holds}"
    )
