"""Shared set-up for the experiment scripts: threads, data folder, timing context, result files.

Every script is meant to run alone on the machine (other heavy work skews its timings), from the
repository root: ``python experiments/<script>.py``. It reads the data from the folder named by
``$MINISBERT_DATA``, prints as it goes and writes its numbers to ``experiments/results/<name>.json``.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

# Before torch starts its OpenMP threads: waiting threads sleep instead of spinning. On a shared 2-core
# machine a spinning thread burns the core its partner needs to reach the barrier; measured here under
# load, one training step took 9.7 s with the default policy, 1.6 s with PASSIVE (1.5 s on 1 thread).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from minisbert.io.data import resolve_data_dir  # noqa: E402
from minisbert.io.files import write_json  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "experiments" / "results"
THREADS = 2  # the machines these numbers come from have 2 cores


def setup() -> Path:
    """Fix the thread count and return the data folder: ``$MINISBERT_DATA``, checked as the library does."""
    torch.set_num_threads(THREADS)
    return resolve_data_dir()


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "load_average_at_start": os.getloadavg(),
    }


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def write_results(name: str, results: dict) -> Path:
    path = RESULTS / f"{name}.json"
    write_json(path, results)
    log(f"wrote {path.relative_to(REPO)}")
    return path


class STEncoder:
    """A sentence-transformers model behind minisbert's ``encode`` signature (for ``evaluate_sts``)."""

    def __init__(self, st_model):
        self.st = st_model

    def encode(self, sentences, batch_size=32, convert_to="torch", **_):
        return self.st.encode(sentences, batch_size=batch_size, convert_to_tensor=True, show_progress_bar=False)
