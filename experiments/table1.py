"""The SBERT paper's Table 1 from a BERT pre-trained here, on two CPU cores.

Reimers & Gurevych 2019, Table 1 (STSb test, Spearman × 100, no STS training): BERT's CLS vector 16.50,
averaged BERT token vectors 46.35, averaged GloVe 58.02, InferSent 68.03, SBERT-NLI-base 77.03. The shape
to reproduce: CLS < mean pooling < SBERT trained on NLI, from a BERT nobody has sentence-tuned.

    (a) pre-train a BERT (masked LM + next sentence, dropout off) on the public-domain corpus and the
        benchmark train sentences (never a dev or test sentence)              python -m minisbert pretrain
    (b) STSb test and SICK-R test Spearman of the raw model: CLS vector, pooler output, mean of the tokens
    (c) SBERT: the classification objective on SNLI train ([u; v; |u−v|], softmax, batch 16, 1 epoch,
        10% warm-up, mean pooling), then (b) again and SNLI test accuracy of the head
    (d) (c) from a randomly initialised BERT of the same size: what pre-training contributes
    (e) (c) at the paper's learning rate 2e-5, for comparison with the one chosen for a small model

    python experiments/table1.py                                    # the whole pipeline, about two hours
    python experiments/table1.py --quick --out runs/table1-quick    # the same code in a minute (the tests)

Results: experiments/results/table1/table1.json and three plots beside it (with --quick: under --out).
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import time
from pathlib import Path

from common import REPO, RESULTS, log, machine, setup  # first: sets OMP_WAIT_POLICY

import numpy as np
import torch

from minisbert import BertModel, SentenceBert
from minisbert.io.corpus import held_out_sentences, write_train_sentences
from minisbert.io.data import SNLI_LABELS, load_sick, load_snli, load_stsb
from minisbert.evaluate import evaluate_sts
from minisbert.examples import PairExample
from minisbert.io.files import write_json
from minisbert.speed.hardware import choose_precision, describe_cpu
from minisbert.objectives import ClassificationObjective
from minisbert.pretraining import PRETRAIN_LOG, PretrainConfig, bert_config, pretrain
from minisbert.tokenizer import load_tokenizer
from minisbert.training import TrainConfig, train
from minisbert.io.weights import resolve_model_dir

PAPER = {"Avg. GloVe embeddings": 58.02, "Avg. BERT embeddings": 46.35, "BERT CLS-vector": 16.50,
         "InferSent - GloVe": 68.03, "SBERT-NLI-base": 77.03}


class PoolerEncoder:
    """BERT's pooler output, tanh(dense(h_CLS)), behind ``encode`` (the vector NSP was trained on)."""

    def __init__(self, bert: BertModel, tokenizer, max_len: int):
        self.bert, self.tokenizer, self.max_len = bert.eval(), tokenizer, max_len

    @torch.no_grad()
    def encode(self, sentences, batch_size=32, convert_to="torch", **_):
        rows = []
        for i in range(0, len(sentences), batch_size):
            batch = self.tokenizer(sentences[i:i + batch_size], max_length=self.max_len)
            rows.append(self.bert(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]).pooler_output)
        return torch.cat(rows)


def sts_scores(encoder, stsb, sick) -> dict:
    return {"stsb_test": round(evaluate_sts(encoder, stsb)["spearman"], 2),
            "sickr_test": round(evaluate_sts(encoder, sick)["spearman"], 2)}


def raw_scores(bert: BertModel, tokenizer, stsb, sick, max_len: int) -> dict:
    """(b): the three sentence vectors a raw BERT offers."""
    scores = {}
    for mode in ("cls", "mean"):
        model = SentenceBert(bert, tokenizer, pooling=mode, normalize=False, max_seq_length=max_len).eval()
        scores[mode] = sts_scores(model, stsb, sick)
    scores["pooler"] = sts_scores(PoolerEncoder(bert, tokenizer, max_len), stsb, sick)
    return scores


