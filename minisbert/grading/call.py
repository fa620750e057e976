"""How a student's function is called, the same way in the child process and in the grader's own.

The function receives the tensors it is given, not copies: whatever it does to them in place is seen by
the caller, as it would be in a notebook (``mean_pool`` after a ``max_pool`` that filled the batch with
-inf). ``after`` gives the arguments back as they are after the call, so that the grader can check them.

For a loss, the arguments named in ``grad`` become leaves that require a gradient, and the loss must
carry the graph back to them: ``backward()`` is called on it and their gradients are returned. A loss
computed under ``torch.no_grad()``, detached, or turned into a float has no graph, and training with it
would not move the model.

This module imports only torch: the child process loads it by path, without importing ``minisbert``.
"""

from __future__ import annotations

import traceback
from pathlib import Path

import torch


class StudentRaised(Exception):
    """The student's function raised: the type, the first line of the message, where in their files."""

    def __init__(self, type_name: str, message: str, where: str, todo: bool):
        super().__init__(message)
        self.type_name, self.message, self.where, self.todo = type_name, message, where, todo


def student_frame(tb, files) -> str:
    """'file line N: code' of the deepest traceback frame inside the student's files, or ''."""
    where = ""
    for frame in traceback.extract_tb(tb):
        if str(Path(frame.filename).resolve()) in files:
            where = f"{Path(frame.filename).name} line {frame.lineno}: {frame.line}"
    return where


def invoke(fn, args: list, grad: tuple[int, ...] = (), files=frozenset()) -> dict:
    """Call ``fn(*args)``; returns {value, graph, graph_error, grads, after}. Raises ``StudentRaised``."""
    args = list(args)
    for i in grad:  # the same storage, now a leaf that records the graph
        args[i] = args[i].detach().requires_grad_(True)
    try:
        value = fn(*args)
    except NotImplementedError as e:
        raise StudentRaised("NotImplementedError", str(e), "", todo=True) from None
    except Exception as e:  # any error of the student's is a result to report
        message = str(e).splitlines()[0] if str(e) else ""
        raise StudentRaised(type(e).__name__, message, student_frame(e.__traceback__, files), todo=False) from None
    out = {"value": value, "graph": None, "graph_error": "", "grads": [], "after": args}
    if grad:
        graph = isinstance(value, torch.Tensor) and value.requires_grad and value.grad_fn is not None
        out["graph"] = bool(graph)
        if graph:
            try:
                value.sum().backward()
            except Exception as e:  # noqa: BLE001 - the student's graph, the student's error
                out["graph_error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            out["grads"] = [args[i].grad for i in grad]
        out["after"] = [a.detach() if i in grad else a for i, a in enumerate(args)]
    if isinstance(value, torch.Tensor):
        out["value"] = value.detach()
    return out
