"""``python -m minisbert grade [NAME ...] [--dir FOLDER]``: grade the coursework.

A student grades their own ``exercises/`` folder (``--json -`` prints one JSON object for an autograder).
An instructor grades a folder of students' folders: ``--csv`` (a status per cell), ``--points-csv``
(points per cell, total), ``--json FILE`` (everything: verdict, points, message, hint, error size, time)
and ``--feedback DIR`` (one Markdown file per student). Exit code 0: every exercise graded passes; 1: some
do not; 2: a usage error.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def memory_size(text: str) -> int:
    """'4G', '512M', '1.5GiB' or a number of bytes; 0 means no limit."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b)?\s*", str(text).lower())
    if not m:
        raise ValueError(f"--memory-limit: expected a size such as 4G or 512M, got {text!r}")
    unit = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2)]
    return int(float(m.group(1)) * unit)


def register(subparsers) -> None:
    from ..grading import DEFAULT_MEMORY_LIMIT, DEFAULT_TIME_LIMIT, EXERCISES, MODEL

    p = subparsers.add_parser(
        "grade", help="grade the exercises in exercises/ against the library",
        description="Grade the exercises (exercises/<NAME>.py) against the library, on random inputs and on the real "
                    f"model. Exercises: {', '.join(EXERCISES)}. Exit code 0: all pass; 1: some fail; 2: a usage error.")
    p.add_argument("names", nargs="*", metavar="NAME", help="exercises to grade (default: all)")
    p.add_argument("--dir", default="exercises", metavar="FOLDER",
                   help="the folder of exercise files (default: ./exercises); in instructor mode, a folder of "
                        "students' folders")
    p.add_argument("--csv", default=None, metavar="FILE",
                   help="instructor mode: grade every sub-folder of --dir as one student's; write a status per cell")
    p.add_argument("--points-csv", default=None, metavar="FILE",
                   help="instructor mode: write the points per cell, each student's total and the most possible")
    p.add_argument("--json", default=None, metavar="FILE",
                   help="write verdicts, points, messages, hints, error sizes and times as JSON; '-' prints it "
                        "(one object, for an autograder); a file name means instructor mode")
    p.add_argument("--feedback", default=None, metavar="DIR",
                   help="instructor mode: write one Markdown file per student into DIR, to hand back")
    p.add_argument("--allow", action="append", default=[], metavar="NAME",
                   help="allow a module or built-in that is forbidden or flagged by default (repeatable)")
    p.add_argument("--forbid", action="append", default=[], metavar="NAME",
                   help="forbid a module or built-in (e.g. triplet_margin_loss) in every exercise (repeatable)")
    p.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT, metavar="SECONDS",
                   help=f"per exercise; a slower one counts as failed (default {DEFAULT_TIME_LIMIT:g})")
    p.add_argument("--memory-limit", default=str(DEFAULT_MEMORY_LIMIT), metavar="SIZE",
                   help="address space for the student's process, e.g. 4G or 512M; 0 for none (default 4G)")
    p.add_argument("--model", default=MODEL, help=f"model folder or fetched model name (default {MODEL})")
    p.set_defaults(run=run)


def run(args) -> int:
    from .. import grading
    from ..io.files import write_text
    from ..io.weights import resolve_model_dir

    names = grading.check_names(args.names)
    folder = Path(args.dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"--dir {folder}: no such folder" + (
            "; run from the repository root, or pass --dir" if args.dir == "exercises" else ""))
    if not (args.time_limit > 0):
        raise ValueError(f"--time-limit must be a positive number of seconds, got {args.time_limit:g}")
    memory = memory_size(args.memory_limit)
    policy = grading.read_config(folder).merged(grading.Policy(set(args.allow), set(args.forbid)))
    defaults = {n: e.points for n, e in grading.EXERCISES.items()}
    instructor = bool(args.csv or args.points_csv or args.feedback or (args.json and args.json != "-"))
    limits = dict(memory_limit=memory, policy=policy)

    if not instructor:
        to_json = args.json == "-"
        say = (lambda *a: print(*a, file=sys.stderr, flush=True)) if to_json else (lambda *a: print(*a, flush=True))
        say(f"grading {folder}/ against the library ({len(names)} exercise{'s' * (len(names) != 1)})")
        results = grading.grade_folder(folder, names, args.time_limit, args.model, quiet_student=to_json,
                                       on_result=lambda r: say(grading.format_result(r)), **limits)
        grading.score(results, policy, defaults)
        passed = sum(r.passed for r in results.values())
        say(f"{passed} of {len(results)} passed")
        if to_json:
            data = grading.as_json({"submission": results}, names)["students"]["submission"]
            print(grading.reports.to_json_text({"folder": str(folder), **data}), end="")
        return 0 if passed == len(results) else 1

    students = grading.student_folders(folder)
    if not students:
        raise ValueError(f"--dir {folder}: no student folders in it (instructor mode grades each sub-folder)")
    context = grading.Context(str(resolve_model_dir(args.model)))

    def report(student, graded):
        grading.score(graded, policy, defaults)
        passed = sum(r.passed for r in graded.values())
        print(f"{student}: {passed} of {len(names)} passed", flush=True)

    table = grading.grade_class(folder, names, args.time_limit, context=context, on_student=report, **limits)
    if args.csv:
        write_text(args.csv, grading.scores_table(table, names))
        print(f"wrote {args.csv}")
    if args.points_csv:
        write_text(args.points_csv, grading.points_table(table, names))
        print(f"wrote {args.points_csv}")
    if args.json:
        text = grading.reports.to_json_text(grading.as_json(table, names))
        if args.json == "-":
            print(text, end="")
        else:
            write_text(args.json, text)
            print(f"wrote {args.json}")
    if args.feedback:
        out = Path(args.feedback)
        out.mkdir(parents=True, exist_ok=True)
        for student, graded in table.items():
            write_text(out / f"{student}.md", grading.feedback(student, graded, names))
        print(f"wrote {len(table)} feedback files to {out}/")
    everyone = all(r.passed for graded in table.values() for r in graded.values())
    return 0 if everyone else 1
