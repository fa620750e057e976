"""Triplet objective on SICK triplets: SICK-R test Spearman before and after.

Triplets (``minisbert.examples.sick_triplets``): an anchor sentence, a sentence it entails, a sentence
that contradicts it, taken from SICK train's ENTAILMENT and CONTRADICTION pairs (356 triplets from 200
anchors). The paper's objective: mean(max(‖a − p‖ − ‖a − n‖ + 1, 0)), Euclidean distance, margin 1;
batch 16, lr 2e-5, 10% warm-up, 1 epoch, from all-MiniLM-L6-v2. Dev: SICK-R dev (trial) Spearman.

    python experiments/train_sick_triplet.py > experiments/results/sick_triplet.log 2>&1
"""

from __future__ import annotations

import os

from common import REPO, log, machine, setup, write_results

from minisbert.evaluate import evaluate_sts
from minisbert.examples import sick_regression, sick_triplets
from minisbert.objectives import TripletObjective
from minisbert.sbert import SentenceBert
from minisbert.training import TrainConfig, sts_dev, train

SEED = 0
EPOCHS = 1


def main() -> None:
    data = setup()
    model_dir = REPO / "weights" / "all-MiniLM-L6-v2"
    triplets = sick_triplets("train", data)
    sick_r_test = [(e.a, e.b, float(e.label)) for e in sick_regression("test", data)]
    results = {"recipe": {"distance": "euclidean", "margin": 1.0, "epochs": EPOCHS, "batch_size": 16, "lr": 2e-5,
                          "warmup_ratio": 0.1, "seed": SEED, "triplets": len(triplets)},
               "machine": machine()}

    model = SentenceBert.from_pretrained(model_dir)
    results["sick_r_test_spearman_before"] = evaluate_sts(model, sick_r_test)["spearman"]
    log(f"before: SICK-R test Spearman {results['sick_r_test_spearman_before']:.2f}")
    objective = TripletObjective(model, distance="euclidean", margin=1.0)
    out = REPO / "runs" / "sick-triplet"
    state = train(objective, triplets, TrainConfig(epochs=EPOCHS, seed=SEED),
                  dev=sts_dev(sick_regression("dev", data)), out=out)
    results["sick_r_test_spearman_after"] = evaluate_sts(SentenceBert.from_pretrained(out), sick_r_test)["spearman"]
    results["dev_spearman_per_epoch"] = state.dev_scores
    results["epoch_seconds"] = state.epoch_seconds
    results["loss_first_last"] = [state.losses[0], state.losses[-1]]
    results["load_average_after"] = os.getloadavg()
    log(f"after: SICK-R test Spearman {results['sick_r_test_spearman_after']:.2f} (dev {state.dev_scores})")
    write_results("sick_triplet", results)


if __name__ == "__main__":
    main()
