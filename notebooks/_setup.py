"""What every notebook needs before its lesson starts, so that its first cell stays short::

    from _setup import MODEL_DIR, DATA_DIR, TOL

Importing this module finds the pretrained weights and the data, fixes the random seeds (Python, NumPy,
torch) so that every run prints the same numbers, shortens torch's printing, and sets the size of the
figures. Nothing of the lesson is here: the notebooks import ``minisbert`` for that.

On your own machine it only looks things up: ``make weights`` (or ``python -m minisbert fetch
all-MiniLM-L6-v2``) and ``$MINISBERT_DATA`` or ``python -m minisbert fetch stsb|sick|snli`` provide them,
and a missing piece raises an error that names the command. On Google Colab, where a notebook starts with
nothing, it fetches what is missing: the weights (from the Hugging Face hub) and the three data sets
(from their official hosts, each file checked against its pinned sha256). The notebook's first cell has
already cloned the repository and installed it with ``pip install '.[notebooks]'``.
"""

from __future__ import annotations

import random
import sys
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["MODEL_DIR", "DATA_DIR", "TOL", "REPO", "ON_COLAB"]

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # this checkout first: its minisbert, and benchmarks/ (notebook 06)

from minisbert.io.data import DataNotFoundError, resolve_data_dir  # noqa: E402 (after the path is set)
from minisbert.io.weights import resolve_model_dir  # noqa: E402

ON_COLAB = "google.colab" in sys.modules
MODEL = "all-MiniLM-L6-v2"
DATA_SETS = ("stsb", "sick", "snli")  # what the notebooks read: STSb (04, 07), STSb + SICK (06), SNLI (07)


def _model_dir() -> Path:
    """weights/ or the user cache; on Colab, fetched there first when missing."""
    try:
        return resolve_model_dir(MODEL)
    except FileNotFoundError:
        if not ON_COLAB:
            raise
    from minisbert import fetch

    print(f"Colab: fetching {MODEL} (about 90 MB) ...")
    return fetch(MODEL)


def _data_dir() -> Path:
    """$MINISBERT_DATA, else ../shared/data beside this checkout, else the user cache (minisbert/io/data.py);
    on Colab, the data sets missing from the user cache are fetched into it first."""
    if ON_COLAB:
        from minisbert import fetch_data
        from minisbert.io.data import FETCH_NAMES

        folder = {name: sub for sub, name in FETCH_NAMES.items()}
        try:
            have = resolve_data_dir()
        except DataNotFoundError:
            have = None
        for name in DATA_SETS:
            if have is None or not (have / folder[name]).is_dir():
                print(f"Colab: fetching the data set {name} ...")
                fetch_data(name, quiet=True)
    return resolve_data_dir()


MODEL_DIR = _model_dir()
DATA_DIR = _data_dir()
TOL = 1e-5  # the largest |ours - reference| the notebooks allow anywhere (fp32)

random.seed(0)
np.random.seed(0)
torch.manual_seed(0)
torch.set_printoptions(precision=4, sci_mode=False, linewidth=120)
plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100})  # figures drawn inline, as PNG
warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm in a kernel without widgets
