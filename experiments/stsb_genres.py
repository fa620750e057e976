"""STSb test by genre: where a trained SBERT gains or loses its points.

STS Benchmark's test set draws its 1,379 pairs from three genres (Cer et al. 2017): image captions (625
pairs, the genre of SNLI's premises), news headlines (500) and forum posts (254). One Spearman over all of
them hides which kind of pair a model reads well; this scores each genre apart, for model folders that
experiments/table1.py (or `python -m minisbert train`) wrote.

    python experiments/stsb_genres.py NAME=FOLDER [NAME=FOLDER ...] [--out FILE]

Each NAME is how the model is known in the results (table1.py's row key, e.g. mnrl_random_init_seed_1).
Results: experiments/results/table1/stsb_genres.json by default; models scored earlier stay in the file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import RESULTS, log, setup  # first: sets OMP_WAIT_POLICY

from minisbert import SentenceBert
from minisbert.evaluate import evaluate_sts
from minisbert.io.data import load_stsb
from minisbert.io.files import write_json


def genre_scores(model, pairs) -> dict:
    """Spearman × 100 of the cosine similarity on each genre's pairs and on all of them, with the counts."""
    genres = sorted({p.genre for p in pairs})
    scores = {g: round(evaluate_sts(model, [p for p in pairs if p.genre == g])["spearman"], 2) for g in genres}
    return {"stsb_test": round(evaluate_sts(model, pairs)["spearman"], 2), "genres": scores,
            "pairs": {g: sum(p.genre == g for p in pairs) for g in genres}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", metavar="NAME=FOLDER", help="a name and a saved SBERT folder")
    p.add_argument("--out", default=str(RESULTS / "table1" / "stsb_genres.json"), help="results file")
    args = p.parse_args(argv)
    models = {}
    for spec in args.models:  # every argument checked before any model is loaded
        name, _, folder = spec.partition("=")
        if not name or not folder:
            p.error(f"{spec!r}: write NAME=FOLDER")
        if not (Path(folder) / "config.json").is_file():
            p.error(f"{spec!r}: {folder} is not a saved model folder (no config.json)")
        models[name] = folder
    pairs = load_stsb("test", setup())
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.is_file() else {}
    for name, folder in models.items():
        model = SentenceBert.from_pretrained(folder).eval()
        results[name] = genre_scores(model, pairs)
        log(f"({name}) {results[name]}")
    write_json(out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
