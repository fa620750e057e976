"""Regression objective on STS Benchmark, minisbert next to sentence-transformers, same machine, same run.

Recipe (Reimers & Gurevych 2019, section 4.2, on top of all-MiniLM-L6-v2): STSb train (5,749 pairs,
gold score / 5), 1 epoch, batch 16, AdamW lr 2e-5, weight decay 0.01, linear warm-up over 10% of the
steps then linear decay, gradient norm clipped at 1.0; cos(u, v) against the gold, mean squared error.

Measured: STSb test Spearman (×100) before and after, and the wall time of the training epoch
(training steps only: minisbert's ``TrainState.epoch_seconds``, the Trainer's ``train_runtime``) for

1. minisbert: ``train(RegressionObjective(model), ...)``;
2. sentence-transformers 6.2: ``SentenceTransformerTrainer`` with ``CosineSimilarityLoss`` and the same
   hyper-parameters (it needs ``datasets`` and ``accelerate``, which the project does not depend on:
   ``pip install datasets accelerate`` or put them on PYTHONPATH).

Then both step functions are timed again in alternating blocks of 10 batches (the same batches), so that
a change in machine load hits both sides: that ratio is the fairer one on a shared machine.

    python experiments/train_stsb_regression.py > experiments/results/stsb_regression.log 2>&1
"""

from __future__ import annotations

import os
import tempfile
import time

from common import REPO, STEncoder, log, machine, setup, write_results  # first: sets OMP_WAIT_POLICY

import torch

from minisbert.evaluate import evaluate_sts
from minisbert.examples import stsb_regression
from minisbert.objectives import RegressionObjective
from minisbert.sbert import SentenceBert
from minisbert.training import TrainConfig, sts_dev, train

SEED = 0


def triples(examples):
    return [(e.a, e.b, float(e.label)) for e in examples]


def main() -> None:
    data = setup()
    model_dir = REPO / "weights" / "all-MiniLM-L6-v2"
    train_examples = stsb_regression("train", data)
    dev_examples = stsb_regression("dev", data)
    test = triples(stsb_regression("test", data))
    results = {"recipe": {"epochs": 1, "batch_size": 16, "lr": 2e-5, "warmup_ratio": 0.1, "weight_decay": 0.01,
                          "max_grad_norm": 1.0, "seed": SEED, "train_pairs": len(train_examples)},
               "machine": machine()}

    # ---- minisbert ----------------------------------------------------------------------------------
    model = SentenceBert.from_pretrained(model_dir)
    before = evaluate_sts(model, test)["spearman"]
    log(f"minisbert before: STSb test Spearman {before:.2f}")
    objective = RegressionObjective(model)
    out = REPO / "runs" / "stsb-regression"
    state = train(objective, train_examples, TrainConfig(epochs=1, seed=SEED), dev=sts_dev(dev_examples), out=out)
    after = evaluate_sts(SentenceBert.from_pretrained(out), test)["spearman"]
    log(f"minisbert: epoch {state.epoch_seconds[0]:.1f} s, dev {state.dev_scores[0]:.2f}, test {after:.2f}")
    results["minisbert"] = {"test_spearman_before": before, "test_spearman_after": after,
                            "dev_spearman_after": state.dev_scores[0], "epoch_seconds": state.epoch_seconds[0],
                            "steps": state.step, "first_loss": state.losses[0], "last_loss": state.losses[-1],
                            "load_average_after": os.getloadavg()}
    write_results("stsb_regression", results)  # written after each part, so a later failure loses nothing

    # ---- sentence-transformers ----------------------------------------------------------------------
    import pyarrow
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

    st = SentenceTransformer(str(model_dir), device="cpu")
    st_before = evaluate_sts(STEncoder(st), test)["spearman"]
    # An explicit fingerprint: datasets would otherwise hash the table with dill, which fails for the
    # pyarrow/dill versions installed here (PicklingError on MonthDayNano).
    table = pyarrow.Table.from_pydict({"sentence1": [e.a for e in train_examples],
                                       "sentence2": [e.b for e in train_examples],
                                       "score": [float(e.label) for e in train_examples]})
    dataset = Dataset(table, fingerprint="stsb-train-regression")
    with tempfile.TemporaryDirectory() as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=tmp, num_train_epochs=1, per_device_train_batch_size=16, learning_rate=2e-5,
            # a float warmup_steps is the warm-up ratio in transformers 5 (warmup_ratio is deprecated)
            warmup_steps=0.1, weight_decay=0.01, max_grad_norm=1.0, seed=SEED, save_strategy="no",
            eval_strategy="no", report_to="none", use_cpu=True, logging_steps=50, disable_tqdm=True)
        trainer = SentenceTransformerTrainer(model=st, args=args, train_dataset=dataset, loss=CosineSimilarityLoss(st))
        started = time.perf_counter()
        metrics = trainer.train().metrics
        st_wall = time.perf_counter() - started
    st.eval()
    st_after = evaluate_sts(STEncoder(st), test)["spearman"]
    log(f"sentence-transformers: train_runtime {metrics['train_runtime']:.1f} s (wall {st_wall:.1f} s), "
        f"test {st_before:.2f} -> {st_after:.2f}")
    results["sentence_transformers"] = {"test_spearman_before": st_before, "test_spearman_after": st_after,
                                        "train_runtime_seconds": metrics["train_runtime"], "wall_seconds": st_wall,
                                        "train_loss": metrics.get("train_loss"), "load_average_after": os.getloadavg()}
    results["epoch_time_ratio_minisbert_over_st"] = state.epoch_seconds[0] / metrics["train_runtime"]
    write_results("stsb_regression", results)

    # ---- alternating blocks: the same batches through each library's training step -------------------
    results["alternating_blocks"] = alternating_blocks(model_dir, train_examples)
    write_results("stsb_regression", results)


