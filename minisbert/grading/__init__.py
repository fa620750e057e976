"""The grader for the coursework in ``exercises/``: a student's function against the library's.

Each exercise is one file in ``exercises/`` with a stub to fill in. The grader runs the student's function
on small random inputs and on the real thing (all-MiniLM-L6-v2's weights, sentences of the STS Benchmark,
the real vocabulary), and compares each result with what the library computes for the same inputs. A
failure says what differs and where; a hint is given only when the result equals a known mistake.

The student's code runs in a child process per exercise that sends back data only; the references, the
comparisons and the verdict stay in the grader's process. The files, one concern each, are listed in
``README.md`` beside this one.
"""

from .compare import check_scalar, check_tensor, check_tokens
from .context import MODEL, Context
from .exercise import Exercise
from .exercises import EXERCISES, TOKENIZER_EXERCISES
from .grader import (
                     DEFAULT_TIME_LIMIT,
                     check_names,
                     grade_class,
                     grade_file,
                     grade_folder,
                     grade_functions,
                     grade_in_child,
                     student_folders,
)
from .integrity import Policy, read_config
from .loading import find_files, load_file
from .references import key_mask as _key_mask  # noqa: F401  (the tests tie these to transformers)
from .references import library_layer as _library_layer  # noqa: F401  (the tests tie these to transformers)
from .references import real_layer as _real_layer  # noqa: F401  (the tests tie these to transformers)
from .reports import as_json, feedback, format_result, points_table, score, scores_table
from .results import (
                     CRASH,
                     ERROR,
                     FAIL,
                     FORBIDDEN,
                     MISSING,
                     PASS,
                     TIMEOUT,
                     TODO,
                     Fail,
                     Result,
)
from .runner import DEFAULT_MEMORY_LIMIT

__all__ = [
    "CRASH", "DEFAULT_MEMORY_LIMIT", "DEFAULT_TIME_LIMIT", "ERROR", "EXERCISES", "FAIL", "FORBIDDEN", "MISSING",
    "MODEL", "PASS", "TIMEOUT", "TODO", "TOKENIZER_EXERCISES", "Context", "Exercise", "Fail", "Policy", "Result",
    "as_json", "check_names", "check_scalar", "check_tensor", "check_tokens", "feedback", "find_files",
    "format_result", "grade_class", "grade_file", "grade_folder", "grade_functions", "grade_in_child", "load_file",
    "points_table", "read_config", "score", "scores_table", "student_folders",
]
