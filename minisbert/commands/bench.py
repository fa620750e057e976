"""``python -m minisbert bench``: the encode and training benchmark of ``benchmarks/bench.py``.

The harness compares against sentence-transformers and transformers, so it lives outside the library,
in the repository's ``benchmarks/`` folder; this command runs it from a source checkout.
"""

from __future__ import annotations

from . import register_harness


def register(subparsers) -> None:
    register_harness(subparsers, "bench", "benchmarks.bench")
