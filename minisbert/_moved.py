"""Module paths from before the package was laid out as a book, and where each one went.

Importing an old path gives the module at its new one, with a ``DeprecationWarning`` that names it. Three
old paths are now functions of the package (``minisbert.train``, ``minisbert.pretrain``,
``minisbert.fetch``): importing them as modules fails with a message that names the module to use.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    "minisbert.errors": "minisbert.checks.errors",
    **{f"minisbert.{name}": f"minisbert.speed.{name}"
       for name in ("fast", "packed", "dropout", "batching", "hardware", "distributed")},
    **{f"minisbert.{name}": f"minisbert.io.{name}"
       for name in ("files", "weights", "data", "corpus", "checkpoint")},
    "minisbert.trace": "minisbert.parity.trace",
    "minisbert.grade": "minisbert.grading",
}
NOW_FUNCTIONS = {  # the package's attribute of that name is a function: the module has a new name
    "minisbert.train": "minisbert.training",
    "minisbert.pretrain": "minisbert.pretraining",
    "minisbert.fetch": "minisbert.io.fetch",
}


class MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """A finder consulted after the ordinary ones: it answers only for the old paths above."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in NOW_FUNCTIONS:
            raise ModuleNotFoundError(
                f"{fullname} is the function {fullname.rsplit('.', 1)[1]}() now; the module is "
                f"{NOW_FUNCTIONS[fullname]} (import from there)", name=fullname)
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        warnings.warn(f"{spec.name} moved to {MOVED[spec.name]}: import it from there", DeprecationWarning,
                      stacklevel=2)
        return importlib.import_module(MOVED[spec.name])  # the same module object under both names

    def exec_module(self, module) -> None:
        pass  # already executed under its new name


def install() -> None:
    if not any(isinstance(finder, MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(MovedModules())
