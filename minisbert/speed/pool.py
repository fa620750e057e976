"""Encoding on several processes: ``SentenceBert.start_multi_process_pool``, ``encode(pool=...)``,
``stop_multi_process_pool``, as sentence-transformers names them.

    parent ──saves the model once──▶ a temporary folder ──each worker loads it──▶ N processes
    sentences ──chunks──▶ one thread per worker: send a chunk, read its vectors back ──▶ rows in order

For a corpus larger than one process wants to hold, or several GPUs (one process each). On one CPU the
threads of ``encode(workers=...)`` already use every core, without copies of the model.

What travels between the processes is plain data, never pickled objects: a chunk is one line of JSON
(``{"id": 3, "sentences": [...], ...}``) on the worker's standard input, and its answer one line of
JSON (``{"id": 3, "rows": 500, "dim": 384}`` or ``{"id": 3, "error": "..."}``) followed by the raw
float32 bytes of the (rows, dim) vectors on its standard output.

Nothing is left running: a worker ends when its standard input closes, which happens when the pool is
stopped, when the pool is garbage-collected or the interpreter exits, and when the parent process dies
in any way (the operating system closes its pipes; on Linux the worker is also sent SIGTERM then).
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import weakref
from pathlib import Path

import numpy as np
import torch


class PoolStoppedError(ValueError):
    """``encode(pool=...)`` with a pool that ``stop_multi_process_pool`` has stopped (or that failed)."""


def default_devices() -> list[str]:
    """Every CUDA GPU, one process each; else four CPU processes (sentence-transformers' default)."""
    if torch.cuda.is_available():
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return ["cpu"] * 4


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the closed stdin still ends the worker


class EncodePool:
    """Worker processes that each hold a copy of one model and encode the chunks sent to them.

    Made by ``SentenceBert.start_multi_process_pool(target_devices)``; ``stop()`` (or
    ``SentenceBert.stop_multi_process_pool(pool)``, or leaving a ``with`` block) ends the processes.
    """

    def __init__(self, model, target_devices: list[str] | None = None):
        devices = default_devices() if target_devices is None else list(target_devices)
        if not devices or not all(isinstance(d, (str, torch.device)) for d in devices):
            raise ValueError(f"target_devices must be a non-empty list of devices ('cpu', 'cuda:0', ...), "
                             f"got {target_devices!r}")
        self.devices = [str(d) for d in devices]
        self.processes: list[subprocess.Popen] = []
        self._stopped = False
        self._lock = threading.Lock()  # one encode at a time: the workers answer in order
        cpus = sum(1 for d in self.devices if d.startswith("cpu"))
        threads = max(1, (os.cpu_count() or 1) // max(cpus, 1))
        dtype = str(model.bert.embeddings.word_embeddings.weight.dtype).replace("torch.", "")
        model_class = f"{type(model).__module__}:{type(model).__qualname__}"  # e.g. minisbert.sbert:SentenceBert
        root = str(Path(__file__).resolve().parent.parent.parent)  # the folder that holds minisbert/
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        folder = tempfile.mkdtemp(prefix="minisbert-pool-")
        try:
            model.save(Path(folder) / "model")
            for device in self.devices:
                self.processes.append(subprocess.Popen(
                    [sys.executable, "-m", "minisbert.speed.pool_worker", model_class, str(Path(folder) / "model"), device,
                     dtype, str(threads)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, preexec_fn=_die_with_parent))
            self._finalizer = weakref.finalize(self, _stop_processes, list(self.processes))
            atexit.register(self._finalizer)
            for p in self.processes:  # each says "ready" once its model is loaded (or why not)
                header = self._read_header(p)
                if "error" in header:
                    raise RuntimeError(f"a pool worker on {header.get('device')} could not load the model: {header['error']}")
        except BaseException:
            _stop_processes(self.processes)
            self._stopped = True
            raise
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # every worker has its copy now

    def __enter__(self) -> "EncodePool":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EncodePool(devices={self.devices}, stopped={self._stopped})"

    def stop(self) -> None:
        """End every worker process (closing its input; killed if it has not ended within 10 s)."""
        self._stopped = True
        self._finalizer()

    def _read_header(self, p: subprocess.Popen) -> dict:
        line = p.stdout.readline()
        if not line:
            code = p.wait(timeout=10)
            raise RuntimeError(f"a pool worker (pid {p.pid}) died unexpectedly, exit code {code}; "
                               "stop the pool and start a new one")
        return json.loads(line)

    def encode(self, sentences: list[str], *, chunk_size: int | None, batch_size: int, normalize: bool,
               compute: str) -> torch.Tensor:
        """The (N, H) float32 sentence vectors of ``sentences``, computed by the workers, in input order."""
        if self._stopped:
            raise PoolStoppedError("pool: this multi-process pool has been stopped; start a new one with "
                                   "start_multi_process_pool()")
        n = len(sentences)
        if chunk_size is None:
            chunk_size = max(1, min(-(-n // len(self.processes) // 10), 5000))  # ceil(n / workers / 10)
        chunks = queue.Queue()
        for chunk_id, start in enumerate(range(0, n, chunk_size)):
            chunks.put((chunk_id, start))
        results: dict[int, np.ndarray] = {}
        errors: list[BaseException] = []

        def serve(p: subprocess.Popen) -> None:  # one thread per worker: send a chunk, read its answer
            while not errors:
                try:
                    chunk_id, start = chunks.get_nowait()
                except queue.Empty:
                    return
                try:
                    request = {"id": chunk_id, "sentences": sentences[start:start + chunk_size],
                               "batch_size": batch_size, "normalize": normalize, "compute": compute}
                    p.stdin.write(json.dumps(request).encode() + b"\n")
                    p.stdin.flush()
                    header = self._read_header(p)
                    if "error" in header:
                        raise RuntimeError(f"pool worker on {header.get('device')}: {header['error']}")
                    rows, dim = header["rows"], header["dim"]
                    data = p.stdout.read(rows * dim * 4)
                    if len(data) != rows * dim * 4:
                        raise RuntimeError(f"a pool worker (pid {p.pid}) died while sending its vectors")
                    results[chunk_id] = np.frombuffer(data, dtype=np.float32).reshape(rows, dim)
                except BaseException as e:  # noqa: BLE001 (handed to the caller below)
                    errors.append(e)

        with self._lock:
            threads = [threading.Thread(target=serve, args=(p,), daemon=True) for p in self.processes]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        if errors:
            self.stop()  # a worker that failed mid-protocol cannot be trusted with the next chunk
            raise errors[0]
        if not results:
            return torch.empty(0, 0)
        return torch.from_numpy(np.concatenate([results[i] for i in range(len(results))]))  # (N, H)


def _stop_processes(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        try:
            p.stdin.close()  # the worker's readline() returns "": it exits
        except OSError:
            pass
    for p in processes:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        p.stdout.close()
