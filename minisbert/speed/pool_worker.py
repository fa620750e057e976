"""One worker of ``minisbert.speed.pool.EncodePool``: ``python -m minisbert.speed.pool_worker MODULE:CLASS
FOLDER DEVICE DTYPE THREADS``.

It loads the model saved in FOLDER, says it is ready, then answers each line of JSON on its standard input
(a chunk of sentences) with one line of JSON and the raw float32 bytes of the vectors on its standard
output, until its input closes. A module of its own, apart from ``pool.py``: the package imports
``pool.py``, and ``python -m`` runs a module that is not imported yet.
"""

from __future__ import annotations

import importlib
import json
import sys

import torch


def _worker(model_class: str, folder: str, device: str, dtype: str, threads: str) -> None:
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write to the channel the vectors travel on

    def send(header: dict, payload: bytes = b"") -> None:
        out.write(json.dumps({"device": device, **header}).encode() + b"\n" + payload)
        out.flush()

    try:
        torch.set_num_threads(int(threads))
        # The model's class by name (the pool serves any class with from_pretrained and encode; naming
        # it here rather than importing it keeps this module below the model in the package's layers).
        module, _, name = model_class.partition(":")
        cls = getattr(importlib.import_module(module), name)
        model = cls.from_pretrained(folder, device=device).to(getattr(torch, dtype))
        model.truncate_dim = None  # the parent truncates, quantises and adds prompts
    except Exception as e:  # noqa: BLE001 (reported to the parent, which raises it)
        send({"error": f"{type(e).__name__}: {e}"})
        return
    send({"ready": True})
    for line in sys.stdin.buffer:  # ends when the parent closes the pipe (or dies)
        request = json.loads(line)
        try:
            vectors = model.encode(request["sentences"], batch_size=request["batch_size"], prompt="",
                                   normalize=request["normalize"], compute=request["compute"], progress=False,
                                   convert_to_tensor=True)
            vectors = vectors.float().cpu().numpy()  # (rows, dim)
        except Exception as e:  # noqa: BLE001
            send({"id": request["id"], "error": f"{type(e).__name__}: {e}"})
            continue
        send({"id": request["id"], "rows": vectors.shape[0], "dim": vectors.shape[1]}, vectors.tobytes())


if __name__ == "__main__":
    _worker(*sys.argv[1:6])
