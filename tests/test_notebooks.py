"""Every step-through notebook runs, top to bottom, in a fresh kernel, and its asserts hold.

A notebook is a pair: ``notebooks/NN_name.py`` (jupytext percent format, the source) and
``notebooks/NN_name.ipynb`` (the same cells with the outputs of their last run, which render when the
repository is browsed). The notebooks compare what they compute against transformers and
sentence-transformers with ``assert``s, so a notebook that drifts from the library or from the reference
fails here. They run in memory from the ``.py``: the committed files are not rewritten
(``make notebooks`` does that). Every ``NN_*.py`` is picked up by its name.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jupytext
import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
SYNC = "out of sync: run make notebooks-sync (jupytext --sync), or make notebooks, which also runs them"

_spec = importlib.util.spec_from_file_location("notebooks_execute", NOTEBOOKS / "execute.py")
runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runner)

SOURCES = runner.sources()


def cells(nb: nbformat.NotebookNode) -> list[tuple]:
    """What the two sides of a pair share: each cell's type, source and ``export`` mark."""
    return [(c.cell_type, c.source, c.metadata.get("export")) for c in nb.cells]


@pytest.mark.fast
def test_every_notebook_is_a_pair():
    stems = [p.stem for p in SOURCES]
    assert {"01_tokenizer", "02_bert_step_by_step", "03_word_embeddings", "04_siamese_and_pooling",
            "05_objectives", "06_cross_vs_bi_encoder"} <= set(stems)
    notebooks = [p.stem for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))]
    assert notebooks == stems, SYNC


@pytest.mark.fast
@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_pair_in_sync(path):
    """The committed .ipynb holds the cells of its .py: an edit on either side was synced to the other."""
    paired = path.with_suffix(".ipynb")
    assert paired.is_file(), SYNC
    assert cells(nbformat.read(paired, as_version=4)) == cells(jupytext.read(path)), SYNC


@pytest.mark.fast
@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_committed_notebook_has_outputs(path):
    """Committed with its outputs (so it renders on browsing), and none of them is an error."""
    nb = nbformat.read(path.with_suffix(".ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code), f"{path.stem}.ipynb was not run: make notebooks"
    assert any(c.outputs for c in code)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.stem}.ipynb was committed with an error: {errors[0].get('ename')}"


@pytest.mark.slow
@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_notebook_executes(path, model_dir, data_dir):
    runner.execute(runner.read(path), data_dir=data_dir)  # raises CellExecutionError on an error or failed assert
