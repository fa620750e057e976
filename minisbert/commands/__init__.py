"""One module per command of ``python -m minisbert``; each defines ``register(subparsers)``.

A command imports what it runs inside its ``run`` function, not at the top of its module: ``python -m
minisbert -h`` imports every command module, and should not load torch and the model code to print help.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from ..checks.errors import UserError

CHECKOUT = Path(__file__).resolve().parent.parent.parent  # the repository root, in a source checkout


def register_harness(subparsers, command: str, module: str) -> None:
    """A command that runs a harness kept outside the package, e.g. ``benchmarks.bench``.

    Benchmarks and experiments live beside ``minisbert/`` in the repository, not inside it, and are not
    installed with it. In a source checkout the command takes the harness's own options (``add_arguments``)
    and runs it (``run``); in an installed copy without the checkout it says so and exits with code 2.
    """
    harness = _from_checkout(module)
    if harness is not None:
        p = subparsers.add_parser(command, help=harness.HELP, description=harness.HELP)
        harness.add_arguments(p)
        p.set_defaults(run=harness.run)
        return
    where = module.replace(".", "/") + ".py"
    summary = f"runs {where} of a source checkout (not installed)"
    # "+" as the only option prefix: every argument, "-h" and "--flags" included, lands in `ignored`, so
    # that whatever the caller passes, the error below is the one they see.
    p = subparsers.add_parser(command, help=summary, prefix_chars="+", add_help=False)
    p.add_argument("ignored", nargs="*")

    def missing(args) -> int:
        raise UserError(f"`minisbert {command}` runs {where}, which is not installed with minisbert: "
                           f"run it from a clone of the repository (python -m {module} there)")

    p.set_defaults(run=missing)


def _from_checkout(module: str):
    """Import ``module`` from the repository root this package sits in, or None outside a checkout."""
    package = module.split(".")[0]
    if not (CHECKOUT / package / "__init__.py").is_file():
        return None
    if str(CHECKOUT) not in sys.path:
        sys.path.append(str(CHECKOUT))
    harness = importlib.import_module(module)
    if not Path(harness.__file__).resolve().is_relative_to(CHECKOUT):  # a package of that name from elsewhere
        return None
    return harness
