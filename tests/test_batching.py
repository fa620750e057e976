"""The batches-side-by-side layer of minisbert/speed/batching.py: ``in_parallel`` (order, one intra-op thread per
worker, the caller's threads left alone, errors and cancellation) and ``run_batched`` with workers (the
rows land in input order, the model's modes come back, a failing batch stops the run)."""

from __future__ import annotations

import threading
import time

import pytest
import torch
from torch import nn

from minisbert.speed.batching import default_workers, in_parallel, run_batched

pytestmark = pytest.mark.fast


def test_in_parallel_keeps_order_and_gives_each_worker_one_thread():
    threads_before = torch.get_num_threads()
    seen = []

    def work(i):
        time.sleep(0.005)  # long enough that both workers take items
        seen.append((threading.get_ident(), torch.get_num_threads()))
        return i * i

    with in_parallel(2) as map_items:
        assert list(map_items(work, range(20))) == [i * i for i in range(20)]
    assert {n for _, n in seen} == {1}
    assert len({ident for ident, _ in seen}) == 2
    assert threading.get_ident() not in {ident for ident, _ in seen}
    assert torch.get_num_threads() == threads_before  # set per worker thread, not for the process


def test_one_worker_is_the_plain_map_in_the_calling_thread():
    with in_parallel(1) as map_items:
        assert map_items is map
        assert list(map_items(lambda _: threading.get_ident(), range(3))) == [threading.get_ident()] * 3


def test_an_error_in_a_worker_reaches_the_caller_and_cancels_the_rest():
    started = []

    def work(i):
        started.append(i)
        if i == 0:
            raise RuntimeError("batch 0 failed")
        time.sleep(0.02)
        return i

    with pytest.raises(RuntimeError, match="batch 0 failed"):
        with in_parallel(2) as map_items:
            list(map_items(work, range(50)))
    assert len(started) < 50  # not every item ran to the end after the failure


def test_default_workers_follow_the_device():
    assert default_workers(torch.device("cpu")) == torch.get_num_threads()
    assert default_workers(torch.device("meta")) == 1  # not the CPU: a GPU runs one batch at a time


class RowSum(nn.Module):
    """A model for run_batched: each row's id sum and length, and the attributes run_batched switches."""

    def __init__(self):
        super().__init__()
        self.bert = nn.Module()
        self.bert.embeddings = nn.Module()
        self.bert.embeddings.word_embeddings = nn.Embedding(100, 2)
        self.bert.use_sdpa = False
        self.calls = []

    def forward_batch(self, batch):
        assert not self.training and self.bert.use_sdpa and torch.is_inference_mode_enabled()
        self.calls.append(torch.get_num_threads())
        ids = batch["input_ids"] * batch["attention_mask"]  # (B, T), padding counts 0
        return torch.stack([ids.sum(1), batch["attention_mask"].sum(1)], dim=1).float()  # (B, 2)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_run_batched_puts_every_row_back_in_input_order(workers):
    model = RowSum().train()
    ids = [[i % 7 + 1] * (1 + i % 5) for i in range(40)]  # lengths 1-5, repeats among them
    encoded = {"input_ids": ids, "token_type_ids": [[0] * len(x) for x in ids]}
    out = run_batched(model, model.forward_batch, encoded, width=2, batch_size=3, pad_id=0, progress=False,
                      workers=workers)
    expected = torch.tensor([[sum(x), len(x)] for x in ids], dtype=torch.float32)
    assert torch.equal(out, expected)
    assert model.training and model.bert.use_sdpa is False  # both restored
    assert set(model.calls) == ({1} if workers > 1 else {torch.get_num_threads()})


def test_run_batched_stops_at_a_failing_batch_and_restores_the_model():
    model = RowSum().train()

    def forward(batch):
        if batch["input_ids"].shape[1] == 3:
            raise ValueError("no batch of length 3")
        return model.forward_batch(batch)

    ids = [[1] * (1 + i % 5) for i in range(40)]
    encoded = {"input_ids": ids, "token_type_ids": [[0] * len(x) for x in ids]}
    with pytest.raises(ValueError, match="length 3"):
        run_batched(model, forward, encoded, width=2, batch_size=2, pad_id=0, deduplicate=False,
                    progress=False, workers=2)
    assert model.training and model.bert.use_sdpa is False
