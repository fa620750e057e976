"""experiments/stsb_genres.py: STSb test by genre, checked against sentence-transformers and scipy."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

REPO = Path(__file__).resolve().parent.parent


def test_each_genre_is_scored_as_sentence_transformers_and_scipy_score_it(tmp_path, data_dir, model_dir):
    from sentence_transformers import SentenceTransformer

    env = os.environ | {"MINISBERT_DATA": str(data_dir)}
    out = tmp_path / "genres.json"
    done = subprocess.run([sys.executable, "experiments/stsb_genres.py", f"minilm={model_dir}", "--out", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())["minilm"]
    with open(data_dir / "stsbenchmark" / "sts-test.csv", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert result["pairs"] == {"main-captions": 625, "main-forums": 254, "main-news": 500}
    assert sum(r[0] == "main-captions" for r in rows) == 625
    reference = SentenceTransformer(str(model_dir), device="cpu")
    for genre in ("main-captions", "main-news"):
        pairs = [r for r in rows if r[0] == genre]
        a = reference.encode([r[5] for r in pairs], normalize_embeddings=True)
        b = reference.encode([r[6] for r in pairs], normalize_embeddings=True)
        expected = 100 * spearmanr((a * b).sum(1), np.array([float(r[4]) for r in pairs])).statistic
        assert abs(result["genres"][genre] - expected) < 0.05, (genre, result["genres"][genre], expected)
    # A bad argument stops the script before any model loads, and the results file stays as it was.
    again = subprocess.run([sys.executable, "experiments/stsb_genres.py", "minilm", "--out", str(out)], cwd=REPO,
                           env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "write NAME=FOLDER" in again.stderr
    again = subprocess.run([sys.executable, "experiments/stsb_genres.py", f"x={tmp_path}", "--out", str(out)], cwd=REPO,
                           env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "not a saved model folder" in again.stderr
    assert list(json.loads(out.read_text())) == ["minilm"]
