"""Grading: one exercise, one student's folder, or a class of them.

The checks (``exercises/``) and everything that judges run here, in the grader's process. The student's
functions run elsewhere: in a child process per exercise (``runner.py``) that loaded a fresh copy of the
student's files, and that answers with data only. ``grade_functions`` is the exception, for functions the
caller already holds and trusts (the tests' catalogue of mistakes): it calls them in this process.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..io.weights import resolve_model_dir
from . import compare
from .context import MODEL, Context
from .exercise import Exercise
from .exercises import EXERCISES, TOKENIZER_EXERCISES
from .integrity import FORBIDDEN_MODULES, Policy, review
from .loading import Found, find_files, materialize, remove, snapshot
from .results import CRASH, ERROR, FORBIDDEN, MISSING, PASS, TIMEOUT, Fail, Result
from .runner import DEFAULT_MEMORY_LIMIT, Child, Died, Timeout
from .student import InChild, InProcess, Student
from .wire import WireError

DEFAULT_TIME_LIMIT = 60.0  # seconds per exercise; the real-model checks take well under one second


def check_names(names) -> list[str]:
    """The exercises to grade: all of them for an empty list; ValueError naming an unknown one.

    A function's name stands for the exercise (file) that holds it: ``mean_pool`` grades ``pooling``.
    """
    by_function = {f: e.name for e in EXERCISES.values() for f in e.functions}
    names = list(dict.fromkeys(by_function.get(n, n) for n in names)) if names else list(EXERCISES)
    unknown = [n for n in names if n not in EXERCISES]
    if unknown:
        raise ValueError(f"unknown exercise {unknown[0]!r}; the exercises are: {', '.join(EXERCISES)}")
    return list(dict.fromkeys(names))


def _check_limits(time_limit, memory_limit) -> None:
    if not (isinstance(time_limit, (int, float)) and time_limit > 0 and math.isfinite(time_limit)):
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    if not (isinstance(memory_limit, int) and memory_limit >= 0):
        raise ValueError(f"memory_limit must be a number of bytes >= 0 (0: no limit), got {memory_limit!r}")


def _judge(exercise: Exercise, student: Student, context: Context) -> Result:
    """Run the exercise's check against ``student``: the verdict, made in this process."""
    compare.start_measuring()
    try:
        notes = exercise.check(student, context)
    except Fail as f:
        return Result(exercise.name, f.status, f.summary, f.details, error_size=compare.largest_error())
    except Exception as e:  # the student's result broke a comparison in a way no check foresaw
        return Result(exercise.name, ERROR, f"checking your result raised {type(e).__name__}: {e}",
                      ["hint: return what the docstring asks for (a tensor of the stated shape, or a list)"])
    return Result(exercise.name, PASS, notes[0], notes[1:] + [
        f"the library does the same in {exercise.library}; step by step in {exercise.notebook}"],
        error_size=compare.largest_error())


def grade_functions(name: str, functions: dict[str, Callable], context: Context, files=frozenset()) -> Result:
    """Grade functions already in hand, in this process (no isolation, no time limit)."""
    exercise = EXERCISES[name]
    student = InProcess(functions, {str(Path(f).resolve()) for f in files}, exercise.params)
    start = time.monotonic()
    result = _judge(exercise, student, context)
    result.seconds = time.monotonic() - start
    return result


def _forbidden(name: str, file: str, use, why: str) -> Result:
    return Result(name, FORBIDDEN, f"{file} uses {use.name}, which {why}",
                  [f"at {use}", "the exercise is to write it yourself; ask your teacher if this should be allowed"])


def grade_in_child(exercise: Exercise, files: dict[str, bytes], context: Context, *,
                   time_limit: float = DEFAULT_TIME_LIMIT, memory_limit: int = DEFAULT_MEMORY_LIMIT,
                   policy: Policy | None = None, echo=None, shown_as: str | None = None) -> Result:
    """Grade one exercise whose file is ``files[name + '.py']`` (with its siblings) in a child process."""
    name, policy = exercise.name, policy or Policy()
    shown_as = shown_as or f"{name}.py"
    source = files[f"{name}.py"].decode("utf-8", "replace")
    forbidden, flagged = review(source, exercise.builtins, policy)
    modules = policy.modules()
    if forbidden:
        use = forbidden[0]
        why = ("the grader does not allow in a submission" if use.name.split(".")[0] in FORBIDDEN_MODULES
               else "your teacher has forbidden in this exercise")
        return _forbidden(name, shown_as, use, why)
    notes = [f"uses {u.name} ({u}): the exercise asks you to write it yourself, so the report shows it"
             for u in flagged]
    workdir = materialize(files)
    child = Child(workdir, memory_limit, modules, echo)
    start, result = time.monotonic(), None
    try:
        child.start()
        child.budget = time_limit
        loaded = child.request({"op": "load", "path": str(workdir / f"{name}.py"), "functions": list(exercise.functions)})
        if not isinstance(loaded, dict):
            raise WireError("the reply to loading the file is not a message")
        attempt = (loaded.get("forbidden") or [None])[0]
        if "import_error" in loaded:
            where = str(loaded.get("where") or "")
            result = Result(name, ERROR, f"{shown_as} cannot be imported ({compare._short(str(loaded['import_error']))})",
                            [f"at {where}"] if where else [])
        elif isinstance(loaded.get("loaded"), list):
            student = InChild(child, {str(f) for f in loaded["loaded"]}, exercise.params)
            result = _judge(exercise, student, context)
            attempt = attempt or (student.forbidden or [None])[0]
        else:
            raise WireError("the reply to loading the file is not a message")
        if isinstance(attempt, dict):  # refused at run time (an import by a computed name)
            result = Result(name, FORBIDDEN, f"{shown_as} tried to import {str(attempt.get('module'))[:60]}, which the "
                            "grader does not allow in a submission",
                            [f"at {attempt.get('where')}"] if attempt.get("where") else [])
    except Timeout:
        result = Result(name, TIMEOUT, f"stopped after the time limit of {time_limit:g} s",
                        ["rule: a right answer takes well under a second here; a loop that never ends (an index "
                         "that does not move) or a Python loop over every number runs past the limit"])
    except Died:
        child.close()
        code = child.exit_code
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        tail = child.output_tail()
        result = Result(name, CRASH, f"the process running it died ({how})",
                        [f"last line it printed: {compare._short(tail, 200)}"] if tail else [])
    except WireError as e:
        result = Result(name, ERROR, "the reply from your code's process could not be read", [str(e)[:200]])
    except OSError as e:  # no process could be started (no memory, too many processes)
        result = Result(name, ERROR, f"the grader could not run your code: {type(e).__name__}: {e}")
    finally:
        child.close()
        remove(workdir)
    result.seconds = time.monotonic() - start
    result.notes = notes + [n for n in (child.output_note,) if n]
    if child.survivors:
        result.notes.append(f"{len(child.survivors)} process(es) it started could not be ended")
    return result


