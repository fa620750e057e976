"""The student's functions as the checks see them: ``student(name, *args)`` returns what the function
returned, wherever it ran.

Two ways to reach them: ``InProcess`` calls functions already in hand (the tests' catalogue of mistakes,
a notebook); ``InChild`` asks the child process that loaded the student's file (``runner.py``), so that the
grader never imports the student's code. Both check, after every call, that the function left its
tensor arguments as they were (values, dtype, shape), and both can ask for the gradients of a loss with
respect to its inputs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .call import StudentRaised, invoke
from .results import ERROR, MISSING, TODO, Fail
from .wire import Kept, Opaque, WireError


def _snapshot(value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _snapshot(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_snapshot(v) for v in value)
    return value


def _changed(before, after, name: str) -> str | None:
    """How ``after`` differs from ``before`` (a tensor argument, or a dict/list of them), or None."""
    if isinstance(before, torch.Tensor):
        if not isinstance(after, torch.Tensor):
            return f"{name} is no longer a tensor"
        if after.dtype != before.dtype:
            return f"{name} changed dtype: {before.dtype} became {after.dtype}"
        if tuple(after.shape) != tuple(before.shape):
            return f"{name} changed shape: {tuple(before.shape)} became {tuple(after.shape)}"
        a, b = after.detach(), before
        same = (a == b) | (torch.isnan(a) & torch.isnan(b)) if a.dtype.is_floating_point else a == b
        if bool(same.all()):
            return None
        at = tuple(int(i) for i in (~same).nonzero()[0])
        return f"{name}{list(at)} was {b[at].item():.6g}, is now {a[at].item():.6g}"
    if isinstance(before, dict):
        if not isinstance(after, dict) or set(after) != set(before):
            return f"{name}: keys were added or removed"
        for k in before:
            why = _changed(before[k], after[k], f"{name}[{k!r}]")
            if why:
                return why
    return None


class Student:
    """Calls one student's functions; ``params`` names each function's arguments for the messages."""

    def __init__(self, params: dict[str, tuple[str, ...]] | None = None):
        self.params = params or {}

    def _call(self, name: str, args: list, grad: tuple[int, ...]) -> dict:
        raise NotImplementedError

    def call(self, name: str, *args, grad: tuple[int, ...] = ()) -> dict:
        """{value, graph, graph_error, grads}: the function's answer, checked for changed inputs."""
        before = [_snapshot(a) for a in args]
        out = self._call(name, list(args), grad)
        after = out.get("after")
        if not isinstance(after, (list, tuple)) or len(after) != len(args):
            raise Fail(f"{name}(): the reply from your code's process is malformed (no inputs after the call)",
                       status=ERROR)
        names = self.params.get(name, ())
        for i, (b, a) in enumerate(zip(before, after)):
            why = _changed(b, a, names[i] if i < len(names) else f"argument {i + 1}")
            if why:
                raise Fail(f"{name}() changed its input in place", [
                    f"{why}", "the caller still needs its tensors after the call (the next pooling, the next "
                    "loss, the labels): the rule is to leave every input as it was and return new tensors",
                    "hint: work on a new tensor (masked_fill, not masked_fill_; or x = x.clone() before changing x)"])
        return out

    def __call__(self, name: str, *args):
        return self.call(name, *args)["value"]


def _raised(name: str, e: StudentRaised) -> Fail:
    if e.todo:
        return Fail(f"{name}() is not written yet (it raises NotImplementedError)", status=TODO)
    return Fail(f"{name}() raised {e.type_name}: {e.message}".rstrip(": "), [f"at {e.where}"] if e.where else [],
                status=ERROR)


class InProcess(Student):
    """Functions already in hand, called in this process (no isolation: for code the caller trusts)."""

    def __init__(self, functions: dict[str, Callable], files=frozenset(), params=None):
        super().__init__(params)
        self.functions, self.files = functions, frozenset(files)

    def _call(self, name, args, grad):
        fn = self.functions.get(name)
        if not callable(fn):
            raise Fail(f"no function {name}() in the file", status=MISSING)
        try:
            return invoke(fn, args, grad, self.files)
        except StudentRaised as e:
            raise _raised(name, e) from None


class InChild(Student):
    """The functions of a file loaded in a child process (``runner.Child``); replies are data, checked here."""

    def __init__(self, child, loaded: set[str], params=None):
        super().__init__(params)
        self.child, self.loaded = child, set(loaded)
        self.forbidden: list[dict] = []
        self.kept: dict[str, object] = {}

    def _keep(self, value):
        """A large set (a vocabulary) is sent once and then referred to."""
        if not (isinstance(value, (set, frozenset)) and len(value) > 1000):
            return value
        key = f"set-{hash(frozenset(value))}-{len(value)}"
        if key not in self.kept:
            reply = self.child.request({"op": "keep", "key": key, "value": value})
            if not (isinstance(reply, dict) and reply.get("kept") is True):
                raise WireError("the reply to keeping a value is not a message")
            self.kept[key] = value
        return Kept(key)

    def _call(self, name, args, grad):
        if name not in self.loaded:
            raise Fail(f"no function {name}() in the file", status=MISSING)
        try:
            sent = [self._keep(a) for a in args]
            reply = self.child.request({"op": "call", "function": name, "args": sent, "grad": list(grad)})
        except WireError as e:
            raise Fail(f"{name}(): the reply from your code's process could not be read", [str(e)], status=ERROR) from None
        if not isinstance(reply, dict):
            raise Fail(f"{name}(): the reply from your code's process is malformed", status=ERROR)
        if isinstance(reply.get("forbidden"), list) and reply["forbidden"]:
            self.forbidden = reply["forbidden"]
        if "raised" in reply and isinstance(reply["raised"], dict):
            r = reply["raised"]
            raise _raised(name, StudentRaised(str(r.get("type", "Exception")), str(r.get("message", "")),
                                              str(r.get("where", "")), bool(r.get("todo"))))
        if "bad_value" in reply:
            raise Fail(f"{name}() returned a value that cannot be sent back: {str(reply['bad_value'])[:200]}",
                       status=ERROR)
        if "value" not in reply or not isinstance(reply.get("grads", []), list):
            raise Fail(f"{name}(): the reply from your code's process is malformed", status=ERROR)
        grads = reply.get("grads", [])
        if any(not (g is None or isinstance(g, torch.Tensor)) for g in grads):
            raise Fail(f"{name}(): the reply from your code's process is malformed (gradients)", status=ERROR)
        graph = reply.get("graph")
        return {"value": reply["value"], "graph": graph if graph in (None, True, False) else False,
                "graph_error": str(reply.get("graph_error", "")), "grads": grads, "after": reply.get("after")}


def type_name(value) -> str:
    """The name of a returned value's type, as the messages say it."""
    return value.type_name if isinstance(value, Opaque) else type(value).__name__
