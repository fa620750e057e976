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
"""

from __future__ import annotations

import io
import json
import socket
import tarfile
import threading
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
                data = outer.archives["corrupt" if mode == "corrupt" else "good"].get(name)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
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
