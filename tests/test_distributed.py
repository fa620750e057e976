"""Data-parallel training under torchrun (minisbert/speed/distributed.py) is the single-process run, split.

2 CPU processes with ``--batch-size B`` each must end with the parameters of 1 process with
``--batch-size 2B`` (same ``--max-steps``, ``--seed``, dropout off): within 1e-5. A rank killed mid-run
fails the job, and the same command with ``--resume`` ends where an uninterrupted run ends. A tiny
random BERT (H 32, 2 layers, the real vocabulary) on the first 60 STSb train pairs keeps each run to
seconds; 60 is not a multiple of 2B = 16, so the short last batch (8 + 4 examples) is split unevenly,
which the loss weighting must get right.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from minisbert.speed.distributed import World, shard, world
from minisbert.io.weights import read_safetensors

REPO = Path(__file__).resolve().parent.parent
TOL = 1e-5


def train_args(model, out, data_dir, batch_size, steps, *extra):
    return ["-m", "minisbert", "train", "--objective", "regression", "--data", "stsb", "--model", str(model),
            "--data-dir", str(data_dir), "--out", str(out), "--limit", "60", "--epochs", "3",
            "--batch-size", str(batch_size), "--max-steps", str(steps), "--seed", "3", "--lr", "1e-3",
            "--no-dropout", "--no-progress", *extra]


def env():
    # One torch thread per process: 2 ranks on 2 cores; the data path from the test set-up.
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))


def single(args):
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env(), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def torchrun(args, nproc=2):
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *args]


def params(folder):
    return read_safetensors(Path(folder) / "model.safetensors")


def max_diff(a, b):
    assert a.keys() == b.keys()
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


# ----------------------------------------------------------------------------------------------------
# The pieces, in process


@pytest.mark.fast
def test_world_without_torchrun_is_one_process(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert world() == World(rank=0, size=1, local_rank=0) and world().is_main and not world().distributed
    monkeypatch.setenv("WORLD_SIZE", "4"), monkeypatch.setenv("RANK", "2"), monkeypatch.setenv("LOCAL_RANK", "0")
    assert world() == World(rank=2, size=4, local_rank=0) and not world().is_main


@pytest.mark.fast
def test_shards_are_the_consecutive_slices_and_weights_give_the_global_mean():
    full = list(range(16))
    got = [shard(full, World(rank=r, size=2), 8) for r in range(2)]
    assert got == [(list(range(8)), 1.0), (list(range(8, 16)), 1.0)]
    short = list(range(12))  # a short last batch: 8 + 4
    (a, wa), (b, wb) = (shard(short, World(rank=r, size=2), 8) for r in range(2))
    assert a + b == short
    # DDP averages the two ranks' weighted mean losses; that must be the mean over all 12.
    losses = torch.rand(12, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ddp = (wa * losses[a].mean() + wb * losses[b].mean()) / 2
    assert ddp.item() == pytest.approx(losses.mean().item(), rel=1e-12)
    # a rank left with nothing takes one example with weight 0
    assert shard(list(range(3)), World(rank=1, size=2), 4) == ([0], 0.0)


# ----------------------------------------------------------------------------------------------------
# The command under torchrun


def test_two_ranks_of_batch_b_give_one_process_of_batch_2b(tiny_sbert_folder, data_dir, tmp_path):
    steps = 6  # 4 steps per epoch (16, 16, 16, 12 examples), then 2 of the second epoch
    single(train_args(tiny_sbert_folder, tmp_path / "one", data_dir, 8, steps))
    done = subprocess.run(torchrun(train_args(tiny_sbert_folder, tmp_path / "two", data_dir, 4, steps)),
                          capture_output=True, text=True, env=env(), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    start, one, two = params(tiny_sbert_folder), params(tmp_path / "one"), params(tmp_path / "two")
    assert max_diff(one, start) > 1e-3  # the runs really trained
    assert max_diff(two, one) <= TOL
    # Only rank 0 wrote: one output folder and one checkpoint folder, nothing else beside them.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "one-checkpoint", "two", "two-checkpoint"]

    # The check can fail: one process with batch B (not 2B) ends elsewhere.
    single(train_args(tiny_sbert_folder, tmp_path / "half", data_dir, 4, steps))
    assert max_diff(params(tmp_path / "half"), one) > 100 * TOL


def rank_pid(parent: int, rank: int, deadline: float) -> int | None:
    """The pid of the torchrun worker with RANK=rank among ``parent``'s descendants."""
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == parent and f"RANK={rank}".encode() in environ:
                return int(entry.name)
        time.sleep(0.05)
    return None


def test_a_killed_rank_fails_the_job_and_resume_finishes_the_run(tiny_sbert_folder, data_dir, tmp_path):
    steps = 12  # longer runs drift apart by float rounding: Adam magnifies the ~1e-9 gradients of rare embeddings
    single(train_args(tiny_sbert_folder, tmp_path / "reference", data_dir, 8, steps))

    out = tmp_path / "ddp"
    args = train_args(tiny_sbert_folder, out, data_dir, 4, steps, "--checkpoint-every", "1")
    job = subprocess.Popen(torchrun(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env())
    try:
        deadline = time.monotonic() + 240
        victim = rank_pid(job.pid, 1, deadline)
        assert victim is not None, "rank 1 never started"
        checkpoint = out.with_name("ddp-checkpoint") / "trainer_state.json"
        while not checkpoint.exists() and job.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(victim, signal.SIGKILL)
        output, _ = job.communicate(timeout=240)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode != 0, "the job went on without rank 1"
    assert "Signal 9 (SIGKILL)" in output and "rank" in output.lower()  # torchrun names the failed rank
    assert not out.exists()  # the run did not get to the end

    resumed = subprocess.run(torchrun(args + ["--resume"]), capture_output=True, text=True, env=env(), timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert max_diff(params(out), params(tmp_path / "reference")) <= TOL


def test_pretrain_under_torchrun_writes_once_from_rank_0(data_dir, tmp_path):
    text = (Path(data_dir) / "corpus" / "austen.txt").read_text(encoding="utf-8")[:20_000]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(text, encoding="utf-8")
    out = tmp_path / "bert"
    args = ["-m", "minisbert", "pretrain", "--config", "L1-H32-A2", "--corpus", str(corpus), "--max-steps", "4",
            "--batch-size", "4", "--max-len", "32", "--eval-every", "4", "--checkpoint-every", "2",
            "--cache", str(tmp_path / "cache"), "--precision", "fp32", "--out", str(out), "--no-progress"]
    done = subprocess.run(torchrun(args), capture_output=True, text=True, env=env(), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    import json

    log = json.loads((out / "pretrain_log.json").read_text())
    assert log["settings"]["processes"] == 2 and log["steps"] == 4 and len(log["losses"]) == 4
    assert done.stdout.count("wrote ") == 1  # rank 0 alone logs and writes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bert", "bert-checkpoint", "cache", "corpus.txt"]