def _missing(name: str, found: Found) -> Result:
    return Result(name, MISSING, f"no file {name}.py", [found.looked()], seconds=0.0)


def _prepare(context: Context, names) -> None:
    """Load what the references need before any exercise's clock starts."""
    _ = context.tokenizer, context.pairs
    if set(names) - TOKENIZER_EXERCISES:
        _ = context.sbert


def grade_file(name: str, folder: str | Path, context: Context, *, time_limit: float = DEFAULT_TIME_LIMIT,
               memory_limit: int = DEFAULT_MEMORY_LIMIT, policy: Policy | None = None) -> Result:
    """Grade ``folder/<name>.py`` (found in any case, or one folder down) in a child process."""
    return grade_folder(folder, [name], time_limit, context=context, memory_limit=memory_limit, policy=policy)[name]


def grade_folder(folder: str | Path, names=None, time_limit: float = DEFAULT_TIME_LIMIT, model: str = MODEL,
                 quiet_student: bool = True, on_result: Callable[[Result], None] | None = None, *,
                 memory_limit: int = DEFAULT_MEMORY_LIMIT, policy: Policy | None = None,
                 context: Context | None = None, files: tuple[Found, dict[str, bytes]] | None = None) -> dict[str, Result]:
    """Grade one student's folder, each exercise in a child process of its own.

    ``quiet_student``: drop what the student's code prints (instructor mode); otherwise it is shown on
    stderr (the first ``runner.OUTPUT_KEPT`` bytes). ``files``: the folder already read (``grade_class``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder} (--dir names the folder holding the exercise files)")
    _check_limits(time_limit, memory_limit)
    names = check_names(names)
    if context is None:
        context = Context(str(resolve_model_dir(model)))  # a model not fetched is the caller's to fix: say so now
    _prepare(context, names)
    if files is None:
        found = find_files(folder, names)
        files = (found, snapshot(found))
    found, data = files
    echo = None if quiet_student else (lambda b: (sys.stderr.buffer.write(b), sys.stderr.flush()))
    results: dict[str, Result] = {}
    for name in names:
        if name not in found.files or f"{name}.py" not in data:
            result = _missing(name, found)
        else:
            result = grade_in_child(EXERCISES[name], data, context, time_limit=time_limit, memory_limit=memory_limit,
                                    policy=policy, echo=echo, shown_as=found.files[name].name)
            if name in found.notes:
                result.notes.append(found.notes[name])
        results[name] = result
        if on_result:
            on_result(result)
    return results


def student_folders(folder: str | Path) -> list[Path]:
    """The sub-folders of a class folder, one per student (hidden and ``_`` folders left out)."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def grade_class(folder: str | Path, names=None, time_limit: float = DEFAULT_TIME_LIMIT, model: str = MODEL, *,
                memory_limit: int = DEFAULT_MEMORY_LIMIT, policy: Policy | None = None,
                context: Context | None = None,
                on_student: Callable[[str, dict[str, Result]], None] | None = None) -> dict[str, dict[str, Result]]:
    """Grade every student's folder under ``folder``. Every student's files are read before any code runs,
    so that no submission can change another's."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder}")
    _check_limits(time_limit, memory_limit)
    names = check_names(names)
    students = student_folders(folder)
    if not students:
        raise ValueError(f"--dir {folder}: no student folders in it (instructor mode grades each sub-folder)")
    if context is None:
        context = Context(str(resolve_model_dir(model)))
    read = {}
    for s in students:
        found = find_files(s, names)
        read[s.name] = (found, snapshot(found))
    table: dict[str, dict[str, Result]] = {}
    for s in students:
        table[s.name] = grade_folder(s, names, time_limit, memory_limit=memory_limit, policy=policy, context=context,
                                     files=read[s.name])
        if on_student:
            on_student(s.name, table[s.name])
    return table