def alternating_blocks(model_dir, examples, blocks: int = 3, steps: int = 10) -> dict:
    """ms per training step (forward, backward, clip, AdamW) of each library, in alternating blocks."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

    ours = RegressionObjective(SentenceBert.from_pretrained(model_dir)).train()
    ours.model.bert.use_sdpa = True  # as train() does
    st = SentenceTransformer(str(model_dir), device="cpu").train()
    st_loss = CosineSimilarityLoss(st)
    # fused AdamW on both sides: what minisbert's train() and transformers' Trainer (torch >= 2.8) use
    opt_ours = torch.optim.AdamW(ours.parameters(), lr=2e-5, fused=True)
    opt_st = torch.optim.AdamW(st.parameters(), lr=2e-5, fused=True)

    def step_ours(batch):
        loss = ours(batch)
        opt_ours.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ours.parameters(), 1.0)
        opt_ours.step()

    def step_st(batch):
        features = [st.preprocess([e.a for e in batch]), st.preprocess([e.b for e in batch])]
        loss = st_loss(features, torch.tensor([float(e.label) for e in batch]))
        opt_st.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(st.parameters(), 1.0)
        opt_st.step()

    order = torch.randperm(len(examples), generator=torch.Generator().manual_seed(1)).tolist()
    times = {"minisbert": [], "sentence_transformers": []}
    for block in range(blocks):
        batches = [[examples[i] for i in order[(block * steps + s) * 16:(block * steps + s + 1) * 16]]
                   for s in range(steps)]
        for name, step in (("minisbert", step_ours), ("sentence_transformers", step_st)):
            started = time.perf_counter()
            for batch in batches:
                step(batch)
            times[name].append(1000 * (time.perf_counter() - started) / steps)
            log(f"block {block}: {name} {times[name][-1]:.0f} ms/step")
    ratio = sum(times["minisbert"]) / sum(times["sentence_transformers"])
    log(f"alternating blocks: minisbert / sentence-transformers = {ratio:.3f}")
    return {"ms_per_step": times, "ratio_minisbert_over_st": ratio, "steps_per_block": steps}


if __name__ == "__main__":
    main()
