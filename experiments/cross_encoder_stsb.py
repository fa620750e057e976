"""Train a cross-encoder on STS Benchmark and put its test Spearman next to the bi-encoder's.

The accuracy side of the trade-off that ``benchmarks/cost.py`` measures the speed side of
(Reimers & Gurevych 2019, https://arxiv.org/abs/1908.10084: a cross-encoder scores pairs better, but
needs one BERT pass per pair; SBERT needs one per sentence).

Recipe: the cross-encoder starts from all-MiniLM-L6-v2's BERT weights (the same encoder the bi-encoder
uses) with a new one-output head on the pooled [CLS] (``minisbert.cross_encoder``); it is trained on
STSb train with binary cross-entropy against score / 5, each pair in both orders (what
sentence-transformers' STSb cross-encoder example does), through ``minisbert.training.train``: AdamW,
lr 2e-5, batch 16, warm-up over 10% of the steps, gradient clipping at 1, seed 0. The epoch with the
best dev Spearman is kept.

    python experiments/cross_encoder_stsb.py --epochs 2 --both-orders > run.log 2>&1

Measured (2-core CPU): 1 epoch, one order: test Spearman 77.31 (dev 81.84); 2 epochs, both orders:
81.89 (dev 85.78, 86.08), in 34 min; scored in both orders and averaged (``--evaluate-only``): 82.21.

Writes experiments/results/cross_encoder_stsb.{json,md}; the model goes to weights/cross-encoder-stsb
(not committed; ``python -m benchmarks.cost`` picks it up from there for the agreement numbers).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from minisbert.cross_encoder import CrossEncoder, CrossEncoderObjective
from minisbert.io.data import load_stsb
from minisbert.evaluate import evaluate_split, pearson, spearman
from minisbert.examples import PairExample, stsb_regression
from minisbert.io.files import read_json, write_json, write_text
from minisbert.sbert import SentenceBert
from minisbert.training import TrainConfig, train

REPO = Path(__file__).resolve().parent.parent


def stsb_pairs(split: str, data_dir, limit: int | None = None):
    rows = load_stsb(split, data_dir)[:limit]
    return [(p.sentence1, p.sentence2) for p in rows], [p.score for p in rows]


def cross_scores(model: CrossEncoder, pairs, gold, batch_size: int = 32) -> dict:
    t0 = time.perf_counter()
    predicted = model.predict(pairs, batch_size=batch_size)  # (N,) in [0, 1]
    seconds = time.perf_counter() - t0
    return {"spearman": 100 * spearman(predicted, gold), "pearson": 100 * pearson(predicted, gold),
            "n_pairs": len(pairs), "pairs_per_second": len(pairs) / seconds}


def averaged_scores(model: CrossEncoder, pairs, gold, batch_size: int = 32) -> dict:
    """Each pair scored as (a, b) and as (b, a), the two averaged: two passes per pair. A cross-encoder
    is not symmetric by construction; trained on both orders, its two answers still differ a little."""
    ab = model.predict(pairs, batch_size=batch_size)  # (N,)
    ba = model.predict([(b, a) for a, b in pairs], batch_size=batch_size)  # (N,)
    mean = [(x + y) / 2 for x, y in zip(ab, ba)]
    return {"spearman": 100 * spearman(mean, gold), "pearson": 100 * pearson(mean, gold), "n_pairs": len(pairs)}


def evaluate_only(args) -> int:
    """Score the trained folder again (one order, and both orders averaged) into the existing results."""
    test_pairs, test_gold = stsb_pairs("test", args.data_dir, args.limit)
    model = CrossEncoder.from_pretrained(args.out)
    one, both = cross_scores(model, test_pairs, test_gold), averaged_scores(model, test_pairs, test_gold)
    print(f"test Spearman: {one['spearman']:.2f} (a, b); {both['spearman']:.2f} (both orders averaged)")
    results_path = Path(args.results)
    results = read_json(results_path.with_suffix(".json"))
    results["cross_encoder_test_both_orders_averaged"] = both
    md = results_path.with_suffix(".md").read_text(encoding="utf-8").split("\n\n")
    md[0] += f"\n| the same cross-encoder, each pair scored in both orders and averaged | {both['spearman']:.2f} | n(n-1) BERT passes |"
    write_json(results_path.with_suffix(".json"), results)
    write_text(results_path.with_suffix(".md"), "\n\n".join(md))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--warmup-ratio", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--both-orders", action="store_true",
                   help="train on (a, b) and (b, a): a cross-encoder sees its pair in one order, so it is not "
                        "symmetric by construction (sentence-transformers' STSb example does this)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--model", default="all-MiniLM-L6-v2", help="the BERT to start from (and the bi-encoder)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--limit", type=int, default=None, help="first N pairs of each split only (a smoke run)")
    p.add_argument("--out", default=str(REPO / "weights" / "cross-encoder-stsb"))
    p.add_argument("--results", default=str(REPO / "experiments" / "results" / "cross_encoder_stsb"))
    p.add_argument("--evaluate-only", action="store_true",
                   help="no training: score the model in --out on STSb test (one order and both orders "
                        "averaged) and add that to the results already in --results")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.evaluate_only:
        return evaluate_only(args)

    train_examples = stsb_regression("train", args.data_dir)[:args.limit]  # PairExample(a, b, score / 5)
    if args.both_orders:
        train_examples += [PairExample(e.b, e.a, e.label) for e in train_examples]
    dev_pairs, dev_gold = stsb_pairs("dev", args.data_dir, args.limit)
    test_pairs, test_gold = stsb_pairs("test", args.data_dir, args.limit)

    # The bi-encoder, untrained on STSb: the baseline the cross-encoder is compared with.
    bi = SentenceBert.from_pretrained(args.model)
    bi_test = evaluate_split(bi, "stsb", "test", args.data_dir) if args.limit is None else None
    print(f"bi-encoder (all-MiniLM-L6-v2, no STSb training) test Spearman: {bi_test and round(bi_test['spearman'], 2)}")

    torch.manual_seed(args.seed)  # the new head's initialisation
    model = CrossEncoder.from_pretrained(args.model, num_labels=1)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, warmup_ratio=args.warmup_ratio,
                         seed=args.seed, progress=False)

    def dev(objective) -> float:
        score = cross_scores(objective.model, dev_pairs, dev_gold)["spearman"]
        print(f"  dev Spearman after epoch: {score:.2f}", flush=True)
        return score

    t0 = time.perf_counter()
    state = train(CrossEncoderObjective(model), train_examples, config, dev=dev, out=args.out)  # checkpoint: <out>-checkpoint
    train_seconds = time.perf_counter() - t0

    best = CrossEncoder.from_pretrained(args.out)  # the epoch with the best dev score
    test = cross_scores(best, test_pairs, test_gold)
    print(f"cross-encoder test Spearman: {test['spearman']:.2f} ({test['pairs_per_second']:.0f} pairs/s)")

    results = {
        "recipe": {"init": args.model, "loss": "BCEWithLogits(logit, score / 5)", "epochs": args.epochs,
                   "both_orders": args.both_orders,
                   "batch_size": args.batch_size, "lr": args.lr, "warmup_ratio": args.warmup_ratio,
                   "seed": args.seed, "train_pairs": len(train_examples), "torch_threads": args.threads},
        "train_seconds": train_seconds, "epoch_seconds": state.epoch_seconds, "dev_spearman": state.dev_scores,
        "best_epoch": state.best_epoch, "loss_first_50": sum(state.losses[:50]) / len(state.losses[:50]),
        "loss_last_50": sum(state.losses[-50:]) / len(state.losses[-50:]),
        "cross_encoder_test": test, "bi_encoder_untrained_test": bi_test,
    }
    md = "\n".join([
        "| STSb test (Spearman × 100) | model | cost to find the best pair among n sentences |",
        "|---|---:|---|",
        f"| bi-encoder, all-MiniLM-L6-v2 as published | {bi_test['spearman']:.2f} | n BERT passes + one matrix product |"
        if bi_test else "| bi-encoder | (not run with --limit) | |",
        f"| cross-encoder, same BERT, {args.epochs} epoch(s) on STSb train{' (both orders)' if args.both_orders else ''} | {test['spearman']:.2f} | n(n-1)/2 BERT passes |",
        "",
        f"Training: {state.step} steps in {train_seconds / 60:.1f} min ({args.threads} CPU threads); dev Spearman per epoch: "
        + ", ".join(f"{s:.2f}" for s in state.dev_scores) + ".",
    ]) + "\n"
    results_path = Path(args.results)
    write_json(results_path.with_suffix(".json"), results)
    write_text(results_path.with_suffix(".md"), md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
