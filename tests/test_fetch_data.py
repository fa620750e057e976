"""Fetching the data sets (``python -m minisbert fetch stsb|sick|snli``) and finding them again.

The official hosts are replaced by a server on 127.0.0.1 (tests/data_server.py) serving archives built
here from the shared data folder in the official layouts: what is checked is that a good archive gives
files byte for byte equal to the shared ones (their pinned digests), and that a corrupt archive, a
truncated download and a server that stops halfway are refused with nothing left behind.
"""

from __future__ import annotations

import hashlib

import pytest

from data_server import DataServer, build_archives
from minisbert.io import data as data_module
from minisbert.io import paths as paths_module
from minisbert.__main__ import main
from minisbert.io.data import DataNotFoundError, load_sick, load_snli, load_stsb, resolve_data_dir
from minisbert.io.fetch import DATA_SETS, MIRROR_ENV_VAR, FetchError, fetch, fetch_data


@pytest.fixture(scope="module")
def server(data_dir):
    with DataServer(build_archives(data_dir, which=("stsb", "sick"))) as server:
        yield server


@pytest.fixture
def no_shared_data(monkeypatch, tmp_path):
    """The lookup of a learner's machine: no MINISBERT_DATA, no checkout beside ../shared, a fresh user cache."""
    monkeypatch.delenv("MINISBERT_DATA", raising=False)
    monkeypatch.delenv(MIRROR_ENV_VAR, raising=False)
    monkeypatch.setenv("MINISBERT_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(paths_module, "source_checkout", lambda: None)
    return tmp_path / "home" / "data"


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.fast
def test_the_pinned_digests_are_those_of_the_shared_files(data_dir):
    for spec in DATA_SETS.values():
        for archive in spec.archives:
            for f in archive.files:
                assert sha256(data_dir / spec.folder / f.name) == f.sha256, f.name


@pytest.mark.fast
def test_a_good_archive_gives_the_shared_files(server, no_shared_data, data_dir):
    folder = fetch_data("stsb", mirror=server.url("good"), quiet=True)
    assert folder == no_shared_data / "stsbenchmark"
    assert sorted(p.name for p in folder.iterdir()) == ["LICENSE.txt", "readme.txt", "sts-dev.csv", "sts-test.csv",
                                                        "sts-train.csv"]  # no download left, no extra file
    for p in folder.iterdir():
        assert p.read_bytes() == (data_dir / "stsbenchmark" / p.name).read_bytes(), p.name
    # the lookup finds it in the user cache, and a second fetch downloads nothing
    assert load_stsb("test") == load_stsb("test", data_dir)
    before = len(server.requests)
    assert fetch_data("stsb", mirror=server.url("good"), quiet=True) == folder
    assert len(server.requests) == before


@pytest.mark.fast
def test_sick_from_the_semeval_files_header_and_crlf(server, no_shared_data, data_dir, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV_VAR, server.url("good"))  # the documented way to point at a mirror
    folder = fetch("sick", quiet=True)
    for name in ("SICK_train.txt", "SICK_trial.txt", "SICK_test_annotated.txt"):
        assert (folder / name).read_bytes() == (data_dir / "sick" / name).read_bytes()
    assert len(load_sick("test")) == 4927


@pytest.mark.fast
@pytest.mark.parametrize("mode, message", [
    ("corrupt", "sts-dev.csv has sha256 .* not the pinned"),
    ("truncated", "not a readable archive|cannot be read"),
    ("stops", "cut short|failed"),
], ids=["corrupt", "truncated", "server-stops-halfway"])
def test_a_bad_download_is_refused_and_leaves_nothing(data_dir, no_shared_data, mode, message):
    with DataServer(build_archives(data_dir, which=("stsb",))) as server:  # "stops" shuts its server down
        with pytest.raises(FetchError, match=message):
            fetch_data("stsb", mirror=server.url(mode), quiet=True)
    assert not no_shared_data.exists() or list(no_shared_data.iterdir()) == [], "something was left behind"
    with pytest.raises(DataNotFoundError, match="python -m minisbert fetch stsb"):
        load_stsb("dev")


@pytest.mark.fast
def test_a_corrupt_download_does_not_replace_a_good_folder(server, no_shared_data):
    folder = fetch_data("stsb", mirror=server.url("good"), quiet=True)
    (folder / "sts-test.csv").write_bytes(b"")  # damaged: the next fetch replaces the folder ...
    with pytest.raises(FetchError):
        fetch_data("stsb", mirror=server.url("corrupt"), quiet=True)  # ... but not with a corrupt one
    assert (folder / "sts-test.csv").read_bytes() == b""
    assert sorted(p.name for p in no_shared_data.iterdir()) == ["stsbenchmark"]


def test_snli_keeps_the_pinned_subset(data_dir, no_shared_data):
    with DataServer(build_archives(data_dir, which=("snli",))) as server:
        folder = fetch_data("snli", mirror=server.url("good"), quiet=True)
    assert sorted(p.name for p in folder.iterdir()) == ["snli_1.0_test.jsonl", "snli_1.0_train_first100k.jsonl"]
    for p in folder.iterdir():  # parse trees dropped, train cut at 100,000 lines: the shared files exactly
        assert p.read_bytes() == (data_dir / "snli" / p.name).read_bytes(), p.name
    assert len(load_snli("test")) == 9824


# ----------------------------------------------------------------------------------------------------
# The lookup: MINISBERT_DATA, ../shared/data beside the checkout, the user cache


@pytest.mark.fast
def test_a_missing_data_set_names_the_fetch_command(no_shared_data):
    for loader, name in ((load_stsb, "stsb"), (load_sick, "sick"), (load_snli, "snli")):
        with pytest.raises(DataNotFoundError, match=f"`python -m minisbert fetch {name}`") as info:
            loader("test")
        assert str(no_shared_data) in str(info.value)


@pytest.mark.fast
def test_lookup_order(monkeypatch, tmp_path, data_dir):
    monkeypatch.delenv("MINISBERT_DATA", raising=False)
    monkeypatch.setenv("MINISBERT_HOME", str(tmp_path / "home"))
    checkout = paths_module.source_checkout()
    assert checkout is not None and (checkout / "minisbert" / "io" / "data.py").is_file()  # this is a source checkout
    shared = checkout.parent / "shared" / "data"
    assert resolve_data_dir(dataset="sick") == shared  # ../shared/data beside the checkout
    (tmp_path / "home" / "data" / "mine").mkdir(parents=True)
    assert resolve_data_dir(dataset="mine") == tmp_path / "home" / "data"  # not in shared: the user cache
    monkeypatch.setenv("MINISBERT_DATA", str(tmp_path / "elsewhere"))  # named on purpose: the only place
    with pytest.raises(DataNotFoundError, match="MINISBERT_DATA=.*elsewhere.*fetch sick"):
        load_sick("test")
    assert data_module.fetch_destination() == tmp_path / "elsewhere"


# ----------------------------------------------------------------------------------------------------
# The command line


@pytest.mark.fast
def test_cli_fetch(server, no_shared_data, monkeypatch, capsys):
    monkeypatch.setenv(MIRROR_ENV_VAR, server.url("corrupt"))
    assert main(["fetch", "stsb", "--quiet"]) == 2  # a user-facing failure: one line, exit code 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and "pinned" in err
    monkeypatch.setenv(MIRROR_ENV_VAR, server.url("good"))
    assert main(["fetch", "stsb"]) == 0
    assert capsys.readouterr().out.strip() == str(no_shared_data / "stsbenchmark")
