"""``python -m minisbert cost``: what comparing every pair costs, cross-encoder vs bi-encoder, measured here.

Paraphrase mining for n = 100 ... 10,000 sentences from STS Benchmark and SICK: the bi-encoder (SBERT)
for real at every n; the cross-encoder for real while it fits in ``--cross-budget`` seconds, then
extrapolated from its measured pairs/s. Prints a table and writes cost.md, cost.json and cost.png
(log-log, slopes labelled) to ``--out``. See ``minisbert/cost.py`` and Reimers & Gurevych 2019.

A small run: ``python -m minisbert cost --sizes 20 50 --cross-budget 5 --out /tmp/cost``.
"""

from __future__ import annotations

DEFAULT_CROSS = "cross-encoder-stsb"  # what experiments/cross_encoder_stsb.py trains into weights/


def register(subparsers) -> None:
    from ..cost import SIZES

    p = subparsers.add_parser("cost", help="cross-encoder vs bi-encoder: the cost of comparing every pair, measured")
    p.add_argument("--sizes", type=int, nargs="+", default=list(SIZES),
                   help="numbers of sentences n (default: 100 300 1000 3000 10000)")
    p.add_argument("--cross-budget", type=float, default=120.0,
                   help="seconds the cross-encoder may run for real; larger n are extrapolated (default 120)")
    p.add_argument("--model", default="all-MiniLM-L6-v2", help="the bi-encoder: model folder or fetched name")
    p.add_argument("--cross-model", default=None,
                   help=f"a trained cross-encoder folder (default: {DEFAULT_CROSS} if trained, else the bi-encoder's "
                        "BERT with an untrained head: the same cost, but no meaningful agreement)")
    p.add_argument("--top-k", type=int, default=100, help="partners kept per sentence in mining (default 100)")
    p.add_argument("--batch-size", type=int, default=32, help="sentences or pairs per forward pass (default 32)")
    p.add_argument("--agreement-n", type=int, default=None,
                   help="n on which the two rankings of all pairs are compared (default: the smallest size)")
    p.add_argument("--agreement-k", type=int, nargs="+", default=[10, 50], help="k of overlap@k (default 10 50)")
    p.add_argument("--compare-st", action="store_true",
                   help="also time sentence-transformers' paraphrase_mining on the largest n (needs it installed)")
    p.add_argument("--repeats", type=int, default=1, help="interleaved runs for --compare-st; best is kept (default 1)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0, help="order in which sentences are drawn (default 0)")
    p.add_argument("--data-dir", default=None, help="data folder (default: $MINISBERT_DATA)")
    p.add_argument("--out", default="runs/cost", help="folder for cost.md, cost.json, cost.png (default runs/cost)")
    p.set_defaults(run=run)


def run(args) -> int:
    import torch

    from ..cost import compare_with_sentence_transformers, format_table, mining_sentences, run_cost, write_outputs
    from ..cross_encoder import CrossEncoder, has_head
    from ..sbert import SentenceBert
    from ..weights import resolve_model_dir
    from .bench import machine_description

    sizes = sorted(set(args.sizes))
    if min(sizes) < 2:
        raise ValueError(f"--sizes must be at least 2 (one pair), got {min(sizes)}")
    for name in ("top_k", "batch_size", "repeats"):
        if getattr(args, name) <= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.cross_budget < 0:
        raise ValueError(f"--cross-budget must be >= 0 seconds, got {args.cross_budget}")
    if args.threads is not None:
        if args.threads <= 0:
            raise ValueError(f"--threads must be positive, got {args.threads}")
        torch.set_num_threads(args.threads)
    agreement_n = args.agreement_n if args.agreement_n is not None else sizes[0]

    sentences = mining_sentences(max(sizes + [agreement_n]), args.data_dir, seed=args.seed)
    bi_folder = resolve_model_dir(args.model)
    bi = SentenceBert.from_pretrained(bi_folder)
    if args.cross_model is not None:
        cross_folder = resolve_model_dir(args.cross_model)
    else:
        try:
            cross_folder = resolve_model_dir(DEFAULT_CROSS)
        except FileNotFoundError:
            cross_folder = bi_folder
    torch.manual_seed(0)  # a new head (untrained cross-encoder) is the same on every run
    cross = CrossEncoder.from_pretrained(cross_folder)
    trained = "trained head" if has_head(cross_folder) else "UNTRAINED head: timings valid, agreement meaningless"
    print(f"bi-encoder: {bi_folder}; cross-encoder: {cross_folder} ({trained}); torch threads: {torch.get_num_threads()}")

    report = run_cost(bi, cross, sentences, sizes=sizes, cross_budget=args.cross_budget, top_k=args.top_k,
                      batch_size=args.batch_size, agreement_n=agreement_n, agreement_ks=args.agreement_k)
    report.bi_model, report.cross_model = str(bi_folder), f"{cross_folder} ({trained})"
    report.machine = machine_description()
    if args.compare_st:
        print(f"sentence-transformers' paraphrase_mining on the same {sizes[-1]:,} sentences ...")
        report.compare_st = compare_with_sentence_transformers(bi, bi_folder, sentences[:sizes[-1]], top_k=args.top_k,
                                                               batch_size=args.batch_size, repeats=args.repeats)
    print()
    print(format_table(report))
    paths = write_outputs(report, args.out)
    print(f"\nwrote {paths['table']}, {paths['json']}, {paths['plot']}")
    return 0
