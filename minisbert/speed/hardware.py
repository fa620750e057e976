"""What the CPU can do fast: read from ``/proc/cpuinfo``, so that precision is chosen by the machine.

bf16 (bfloat16: fp32's 8-bit exponent with a 7-bit mantissa) halves the bytes moved per number and, on
CPUs with bf16 instructions, multiplies matrices several times faster than fp32: AVX512_BF16 (the
``avx512_bf16`` flag) adds a bf16 dot-product instruction to AVX-512, and AMX-BF16 (``amx_bf16``) a tile
unit that multiplies whole matrix blocks. Without them torch emulates bf16 with conversions, which is
slower than plain fp32, so "auto" chooses bf16 only where they exist (docs/performance.md has the rates).
"""

from __future__ import annotations

import platform
import warnings
from functools import lru_cache

import torch

#: The flags that decide the fast paths, in the order they are printed.
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_int8")


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (empty where ``/proc/cpuinfo`` cannot be read, e.g. on macOS)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@lru_cache(maxsize=1)
def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def has_bf16() -> bool:
    """Whether the CPU multiplies bf16 matrices natively (AVX512-BF16 or AMX-BF16)."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def describe_cpu() -> str:
    """One line naming the CPU, its core count for torch and the flags in ``FLAGS`` that it has."""
    flags = [f for f in FLAGS if f in cpu_flags()]
    return f"{cpu_name()}, {torch.get_num_threads()} threads, flags: {' '.join(flags) or 'none of ' + ' '.join(FLAGS)}"


# sentence-transformers' encode(precision="float32") is its default, and means what "fp32" means here.
ALIASES = {"float32": "fp32", "bfloat16": "bf16"}
ST_QUANTISED = ("int8", "uint8", "binary", "ubinary")  # its post-hoc quantisations: not offered


def choose_precision(precision: str, device: str = "cpu") -> str:
    """"fp32" or "bf16" for ``precision`` in ("auto", "fp32", "bf16"): "auto" takes bf16 where it is native."""
    precision = ALIASES.get(precision, precision) if isinstance(precision, str) else precision
    if precision in ST_QUANTISED:
        raise ValueError(f"precision={precision!r} is sentence-transformers' quantisation of the output vectors; "
                         "minisbert's precision is the arithmetic of the forward pass: 'auto', 'fp32' or 'bf16'")
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision must be 'auto', 'fp32' or 'bf16', got {precision!r}")
    if precision != "auto":
        return precision
    if str(device).startswith("cuda"):
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if has_bf16() else "fp32"


_warned: set[str] = set()


def resolve_precision(precision: str, device="cpu") -> str:
    """``choose_precision``, plus a warning (once per process) when bf16 is asked for on a CPU that
    has no bf16 instructions: it runs, emulated, and slower than fp32."""
    chosen = choose_precision(precision, str(device))
    if chosen == "bf16" and not str(device).startswith("cuda") and not has_bf16() and "bf16" not in _warned:
        _warned.add("bf16")
        warnings.warn(f"precision='bf16' on a CPU without bf16 instructions ({describe_cpu()}): torch emulates "
                      f"bf16 with conversions there, which is slower than fp32 (docs/performance.md); "
                      f"precision='auto' picks fp32 here", RuntimeWarning, stacklevel=3)
    return chosen


def check_device(device) -> torch.device:
    """``device`` as a ``torch.device``, or a ValueError saying why it cannot be used here."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r}: no CUDA GPU is available to this torch "
                             f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'})")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type != "cpu":
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    return dev
