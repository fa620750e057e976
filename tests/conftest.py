"""Shared fixtures: the real pretrained folder (fetched if missing) and the shared data folder.

Nothing here skips: CI fetches the weights through ``make test`` and has ../shared/data beside the
clone; a missing piece is a failing set-up, and the tests say so.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def model_dir() -> Path:
    from minisbert.fetch import fetch

    return fetch("all-MiniLM-L6-v2", quiet=True)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ.get("MINISBERT_DATA") or REPO.parent / "shared" / "data")
    assert (path / "stsbenchmark").is_dir() and (path / "sick").is_dir(), (
        f"the STS Benchmark and SICK data are not at {path}: set MINISBERT_DATA (make test does)"
    )
    return path


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a module of small models (``pytest.mark.usefixtures("one_thread")``): a
    second one gains little there, and on a busy machine a thread pool waiting for a descheduled worker
    makes each step many times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
