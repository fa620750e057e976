"""``python -m minisbert grade [NAME ...] [--dir FOLDER] [--csv scores.csv]``: grade the coursework.

A student grades their own ``exercises/`` folder; an instructor grades a folder of students' folders
into a CSV table (``--csv``). Exit code 0: every exercise graded passes; 1: some do not; 2: a usage error.
"""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    from ..grade import DEFAULT_TIME_LIMIT, EXERCISES, MODEL

    p = subparsers.add_parser(
        "grade", help="grade the exercises in exercises/ against the library",
        description="Grade the exercises (exercises/<NAME>.py) against the library, on random inputs and on the real "
                    f"model. Exercises: {', '.join(EXERCISES)}. Exit code 0: all pass; 1: some fail; 2: a usage error.")
    p.add_argument("names", nargs="*", metavar="NAME", help="exercises to grade (default: all)")
    p.add_argument("--dir", default="exercises", metavar="FOLDER",
                   help="the folder of exercise files (default: ./exercises); with --csv, a folder of students' folders")
    p.add_argument("--csv", default=None, metavar="FILE",
                   help="instructor mode: grade every sub-folder of --dir as one student's and write a table to FILE")
    p.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT, metavar="SECONDS",
                   help=f"per exercise; a slower one counts as failed (default {DEFAULT_TIME_LIMIT:g})")
    p.add_argument("--model", default=MODEL, help=f"model folder or fetched model name (default {MODEL})")
    p.set_defaults(run=run)


def run(args) -> int:
    from .. import grade
    from ..files import write_text

    names = grade.check_names(args.names)
    folder = Path(args.dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"--dir {folder}: no such folder" + (
            "; run from the repository root, or pass --dir" if args.dir == "exercises" else ""))
    if not (args.time_limit > 0):
        raise ValueError(f"--time-limit must be a positive number of seconds, got {args.time_limit:g}")

    if args.csv is None:
        print(f"grading {folder}/ against the library ({len(names)} exercise{'s' * (len(names) != 1)})", flush=True)
        results = grade.grade_folder(folder, names, args.time_limit, args.model, quiet_student=False,
                                     on_result=lambda r: print(grade.format_result(r), flush=True))
        passed = sum(r.passed for r in results.values())
        print(f"{passed} of {len(results)} passed")
        return 0 if passed == len(results) else 1

    students = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not students:
        raise ValueError(f"--dir {folder}: no student folders in it (instructor mode grades each sub-folder)")
    table: dict[str, dict[str, grade.Result]] = {}
    for student in students:
        table[student.name] = grade.grade_folder(student, names, args.time_limit, args.model, quiet_student=True)
        passed = sum(r.passed for r in table[student.name].values())
        print(f"{student.name}: {passed} of {len(names)} passed", flush=True)
    write_text(args.csv, grade.scores_table(table, names))
    print(f"wrote {args.csv}")
    everyone = all(r.passed for graded in table.values() for r in graded.values())
    return 0 if everyone else 1
