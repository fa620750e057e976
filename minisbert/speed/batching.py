"""Running a model over many token sequences: the one batching policy of ``SentenceBert.encode`` and
``CrossEncoder.predict``; and the one progress-bar policy of every long job (``show_progress``).

    token ids, unpadded (N sequences) ──dedup──▶ distinct ones ──sort by length──▶ batches of B
        ──pad each to its own longest──▶ forward (B, T) → (B, k), one batch per worker thread
        ──scatter──▶ rows in input order (N, k)

What makes it fast, none of which changes a result beyond float rounding:

* sequences are sorted by token count (longest first, so running out of memory happens at once, not at
  the end) and batched in that order, so each batch is padded only to its own longest sequence
  (dynamic padding). Sentences are mostly short (T ≈ 10-70 on STS Benchmark test): padding every batch
  to the 256-token limit would spend most of the attention and feed-forward work on padding;
* no autograd (``torch.inference_mode``): no graph is recorded and no activation is kept;
* each distinct sequence (the same ids and token types) goes through the model once and its repeats
  get a copy of its row (``deduplicate``): a row does not depend on its batch neighbours, since padded
  keys get zero attention weight and pooling is masked;
* on the CPU, batches run side by side, one per core, each on one thread (``in_parallel``), rather
  than every core splitting each small operation of one batch.

The model runs in eval mode (dropout off: the same input always gives the same output) with attention
through torch's fused ``scaled_dot_product_attention``; both settings are restored afterwards, also
when the forward raises.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import torch
from torch import nn

# ----------------------------------------------------------------------------------------------------
# The progress policy, one for every long job: encode, predict, train, pretrain, fetch.
#
# A job is long when it has more than LONG_JOB_STEPS steps: batches for encode and predict, optimiser
# steps for train and pretrain, MiB for a download (a download of unknown size counts as long). Below
# that a bar would flash by; above it a person wonders whether anything is happening. A long job shows
# its bar unless it is asked not to (``show_progress_bar=False``, ``progress=False``) or the command
# line runs with ``--quiet``, which hides every bar. The bar is tqdm.auto's: a widget in Jupyter, text
# in a terminal (whether or not stderr is a terminal: notebooks and logs see it too).

LONG_JOB_STEPS = 20
_quiet = False  # True for the length of a command run with --quiet (``quiet_progress``)


@contextlib.contextmanager
def quiet_progress(quiet: bool = True):
    """No progress bar at all inside the block, whatever a call asks for (the command line's --quiet)."""
    global _quiet
    before, _quiet = _quiet, bool(quiet) or _quiet
    try:
        yield
    finally:
        _quiet = before


def show_progress(show: bool | None, steps: int | None) -> bool:
    """Whether a job of ``steps`` steps (None: unknown) shows a bar: ``show`` if given, else when it is long."""
    if _quiet:
        return False
    if show is not None:
        return bool(show)
    return steps is None or steps > LONG_JOB_STEPS


def progress_bar(show: bool | None, steps: int | None, **tqdm_kwargs):
    """A ``tqdm.auto`` bar if ``show_progress(show, steps)``, else None. ``tqdm_kwargs`` go to tqdm
    (``total`` defaults to ``steps``)."""
    if not show_progress(show, steps):
        return None
    from tqdm.auto import tqdm

    return tqdm(**{"total": steps, **tqdm_kwargs})


# ----------------------------------------------------------------------------------------------------
# Batches side by side: on the CPU, one batch per core rather than every core on one batch.
#
# torch splits each operation of a forward pass across its threads. A batch of 32 short sentences makes
# small operations (a (400, 1536) × (1536, 384) product, attention over 14 keys, a LayerNorm over 400
# rows), and small operations split badly: each split has a fixed cost, and oneDNN's cost model runs
# some bf16 products on fewer cores than torch gives it (its bandwidth table makes cores sharing a
# matrix look slower than one alone), leaving the others idle. Batches are independent, so each worker
# thread takes whole batches with one intra-op thread of its own (``torch.set_num_threads`` is per
# thread): every core always has a batch, and no operation is split. docs/performance.md measures it
# against one worker (benchmarks/bench.py's one-worker rows). A worker runs each batch the way a
# one-thread run does, so the result does not depend on which worker took a batch (the products' sums
# may be split differently than with several threads: ~1e-7 in fp32). Threads and not processes: the
# operations release Python's lock, and the weights are shared, not copied.


def default_workers(device: torch.device) -> int:
    """Batches run at once by default: one per torch thread on the CPU (``torch.get_num_threads()``,
    under torchrun usually 1), one on a GPU, which runs a batch's operations side by side already."""
    return torch.get_num_threads() if device.type == "cpu" else 1


@contextlib.contextmanager
def in_parallel(workers: int):
    """A ``map(f, items)`` that yields ``f(item)`` in order, computed by ``workers`` threads with one
    intra-op thread each; with 1 worker the plain ``map`` in this thread (with all of its threads).
    Leaving the block early (an error, Ctrl-C) cancels the batches not yet started."""
    if workers <= 1:
        yield map
        return
    pool = ThreadPoolExecutor(max_workers=workers, initializer=torch.set_num_threads, initargs=(1,))
    try:
        yield pool.map
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_batched(model: nn.Module, forward: Callable[[dict[str, torch.Tensor]], torch.Tensor], encoded,
                *, width: int, batch_size: int, pad_id: int, deduplicate: bool = True,
                progress: bool | None = None, desc: str = "", unit: str = "it",
                workers: int | None = None) -> torch.Tensor:
    """``forward`` over every sequence of ``encoded``, in batches: an (N, width) tensor, row i for sequence i.

    Args:
        model: the module that runs (it has a ``.bert``); put in eval mode with SDPA attention for the
            run, its settings restored after.
        forward: a padded batch {input_ids, attention_mask, token_type_ids}, each (B, T) on the model's
            device, to a (B, width) tensor.
        encoded: the tokenizer's output without padding (``padding=False, return_tensors=None``):
            ``input_ids`` and ``token_type_ids``, one list of ids per sequence.
        width: the size of one output row.
        batch_size: distinct sequences per forward call.
        pad_id: the id that fills a sequence up to its batch's longest.
        deduplicate: run each distinct sequence once and copy its row to its repeats.
        progress: a tqdm bar; ``None`` shows one when the run is long (``show_progress``).
        desc, unit: the bar's label and unit.
        workers: how many batches run at once, each on one CPU thread (``in_parallel``); None:
            ``default_workers(device)``. The caller checks it (``check_positive_int``).
    """
    ids, types = encoded["input_ids"], encoded["token_type_ids"]
    weight = model.bert.embeddings.word_embeddings.weight
    device = weight.device
    # Allocated outside inference mode, so the result is an ordinary tensor that later autograd code
    # may use (an inference-mode tensor cannot be saved for backward). At least float32: a model whose
    # weights are bf16 still gives float32 rows, as sentence-transformers does (numpy has no bf16).
    out = torch.empty(len(ids), width, dtype=torch.promote_types(weight.dtype, torch.float32), device=device)
    if not ids:
        return out

    # 1. Sequences with the same ids and token types (the same text, or texts the tokenizer does not
    #    tell apart, as "Dog." and "dog." in an uncased vocabulary) run once: `first[i]` is the row that
    #    sequence i copies, `todo` the rows that go through the model.
    first = list(range(len(ids)))
    if deduplicate:
        seen: dict[tuple, int] = {}
        first = [seen.setdefault((tuple(x), tuple(t)), i) for i, (x, t) in enumerate(zip(ids, types))]
    todo = [i for i, f in enumerate(first) if f == i]

    # 2. Longest first; a stable sort keeps equal-length sequences in input order.
    lengths = [len(x) for x in ids]
    order = sorted(todo, key=lambda i: -lengths[i])
    starts = range(0, len(order), batch_size)
    bar = progress_bar(progress, len(starts), total=len(order), desc=desc, unit=unit)  # counts sequences

    # 3. One forward call per batch, padded to the batch's longest sequence (dynamic padding); each
    #    output row is written to its sequence's row, which restores the input order.
    def run(rows: list[int]) -> None:
        with torch.inference_mode():  # per call: grad mode is per thread, and workers are threads
            batch_lengths = torch.tensor([lengths[i] for i in rows])  # (B,)
            T = int(batch_lengths[0])  # the longest in the batch, which comes first
            input_ids = torch.tensor([ids[i] + [pad_id] * (T - lengths[i]) for i in rows])  # (B, T)
            type_ids = torch.tensor([types[i] + [0] * (T - lengths[i]) for i in rows])  # (B, T)
            attention_mask = (torch.arange(T)[None, :] < batch_lengths[:, None]).long()  # (B, T)
            batch = {"input_ids": input_ids.to(device), "attention_mask": attention_mask.to(device),
                     "token_type_ids": type_ids.to(device)}
            # Written here, by the worker: an operation in the calling thread would wake its own
            # intra-op threads, which then spin for a while on the cores the workers use.
            out[torch.tensor(rows, device=device)] = forward(batch).to(out.dtype)  # (B, width)

    batches = [order[start:start + batch_size] for start in starts]
    workers = min(default_workers(device) if workers is None else workers, len(batches))
    was_training, had_sdpa = model.training, model.bert.use_sdpa
    model.eval()
    model.bert.use_sdpa = True
    try:
        with in_parallel(workers) as map_batches:
            for rows, _ in zip(batches, map_batches(run, batches)):
                if bar is not None:
                    bar.update(len(rows))
    finally:
        model.bert.use_sdpa = had_sdpa
        model.train(was_training)
        if bar is not None:
            bar.close()

    # 4. Repeats get a copy of their first occurrence's row.
    repeats = [i for i, f in enumerate(first) if f != i]
    if repeats:
        out[torch.tensor(repeats, device=device)] = out[torch.tensor([first[i] for i in repeats], device=device)]
    return out
