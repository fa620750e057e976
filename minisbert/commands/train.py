"""``python -m minisbert train --objective regression --data stsb --epochs 1 --out runs/stsb``.

Fine-tunes a SentenceBert with one of the SBERT objectives on a benchmark's train split, evaluates on
its dev split after every epoch and keeps the best model in ``--out`` (a sentence-transformers folder,
plus ``head.safetensors``/``head.json`` for classification). ``--test`` evaluates the kept model on the
test split at the end.

    objective        data                  trains on                          dev score
    regression       stsb | sick           (a, b, gold scaled to [0, 1])      Spearman of cos(u, v), ×100
    classification   sick                  (a, b, entailment label)           accuracy (%)
    triplet          sick                  (anchor, entailed, contradicting)  SICK-R Spearman, ×100
    mnrl             snli                  (premise, entailed, contradicting) STSb Spearman, ×100
    simcse           corpus | snli | FILE  (s, s), dropout on                 STSb Spearman, ×100

After the paper: ``mnrl`` is in-batch negatives on SNLI's triplets (``nli_triplets``), ``simcse`` the same
objective on (s, s) pairs of the pre-training corpus' sentences, SNLI's, or a UTF-8 file's (one sentence a
line). Both build batches with no text twice (``no_duplicate_batches``); ``--test`` scores STSb test.
"""

from __future__ import annotations

COMBINATIONS = {"regression": ("stsb", "sick"), "classification": ("sick",), "triplet": ("sick",),
                "mnrl": ("snli",), "simcse": ("corpus", "snli", "FILE")}
