"""``python -m minisbert eval stsb --split test``: Spearman and Pearson (× 100) of cosine vs gold scores.

The unsupervised STS evaluation of Reimers & Gurevych 2019 (section 4.1): encode both sentences of each
pair, score the pair by the cosine of the two vectors, and rank-correlate those scores with the human
ones. Spearman is the figure the paper reports (it does not assume the scores are linearly related).
"""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help="Spearman/Pearson of an SBERT model on STS Benchmark or SICK")
    p.add_argument("dataset", choices=["stsb", "sick"], help="STS Benchmark or SICK (relatedness)")
    p.add_argument("--split", default="test", help="train, dev or test (SICK also: trial) (default test)")
    p.add_argument("--model", default="all-MiniLM-L6-v2", help="model folder or fetched model name")
    p.add_argument("--data-dir", default=None, help="data folder (default: $MINISBERT_DATA)")
    p.add_argument("--batch-size", type=int, default=32, help="sentences per forward pass (default 32)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..evaluate import evaluate_split
    from ..sbert import SentenceBert

    model = SentenceBert.from_pretrained(args.model)
    result = evaluate_split(model, args.dataset, args.split, data_dir=args.data_dir, batch_size=args.batch_size)
    name = {"stsb": "STS Benchmark", "sick": "SICK"}[args.dataset]
    print(f"{name} {args.split} ({result['n_pairs']:,} pairs), {model.pooling.mode} pooling, cosine similarity:")
    print(f"  Spearman x 100: {result['spearman']:.2f}")
    print(f"  Pearson  x 100: {result['pearson']:.2f}")
    return 0
