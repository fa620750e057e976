"""The SBERT paper's Table 1 from a BERT pre-trained here, on two CPU cores, and what came after the paper.

Reimers & Gurevych 2019, Table 1 (STSb test, Spearman × 100, no STS training): BERT's CLS vector 16.50,
averaged BERT token vectors 46.35, averaged GloVe 58.02, InferSent 68.03, SBERT-NLI-base 77.03. The shape
to reproduce: CLS < mean pooling < SBERT trained on NLI, from a BERT nobody has sentence-tuned.

    (a) pre-train a BERT (masked LM + next sentence, dropout off) on the public-domain corpus and the
        benchmark train sentences (never a dev or test sentence), with the pieces of the vocabulary that
        this text uses 20 times or more (minisbert.io.corpus.corpus_vocabulary)  python -m minisbert pretrain
    (b) STSb test and SICK-R test Spearman of the raw model: CLS vector, pooler output, mean of the tokens;
        the same for a random BERT of that size and vocabulary
    (g) in-batch negatives (MultipleNegativesRankingObjective) on SNLI's 27,195 (premise, entailment,
        contradiction) triplets: batch 128, 2 epochs, 10% warm-up, mean pooling, no text twice in a batch
    (f) SimCSE, unsupervised: the same objective on (s, s) pairs of 32,000 corpus sentences, dropout on
    (c) SBERT: the classification objective on SNLI train ([u; v; |u−v|], softmax, batch 16, 1 epoch,
        10% warm-up, mean pooling), then (b) again and SNLI test accuracy of the head
    (d) each of (g), (f), (c) from a randomly initialised BERT of the same size: what pre-training contributes
    (e) with --paper-lr: (c) at the paper's learning rate 2e-5, for comparison with the one chosen here
    (h) a second BERT, pre-trained as (a) but with the next-segment task on mean-pooled vectors in place of
        NSP (PretrainConfig.contrastive), its word vectors left at their random initialisation (frozen, so
        the MLM decoder is untied from them), and examples of 32 tokens, 128 a step (segments of about a
        sentence, the same 4,096 token slots a step), each step's examples neighbours in the text, so that
        a segment's negatives share its topic (Quick-Thoughts); then (b), (g), (f) and (c) from it: rows named
        *_next_segment, whose random-init controls are (d)'s (the same size, vocabulary and seed)
    Every model's anisotropy: the mean cosine of 1,000 random pairs of STSb test sentences.

    python experiments/table1.py                                    # the whole pipeline (its time: docs/pretraining.md)
    python experiments/table1.py --quick --out runs/table1-quick    # the same code in a minute (the tests)
    python experiments/table1.py --bert next_segment --pretrain-only --max-len 64 --batch-size 64 \
        --out runs/table1-64 --results runs/table1-64/results       # (h) on longer segments; then the
                                                                    # same --out and --results with --only ROW
    python experiments/table1.py --only mnrl_random_init --seed 1 --key mnrl_random_init_seed_1   # another seed

Results: experiments/results/table1/table1.json and three plots beside it (with --quick: under --out).
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import random
import sys
import time
from pathlib import Path

from common import REPO, RESULTS, log, machine, setup  # first: sets OMP_WAIT_POLICY

import numpy as np
import torch

from minisbert import BertModel, SentenceBert
from minisbert.bert import set_dropout
from minisbert.io.corpus import held_out_sentences, tokenize_corpus, write_train_sentences
from minisbert.io.data import SNLI_LABELS, load_sick, load_snli, load_stsb
from minisbert.evaluate import anisotropy, evaluate_sts, random_sentence_pairs
from minisbert.examples import PairExample, corpus_sentences, nli_triplets, simcse_pairs
from minisbert.io.files import write_json
from minisbert.speed.hardware import choose_precision, describe_cpu
from minisbert.objectives import ClassificationObjective, MultipleNegativesRankingObjective
from minisbert.pretraining import PRETRAIN_LOG, PretrainConfig, bert_config, corpus_tokenizer, pretrain
from minisbert.tokenizer import load_tokenizer
from minisbert.training import TrainConfig, train
from minisbert.io.weights import resolve_model_dir

MNRL_LR = 3e-4  # (g), from both starts; docs/pretraining.md compares 1e-4 and 1e-3
SIMCSE_LR = 1e-4  # (f), from both starts
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


def raw_scores(bert: BertModel, tokenizer, stsb, sick, max_len: int, random_pairs, pooler: bool = True) -> dict:
    """(b): the three sentence vectors a raw BERT offers, each with its anisotropy."""
    scores = {}
    for mode in ("cls", "mean"):
        model = SentenceBert(bert, tokenizer, pooling=mode, normalize=False, max_seq_length=max_len).eval()
        scores[mode] = sts_scores(model, stsb, sick) | {"anisotropy": round(anisotropy(model, random_pairs), 3)}
    if pooler:
        encoder = PoolerEncoder(bert, tokenizer, max_len)
        scores["pooler"] = sts_scores(encoder, stsb, sick) | {"anisotropy": round(anisotropy(encoder, random_pairs), 3)}
    return scores


def train_nli(bert: BertModel, tokenizer, train_pairs, test_pairs, stsb, sick, lr: float, precision: str,
              out: Path, max_len: int, random_pairs, seed: int = 0) -> dict:
    """(c): SBERT's classification objective on SNLI, then the scores and the head's SNLI test accuracy."""
    model = SentenceBert(bert, tokenizer, pooling="mean", normalize=False, max_seq_length=max_len)
    torch.manual_seed(seed)  # the head's initialisation
    objective = ClassificationObjective(model, SNLI_LABELS)
    config = TrainConfig(epochs=1, batch_size=16, lr=lr, warmup_ratio=0.1, seed=seed)
    started = time.perf_counter()
    # cache_enabled=False: autocast otherwise keeps the bf16 copy of each weight made at the first step for
    # as long as the context lasts, and every later forward would run the weights of step 1.
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16", cache_enabled=False):
        state = train(objective, train_pairs, config, out=out)
    seconds = time.perf_counter() - started
    model.eval()
    result = {"lr": lr, "steps": state.step, "seconds": round(seconds, 1), "loss_first_100": float(np.mean(state.losses[:100])),
              "loss_last_100": float(np.mean(state.losses[-100:])), **sts_scores(model, stsb, sick),
              "snli_test_accuracy": round(objective.accuracy(test_pairs), 2),  # percent
              "anisotropy": round(anisotropy(model, random_pairs), 3)}
    result |= {"seed": seed} if seed else {}  # recorded only when asked for
    return result


def train_in_batch(bert: BertModel, tokenizer, examples, lr: float, epochs: int, batch_size: int, max_len: int,
                   precision: str, out: Path, stsb, sick, random_pairs, dropout: float | None = None,
                   freeze_word_embeddings: bool = False, seed: int = 0) -> dict:
    """(f) and (g): in-batch negatives (MultipleNegativesRankingObjective, scale 20, cosine) on ``examples``,
    mean pooling, dropout on (the BERT's own 0.1, or ``dropout``), no text twice in a batch; then the scores
    and the anisotropy. With ``freeze_word_embeddings`` the word vectors stay as the BERT brought them."""
    if dropout is not None:
        set_dropout(bert, dropout)
    bert.embeddings.word_embeddings.weight.requires_grad_(not freeze_word_embeddings)
    model = SentenceBert(bert, tokenizer, pooling="mean", normalize=False, max_seq_length=max_len)
    objective = MultipleNegativesRankingObjective(model)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, warmup_ratio=0.1, seed=seed, precision=precision)
    started = time.perf_counter()
    state = train(objective, examples, config, out=out)
    seconds = time.perf_counter() - started
    model.eval()
    asked = {"dropout": dropout} if dropout is not None else {}  # the levers, recorded only when pulled
    asked |= {"word_embeddings": "frozen"} if freeze_word_embeddings else {}
    asked |= {"seed": seed} if seed else {}
    result = {"lr": lr, "epochs": epochs, "batch_size": batch_size, **asked, "rows": len(examples),
              "steps": state.step, "seconds": round(seconds, 1),
              "loss_first_20": round(float(np.mean(state.losses[:20])), 4),
              "loss_last_20": round(float(np.mean(state.losses[-20:])), 4), **sts_scores(model, stsb, sick),
              "anisotropy": round(anisotropy(model, random_pairs), 3)}
    return result


def plots(results: dict, bert_dir: Path, folder: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not (bert_dir / PRETRAIN_LOG).is_file():  # only the next-segment BERT was pre-trained
        bert_dir = bert_dir.with_name(BERTS["next_segment"])
    pre = json.loads((bert_dir / PRETRAIN_LOG).read_text())
    losses = np.array(pre["losses"])
    window = max(1, len(losses) // 100)
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(np.arange(len(losses)) + 1, losses, color="0.8", lw=0.5, label="every step")
    ax.plot(np.arange(len(smooth)) + window, smooth, lw=1.5, label=f"mean of {window} steps")
    ax.plot([e["step"] for e in pre["evals"]], [e["mlm_loss"] for e in pre["evals"]],
            "o-", ms=3, label="held-out MLM loss")
    task = "next segment" if pre["settings"].get("contrastive") else "NSP"
    ax.set(xlabel="step", ylabel="loss", title=f"Pre-training loss (training: MLM + {task}; held out: MLM)")
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

    raw = results.get("raw", {})
    rows = [(label, raw[key]["stsb_test"], paper) for key, label, paper in (
        ("cls", "BERT CLS", PAPER["BERT CLS-vector"]), ("pooler", "BERT pooler", None),
        ("mean", "avg. BERT", PAPER["Avg. BERT embeddings"])) if key in raw]
    for key, label, paper in (("nli_random_init", "random init\n+ NLI", None), ("nli", "SBERT-NLI", PAPER["SBERT-NLI-base"]),
                              ("simcse_random_init", "random init\n+ SimCSE", None), ("simcse", "SimCSE", None),
                              ("mnrl_random_init", "random init\n+ MNRL", None), ("mnrl", "SBERT-MNRL", None),
                              ("mnrl_next_segment", "SBERT-MNRL\nnext-segment\nBERT", None)):
        if key in results:
            rows.append((label, results[key]["stsb_test"], paper))
    fig, ax = plt.subplots(figsize=(10, 4))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r[1] for r in rows], 0.4, label=f"ours ({results['size']}, pre-trained here)")
    ax.bar(x + 0.2, [r[2] or 0 for r in rows], 0.4, label="paper (BERT-base)", color="0.7")
    ax.axhline(PAPER["Avg. GloVe embeddings"], ls="--", color="C2", lw=1, label="avg. GloVe (paper)")
    ax.axhline(PAPER["InferSent - GloVe"], ls=":", color="C3", lw=1, label="InferSent (paper)")
    ax.set_xticks(x, [r[0] for r in rows], fontsize=8)
    ax.set(ylabel="STSb test Spearman × 100", title="Table 1: before and after SBERT training")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "stsb_before_after.png", dpi=120)
    plt.close("all")


ROWS = ("raw", "raw_random_init", "mnrl", "mnrl_random_init", "simcse", "simcse_random_init", "nli", "nli_random_init",
        "nli_paper_lr")
# (h): the rows from the BERT pre-trained with the next-segment task; their controls are the rows above.
NEXT_SEGMENT = "_next_segment"
NEXT_SEGMENT_ROWS = tuple(r + NEXT_SEGMENT for r in ("raw", "mnrl", "simcse", "nli"))
BERTS = {"nsp": "bert", "next_segment": "bert" + NEXT_SEGMENT}  # the pre-trainings and their folders in OUT


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=45.0, help="pre-training budget (default 45)")
    p.add_argument("--size", default="mini", help="BERT size (default mini: L4/H256)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="pre-training batch (default 32 for (a), 128 for (h); with --quick 16 and 32)")
    p.add_argument("--max-len", type=int, default=None,
                   help="pre-training example length in tokens (default 128 for (a), 32 for (h); with --quick 64 "
                        "and 32); the rows keep theirs")
    p.add_argument("--lr", type=float, default=5e-4, help="pre-training peak learning rate")
    p.add_argument("--vocab-min-count", type=int, default=20,
                   help="pre-train on the pieces of the vocabulary that the text uses at least this often "
                        "(default 20; 0: all 30,522; see docs/pretraining.md)")
    p.add_argument("--dropout", type=float, default=0.0,
                   help="dropout while pre-training (default 0: two passes over the corpus, see docs/pretraining.md)")
    p.add_argument("--contiguous-batches", action=argparse.BooleanOptionalAction, default=True,
                   help="(h) pre-trains on batches of consecutive examples, as Quick-Thoughts did (the default; "
                        "--no-contiguous-batches shuffles them; docs/pretraining.md)")
    p.add_argument("--bert", choices=["both", *BERTS], default="both",
                   help="which BERT to pre-train and run the rows of: nsp (a), next_segment (h), or both (default)")
    p.add_argument("--nli-lr", type=float, default=3e-4, help="SBERT learning rate (default 3e-4, see docs/pretraining.md)")
    p.add_argument("--paper-lr", action=argparse.BooleanOptionalAction, default=False,
                   help="also train SBERT at the paper's 2e-5 (step e; off by default)")
    p.add_argument("--mnrl-lr", type=float, default=MNRL_LR, help=f"(g) learning rate (default {MNRL_LR})")
    p.add_argument("--mnrl-epochs", type=int, default=2, help="(g) epochs over the SNLI triplets (default 2)")
    p.add_argument("--mnrl-batch-size", type=int, default=128,
                   help="(g) triplets per batch (default 128: each anchor meets 127 other rows; see docs/pretraining.md)")
    p.add_argument("--mnrl-dropout", type=float, default=None,
                   help="(g) dropout while training (default: the BERT's own, 0.1)")
    p.add_argument("--mnrl-freeze-word-embeddings", action="store_true",
                   help="(g) keep the word vectors as the BERT brings them (random for a random BERT)")
    p.add_argument("--simcse-lr", type=float, default=SIMCSE_LR, help=f"(f) learning rate (default {SIMCSE_LR})")
    p.add_argument("--simcse-sentences", type=int, default=32_000,
                   help="(f) corpus sentences drawn for SimCSE (default 32,000: 500 steps of 64)")
    p.add_argument("--out", default=str(REPO / "runs" / "table1"), help="folder for the models and caches")
    p.add_argument("--results", default=None, help="results folder (default experiments/results/table1; "
                                                   "with --quick: OUT/results)")
    p.add_argument("--quick", action="store_true", help="a tiny model, a few steps and small slices: tests the code")
    p.add_argument("--pretrain-only", action="store_true", help="stop after the pre-training, (a) or (h) or both")
    p.add_argument("--only", choices=ROWS + NEXT_SEGMENT_ROWS, default=None,
                   help="run this row alone on the BERT in OUT/bert (OUT/bert_next_segment for *_next_segment rows), "
                        "adding it to an earlier run's results")
    p.add_argument("--key", default=None,
                   help="with --only: store the result and the model under this name (default: the row's name), "
                        "e.g. mnrl_lr_1e-4 for a run at another --mnrl-lr")
    p.add_argument("--swap", choices=["word_embeddings", "encoder"], default=None,
                   help="with --only: keep only this part of the pre-trained BERT, the rest random "
                        "(word_embeddings: a random BERT with our word vectors; encoder: our BERT with random word "
                        "vectors)")
    p.add_argument("--seed", type=int, default=0,
                   help="the rows' seed: a random BERT's initialisation, the batches' order, dropout (default 0)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default 2, the machine's cores)")
    args = p.parse_args(argv)
    if args.swap and not args.only:
        p.error("--swap goes with --only")
    if args.seed < 0:
        p.error(f"--seed: {args.seed} is negative")
    if args.mnrl_dropout is not None and not 0 <= args.mnrl_dropout < 1:
        p.error(f"--mnrl-dropout: {args.mnrl_dropout} is not a probability in [0, 1)")

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
    triplets = nli_triplets("train", data_dir)
    sentences = corpus_sentences(data_dir)
    corpus = sorted(glob.glob(str(data_dir / "corpus" / "*.txt")))
    size, max_len, simcse_len = args.size, 128, 32  # SimCSE cut its sentences to 32 tokens
    simcse_count = args.simcse_sentences
    config = PretrainConfig(size=size, max_len=max_len, batch_size=32, lr=args.lr, dropout=args.dropout,
                            minutes=args.minutes, nsp=True, seed=0, precision="auto", eval_every=200,
                            checkpoint_every=500)
    # (h) reads 32-token examples, four times as many a step: the same 4,096 token slots as (a), and each
    # segment meets 127 others in its batch (docs/pretraining.md, "Shorter segments"), its neighbours in
    # the text unless --no-contiguous-batches ("Neighbours as negatives").
    shape = {"nsp": (128, 32), "next_segment": (32, 128)}  # (max_len, batch_size)
    if args.quick:
        size, max_len, simcse_len = "L2-H64-A2", 64, 32
        corpus = corpus[:1]
        stsb, sick, snli_train, snli_test = stsb[:200], sick[:200], snli_train[:400], snli_test[:200]
        triplets, simcse_count = triplets[:160], 160
        config = PretrainConfig(size=size, max_len=max_len, batch_size=16, lr=1e-3, max_steps=30,
                                nsp=True, eval_every=10, eval_examples=64, progress=False)
        shape = {"nsp": (64, 16), "next_segment": (32, 32)}
    # 1,000 random pairs of distinct STSb test sentences: the anisotropy of every model is measured on them.
    random_pairs = random_sentence_pairs(stsb, 1000, seed=0)
    simcse_rows = simcse_pairs(random.Random(0).sample(sentences, simcse_count))
    started = time.perf_counter()
    results = {"paper": PAPER, "size": size, "machine": machine() | {"cpu": describe_cpu(), "precision": precision},
               "pretraining": {}, "started": time.strftime("%Y-%m-%d %H:%M:%S")}

    def save():
        write_json(results_dir / "table1.json", results)

    bert_dir = out / BERTS["nsp"]

    def run(name: str) -> dict:
        """One row by name, on the BERT in OUT/bert (or OUT/bert_next_segment) or on a random one of its size
        and vocabulary."""
        source = out / (BERTS["next_segment"] if name.endswith(NEXT_SEGMENT) else BERTS["nsp"])
        folder = out / (args.key or name)  # the full name: (h)'s models beside (a)'s, not over them
        name = name.removesuffix(NEXT_SEGMENT)
        tok = load_tokenizer(source)
        torch.manual_seed(args.seed)
        random_bert = BertModel(bert_config(size, len(tok.vocab), max_len))
        ours = BertModel.from_pretrained(source) if args.swap or not name.endswith("random_init") else None
        bert = random_bert if ours is None else ours
        if args.swap:  # which part of pre-training helps or hurts: one part ours, the rest random
            bert, donor = (random_bert, ours) if args.swap == "word_embeddings" else (ours, random_bert)
            bert.embeddings.word_embeddings.load_state_dict(donor.embeddings.word_embeddings.state_dict())
        if name.startswith("raw"):
            result = raw_scores(bert, tok, stsb, sick, max_len, random_pairs, pooler=name == "raw" and source == bert_dir)
        elif name.startswith("mnrl"):
            result = train_in_batch(bert, tok, triplets, args.mnrl_lr, args.mnrl_epochs, args.mnrl_batch_size,
                                    max_len, precision, folder, stsb, sick, random_pairs, args.mnrl_dropout,
                                    args.mnrl_freeze_word_embeddings, args.seed)
        elif name.startswith("simcse"):
            result = train_in_batch(bert, tok, simcse_rows, args.simcse_lr, 1, 64, simcse_len, precision, folder,
                                    stsb, sick, random_pairs, seed=args.seed)
        else:
            lr = 2e-5 if name == "nli_paper_lr" else args.nli_lr
            result = train_nli(bert, tok, snli_train, snli_test, stsb, sick, lr, precision, folder, max_len,
                               random_pairs, args.seed)
        return result

    if args.only:  # one row on the BERT of an earlier run; read, add and write the results at the end
        result = run(args.only)
        log(f"({args.key or args.only}) {result}")
        results = json.loads((results_dir / "table1.json").read_text()) | {args.key or args.only: result}
        save()
        plots(results, bert_dir, results_dir)
        return 0

    # (a) pre-train, on the pieces of the vocabulary that the text uses often enough to learn.
    cache = out / "cache"
    exclude = frozenset(held_out_sentences(data_dir))
    paths = corpus + [str(write_train_sentences(cache / "benchmark_train_sentences.txt", data_dir))]
    if args.vocab_min_count:
        full = tokenizer
        tokenizer = corpus_tokenizer(paths, full, args.vocab_min_count, cache, exclude)
        results["vocabulary"] = {"min_count": args.vocab_min_count, "pieces": len(tokenizer.vocab),
                                 "of": len(full.vocab),
                                 "tokens_with_all_pieces": int(len(tokenize_corpus(paths, full, cache, exclude).ids)),
                                 "tokens": int(len(tokenize_corpus(paths, tokenizer, cache, exclude).ids))}
        log(f"vocabulary: {results['vocabulary']}")
    berts = list(BERTS) if args.bert == "both" else [args.bert]
    for which in berts:
        # (h) differs from (a) in its sentence task, its word vectors (random, frozen, and so untied from the
        # decoder) and the shape of its examples: the same text, vocabulary, size, budget and seed.
        length, batch = shape[which]
        settings = dataclasses.replace(config, max_len=args.max_len or length, batch_size=args.batch_size or batch)
        if which == "next_segment":
            settings = dataclasses.replace(settings, nsp=False, contrastive=True, tie_word_embeddings=False,
                                           freeze_word_embeddings=True, contiguous_batches=args.contiguous_batches)
        key = "pretraining" + ("" if which == "nsp" else NEXT_SEGMENT)
        begun = started if which == berts[0] else time.perf_counter()  # the first one's time includes the data
        state = pretrain(paths, out / BERTS[which], settings, tokenizer=tokenizer, cache_dir=cache, exclude=exclude,
                         log=log)
        results[key] = {
            "config": size, "objective": "MLM + NSP" if which == "nsp" else "MLM + next segment, word vectors frozen",
            "max_len": settings.max_len, "batch_size": settings.batch_size,
            **({"contiguous_batches": True} if settings.contiguous_batches else {}), "steps": state.step,
            "tokens": state.tokens, "minutes": round(state.seconds / 60, 1),
            "tokens_per_second": round(state.tokens / state.seconds), "held_out": state.evals[-1],
            "wall_minutes_with_data": round((time.perf_counter() - begun) / 60, 1)}
        log(f"({'a' if which == 'nsp' else 'h'}) pre-trained: {results[key]}")
        save()
    if args.pretrain_only:
        return 0

    # (b) the raw BERT's sentence vectors, and a random one's; (g), (f) and (c)-(e), each with its control;
    # then (h), the same rows from the second BERT.
    rows = [r for r in ROWS if r != "nli_paper_lr" or args.paper_lr] if "nsp" in berts else []
    rows += list(NEXT_SEGMENT_ROWS) if "next_segment" in berts else []
    for name in rows:
        results[name] = run(name)
        log(f"({name}) {results[name]}")
        save()
        plots(results, bert_dir, results_dir)
    results["wall_minutes"] = round((time.perf_counter() - started) / 60, 1)
    save()
    plots(results, bert_dir, results_dir)
    log(f"done in {results['wall_minutes']} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
