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
missing, unexpected and mis-shaped key at once, and the model is not touched. Every value must be a
finite number: one NaN or Inf weight makes every output it reaches NaN, so it is refused, named, at load.

``check_config_matches_header`` compares a folder's ``config.json`` with the shapes in the safetensors
header before the model is built: a config that asks for 10,000 layers or a vocabulary of a billion
entries is refused by the few bytes of the header, not after allocating the model it describes.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import torch
from torch import nn

from .fetch import KNOWN_MODELS
from .files import atomic_write, read_json  # noqa: F401  (read_json re-exported: the I/O lives in files.py)
from .paths import minisbert_home, source_checkout, weights_root  # noqa: F401  (re-exported)

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
    not_finite = [name for name in sorted(expected) if mapped[name].is_floating_point()
                  and not bool(torch.isfinite(mapped[name]).all())]
    if not_finite:
        first = mapped[not_finite[0]]
        bad = first[~torch.isfinite(first)]
        raise WeightsError(f"{source}: {len(not_finite)} tensor(s) hold NaN or Inf values, e.g. {not_finite[0]} "
                           f"({bad.numel()} of {first.numel()} values, such as {bad.flatten()[0].item()}): "
                           f"the file is corrupt or comes from a run that diverged; not loading it")

    with torch.no_grad():
        for name, target in expected.items():
            target.copy_(mapped[name].to(target.dtype))


def check_config_matches_header(config, path: str | Path) -> None:
    """Compare a ``BertConfig`` with the shapes a safetensors file declares, before building the model.

    Reads only the header (``check_safetensors_header``). Checks the tables whose sizes the config sets:
    word, position and token-type embeddings (vocab_size, max_position_embeddings, type_vocab_size, all
    by hidden_size), the number of encoder layers, and the feed-forward width. Each disagreement is
    named, with the value from config.json and the one the file implies; the rest is left to the strict
    key-by-key check after building, which is then known to be of the file's size.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    header = check_safetensors_header(path)
    shapes = {}
    for key, info in header.items():
        shapes[key.removeprefix("bert.")] = tuple(info["shape"])
    H = config.hidden_size
    wanted = {
        "embeddings.word_embeddings.weight": ((config.vocab_size, H), "vocab_size, hidden_size"),
        "embeddings.position_embeddings.weight": ((config.max_position_embeddings, H),
                                                  "max_position_embeddings, hidden_size"),
        "embeddings.token_type_embeddings.weight": ((config.type_vocab_size, H), "type_vocab_size, hidden_size"),
        "encoder.layer.0.intermediate.dense.weight": ((config.intermediate_size, H), "intermediate_size, hidden_size"),
    }
    problems = []
    for name, (shape, fields) in wanted.items():
        if name not in shapes:
            problems.append(f"missing key {name}")
        elif shapes[name] != shape:
            problems.append(f"{name}: checkpoint {shapes[name]} vs model {shape} (config.json's {fields})")
    layers = {int(k.split(".")[2]) for k in shapes if k.startswith("encoder.layer.") and k.split(".")[2].isdigit()}
    if len(layers) != config.num_hidden_layers:
        problems.append(f"num_hidden_layers = {config.num_hidden_layers} in config.json, {len(layers)} layers "
                        f"in the file")
    if problems:
        raise WeightsError(f"{path.parent / 'config.json'} does not match {path}: {'; '.join(problems)}")


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
# Finding a model folder

def resolve_model_dir(name_or_path: str | Path, holds: str = "config.json and model.safetensors") -> Path:
    """A model folder from a path, or from a model name fetched under ``weights_root()``.

    A name may be the short one (``all-MiniLM-L6-v2``) or the hub's (``sentence-transformers/all-MiniLM-L6-v2``,
    what sentence-transformers and transformers users type): both name the same fetched folder.
    ``holds``: what such a folder holds, for the message when there is none.
    """
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
