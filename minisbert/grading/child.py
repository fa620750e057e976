"""The process that runs a student's code: it loads one exercise file, calls its functions on the inputs
the grader sends, and sends back what they returned. It judges nothing.

Run by ``runner.py`` as ``python child.py REQUEST_FD REPLY_FD MEMORY_BYTES FORBIDDEN_JSON``, with its
working folder set to a fresh copy of the student's files, in a session of its own. It imports torch and
the two modules beside it that define the format and the call (``wire.py``, ``call.py``), loaded by path:
``minisbert`` itself is never imported here, and the student's file may not import it (nor the other
modules the teacher forbids): the attempt raises ImportError and is reported.

Everything here is within the student's reach: their code could rewrite this loop or write any bytes on
the reply pipe. That is allowed for: a reply is only data, decoded by the grader with a format that runs
nothing, and then judged in the grader's process.
"""

import importlib.abc
import importlib.util
import json
import os
import resource
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
    del sys.path[0]  # the grader's own folder is not the student's to import from


def _load_by_path(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


wire = _load_by_path("_minisbert_grading_wire", HERE / "wire.py")
call = _load_by_path("_minisbert_grading_call", HERE / "call.py")
import torch

ATTEMPTS: list[dict] = []  # forbidden imports tried, first one reported


class _Forbid(importlib.abc.MetaPathFinder):
    """Refuse the forbidden top-level modules, remembering where the attempt was made."""

    def __init__(self, names):
        self.names = set(names)

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.split(".")[0]
        if top not in self.names:
            return
        where = ""
        for frame in reversed(traceback.extract_stack()[:-1]):
            if not frame.filename.startswith("<") and Path(frame.filename).resolve().parent == Path.cwd().resolve():
                where = f"{Path(frame.filename).name} line {frame.lineno}: {frame.line}"
                break
        if where:  # the student's file asked (an optional import inside torch is not an attempt)
            ATTEMPTS.append({"module": fullname, "where": where})
        raise ImportError(f"{top} may not be imported in this exercise (the grader forbids it)")


def _read_exactly(fd: int, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise EOFError
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _read_frame(fd: int):
    head = _read_exactly(fd, 12)
    n = int.from_bytes(head[4:12], "big")
    body = _read_exactly(fd, n + 8)
    m = int.from_bytes(body[n:n + 8], "big")
    return wire.decode(head + body + _read_exactly(fd, m))


def _send(fd: int, message: dict) -> None:
    try:
        data = wire.encode(message)
    except Exception as e:  # noqa: BLE001 - a value the format could not carry
        data = wire.encode({"bad_value": f"{type(e).__name__}: {e}"})
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _load(path: Path, functions: list[str]) -> dict:
    sys.path.insert(0, str(path.parent))  # siblings may be imported: from attention_head import attention_head
    try:
        module = _load_by_path(f"_exercise_{path.stem}", path)
    except BaseException as e:  # noqa: BLE001 - a syntax error or sys.exit() at import is the student's
        where = call.student_frame(e.__traceback__, {str(path)})
        if isinstance(e, SyntaxError):
            where = f"{path.name} line {e.lineno}: {(e.text or '').strip()}"
        text = f"{type(e).__name__}: {e}".strip()
        return {"import_error": text.splitlines()[0] if text else type(e).__name__, "where": where,
                "forbidden": ATTEMPTS[:1]}
    found = [f for f in functions if callable(getattr(module, f, None))]
    return {"loaded": found, "forbidden": ATTEMPTS[:1], "functions": {f: getattr(module, f) for f in found}}


def main() -> int:
    request_fd, reply_fd, memory, forbidden = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
    torch.set_num_threads(1)
    if memory > 0:  # soft and hard: the student's code cannot raise it again
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.meta_path.insert(0, _Forbid(forbidden))
    _send(reply_fd, {"ready": True})
    functions, files, kept = {}, frozenset(), {}
    while True:
        try:
            request = _read_frame(request_fd)
        except EOFError:
            return 0
        op = request.get("op")
        if op == "load":
            path = Path(request["path"]).resolve()
            files = frozenset({str(p.resolve()) for p in path.parent.glob("*.py")})
            loaded = _load(path, list(request["functions"]))
            functions = loaded.pop("functions", {})
            _send(reply_fd, loaded)
        elif op == "keep":
            kept[str(request["key"])] = request["value"]
            _send(reply_fd, {"kept": True})
        elif op == "call":
            fn = functions.get(request["function"])
            args = [kept.get(a.key) if isinstance(a, wire.Kept) else a for a in request["args"]]
            try:
                out = call.invoke(fn, args, tuple(request.get("grad", ())), files)
            except call.StudentRaised as e:
                _send(reply_fd, {"raised": {"type": e.type_name, "message": e.message, "where": e.where,
                                            "todo": e.todo}, "forbidden": ATTEMPTS[:1]})
                continue
            out["forbidden"] = ATTEMPTS[:1]
            # the inputs after the call, for the grader to check: tensors (alone or in a dict) only
            out["after"] = [a if isinstance(a, (torch.Tensor, dict)) else None for a in out["after"]]
            _send(reply_fd, out)
        else:
            return 0


if __name__ == "__main__":
    sys.exit(main())
