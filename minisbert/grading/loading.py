"""Finding a student's exercise files, and copying them into a fresh working folder for grading.

An LMS download is rarely tidy: ``grace hopper/exercises/pooling.py``, ``Pooling.py``. ``find_files`` looks
in the student's folder and one level below it, with file names in any case, and says where it looked
when it finds nothing. ``snapshot`` reads the files once, before any student's code runs, so that no
submission can change another's; ``materialize`` writes one student's snapshot into a new folder of its
own, which is removed when that student is graded.

``load_file`` imports a Python file by path: for code the caller trusts (the tests' catalogue of mistakes).
The grader never uses it on a student's file; the child process loads that (``child.py``).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
import types
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILE_BYTES = 1 << 20  # a source file larger than this is not a submission
SKIP = ("__pycache__", "__MACOSX", "node_modules")


def load_file(path: str | Path) -> types.ModuleType:
    """Import one Python file by path, under a name of its own (two files never collide).

    The file's folder is on ``sys.path`` while it loads, so it may import a sibling; the siblings it
    imported are then forgotten, so that the next folder loaded gets its own.
    """
    path = Path(path).resolve()
    before = set(sys.modules)
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(f"_exercise_{abs(hash(str(path)))}_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None) or ""
            if Path(file).resolve().parent == path.parent:
                del sys.modules[name]
    return module


@dataclass
class Found:
    """A student's exercise files: name -> path, where they were looked for, and notes (a renamed file)."""

    folder: Path
    files: dict[str, Path] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def looked(self) -> str:
        subs = [p.name for p in _subfolders(self.folder)]
        where = f"{self.folder}/" + (f" and its sub-folders {', '.join(s + '/' for s in subs[:5])}"
                                      f"{' ...' if len(subs) > 5 else ''}" if subs else "")
        return f"looked in {where} for a .py file of that name, in any case"


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name not in SKIP)
    except OSError:
        return []


def find_files(folder: str | Path, names) -> Found:
    """Each exercise's file under ``folder``: at its top first, then one level down; any case of the name."""
    folder = Path(folder)
    found = Found(folder)
    levels = [[folder], _subfolders(folder)]
    for name in names:
        for level in levels:
            hits = sorted(p for d in level for p in _py_files(d) if p.stem.lower() == name.lower())
            if hits:
                path = hits[0]
                found.files[name] = path
                rel = path.relative_to(folder)
                if str(rel) != f"{name}.py":
                    found.notes[name] = f"graded {rel} as {name}.py"
                if len(hits) > 1:
                    found.notes[name] = (found.notes.get(name, "") + "; " if name in found.notes else "") + (
                        f"{len(hits)} files match, graded {rel}")
                break
    return found


def _py_files(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".py"]
    except OSError:
        return []


def snapshot(found: Found) -> dict[str, bytes]:
    """The bytes of the student's exercise files (under their exercise's name) and of the other .py files
    beside them (which an exercise may import), read now. Files over ``MAX_FILE_BYTES`` are left out."""
    out: dict[str, bytes] = {}
    folders = {p.parent for p in found.files.values()}
    for d in sorted(folders):
        for p in sorted(_py_files(d)):
            if p.stat().st_size <= MAX_FILE_BYTES and p.name not in out:
                out[p.name] = p.read_bytes()
    for name, p in found.files.items():
        if p.stat().st_size <= MAX_FILE_BYTES:
            out.pop(p.name, None)
            out[f"{name}.py"] = p.read_bytes()
    return out


def materialize(files: dict[str, bytes], prefix: str = "minisbert-grading-") -> Path:
    """A new folder holding ``files``; the caller removes it with ``remove``."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    for name, data in files.items():
        (root / name).write_bytes(data)
    return root


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
