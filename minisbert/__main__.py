"""The command line: ``python -m minisbert <command> ...`` (``python -m minisbert -h`` lists them).

Each command lives in its own module under ``minisbert/commands/`` with a ``register(subparsers)``
function; this file only collects them and turns expected failures (a bad path, a bad value) into a
one-line message and exit code 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minisbert", description="BERT and Sentence-BERT from scratch.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{info.name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except (FileNotFoundError, IsADirectoryError, PermissionError, ValueError, TypeError, RuntimeError) as e:
        # Expected failures of user input: one line, no traceback (argparse uses exit code 2 too).
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"minisbert {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
