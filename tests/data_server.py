"""A stand-in for the data sets' official hosts: archives built from the shared data folder, served on
127.0.0.1 by a thread of the test process (tests/test_fetch_data.py, tests/test_install.py).

The archives have the official layout and quirks, so that the fetch code's unpacking is what is tested:
STS Benchmark as ``stsbenchmark/...`` in a .tar.gz; SICK as three zips whose files start with the
SemEval header line and end lines with CRLF; SNLI as ``snli_1.0/...`` in a zip, each line carrying the
four parse-tree fields the official files have and the train file running past 100,000 lines.

The server answers ``/good/<archive>``; ``/corrupt/<archive>`` (one sentence changed: a valid archive
whose file fails its digest); ``/truncated/<archive>`` (the first half, no Content-Length: the
archive is cut); ``/stops/<archive>`` (Content-Length of the whole, half the bytes, then the server
shuts down).

Hostile modes, for the limits on what a fetch takes in: ``/bomb/<archive>`` and ``/overpinned/<archive>``
serve the archives of ``build_hostile_archives`` (a member of 64 MiB of zeros in a small .tar.gz; a
member a little larger than its pinned size); ``/nolength/<archive>`` sends zeros without a
Content-Length, without end; ``/huge/<archive>`` announces 10 GiB; ``/trickle/<archive>`` sends one
byte every 0.2 s; ``/reset/<archive>`` sends half the bytes, then resets the connection (TCP RST).
"""

from __future__ import annotations

import io
import json
import socket
import struct
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SNLI_PARSE_FIELDS = ("sentence1_binary_parse", "sentence1_parse", "sentence2_binary_parse", "sentence2_parse")


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def _official_sick(data: bytes) -> bytes:
    header = b"pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\n"
    return (header + data).replace(b"\n", b"\r\n")


def _official_snli(lines: list[bytes]) -> bytes:
    out = []
    for line in lines:
        record = json.loads(line)
        with_parses = {}
        for key, value in record.items():  # the official key order: each parse after its sentence
            with_parses[key] = value
            if key in ("sentence1", "sentence2"):
                with_parses[f"{key}_binary_parse"] = f"( {value} )"
                with_parses[f"{key}_parse"] = f"(ROOT (S {value}))"
        out.append(json.dumps(with_parses).encode() + b"\n")
    return b"".join(out)


def build_archives(data_dir: Path, which=("stsb", "sick", "snli")) -> dict[str, dict[str, bytes]]:
    """{"good" | "corrupt": {archive file name: bytes}} in the official layouts."""
    good, corrupt = {}, {}
    if "stsb" in which:
        files = {f"stsbenchmark/{p.name}": p.read_bytes() for p in sorted((data_dir / "stsbenchmark").iterdir())}
        files["stsbenchmark/correlation.pl"] = b"# a script the official archive also holds\n"
        good["Stsbenchmark.tar.gz"] = _tar_gz(files)
        bad = dict(files)
        bad["stsbenchmark/sts-dev.csv"] = bad["stsbenchmark/sts-dev.csv"].replace(b"A man", b"A men", 1)
        corrupt["Stsbenchmark.tar.gz"] = _tar_gz(bad)
    if "sick" in which:
        for split, name in (("train", "SICK_train.txt"), ("trial", "SICK_trial.txt"),
                            ("test_annotated", "SICK_test_annotated.txt")):
            good[f"sick_{split}.zip"] = _zip({name: _official_sick((data_dir / "sick" / name).read_bytes())})
    if "snli" in which:
        test = (data_dir / "snli" / "snli_1.0_test.jsonl").read_bytes().splitlines()
        train = (data_dir / "snli" / "snli_1.0_train_first100k.jsonl").read_bytes().splitlines()
        good["snli_1.0.zip"] = _zip({
            "snli_1.0/snli_1.0_test.jsonl": _official_snli(test),
            "snli_1.0/snli_1.0_train.jsonl": _official_snli(train + test[:50]),  # lines past the first 100,000
            "__MACOSX/snli_1.0/._snli_1.0_test.jsonl": b"\0resource fork",
        })
    return {"good": good, "corrupt": corrupt}


class _Zeros(io.RawIOBase):
    """``size`` zero bytes, read without holding them in memory."""

    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def build_hostile_archives() -> dict[str, dict[str, bytes]]:
    """{"bomb" | "overpinned": {"Stsbenchmark.tar.gz": bytes}}: the STS Benchmark archive with sts-train.csv
    replaced by 64 MiB of zeros (about 64 kB compressed), or by 1.5 MB of text (over its pinned 901,177
    bytes but under what may be read from the archive)."""
    out = {}
    for mode, size, fill in (("bomb", 64 << 20, None), ("overpinned", 1_500_000, b"a\tb\n" * 375_000)):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
            info = tarfile.TarInfo("stsbenchmark/sts-train.csv")
            info.size = size
            tar.addfile(info, io.BufferedReader(_Zeros(size)) if fill is None else io.BytesIO(fill))
        out[mode] = {"Stsbenchmark.tar.gz": buffer.getvalue()}
    return out


class DataServer:
    """``with DataServer(archives) as server:`` a server on 127.0.0.1; ``server.url(mode)`` is a mirror URL."""

    def __init__(self, archives: dict[str, dict[str, bytes]]):
        self.archives = archives
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                outer.requests.append(self.path)
                _, mode, name = self.path.split("/", 2)
                data = outer.archives.get(mode, outer.archives["good"]).get(name)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                if mode in ("nolength", "huge", "trickle", "reset"):
                    self.hostile(mode, data)
                    return
                if mode == "truncated":
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    return
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if mode == "stops":
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    threading.Thread(target=self.server.shutdown).start()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(data)

            def hostile(self, mode: str, data: bytes) -> None:
                try:
                    if mode == "nolength":  # zeros until the client gives up (at most 1 GiB)
                        self.send_header("Connection", "close")
                        self.end_headers()
                        for _ in range(1 << 14):
                            self.wfile.write(bytes(1 << 16))
                    elif mode == "huge":
                        self.send_header("Content-Length", str(10 << 30))
                        self.end_headers()
                        self.wfile.write(data[:1024])
                    elif mode == "trickle":  # one byte every 0.2 s: each read is well inside any timeout
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        for i in range(300):
                            self.wfile.write(data[i:i + 1])
                            self.wfile.flush()
                            time.sleep(0.2)
                    elif mode == "reset":  # half the bytes, then a TCP reset instead of a close
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data[: len(data) // 2])
                        self.wfile.flush()
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        self.connection.close()
                except OSError:  # the client hung up, as it should
                    pass
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, mode: str = "good") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{mode}"

    def __enter__(self) -> "DataServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
