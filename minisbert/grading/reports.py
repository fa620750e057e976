"""Reports: the lines the command prints, the CSV tables and the JSON a gradebook reads, and the
feedback file handed back to each student."""

from __future__ import annotations

import csv
import io
import json

from .exercises import EXERCISES
from .integrity import Policy
from .results import Result

NAME_WIDTH = max(map(len, EXERCISES))  # the status column lines up under the longest exercise name


def format_result(result: Result, exercise_width: int = NAME_WIDTH) -> str:
    """One exercise as the command prints it: a status line, then its details and notes indented."""
    label = "PASS" if result.passed else result.status.upper()
    lines = [f"{result.name:<{exercise_width}} {label:<7} {result.summary}"]
    lines += [f"{'':<{exercise_width}}         {d}" for d in result.details]
    lines += [f"{'':<{exercise_width}}         note: {n}" for n in result.notes]
    return "\n".join(lines)


def score(results: dict[str, Result], policy: Policy | None = None, defaults: dict[str, float] | None = None) -> None:
    """Fill in each result's points: its exercise's points (grading.toml, else the default) if it passed."""
    points = (policy.points if policy else {})
    for name, r in results.items():
        r.max_points = float(points.get(name, (defaults or {}).get(name, 1.0)))
        r.points = r.max_points if r.passed else 0.0


def scores_table(results: dict[str, dict[str, Result]], names: list[str]) -> str:
    """CSV text: one row per student, one column per exercise (its status), then the number passed."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", *names, "passed"])
    for student, graded in results.items():
        writer.writerow([student, *(graded[n].status for n in names), sum(graded[n].passed for n in names)])
    return out.getvalue()


def points_table(results: dict[str, dict[str, Result]], names: list[str]) -> str:
    """CSV text: one row per student, the points of each exercise, the total and the most possible."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", *names, "total", "out_of"])
    for student, graded in results.items():
        writer.writerow([student, *(f"{graded[n].points:g}" for n in names),
                         f"{sum(graded[n].points for n in names):g}", f"{sum(graded[n].max_points for n in names):g}"])
    return out.getvalue()


def as_json(results: dict[str, dict[str, Result]], names: list[str]) -> dict:
    """Per student and exercise: verdict, points, message, hint, details, error size, seconds."""
    def one(r: Result) -> dict:
        return {"status": r.status, "passed": r.passed, "points": r.points, "max_points": r.max_points,
                "message": r.summary, "hint": r.hint, "details": r.details, "notes": r.notes,
                "error_size": r.error_size, "seconds": None if r.seconds is None else round(r.seconds, 3)}

    return {"exercises": names, "students": {
        s: {"exercises": {n: one(g[n]) for n in names}, "passed": sum(g[n].passed for n in names),
            "points": sum(g[n].points for n in names), "max_points": sum(g[n].max_points for n in names)}
        for s, g in results.items()}}


def feedback(student: str, graded: dict[str, Result], names: list[str]) -> str:
    """A Markdown page for one student: the score, then each exercise with what the grader said."""
    total, most = sum(graded[n].points for n in names), sum(graded[n].max_points for n in names)
    lines = [f"# Feedback for {student}", "",
             f"{sum(graded[n].passed for n in names)} of {len(names)} exercises pass: {total:g} of {most:g} points.", "",
             "| exercise | result | points |", "|---|---|---|"]
    lines += [f"| {n} | {graded[n].status.upper()} | {graded[n].points:g} / {graded[n].max_points:g} |" for n in names]
    for n in names:
        r = graded[n]
        lines += ["", f"## {n}: {r.status.upper()}", "", r.summary]
        if r.details or r.notes:
            lines += [""] + [f"- {d}" for d in r.details] + [f"- note: {x}" for x in r.notes]
    lines += ["", "Grade yourself again with `python -m minisbert grade NAME` after each change.", ""]
    return "\n".join(lines)


def to_json_text(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
