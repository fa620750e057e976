"""What every notebook needs before its lesson starts, so that its first cell is one line::

    from _setup import MODEL_DIR, DATA_DIR, TOL

Importing this module finds the pretrained weights and the data, fixes the random seeds (Python, NumPy,
torch) so that every run prints the same numbers, shortens torch's printing, and sets the size of the
figures. Nothing of the lesson is here: the notebooks import ``minisbert`` for that.
"""

from __future__ import annotations

import random
import sys
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["MODEL_DIR", "DATA_DIR", "TOL"]

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # this checkout first: its minisbert, and benchmarks/ (notebook 06)

from minisbert.data import resolve_data_dir  # noqa: E402 (after the path is set)
from minisbert.weights import resolve_model_dir  # noqa: E402

MODEL_DIR = resolve_model_dir("all-MiniLM-L6-v2")  # weights/ or the user cache (`python -m minisbert fetch all-MiniLM-L6-v2`)
# The library's own data lookup (minisbert/data.py): $MINISBERT_DATA, else ../shared/data beside this
# checkout, else the user cache that `python -m minisbert fetch stsb|sick|snli` fills.
DATA_DIR = resolve_data_dir()
TOL = 1e-5  # the largest |ours - reference| the notebooks allow anywhere (fp32)

random.seed(0)
np.random.seed(0)
torch.manual_seed(0)
torch.set_printoptions(precision=4, sci_mode=False, linewidth=120)
plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100})  # figures drawn inline, as PNG
warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm in a kernel without widgets
