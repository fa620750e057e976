"""Every step-through notebook runs, top to bottom, in a fresh kernel, and its asserts hold.

A notebook is a pair: ``notebooks/NN_name.py`` (jupytext percent format, the source) and
``notebooks/NN_name.ipynb`` (the same cells with the outputs of their last run, which render when the
repository is browsed). The notebooks compare what they compute against transformers and
sentence-transformers with ``assert``s, so a notebook that drifts from the library or from the reference
fails here. They run in memory from the ``.py``: the committed files are not rewritten
(``make notebooks`` does that). Every ``NN_*.py`` is picked up by its name.
"""

from __future__ import annotations

import ast
import importlib.util
import re
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
            "05_objectives", "06_cross_vs_bi_encoder", "07_pretraining_bert"} <= set(stems)
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


# ----------------------------------------------------------------------------------------------------
# Every notebook points both ways: to the library file to read beside it and to the exercise after it.


def _exercise_map() -> dict[str, set[str]]:
    """exercises/README.md's table: notebook stem -> the exercise files whose row names it."""
    mapping: dict[str, set[str]] = {}
    for line in (REPO / "exercises" / "README.md").read_text().splitlines():
        row = re.match(r"\| *\d+ *\| *`(\w+)\.py`.*\(\.\./notebooks/(\d\d_\w+)\.py\) *\|$", line)
        if row:
            mapping.setdefault(row[2], set()).add(row[1])
    return mapping


def _markdown(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


@pytest.mark.fast
def test_the_exercise_table_is_read():
    """The table the next test relies on is found: at least the twelve first exercises, each with its notebook."""
    mapping = _exercise_map()
    assert sum(len(v) for v in mapping.values()) >= 12
    assert mapping["02_bert_step_by_step"] == {"embeddings", "attention_head", "multi_head_attention", "bert_layer"}
    assert mapping["07_pretraining_bert"] == {"mlm_mask"}


@pytest.mark.fast
@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_notebook_opens_with_what_to_read_and_what_comes_after(path):
    """The cell after the title says what the student learns, which library file to read alongside (a file
    that exists), which exercise follows (those exercises/README.md maps to this notebook), and how to run
    it; the last cell says what to do next."""
    nb = jupytext.read(path)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(f"# {path.stem[:2]} ·")
    opening = nb.cells[1].source
    assert nb.cells[1].cell_type == "markdown"
    for part in ("**You will learn**", "**Read alongside**", "**Afterwards**", "**Running it**", "Colab"):
        assert part in opening, f"{path.stem}: the opening cell lacks {part}"
    read = opening.split("**Read alongside**")[1].split("**Afterwards**")[0]
    files = re.findall(r"\(\.\./((?:minisbert|benchmarks)/[\w/]+\.py)\)", read)
    assert files, f"{path.stem}: the opening cell links no library file"
    for f in files:
        assert (REPO / f).is_file(), f"{path.stem}: {f} does not exist"
    after = opening.split("**Afterwards**")[1]
    for exercise in _exercise_map().get(path.stem, ()):
        assert f"`{exercise}`" in after, f"{path.stem}: the opening cell does not name exercise {exercise}"
        assert (REPO / "exercises" / f"{exercise}.py").is_file()
    closing = nb.cells[-1]
    assert closing.cell_type == "markdown" and closing.source.startswith("## Next")
    nxt = f"{int(path.stem[:2]) + 1:02d}_"
    if any(p.stem.startswith(nxt) for p in SOURCES):
        assert f"]({nxt}" in closing.source, f"{path.stem}: the closing cell does not open the next notebook"


@pytest.mark.fast
@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_first_code_cell_sets_up_colab_and_only_imports_elsewhere(path):
    """The first code cell installs the course on Colab (clone, pip install with the notebooks extra, into
    notebooks/) behind a check for Colab, then imports _setup; run outside Colab it only imports."""
    nb = jupytext.read(path)
    first = next(c for c in nb.cells if c.cell_type == "code").source
    tree = ast.parse(first)
    guarded = [n for n in tree.body if isinstance(n, ast.If)]
    assert len(guarded) == 1 and "google.colab" in ast.unparse(guarded[0].test)
    body = ast.unparse(guarded[0])
    assert "git clone" in body and "pip install" in body and "[notebooks]" in body and "minisbert/notebooks" in body
    rest = [n for n in tree.body if not isinstance(n, ast.If)]
    assert all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in rest)
    assert any(isinstance(n, ast.ImportFrom) and n.module == "_setup" for n in rest)


@pytest.mark.fast
@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_no_notebook_asserts_a_time(path):
    """Speed is measured and shown, never asserted: a busy machine would fail it. No assert may read a
    clock or a quantity derived from one."""
    timed = re.compile(r"seconds|per_second|perf_counter|time\.|_s\b|ratios?\b|slope\(.*seconds")
    for cell in jupytext.read(path).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(_python_only(cell.source))):
            if isinstance(node, ast.Assert):
                text = ast.unparse(node.test)
                assert not timed.search(text), f"{path.stem} asserts a time: assert {text}"


def _python_only(source: str) -> str:
    """A cell's code without IPython's magics and shell escapes (lines starting with % or !)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
