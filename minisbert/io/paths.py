"""Where things live on disk: the source checkout (if any), the per-user cache, and fetched models.

``minisbert.io.weights`` finds model folders under ``weights_root()``; ``minisbert.io.data`` looks for data
sets beside the checkout and in ``minisbert_home()``; ``minisbert.io.fetch`` writes into both.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path



def source_checkout() -> Path | None:
    """The repository root when minisbert runs from a source checkout (``pip install -e .``, or the
    repository on ``sys.path``), else None (a normal ``pip install .``: the package sits in site-packages).

    The test is a ``pyproject.toml`` beside the package folder: a checkout has one, an installed copy never
    does (site-packages holds packages, not projects).
    """
    root = Path(__file__).resolve().parents[2]  # minisbert/io/paths.py -> the folder holding minisbert/
    return root if (root / "pyproject.toml").is_file() else None


def minisbert_home() -> Path:
    """The per-user folder for fetched weights and data: ``$MINISBERT_HOME``, else the platform's cache
    folder (``$XDG_CACHE_HOME/minisbert`` or ``~/.cache/minisbert`` on Linux, ``~/Library/Caches/minisbert``
    on macOS, ``%LOCALAPPDATA%\\minisbert`` on Windows). A cache, not a config folder: everything in it can be
    fetched again."""
    env = os.environ.get("MINISBERT_HOME")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "minisbert"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "minisbert"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "minisbert"


def weights_root() -> Path:
    """Where fetched models live: ``$MINISBERT_WEIGHTS``; else, in a source checkout, its ``weights/``
    folder (so ``make`` and CI find what ``make weights`` fetched); else ``minisbert_home()/weights``."""
    env = os.environ.get("MINISBERT_WEIGHTS")
    if env:
        return Path(env).expanduser()
    checkout = source_checkout()
    return checkout / "weights" if checkout is not None else minisbert_home() / "weights"
