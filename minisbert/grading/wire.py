"""What crosses between the grader and the process running a student's code: data, never code.

A message is one frame: a JSON tree, and the tensors it refers to packed with safetensors (a format that
holds only names, shapes, dtypes and bytes, so reading it runs nothing; pickle would run whatever the bytes
say). The tree holds None, bools, ints, floats, strings, lists, tuples, dicts with string keys, sets,
tensors (``{"__tensor__": "t0"}``), a fresh ``torch.Generator`` (its seed) and, for anything else, the
name of its type and a short ``repr`` (so the grader can say "you returned a numpy.ndarray").

Frame: ``b"MSB1"``, the JSON's length (8 bytes, big-endian), the JSON, the safetensors blob's length, the
blob. A frame that breaks any of this is a ``WireError``: the grader turns it into that exercise's ERROR.

This module imports only the standard library, torch and safetensors: the child process loads it by path,
without importing ``minisbert``.
"""

from __future__ import annotations

import json
import math
import struct

import torch
from safetensors.torch import load as _st_load
from safetensors.torch import save as _st_save

MAGIC = b"MSB1"
MAX_JSON = 64 << 20  # bytes; a reply's JSON part (token lists, pairs) is far smaller
MAX_BLOB = 1 << 30  # bytes; the largest tensors graded are a few MB
_HEADER = struct.Struct(">Q")


class WireError(ValueError):
    """A frame or a value that does not follow the format above."""


class Opaque:
    """A value of a type the format does not carry: its type's name and a short repr, for the message."""

    def __init__(self, type_name: str, text: str):
        self.type_name, self.text = type_name, text

    def __repr__(self) -> str:
        return self.text

    def __eq__(self, other) -> bool:
        return False

    __hash__ = object.__hash__


class Kept:
    """A reference to a value sent once before (``{"op": "keep"}``) and kept by the child: a vocabulary of
    30,522 pieces is sent once per exercise, not once per word."""

    def __init__(self, key: str):
        self.key = key


def _type_name(value) -> str:
    t = type(value)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__.split('.')[0]}.{t.__name__}"


def encode(message) -> bytes:
    """One frame holding ``message``."""
    tensors: dict[str, torch.Tensor] = {}

    def enc(v, depth=0):
        if depth > 50:
            raise WireError("nested more than 50 levels deep")
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int) and type(v) in (int,):
            return v
        if isinstance(v, float) and type(v) is float:
            return v if math.isfinite(v) else {"__float__": repr(v)}
        if type(v) is torch.Tensor or (isinstance(v, torch.Tensor) and type(v).__name__ == "Parameter"):
            if v.layout != torch.strided or v.is_complex() or v.dtype in (torch.uint16, torch.uint32, torch.uint64):
                return {"__object__": f"torch.Tensor ({v.layout}, {v.dtype})", "repr": ""}
            key = f"t{len(tensors)}"
            tensors[key] = v.detach().cpu().contiguous().clone()
            return {"__tensor__": key}
        if isinstance(v, Kept):
            return {"__kept__": str(v.key)}
        if isinstance(v, torch.Generator):
            return {"__generator__": int(v.initial_seed())}
        if type(v) is list:
            return [enc(x, depth + 1) for x in v]
        if type(v) is tuple:
            return {"__tuple__": [enc(x, depth + 1) for x in v]}
        if type(v) in (set, frozenset):
            return {"__set__": [enc(x, depth + 1) for x in v]}
        if type(v) is dict and all(type(k) is str for k in v):
            return {"__dict__": {k: enc(x, depth + 1) for k, x in v.items()}}
        try:
            text = repr(v)
        except Exception:
            text = "?"
        return {"__object__": _type_name(v), "repr": text[:200]}

    tree = json.dumps(enc(message)).encode()
    blob = _st_save(tensors) if tensors else b""
    return MAGIC + _HEADER.pack(len(tree)) + tree + _HEADER.pack(len(blob)) + blob


def frame_length(buffer: bytes) -> int | None:
    """The length of the frame at the start of ``buffer``, or None while its headers are incomplete."""
    if len(buffer) < 4 + 8:
        return None
    if buffer[:4] != MAGIC:
        raise WireError(f"a frame starts with {buffer[:4]!r}, not {MAGIC!r}")
    n = _HEADER.unpack_from(buffer, 4)[0]
    if n > MAX_JSON:
        raise WireError(f"a frame's JSON part claims {n} bytes (at most {MAX_JSON})")
    if len(buffer) < 12 + n + 8:
        return None
    m = _HEADER.unpack_from(buffer, 12 + n)[0]
    if m > MAX_BLOB:
        raise WireError(f"a frame's tensor part claims {m} bytes (at most {MAX_BLOB})")
    return 12 + n + 8 + m


def decode(frame: bytes):
    """The message in one whole frame (as ``frame_length`` measured it); ``WireError`` if it is malformed."""
    n = frame_length(frame)
    if n is None or n != len(frame):
        raise WireError("an incomplete frame")
    size = _HEADER.unpack_from(frame, 4)[0]
    try:
        tree = json.loads(frame[12:12 + size])
        blob = frame[12 + size + 8:]
        tensors = _st_load(bytes(blob)) if blob else {}
    except Exception as e:  # json or safetensors refused it
        raise WireError(f"a frame could not be read: {type(e).__name__}: {e}") from None

    def dec(v, depth=0):
        if depth > 60:
            raise WireError("nested too deep")
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [dec(x, depth + 1) for x in v]
        if not isinstance(v, dict) or len(v) not in (1, 2):
            raise WireError(f"unexpected value {str(v)[:80]}")
        if "__tensor__" in v:
            if v["__tensor__"] not in tensors:
                raise WireError(f"a tensor {str(v['__tensor__'])[:40]!r} that the frame does not hold")
            return tensors[v["__tensor__"]]
        if "__float__" in v:
            if v["__float__"] not in ("nan", "inf", "-inf"):
                raise WireError("a bad float")
            return float(v["__float__"])
        if "__kept__" in v:
            return Kept(str(v["__kept__"]))
        if "__generator__" in v:
            return torch.Generator().manual_seed(int(v["__generator__"]))
        if "__tuple__" in v:
            return tuple(dec(x, depth + 1) for x in v["__tuple__"])
        if "__set__" in v:
            return frozenset(dec(x, depth + 1) for x in v["__set__"])
        if "__dict__" in v and isinstance(v["__dict__"], dict):
            return {str(k): dec(x, depth + 1) for k, x in v["__dict__"].items()}
        if "__object__" in v:
            return Opaque(str(v["__object__"])[:100], str(v.get("repr", ""))[:200])
        raise WireError(f"unexpected value {str(v)[:80]}")

    try:
        return dec(tree)
    except WireError:
        raise
    except Exception as e:  # unhashable set members and the like
        raise WireError(f"a value could not be read: {type(e).__name__}: {e}") from None
