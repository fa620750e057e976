"""What grading one exercise gives: a status, a one-line summary, the lines that explain it, and numbers.

Only ``pass`` passes. ``fail``: the answer is wrong; ``error``: the student's code raised, or its reply
could not be read; ``todo``: the stub is still there; ``missing``: no file or no function; ``crash`` and
``timeout``: the process running it died or ran past the time limit; ``forbidden``: the file imports
what the exercise may not use (the library itself, transformers, sentence-transformers, or a built-in the
teacher forbade).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

PASS, FAIL, TODO, ERROR, MISSING, CRASH, TIMEOUT = "pass", "fail", "todo", "error", "missing", "crash", "timeout"
FORBIDDEN = "forbidden"
STATUSES = (PASS, FAIL, TODO, ERROR, MISSING, CRASH, TIMEOUT, FORBIDDEN)


@dataclass
class Result:
    """One exercise, graded.

    ``error_size``: the largest |Δ| the comparison found (None when nothing numeric was compared);
    ``seconds``: wall time of the exercise; ``notes``: what the grader saw besides the verdict (a flagged
    built-in, output cut); ``points``/``max_points``: filled in by the report from the points table.
    """

    name: str
    status: str
    summary: str
    details: list[str] = field(default_factory=list)
    error_size: float | None = None
    seconds: float | None = None
    notes: list[str] = field(default_factory=list)
    points: float = 0.0
    max_points: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == PASS

    @property
    def hint(self) -> str:
        return next((d[len("hint: "):] for d in self.details if d.startswith("hint: ")), "")

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Result:
        d = json.loads(text)
        return cls(str(d["name"]), str(d["status"]), str(d["summary"]), [str(x) for x in d["details"]])


class Fail(Exception):
    """Raised by a check: the student's answer is wrong; ``details`` say where and why."""

    def __init__(self, summary: str, details: list[str] | None = None, status: str = FAIL):
        super().__init__(summary)
        self.summary, self.details, self.status = summary, list(details or []), status