IN_BATCH_NEGATIVES = ("mnrl", "simcse")  # MultipleNegativesRankingObjective


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="fine-tune with an SBERT objective, in-batch negatives (mnrl) or SimCSE")
    p.add_argument("--objective", required=True, choices=sorted(COMBINATIONS))
    p.add_argument("--data", required=True, metavar="DATA",
                   help="stsb or sick (regression, classification, triplet), snli (mnrl); for simcse: corpus, "
                        "snli or a UTF-8 FILE with one sentence a line")
    p.add_argument("--out", required=True, help="folder for the trained model (replaced if it is a model folder)")
    p.add_argument("--model", default="all-MiniLM-L6-v2", help="model folder or fetched model name to start from")
    p.add_argument("--data-dir", default=None,
                   help="folder with stsbenchmark/, sick/, snli/ and corpus/ (default: $MINISBERT_DATA)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-5, help="learning rate of the encoder")
    p.add_argument("--head-lr", type=float, default=None, help="learning rate of the classifier head (default: --lr)")
    p.add_argument("--warmup-ratio", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-seq-length", type=int, default=None, help="truncate inputs (default: the model's)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N train and dev examples")
    p.add_argument("--concatenation", default="u,v,|u-v|",
                   help="classifier features, comma-separated among u, v, |u-v|, u*v (default: the paper's)")
    p.add_argument("--head-warmup-epochs", type=int, default=0,
                   help="first train the head alone on frozen vectors for this many epochs (at lr 1e-3)")
    p.add_argument("--distance", default="euclidean", choices=["euclidean", "cosine", "manhattan"],
                   help="triplet distance")
    p.add_argument("--margin", type=float, default=1.0, help="triplet margin")
    p.add_argument("--scale", type=float, default=20.0, help="mnrl/simcse: factor on the similarities (20)")
    p.add_argument("--similarity", default="cosine", choices=["cosine", "dot"], help="mnrl/simcse similarity")
    p.add_argument("--symmetric", action="store_true",
                   help="mnrl/simcse: also each positive picks its anchor; the two losses averaged")
    p.add_argument("--checkpoint-dir", default=None, help="default: <out>-checkpoint")
    p.add_argument("--checkpoint-every", type=int, default=None, help="also checkpoint every N steps")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    p.add_argument("--test", action="store_true", help="evaluate the kept model on the test split at the end")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--max-steps", type=int, default=None,
                   help="end after this many optimizer steps (the learning-rate schedule spans them)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"],
                   help="bf16: forward under autocast in bfloat16, fast on CPUs with bf16 instructions; "
                        "auto: bf16 where the CPU (or GPU) has them (default fp32)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (under torchrun each rank takes cuda:LOCAL_RANK)")
    p.add_argument("--no-dropout", action="store_true",
                   help="dropout off: every step a deterministic function of the weights and the batch")
    p.set_defaults(run=run)


def run(args) -> int:
    import torch

    from .. import examples as ex
    from ..objectives import (ClassificationObjective, MultipleNegativesRankingObjective, RegressionObjective,
                              TripletObjective)
    from ..sbert import SentenceBert
    from ..training import TrainConfig, accuracy_dev, sts_dev, train

    if args.data not in COMBINATIONS[args.objective] and args.objective != "simcse":
        raise ValueError(f"--objective {args.objective} trains on {' or '.join(COMBINATIONS[args.objective])}, "
                         f"not {args.data}")
    if args.objective in IN_BATCH_NEGATIVES and args.batch_size < 2:
        raise ValueError(f"--batch-size {args.batch_size}: --objective {args.objective} needs at least 2, since "
                         f"each row's negatives are the other rows of its batch")
    if args.objective == "simcse" and args.no_dropout:
        raise ValueError("--no-dropout: SimCSE's two views of a sentence differ only by dropout; leave it on")
    if args.limit is not None and args.limit <= 0:
        raise ValueError(f"--limit must be a positive number of examples, got {args.limit}")
    if args.head_warmup_epochs < 0:
        raise ValueError(f"--head-warmup-epochs must be >= 0, got {args.head_warmup_epochs}")
    if args.head_warmup_epochs and args.objective != "classification":
        raise ValueError("--head-warmup-epochs only applies to --objective classification")

    # Read the data first: a missing file is reported before the model is loaded.
    limit = slice(None, args.limit)
    if args.objective == "classification":
        train_examples = ex.sick_classification("train", args.data_dir)[limit]
        dev_examples = ex.sick_classification("dev", args.data_dir)[limit]
    elif args.objective == "triplet":
        train_examples = ex.sick_triplets("train", args.data_dir)[limit]
        dev_examples = ex.sick_regression("dev", args.data_dir)[limit]  # SICK-R: is relatedness ranked right?
    elif args.objective in IN_BATCH_NEGATIVES:
        train_examples = _in_batch_examples(args)[limit]
        dev_examples = ex.stsb_regression("dev", args.data_dir)[limit]
    else:
        reader = ex.stsb_regression if args.data == "stsb" else ex.sick_regression
        train_examples = reader("train", args.data_dir)[limit]
        dev_examples = reader("dev", args.data_dir)[limit]

    # Under torchrun every rank runs this command; minisbert/speed/distributed.py splits the batches.
    from ..speed import distributed
    from ..bert import set_dropout
    from ..speed.hardware import check_device

    world = distributed.world()
    device = distributed.rank_device(check_device(args.device), world)
    torch.manual_seed(args.seed)  # the head's initialisation (the same on every rank)
    model = SentenceBert.from_pretrained(args.model).to(device)
    if args.max_seq_length is not None:
        if not 2 <= args.max_seq_length <= model.bert.config.max_position_embeddings:
            raise ValueError(f"--max-seq-length must be from 2 to {model.bert.config.max_position_embeddings}")
        model.max_seq_length = args.max_seq_length
    if args.objective == "classification":
        from ..io.data import SICK_LABELS

        parts = [part.strip() for part in args.concatenation.split(",")]
        objective = ClassificationObjective(model, SICK_LABELS, parts)
        dev, metric = accuracy_dev(dev_examples), "dev accuracy"
    elif args.objective == "triplet":
        objective = TripletObjective(model, distance=args.distance, margin=args.margin)
        dev, metric = sts_dev(dev_examples), "dev SICK-R Spearman"
    elif args.objective in IN_BATCH_NEGATIVES:
        objective = MultipleNegativesRankingObjective(model, scale=args.scale, similarity=args.similarity,
                                                      symmetric=args.symmetric)
        dev, metric = sts_dev(dev_examples), "dev STSb Spearman"
        if args.objective == "simcse" and all(m.p == 0 for m in model.modules() if isinstance(m, torch.nn.Dropout)):
            set_dropout(model, 0.1)  # a model saved with dropout off: SimCSE needs it on (BERT's 0.1)
            print("dropout was off in the model: set to 0.1 for SimCSE")
    else:
        objective = RegressionObjective(model)
        dev, metric = sts_dev(dev_examples), "dev Spearman"

    objective.to(device)  # a new head is made on the CPU
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, head_lr=args.head_lr,
                         weight_decay=args.weight_decay, warmup_ratio=args.warmup_ratio,
                         max_grad_norm=args.max_grad_norm, seed=args.seed,
                         checkpoint_every=args.checkpoint_every, progress=not args.no_progress,
                         max_steps=args.max_steps, precision=args.precision)
    if args.no_dropout:
        set_dropout(objective, 0.0)
    config.check()
    objective.check_examples(train_examples, "train examples")
    if args.head_warmup_epochs and not args.resume:
        losses = objective.fit_head(train_examples, epochs=args.head_warmup_epochs, seed=args.seed)
        print(f"head warm-up on frozen vectors: {args.head_warmup_epochs} epochs, loss {losses[0]:.4f} -> "
              f"{losses[-1]:.4f}, {metric} {dev(objective):.2f}")

    print(f"{args.objective} on {args.data}: {len(train_examples)} examples, {args.epochs} epoch(s), "
          f"batch {args.batch_size}, lr {args.lr:g}" + (f", head lr {args.head_lr:g}" if args.head_lr else ""))
    state = train(objective, train_examples, config, dev=dev, out=args.out,
                  checkpoint_dir=args.checkpoint_dir, resume=args.resume)
    distributed.teardown(world)
    if not world.is_main:  # rank 0 reports (and evaluates on test)
        return 0
    for epoch, score in enumerate(state.dev_scores, start=1):
        seconds = f" ({state.epoch_seconds[epoch - 1]:.0f} s)" if epoch <= len(state.epoch_seconds) else ""
        print(f"epoch {epoch}: {metric} {score:.2f}{seconds}")
    print(f"best epoch {state.best_epoch + 1}, saved to {args.out}")

    if args.test:
        from ..evaluate import evaluate_sts

        best = SentenceBert.from_pretrained(args.out)
        if args.objective == "classification":
            head = ClassificationObjective.load_head(best, args.out)
            print(f"test accuracy {head.accuracy(ex.sick_classification('test', args.data_dir)):.2f}")
        on_stsb = args.data == "stsb" or args.objective in IN_BATCH_NEGATIVES
        reader = ex.stsb_regression if on_stsb else ex.sick_regression
        pairs = [(e.a, e.b, e.label) for e in reader("test", args.data_dir)]
        name = "STSb" if on_stsb else "SICK-R"
        print(f"test {name} Spearman {evaluate_sts(best, pairs)['spearman']:.2f}")
    return 0


def _in_batch_examples(args) -> list:
    """The training examples of ``mnrl`` (SNLI triplets) and ``simcse`` ((s, s) pairs), with their count."""
    from .. import examples as ex
    from ..io.data import read_sentences

    if args.objective == "mnrl":
        triplets = ex.nli_triplets("train", args.data_dir)
        print(f"SNLI train grouped by premise: {len(triplets)} (premise, entailment, contradiction) triplets")
        return triplets
    if args.data == "corpus":
        sentences = ex.corpus_sentences(args.data_dir)
    elif args.data == "snli":
        sentences = ex.snli_sentences("train", args.data_dir)
    else:
        sentences = read_sentences(args.data)
    pairs = ex.simcse_pairs(sentences, name=f"--data {args.data}")
    print(f"SimCSE on {args.data}: {len(pairs)} distinct sentences")
    return pairs
