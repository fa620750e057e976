"""``python -m minisbert cost``: the cross- vs bi-encoder cost experiment of ``benchmarks/cost.py``.

Paraphrase mining for n = 100 ... 10,000 sentences, the cross-encoder measured within a time budget and
extrapolated beyond it; the harness lives outside the library, in the repository's ``benchmarks/``
folder, and this command runs it from a source checkout.
"""

from __future__ import annotations

from . import register_harness


def register(subparsers) -> None:
    register_harness(subparsers, "cost", "benchmarks.cost")
