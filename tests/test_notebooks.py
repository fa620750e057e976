"""Every step-through notebook runs, top to bottom, in a fresh kernel, and its asserts hold.

The notebooks compare what they compute against transformers and sentence-transformers with ``assert``s,
so a notebook that drifts from the library or from the reference fails here. They are executed in
memory: the committed files (whose outputs render when the repository is browsed) are not rewritten;
``notebooks/build.py`` does that.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
EXPECTED = [
    "01_tokenizer",
    "02_bert_step_by_step",
    "03_word_embeddings",
    "04_siamese_and_pooling",
    "05_objectives",
    "06_cross_vs_bi_encoder",
]
CELL_TIMEOUT = 300  # seconds; each notebook takes well under a minute on two CPU cores


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_the_six_notebooks_are_there():
    assert [p.stem for p in notebook_paths()] == EXPECTED


def test_committed_notebooks_match_their_sources():
    """The cells of each committed notebook are those notebooks/build.py builds (no hand edits lost)."""
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert build.check() == [], "run: .venv/bin/python notebooks/build.py (it rebuilds and re-executes them)"


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_committed_notebook_has_outputs(path):
    """Committed with its outputs (so it renders on browsing), and none of them is an error."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code), f"{path.name} was not executed"
    assert any(c.outputs for c in code)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name} was committed with an error: {errors[0].get('ename')}"


@pytest.mark.slow
@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_notebook_executes(path, model_dir, data_dir, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # start from a clean slate: nothing of the committed run is reused
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    # The kernel inherits this environment: the data folder, and this checkout first on the import path,
    # so the notebooks run this repository's minisbert whatever the venv has installed.
    monkeypatch.setenv("MINISBERT_DATA", str(data_dir))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    # One torch thread per kernel unless the caller says otherwise: on a small machine shared with other
    # work, two OpenMP threads keep waiting on each other (the training cell of 05 ran 4x slower).
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()  # raises CellExecutionError (with the cell and traceback) on any error or failed assert
