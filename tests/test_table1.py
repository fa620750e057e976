"""The Table 1 pipeline (experiments/table1.py) end to end, on a tiny model and small slices of the data."""

import json
import os
import subprocess
import sys
from pathlib import Path

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
    for mode in ("cls", "pooler", "mean"):
        assert -100 <= results["raw"][mode]["stsb_test"] <= 100 and -100 <= results["raw"][mode]["sickr_test"] <= 100
    for run in ("nli", "nli_random_init", "nli_paper_lr"):
        assert results[run]["steps"] == 25  # 400 pairs, batch 16
        assert 0 <= results[run]["snli_test_accuracy"] <= 100
    assert {p.name for p in (tmp_path / "results").iterdir()} >= {"pretrain_loss.png", "mlm_accuracy.png",
                                                                   "stsb_before_after.png"}
    # One more SBERT run on the same BERT at another rate, stored under its own name beside the others.
    done = subprocess.run([sys.executable, "experiments/table1.py", "--quick", "--out", str(tmp_path), "--only", "nli",
                           "--nli-lr", "1e-3", "--key", "nli_lr_1e-3"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    again = json.loads((tmp_path / "results" / "table1.json").read_text())
    assert again["nli_lr_1e-3"]["lr"] == 1e-3 and again["nli_lr_1e-3"]["steps"] == 25
    assert {k: again[k] for k in results} == results  # the earlier rows are kept as they were
    assert (tmp_path / "nli_lr_1e-3").is_dir()
