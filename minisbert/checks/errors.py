"""What counts as the user's mistake rather than a bug in minisbert: the one list the command line uses.

A user's mistake (a wrong path, a bad value, a data set not fetched yet, a download that failed) is
raised as a typed error with a message that says what was wrong and how to fix it; the command line
prints that message on one line and exits with code 2, as argparse does for a bad option. Anything
else (a ``TypeError`` or ``RuntimeError`` from deep inside, an ``IndexError``, ...) is a bug: the
command line shows its traceback and exits with code 1. ``python -m minisbert --debug ...`` shows the
traceback for every error.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix that is neither a bad value nor a missing file (``ValueError`` and
    ``FileNotFoundError`` cover those): e.g. a download that failed, or a command that needs a source
    checkout."""


#: The errors the command line reports in one line (exit code 2). ``ValueError`` covers minisbert's own
#: ``WeightsError``, ``DataError``, ``CorpusError`` and ``OverwriteRefusedError``; ``FileNotFoundError``
#: covers ``DataNotFoundError``; ``UserError`` covers ``FetchError``.
USER_ERRORS: tuple[type[BaseException], ...] = (
    UserError,
    ValueError,
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)
