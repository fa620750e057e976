"""The command line: ``python -m minisbert <command> ...`` (``python -m minisbert -h`` lists them).

Each command lives in its own module under ``minisbert/commands/`` with a ``register(subparsers)``
function; this file only collects them, adds the options every command has, and decides how a failure
is shown:

* a user's mistake (``minisbert.errors.USER_ERRORS``: a bad path, a bad value, a data set not fetched)
  is one line, ``minisbert COMMAND: error: ...``, and exit code 2 (argparse's own code for bad usage);
* anything else is a bug: Python's traceback and exit code 1;
* ``--debug`` shows the traceback for every error; ``--quiet`` hides progress bars.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import commands
from .batching import quiet_progress
from .errors import USER_ERRORS


COMMON_OPTIONS = {
    "--quiet": "no progress bars (a long job shows one by default)",
    "--debug": "show the full traceback of any error, not one line",
}


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    """--quiet and --debug, before the command (``minisbert --quiet encode ...``) or after it. SUPPRESS as
    the default, so that a sub-command's parser does not overwrite what was given before the command."""
    for option, help in COMMON_OPTIONS.items():
        try:
            parser.add_argument(option, action="store_true", default=argparse.SUPPRESS, help=help)
        except argparse.ArgumentError:  # a command with an option of that name keeps its own
            pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minisbert", description="BERT and Sentence-BERT from scratch.")
    _add_common_options(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{info.name}").register(subparsers)
    for sub in subparsers.choices.values():
        if sub.prefix_chars == "-":  # not the placeholder of a harness missing outside a checkout
            _add_common_options(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug, quiet = getattr(args, "debug", False), getattr(args, "quiet", False)
    try:
        with quiet_progress(quiet):
            return args.run(args) or 0
    except USER_ERRORS as e:
        if debug:
            raise
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"minisbert {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
