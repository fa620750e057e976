"""The child process that runs a student's code, and its limits: time, memory, output, and its end.

One child per exercise, started in a session of its own (``start_new_session``) in a fresh working folder
that holds a copy of the student's files. It may use ``memory`` bytes of address space (RLIMIT_AS, set by
the child on itself before it loads the student's file, soft and hard so it cannot be raised again). What
it prints goes to a pipe that this process reads while it waits: the first ``OUTPUT_KEPT`` bytes are
kept for the report, the rest is read and dropped (a flood costs time, never this process's memory), with
a note. Each request has a deadline; past it the child is a timeout.

When the exercise ends the whole session is killed, and then every process that still carries this
child's mark in its environment (a forked child that left the session with ``setsid``) is killed too, and
the check is made again. The grader never waits for a pipe to close, so a forked child holding it cannot
stall the run.

This is isolation for grading, not a sandbox: the child runs as the same user, with the same files and
network. A container per student is the boundary for code that wants to harm the machine.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import wire

CHILD = Path(__file__).resolve().parent / "child.py"
SETUP_TIME_LIMIT = 300.0  # seconds to import torch in a fresh process on a busy machine
DEFAULT_MEMORY_LIMIT = 4 << 30  # bytes of address space for the student's process
OUTPUT_KEPT = 16 << 10  # bytes of a student's output kept for the report
MARK = "MINISBERT_GRADING_MARK"


class Timeout(BaseException):
    """The child did not answer before the deadline (a BaseException: no check's ``except Exception`` eats it)."""


class Died(BaseException):
    """The child's reply pipe closed: it exited or was killed."""


class Child:
    """One child process: ``start()``, ``request(message, deadline)`` as often as needed, ``close()``."""

    def __init__(self, workdir: Path, memory: int = DEFAULT_MEMORY_LIMIT, forbidden=(), echo=None):
        self.workdir, self.memory, self.forbidden, self.echo = Path(workdir), int(memory), list(forbidden), echo
        self.output = bytearray()
        self.output_total = 0
        self.process: subprocess.Popen | None = None
        self.mark = secrets.token_hex(16)
        self.survivors: list[int] = []
        self.budget: float | None = None  # seconds the student's code may still take, over all requests
        self.exit_code: int | None = None

    # ------------------------------------------------------------------------------------------------
    def start(self) -> None:
        request_r, self._request_w = os.pipe()
        self._reply_r, reply_w = os.pipe()
        self._output_r, output_w = os.pipe()
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MALLOC_ARENA_MAX="2",
                   PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
        env[MARK] = self.mark
        command = [sys.executable, "-I", str(CHILD), str(request_r), str(reply_w), str(self.memory),
                   json.dumps(self.forbidden)]
        try:
            self.process = subprocess.Popen(command, pass_fds=(request_r, reply_w), stdin=subprocess.DEVNULL,
                                            stdout=output_w, stderr=output_w, cwd=self.workdir, env=env,
                                            start_new_session=True)
        finally:
            for fd in (request_r, reply_w, output_w):
                os.close(fd)
        for fd in (self._request_w, self._reply_r, self._output_r):
            os.set_blocking(fd, False)
        self._replies, self._expect = bytearray(), None
        reply = self._wait(b"", time.monotonic() + SETUP_TIME_LIMIT)
        if not (isinstance(reply, dict) and reply.get("ready") is True):
            raise wire.WireError("the child process did not start as expected")

    def request(self, message: dict):
        """Send ``message``; return the reply (decoded data). Timeout, Died or wire.WireError otherwise.

        The time spent waiting is taken from ``budget`` (the exercise's time limit): the grader's own work
        between requests (the references, the comparisons) does not count against the student.
        """
        start = time.monotonic()
        limit = SETUP_TIME_LIMIT if self.budget is None else self.budget
        try:
            return self._wait(wire.encode(message), start + limit)
        finally:
            if self.budget is not None:
                self.budget -= time.monotonic() - start

    # ------------------------------------------------------------------------------------------------
    def _take_output(self, data: bytes) -> None:
        room = OUTPUT_KEPT - len(self.output)
        if room > 0:
            self.output += data[:room]
            if self.echo is not None:
                self.echo(data[:room])
        self.output_total += len(data)

    def _wait(self, outgoing: bytes, deadline: float):
        pending = memoryview(outgoing)
        while True:
            if self._expect is None:
                self._expect = self._frame_length()
            n = self._expect
            if n is not None and len(self._replies) >= n and not pending:
                frame = bytes(self._replies[:n])
                del self._replies[:n]
                self._expect = None
                return wire.decode(frame)
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout
            readable, writable, _ = select.select([self._reply_r, self._output_r], [self._request_w] if pending else [],
                                                  [], min(left, 1.0))
            if pending and writable:
                try:
                    pending = pending[os.write(self._request_w, pending[:1 << 16]):]
                except BrokenPipeError:
                    raise Died from None
            if self._output_r in readable:
                self._drain_output()
            if self._reply_r in readable:
                for _ in range(256):  # what the pipe holds now, then back to select
                    try:
                        chunk = os.read(self._reply_r, 1 << 20)
                    except BlockingIOError:
                        break
                    if chunk == b"":
                        self._drain_output()
                        raise Died
                    self._replies += chunk
                if len(self._replies) > 12 + wire.MAX_JSON + 8 + wire.MAX_BLOB:
                    raise wire.WireError("a reply larger than the format allows")

    def _frame_length(self) -> int | None:
        """The length of the reply frame being received, once its two headers are in (read without copying it)."""
        buf = self._replies
        if len(buf) < 12:
            return None
        head = bytes(buf[:12])
        if head[:4] != wire.MAGIC:
            raise wire.WireError(f"a frame starts with {head[:4]!r}, not {wire.MAGIC!r}")
        size = int.from_bytes(head[4:12], "big")
        if size > wire.MAX_JSON:
            raise wire.WireError(f"a frame's JSON part claims {size} bytes (at most {wire.MAX_JSON})")
        if len(buf) < 12 + size + 8:
            return None
        return wire.frame_length(bytes(buf[:12 + size + 8]))

    def _drain_output(self, budget: int = 64) -> None:
        for _ in range(budget):  # a bounded number of reads per turn, so a flood cannot starve the replies
            try:
                chunk = os.read(self._output_r, 1 << 16)
            except (BlockingIOError, OSError):
                return
            if not chunk:
                return
            self._take_output(chunk)

    @property
    def output_note(self) -> str:
        if self.output_total <= OUTPUT_KEPT:
            return ""
        return (f"your code printed {self.output_total:,} bytes; the first {OUTPUT_KEPT:,} were kept "
                f"and the rest was cut while it was read")

    def output_tail(self) -> str:
        lines = bytes(self.output).decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else ""

    # ------------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Kill the child's session, then anything still carrying its mark; check that nothing is left."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.exit_code = self.process.wait()
        for _ in range(3):
            left = marked_processes(self.mark)
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            if not left:
                break
            time.sleep(0.05)
        self.survivors = marked_processes(self.mark)
        self._drain_output()
        for fd in (self._request_w, self._reply_r, self._output_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.process = None



def marked_processes(mark: str) -> list[int]:
    """The pids of the processes (of this user) whose environment holds ``MARK=mark``, zombies excepted."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in (b"Z", b"X"):
            found.append(int(entry))
    return found
