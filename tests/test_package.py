"""The package's boundaries: the reference libraries are test-only, and the CLI lists its commands."""

from __future__ import annotations

import subprocess
import sys

import pytest

IMPORT_ALL = """
import importlib, pkgutil, sys
import minisbert, minisbert.commands
for info in pkgutil.walk_packages(minisbert.__path__, "minisbert."):
    importlib.import_module(info.name)
from minisbert.__main__ import build_parser
build_parser()
leaked = sorted(m for m in ("transformers", "tokenizers", "sentence_transformers") if m in sys.modules)
print(",".join(leaked))
"""


@pytest.mark.fast
def test_library_never_imports_the_reference_libraries():
    done = subprocess.run([sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported at run time: {done.stdout.strip()}"


@pytest.mark.parametrize("argv", [["--help"], ["fetch", "--help"], ["trace", "--help"], ["demo", "--help"]])
def test_cli_help(argv):
    done = subprocess.run([sys.executable, "-m", "minisbert", *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage: minisbert" in done.stdout


def test_cli_bad_flag_exits_2_without_traceback():
    done = subprocess.run([sys.executable, "-m", "minisbert", "fetch", "all-MiniLM-L6-v2", "--no-such-flag"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "unrecognized arguments: --no-such-flag" in done.stderr


def test_cli_bad_model_path_exits_2_with_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "minisbert", "demo", "--model", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "nope" in done.stderr
