"""Benchmark harnesses: minisbert timed against the reference libraries and against itself.

Run from the repository root (``make bench`` runs the first):

    python -m benchmarks.bench    # encode throughput, peak memory, training steps/s vs sentence-transformers and HF
    python -m benchmarks.cost     # the cost of comparing every pair: cross-encoder vs bi-encoder

``python -m minisbert bench`` and ``python -m minisbert cost`` run the same harnesses from a source
checkout. This folder is not part of the installed package: the reference libraries (transformers,
sentence-transformers) are imported here, where a comparison is the point, and never by ``minisbert``.
"""

from __future__ import annotations

import argparse


def command_line(name: str, harness, argv: list[str] | None = None) -> int:
    """``python -m benchmarks.<name>``: parse the harness's options, check them, run it.

    ``harness`` is the module, with ``HELP``, ``add_arguments``, ``check_args`` and ``run`` (the same four
    the ``minisbert`` command line uses). A bad option value ends with the usage and a one-line message,
    exit code 2, as argparse's own errors do.
    """
    parser = argparse.ArgumentParser(prog=f"python -m {name}", description=harness.HELP)
    harness.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        harness.check_args(args)
    except (ValueError, RuntimeError) as e:
        parser.error(str(e))
    return harness.run(args)