def train_nli(bert: BertModel, tokenizer, train_pairs, test_pairs, stsb, sick, lr: float, precision: str,
              out: Path, max_len: int) -> dict:
    """(c): SBERT's classification objective on SNLI, then the scores and the head's SNLI test accuracy."""
    model = SentenceBert(bert, tokenizer, pooling="mean", normalize=False, max_seq_length=max_len)
    torch.manual_seed(0)  # the head's initialisation
    objective = ClassificationObjective(model, SNLI_LABELS)
    config = TrainConfig(epochs=1, batch_size=16, lr=lr, warmup_ratio=0.1, seed=0)
    started = time.perf_counter()
    # cache_enabled=False: autocast otherwise keeps the bf16 copy of each weight made at the first step for
    # as long as the context lasts, and every later forward would run the weights of step 1.
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16", cache_enabled=False):
        state = train(objective, train_pairs, config, out=out)
    seconds = time.perf_counter() - started
    model.eval()
    result = {"lr": lr, "steps": state.step, "seconds": round(seconds, 1), "loss_first_100": float(np.mean(state.losses[:100])),
              "loss_last_100": float(np.mean(state.losses[-100:])), **sts_scores(model, stsb, sick),
              "snli_test_accuracy": round(objective.accuracy(test_pairs), 2)}  # percent
    log(f"  NLI lr {lr}: {result}")
    return result


