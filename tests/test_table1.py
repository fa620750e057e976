"""The Table 1 pipeline (experiments/table1.py) end to end, on a tiny model and small slices of the data."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parent.parent


def test_the_table1_pipeline_runs_and_reports_every_row(tmp_path, data_dir, model_dir):
    env = os.environ | {"MINISBERT_DATA": str(data_dir)}
    done = subprocess.run([sys.executable, "experiments/table1.py", "--quick", "--out", str(tmp_path)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results" / "table1.json").read_text())
    assert results["paper"]["SBERT-NLI-base"] == 77.03
    assert results["pretraining"]["steps"] == 30
    held = results["pretraining"]["held_out"]
    assert 0 <= held["most_frequent_accuracy"] <= 1 and held["perplexity"] > 1
    vocabulary = results["vocabulary"]  # the pieces the text uses 20 times or more, of all-MiniLM-L6-v2's 30,522
    assert vocabulary["of"] == 30522 and 100 < vocabulary["pieces"] < 30522
    assert vocabulary["tokens"] >= vocabulary["tokens_with_all_pieces"]  # fewer pieces: words split finer
    for mode in ("cls", "pooler", "mean"):
        assert -100 <= results["raw"][mode]["stsb_test"] <= 100 and -100 <= results["raw"][mode]["sickr_test"] <= 100
        assert -1 <= results["raw"][mode]["anisotropy"] <= 1
    assert set(results["raw_random_init"]) == {"cls", "mean"}  # a random BERT's pooler was never trained
    for run in ("nli", "nli_random_init"):
        assert results[run]["steps"] == 25  # 400 pairs, batch 16
        assert 0 <= results[run]["snli_test_accuracy"] <= 100
    assert "nli_paper_lr" not in results  # only with --paper-lr
    for run in ("mnrl", "mnrl_random_init", "simcse", "simcse_random_init"):  # (g) at 128 a batch, (f) at 64
        assert results[run]["rows"] == 160 and results[run]["batch_size"] == (128 if run.startswith("mnrl") else 64)
        assert results[run]["steps"] == (4 if run.startswith("mnrl") else 3)  # 2 epochs of 2 batches; 1 of 3
        assert -1 <= results[run]["anisotropy"] <= 1 and -100 <= results[run]["stsb_test"] <= 100
    # (h): a second BERT, the next-segment task in NSP's place, with the same rows (its controls are (d)'s).
    second = results["pretraining_next_segment"]
    assert second["objective"] == "MLM + next segment, word vectors frozen" and second["steps"] == 30
    assert 0 <= second["held_out"]["next_segment_accuracy"] <= 1 and "nsp_accuracy" not in second["held_out"]
    assert "nsp_accuracy" in held and "next_segment_accuracy" not in held
    saved = json.loads((tmp_path / "bert_next_segment" / "pretrain_log.json").read_text())["settings"]
    assert saved["contrastive"] is True and saved["nsp"] is False and saved["tie_word_embeddings"] is False
    assert saved["contiguous_batches"] is True and second["contiguous_batches"] is True  # neighbours as negatives
    # (h) reads examples half as long, twice as many a step: the same token slots as (a)
    first = json.loads((tmp_path / "bert" / "pretrain_log.json").read_text())["settings"]
    assert (first["max_len"], first["batch_size"]) == (64, 16) and (saved["max_len"], saved["batch_size"]) == (32, 32)
    assert (second["max_len"], second["batch_size"]) == (32, 32)
    assert json.loads((tmp_path / "bert_next_segment" / "config.json").read_text())["tie_word_embeddings"] is False
    assert set(results["raw_next_segment"]) == {"cls", "mean"}  # no NSP, so no trained pooler
    assert results["nli_next_segment"]["steps"] == 25
    for run in ("mnrl_next_segment", "simcse_next_segment"):
        assert results[run]["rows"] == 160 and -100 <= results[run]["stsb_test"] <= 100
    assert results["raw_next_segment"]["mean"] != results["raw"]["mean"]  # another BERT
    assert {p.name for p in (tmp_path / "results").iterdir()} >= {"pretrain_loss.png", "mlm_accuracy.png",
                                                                   "stsb_before_after.png"}
    # One more SBERT run on the same BERT at another rate, stored under its own name beside the others.
    done = subprocess.run([sys.executable, "experiments/table1.py", "--quick", "--out", str(tmp_path), "--only", "mnrl",
                           "--mnrl-lr", "1e-3", "--key", "mnrl_lr_1e-3"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    again = json.loads((tmp_path / "results" / "table1.json").read_text())
    assert again["mnrl_lr_1e-3"]["lr"] == 1e-3 and again["mnrl_lr_1e-3"]["rows"] == 160
    assert {k: again[k] for k in results} == results  # the earlier rows are kept as they were
    assert (tmp_path / "mnrl_lr_1e-3").is_dir()
    assert "seed" not in again["mnrl_lr_1e-3"]  # recorded only when asked for
    # Another seed: another random BERT and another order of batches, so another control.
    done = subprocess.run([sys.executable, "experiments/table1.py", "--quick", "--out", str(tmp_path), "--only",
                           "mnrl_random_init", "--seed", "1", "--key", "mnrl_random_init_seed_1"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    seeded = json.loads((tmp_path / "results" / "table1.json").read_text())["mnrl_random_init_seed_1"]
    assert seeded["seed"] == 1 and seeded["steps"] == results["mnrl_random_init"]["steps"]
    assert seeded["loss_first_20"] != results["mnrl_random_init"]["loss_first_20"]
    # A row of the second BERT alone, under its own name: one epoch where the pipeline runs two.
    assert results["mnrl_next_segment"]["epochs"] == 2
    done = subprocess.run([sys.executable, "experiments/table1.py", "--quick", "--out", str(tmp_path), "--only",
                           "mnrl_next_segment", "--mnrl-epochs", "1", "--key", "mnrl_next_segment_1_epoch"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    third = json.loads((tmp_path / "results" / "table1.json").read_text())
    assert third["mnrl_next_segment_1_epoch"]["epochs"] == 1
    assert 2 * third["mnrl_next_segment_1_epoch"]["steps"] == results["mnrl_next_segment"]["steps"]
    assert (tmp_path / "mnrl").is_dir() and (tmp_path / "mnrl_next_segment").is_dir()  # (h)'s models beside (a)'s
    # The fine-tuning levers: no dropout, and the word vectors kept as the BERT brought them.
    done = subprocess.run([sys.executable, "experiments/table1.py", "--quick", "--out", str(tmp_path), "--only",
                           "mnrl_next_segment", "--mnrl-dropout", "0", "--mnrl-freeze-word-embeddings", "--key",
                           "mnrl_next_segment_frozen"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    frozen = json.loads((tmp_path / "results" / "table1.json").read_text())["mnrl_next_segment_frozen"]
    assert frozen["dropout"] == 0 and frozen["word_embeddings"] == "frozen"
    assert "dropout" not in results["mnrl_next_segment"] and "word_embeddings" not in results["mnrl_next_segment"]
    key = "embeddings.word_embeddings.weight"
    before = load_file(tmp_path / "bert_next_segment" / "model.safetensors")["bert." + key]
    assert torch.equal(load_file(tmp_path / "mnrl_next_segment_frozen" / "model.safetensors")[key], before)
    assert not torch.equal(load_file(tmp_path / "mnrl_next_segment" / "model.safetensors")[key], before)


def test_table1_pretrains_at_the_shape_asked_and_refuses_a_bad_dropout_or_seed(tmp_path, data_dir):
    env = os.environ | {"MINISBERT_DATA": str(data_dir)}
    bad = subprocess.run([sys.executable, "experiments/table1.py", "--quick", "--out", str(tmp_path), "--only", "mnrl",
                          "--mnrl-dropout", "1.5"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--mnrl-dropout: 1.5 is not a probability" in bad.stderr
    bad = subprocess.run([sys.executable, "experiments/table1.py", "--quick", "--out", str(tmp_path), "--only", "mnrl",
                          "--seed", "-1"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--seed: -1 is negative" in bad.stderr
    done = subprocess.run([sys.executable, "experiments/table1.py", "--quick", "--out", str(tmp_path), "--bert",
                           "next_segment", "--pretrain-only", "--max-len", "48", "--batch-size", "8",
                           "--no-contiguous-batches"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads((tmp_path / "bert_next_segment" / "pretrain_log.json").read_text())["settings"]
    assert saved["max_len"] == 48 and saved["batch_size"] == 8 and saved["contrastive"] is True
    assert saved["contiguous_batches"] is False  # shuffled batches, as asked
    assert "contiguous_batches" not in json.loads((tmp_path / "results" / "table1.json").read_text())[
        "pretraining_next_segment"]
    assert not (tmp_path / "bert").exists()  # only the BERT asked for
