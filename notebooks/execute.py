"""Run the step-through notebooks and save them with their outputs (``make notebooks`` calls this).

    .venv/bin/python notebooks/execute.py          # every NN_name notebook
    .venv/bin/python notebooks/execute.py 02 05    # those whose name starts with 02 or 05

For each ``NN_name.py`` (jupytext percent format) this syncs the pair first (``jupytext --sync``: the side
edited last is copied to the other), runs the cells top to bottom in a fresh kernel, and writes
``NN_name.ipynb`` with the outputs. A cell whose header says ``export="nb_name"`` also writes its first
picture to ``docs/nb_name.png``, for the README. ``tests/test_notebooks.py`` runs them the same way.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from pathlib import Path

import jupytext.cli
import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DOCS = REPO / "docs"
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}
# seconds. Most cells take well under a minute on two CPU cores; notebook 07's pre-training cell takes a few
# minutes on a quiet machine, many more on a busy one, and a timeout says nothing about a notebook's maths.
CELL_TIMEOUT = 1800


def sources() -> list[Path]:
    """The notebooks' percent files, ``NN_name.py``, in order (a new one is picked up by its name)."""
    return sorted(HERE.glob("[0-9][0-9]_*.py"))


def read(path: Path) -> nbformat.NotebookNode:
    """The notebook a percent file holds, without outputs, ready to run."""
    nb = jupytext.read(path)
    nb.metadata.setdefault("kernelspec", KERNEL)
    return nb


def execute(nb: nbformat.NotebookNode, data_dir: str | Path | None = None) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel, in this folder; raises CellExecutionError on an error or a failed
    assert (the message shows the cell and the traceback)."""
    env = dict(os.environ)
    # This checkout first on the import path: the notebooks run this repository's minisbert, whatever
    # the venv has installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if data_dir is not None:
        env["MINISBERT_DATA"] = str(data_dir)
    # One torch thread per kernel unless the caller says otherwise: on a small machine shared with other
    # work, two OpenMP threads keep waiting on each other (the training cell of 05 ran 4x slower).
    env.setdefault("OMP_NUM_THREADS", "1")
    for cell in nb.cells:  # start from a clean slate: nothing of an earlier run is reused
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=KERNEL["name"], record_timing=False,
                            resources={"metadata": {"path": str(HERE)}})
    client.execute(env=env)
    return nb


def export_images(nb: nbformat.NotebookNode) -> list[Path]:
    """Write the first picture of each cell marked ``export="nb_name"`` to ``docs/nb_name.png``."""
    written = []
    for cell in nb.cells:
        target = cell.metadata.get("export")
        if not target:
            continue
        pngs = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        assert pngs, f"the cell marked export={target} drew no picture"
        path = DOCS / f"{target}.png"
        path.write_bytes(base64.b64decode(pngs[0]))
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    for source in sources():
        if argv and not any(source.stem.startswith(a) for a in argv):
            continue
        jupytext.cli.jupytext(["--sync", "--quiet", str(source)])
        paired = source.with_suffix(".ipynb")
        nb = nbformat.read(paired, as_version=4)  # after the sync: the .py's cells, the .ipynb's cell ids
        nb.metadata.setdefault("kernelspec", KERNEL)
        t0 = time.perf_counter()
        try:
            execute(nb)
        except Exception:
            failed = Path(os.environ.get("TMPDIR", "/tmp")) / f"{source.stem}.failed.ipynb"
            nbformat.write(nb, failed)
            print(f"{source.stem}: FAILED; the partly run notebook is in {failed}", file=sys.stderr)
            raise
        seconds = time.perf_counter() - t0
        nbformat.write(nb, paired)
        images = export_images(nb)
        print(f"{source.stem}: ran in {seconds:.1f} s" + "".join(f", wrote {p.relative_to(REPO)}" for p in images))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
