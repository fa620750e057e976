"""The command line: ``python -m minisbert <command> ...`` (``python -m minisbert -h`` lists them).

Each command lives in its own module under ``minisbert/commands/`` with a ``register(subparsers)``
function; this file only collects them, adds the options every command has, and decides how a failure
is shown:

* a user's mistake (``minisbert.checks.errors.USER_ERRORS``: a bad path, a bad value, a data set not fetched)
  is one line, ``minisbert COMMAND: error: ...``, and exit code 2 (argparse's own code for bad usage); a
  message of several lines (a weights file that does not match, listing what is missing and mis-shaped)
  is folded into that line, whole;
* SIGTERM stops a command as Ctrl-C does (exit code 143, 130 for Ctrl-C): both raise inside the running
  code, so a half-written folder's staging is removed on the way out (``minisbert.io.files``); under
  torchrun SIGTERM keeps its default;
* anything else is a bug: Python's traceback and exit code 1;
* ``--debug`` shows the traceback for every error; ``--quiet`` hides progress bars.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import signal
import sys
import threading

from . import commands
from .speed.batching import quiet_progress
from .checks.errors import USER_ERRORS


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


def one_line(message: str) -> str:
    """A message of several lines as one: its lines joined, a line that ends with ':' by a space, others
    by '; ' (``"x does not match:\\n  missing keys ...\\n  shape ..."`` becomes
    ``"x does not match: missing keys ...; shape ..."``)."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    out = ""
    for line in lines:
        out += line if not out else (" " if out.endswith(":") else "; ") + line
    return out


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that ``finally`` and ``except BaseException`` blocks run
    (the default action ends the process at once and leaves staging folders behind)."""


def _on_sigterm(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug, quiet = getattr(args, "debug", False), getattr(args, "quiet", False)
    previous = None
    # Not under torchrun: its agent stops the other ranks with SIGTERM, and a rank blocked inside a
    # collective would only see the exception when the collective returns; there the default (end at
    # once) stays, and the next start removes what was left (remove_stale_staging).
    if threading.current_thread() is threading.main_thread() and int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with quiet_progress(quiet):
            return args.run(args) or 0
    except USER_ERRORS as e:
        if debug:
            raise
        message = one_line(str(e)) or type(e).__name__
        print(f"minisbert {args.command}: error: {message}", file=sys.stderr)
        return 2
    except Terminated:
        print(f"minisbert {args.command}: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
