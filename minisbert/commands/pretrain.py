"""``python -m minisbert pretrain --config mini --corpus PATH [PATH ...] [--add-train-sentences] (--minutes M | --max-steps N) --out DIR``.

Pre-trains a BERT from scratch with masked-LM (and next-sentence prediction), see ``minisbert/pretraining.py``.
``DIR`` ends as a BERT folder: ``config.json``, ``model.safetensors`` (with the heads), ``vocab.txt``,
``tokenizer_config.json`` and ``pretrain_log.json``; the checkpoint is kept in ``DIR-checkpoint``.
"""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("pretrain", help="pre-train a BERT from scratch (masked LM, next sentence)")
    p.add_argument("--config", default="mini",
                   help="model size: tiny (L2/H128), mini (L4/H256), small (L4/H512), medium (L8/H512), base, "
                        "or L<layers>-H<hidden>[-A<heads>] (default mini)")
    p.add_argument("--corpus", nargs="+", default=[], metavar="PATH",
                   help="UTF-8 text files: one paragraph per line, a blank line between documents (this and/or "
                        "--add-train-sentences)")
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--minutes", type=float, help="train for this long (the step count is fixed after timing a few)")
    budget.add_argument("--max-steps", type=int, help="train for this many steps")
    p.add_argument("--out", required=True, help="the BERT folder to write (in a model folder minisbert's files are "
                                                "replaced and other files kept; docs/hardening.md)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in OUT-checkpoint (the same "
                                                         "data and settings; docs/hardening.md lists what may change)")
    p.add_argument("--max-len", type=int, default=128, help="tokens per example (default 128)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-4, help="peak learning rate (default 5e-4)")
    p.add_argument("--warmup-ratio", type=float, default=0.06)
    p.add_argument("--dropout", type=float, default=0.1,
                   help="dropout while pre-training (default BERT's 0.1; 0 suits a run that sees each token "
                        "only a few times)")
    p.add_argument("--no-nsp", dest="nsp", action="store_false", help="masked LM only (RoBERTa), no next-sentence task")
    p.add_argument("--contrastive", action="store_true",
                   help="instead of next-sentence prediction, each segment's mean-pooled vector picks the segment "
                        "that follows it among the batch's (in-batch negatives; docs/pretraining.md)")
    p.add_argument("--untie-word-embeddings", action="store_true",
                   help="give the masked-LM decoder a matrix of its own instead of the word embeddings "
                        "(transformers' tie_word_embeddings=False; docs/pretraining.md)")
    p.add_argument("--freeze-word-embeddings", action="store_true",
                   help="keep the word vectors at their random initialisation, training the rest (needs "
                        "--untie-word-embeddings; docs/pretraining.md)")
    p.add_argument("--contiguous-batches", action="store_true",
                   help="each batch is consecutive examples of the text, so a segment's negatives are its "
                        "neighbours (Quick-Thoughts; docs/pretraining.md)")
    p.add_argument("--whole-word", action="store_true", help="mask whole words, not single WordPieces")
    p.add_argument("--add-train-sentences", action="store_true",
                   help="also train on the SNLI, STSb and SICK train sentences (from --data-dir)")
    p.add_argument("--data-dir", default=None, help="benchmark data folder (default $MINISBERT_DATA); its dev and "
                                                    "test sentences are always left out of pre-training")
    p.add_argument("--vocab", default="all-MiniLM-L6-v2", help="folder (or fetched model) whose vocabulary to use")
    p.add_argument("--vocab-min-count", type=int, default=None, metavar="N",
                   help="keep only the pieces of that vocabulary the text uses N times or more, and every character "
                        "it holds (docs/pretraining.md: fewer, better-trained word vectors and faster steps)")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                   help="auto: bf16 where the CPU has bf16 instructions")
    p.add_argument("--device", default="cpu", help="cpu or cuda (under torchrun each rank takes cuda:LOCAL_RANK)")
    p.add_argument("--eval-every", type=int, default=200, help="steps between held-out evaluations")
    p.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints (default 500)")
    p.add_argument("--cache", default=None, help="folder for the tokenized corpus (default ~/.cache/minisbert/corpus)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args) -> int:
    from pathlib import Path

    from ..speed import distributed
    from ..io.corpus import held_out_sentences, write_train_sentences
    from ..speed.hardware import check_device
    from ..io.data import resolve_data_dir
    from ..checks import check_positive_int
    from ..pretraining import PretrainConfig, corpus_tokenizer, pretrain
    from ..tokenizer import load_tokenizer
    from ..io.weights import resolve_model_dir

    config = PretrainConfig(size=args.config, max_len=args.max_len, batch_size=args.batch_size, lr=args.lr,
                            warmup_ratio=args.warmup_ratio, dropout=args.dropout, max_steps=args.max_steps,
                            minutes=args.minutes, nsp=args.nsp and not args.contrastive,
                            contrastive=args.contrastive, tie_word_embeddings=not args.untie_word_embeddings,
                            freeze_word_embeddings=args.freeze_word_embeddings,
                            contiguous_batches=args.contiguous_batches,
                            whole_word=args.whole_word, seed=args.seed,
                            precision=args.precision, device=args.device, eval_every=args.eval_every,
                            checkpoint_every=args.checkpoint_every, progress=not args.no_progress)
    config.check()  # before anything is read
    check_positive_int(args.vocab_min_count, "--vocab-min-count", allow_none=True)
    if not args.corpus and not args.add_train_sentences:
        raise ValueError("nothing to pre-train on: give --corpus PATH [PATH ...] and/or --add-train-sentences")
    check_device(args.device)
    cache = Path(args.cache) if args.cache else Path.home() / ".cache" / "minisbert" / "corpus"
    paths = list(args.corpus)
    exclude = frozenset()
    if args.add_train_sentences or args.data_dir:
        data_dir = resolve_data_dir(args.data_dir)
        exclude = frozenset(held_out_sentences(data_dir))
        print(f"leaving out {len(exclude):,} dev and test sentences of STSb, SICK and SNLI")
        if args.add_train_sentences:
            paths.append(str(write_train_sentences(cache / "benchmark_train_sentences.txt", data_dir)))
    tokenizer = load_tokenizer(resolve_model_dir(args.vocab))
    if args.vocab_min_count:
        pieces = len(tokenizer.vocab)
        tokenizer = corpus_tokenizer(paths, tokenizer, args.vocab_min_count, cache, exclude)
        print(f"vocabulary: the {len(tokenizer.vocab):,} of {pieces:,} pieces that the text uses "
              f"{args.vocab_min_count} times or more, and its characters")
    # Under torchrun (torchrun --nproc_per_node N -m minisbert pretrain ...) every rank runs this command
    # and trains on its rows of each batch (minisbert/speed/distributed.py); rank 0 writes.
    world = distributed.world()
    try:
        pretrain(paths, args.out, config, tokenizer=tokenizer, cache_dir=cache, exclude=exclude, resume=args.resume)
    except RuntimeError as e:
        distributed.raise_if_rank_lost(e, world, Path(args.out).with_name(Path(args.out).name + "-checkpoint"))
        raise
    finally:
        distributed.teardown(world)
    return 0