def plots(results: dict, bert_dir: Path, folder: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pre = json.loads((bert_dir / PRETRAIN_LOG).read_text())
    losses = np.array(pre["losses"])
    window = max(1, len(losses) // 100)
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(np.arange(len(losses)) + 1, losses, color="0.8", lw=0.5, label="every step")
    ax.plot(np.arange(len(smooth)) + window, smooth, lw=1.5, label=f"mean of {window} steps")
    ax.plot([e["step"] for e in pre["evals"]], [e["mlm_loss"] for e in pre["evals"]],
            "o-", ms=3, label="held-out MLM loss")
    ax.set(xlabel="step", ylabel="loss", title="Pre-training loss (training: MLM + NSP; held out: MLM)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "pretrain_loss.png", dpi=120)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    tokens = [e["tokens"] / 1e6 for e in pre["evals"]]
    ax.plot(tokens, [100 * e["accuracy"] for e in pre["evals"]], "o-", ms=3, label="masked-token accuracy")
    ax.plot(tokens, [100 * e["most_frequent_accuracy"] for e in pre["evals"]], "--", label="always the most frequent token")
    ax.set(xlabel="tokens seen (millions)", ylabel="held-out accuracy (%)", title="Masked-LM accuracy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "mlm_accuracy.png", dpi=120)

    rows = [("BERT CLS", results["raw"]["cls"]["stsb_test"], PAPER["BERT CLS-vector"]),
            ("BERT pooler", results["raw"]["pooler"]["stsb_test"], None),
            ("avg. BERT", results["raw"]["mean"]["stsb_test"], PAPER["Avg. BERT embeddings"])]
    if "nli_random_init" in results:
        rows.append(("random init\n+ NLI", results["nli_random_init"]["stsb_test"], None))
    if "nli" in results:
        rows.append(("SBERT-NLI", results["nli"]["stsb_test"], PAPER["SBERT-NLI-base"]))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r[1] for r in rows], 0.4, label=f"ours ({results['size']}, pre-trained here)")
    ax.bar(x + 0.2, [r[2] or 0 for r in rows], 0.4, label="paper (BERT-base)", color="0.7")
    ax.axhline(PAPER["Avg. GloVe embeddings"], ls="--", color="C2", lw=1, label="avg. GloVe (paper)")
    ax.set_xticks(x, [r[0] for r in rows])
    ax.set(ylabel="STSb test Spearman × 100", title="Table 1: before and after SBERT training")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "stsb_before_after.png", dpi=120)
    plt.close("all")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=75.0,
                   help="pre-training budget (default 75; timed from the first steps, it came to 51 minutes)")
    p.add_argument("--size", default="mini", help="BERT size (default mini: L4/H256)")
    p.add_argument("--batch-size", type=int, default=32, help="pre-training batch (default 32)")
    p.add_argument("--lr", type=float, default=5e-4, help="pre-training peak learning rate")
    p.add_argument("--dropout", type=float, default=0.0,
                   help="dropout while pre-training (default 0: two passes over the corpus, see docs/pretraining.md)")
    p.add_argument("--nli-lr", type=float, default=3e-4, help="SBERT learning rate (default 3e-4, see docs/pretraining.md)")
    p.add_argument("--paper-lr", action=argparse.BooleanOptionalAction, default=True,
                   help="also train at the paper's 2e-5 (step e)")
    p.add_argument("--out", default=str(REPO / "runs" / "table1"), help="folder for the models and caches")
    p.add_argument("--results", default=None, help="results folder (default experiments/results/table1; "
                                                   "with --quick: OUT/results)")
    p.add_argument("--quick", action="store_true", help="a tiny model, a few steps and small slices: tests the code")
    p.add_argument("--only", choices=["nli", "nli_random_init", "nli_paper_lr"], default=None,
                   help="run one of (c), (d), (e) alone on the BERT in OUT/bert, adding it to an earlier run's results")
    p.add_argument("--key", default=None,
                   help="with --only: store the result and the model under this name (default: the run's name), "
                        "e.g. nli_lr_1e-3 for a run at another --nli-lr")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default 2, the machine's cores)")
    args = p.parse_args(argv)

    data_dir = setup()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    results_dir = Path(args.results) if args.results else (out / "results" if args.quick else RESULTS / "table1")
    results_dir.mkdir(parents=True, exist_ok=True)
    precision = choose_precision("auto")
    log(f"cpu: {describe_cpu()}; precision {precision}")

    tokenizer = load_tokenizer(resolve_model_dir("all-MiniLM-L6-v2"))  # its uncased WordPiece vocabulary only
    stsb, sick = load_stsb("test", data_dir), load_sick("test", data_dir)
    snli_train = [PairExample(r.premise, r.hypothesis, r.label) for r in load_snli("train", data_dir)]
    snli_test = [PairExample(r.premise, r.hypothesis, r.label) for r in load_snli("test", data_dir)]
    corpus = sorted(glob.glob(str(data_dir / "corpus" / "*.txt")))
    size, max_len = args.size, 128
    config = PretrainConfig(size=size, max_len=max_len, batch_size=args.batch_size, lr=args.lr, dropout=args.dropout,
                            minutes=args.minutes, nsp=True, seed=0, precision="auto", eval_every=200,
                            checkpoint_every=500)
    if args.quick:
        size, max_len = "L2-H64-A2", 64
        corpus = corpus[:1]
        stsb, sick, snli_train, snli_test = stsb[:200], sick[:200], snli_train[:400], snli_test[:200]
        config = PretrainConfig(size=size, max_len=max_len, batch_size=16, lr=1e-3, max_steps=30, nsp=True,
                                eval_every=10, eval_examples=64, progress=False)
    started = time.perf_counter()
    results = {"paper": PAPER, "size": size, "machine": machine() | {"cpu": describe_cpu(), "precision": precision},
               "pretraining": {}, "started": time.strftime("%Y-%m-%d %H:%M:%S")}

    def save():
        write_json(results_dir / "table1.json", results)

    bert_dir = out / "bert"
    def nli(name: str) -> dict:
        """(c), (d) or (e) by name."""
        if name == "nli_random_init":
            torch.manual_seed(0)
            bert = BertModel(bert_config(size, len(tokenizer.vocab), max_len))
        else:
            bert = BertModel.from_pretrained(bert_dir)
        lr = 2e-5 if name == "nli_paper_lr" else args.nli_lr
        folder = out / (args.key or name)
        return train_nli(bert, tokenizer, snli_train, snli_test, stsb, sick, lr, precision, folder, max_len)

    if args.only:  # one NLI run on the BERT of an earlier run; read, add and write the results at the end
        result = nli(args.only)
        results = json.loads((results_dir / "table1.json").read_text()) | {args.key or args.only: result}
        save()
        plots(results, bert_dir, results_dir)
        return 0

    # (a) pre-train.
    cache = out / "cache"
    exclude = frozenset(held_out_sentences(data_dir))
    paths = corpus + [str(write_train_sentences(cache / "benchmark_train_sentences.txt", data_dir))]
    state = pretrain(paths, bert_dir, config, tokenizer=tokenizer, cache_dir=cache, exclude=exclude, log=log)
    last = state.evals[-1]
    results["pretraining"] = {
        "config": size, "steps": state.step, "tokens": state.tokens, "minutes": round(state.seconds / 60, 1),
        "tokens_per_second": round(state.tokens / state.seconds), "held_out": last,
        "wall_minutes_with_data": round((time.perf_counter() - started) / 60, 1)}
    log(f"(a) pre-trained: {results['pretraining']}")
    save()

    # (b) the raw BERT's sentence vectors.
    bert = BertModel.from_pretrained(bert_dir)
    results["raw"] = raw_scores(bert, tokenizer, stsb, sick, max_len)
    log(f"(b) raw BERT: {results['raw']}")
    save()

    # (c) SBERT on SNLI from our BERT, (d) from a random BERT, (e) at the paper's learning rate.
    for name in ("nli", "nli_random_init") + (("nli_paper_lr",) if args.paper_lr else ()):
        results[name] = nli(name)
        save()
        plots(results, bert_dir, results_dir)
    results["wall_minutes"] = round((time.perf_counter() - started) / 60, 1)
    save()
    plots(results, bert_dir, results_dir)
    log(f"done in {results['wall_minutes']} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
