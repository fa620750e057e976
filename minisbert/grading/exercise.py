"""The record of one exercise: what the student's file must define, where the library does the same, and
the check that grades it. The table of all of them is ``exercises/__init__.py``; a teacher adds an
exercise with one file there (a ``check`` function and its ``EXERCISE`` record) and one line in the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Exercise:
    name: str  # the file exercises/<name>.py
    functions: tuple[str, ...]  # what the file must define
    library: str  # where the library does the same ("file: symbol")
    notebook: str  # where it is shown step by step
    check: Callable  # check(student, context) -> lines of the pass message; raises Fail
    params: dict[str, tuple[str, ...]] = field(default_factory=dict)  # argument names, for the messages
    # torch built-ins that would do the exercise for the student: flagged in the report, or refused with --forbid
    builtins: tuple[str, ...] = ()
    points: float = 1.0  # the default; grading.toml's [points] overrides it
    tokenizer_only: bool = False  # graded without the model's weights
