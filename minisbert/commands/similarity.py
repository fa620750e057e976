"""``python -m minisbert similarity "a" "b"``: the similarity of two sentences' SBERT vectors."""

from __future__ import annotations

METRICS = ("cosine", "dot", "euclidean", "manhattan")


def register(subparsers) -> None:
    p = subparsers.add_parser("similarity", help="similarity of two sentences (cosine of their SBERT vectors)")
    p.add_argument("sentences", nargs=2, metavar="SENTENCE", help="the two sentences")
    p.add_argument("--metric", choices=METRICS, default="cosine",
                   help="cosine (default), dot, or the negated euclidean / manhattan distance")
    p.add_argument("--model", default="all-MiniLM-L6-v2", help="model folder or fetched model name")
    p.set_defaults(run=run)


def run(args) -> int:
    from .. import similarity
    from ..sbert import SentenceBert

    model = SentenceBert.from_pretrained(args.model)
    u, v = model.encode(args.sentences, convert_to="torch")
    score = {
        "cosine": similarity.pairwise_cos_sim,
        "dot": similarity.pairwise_dot_score,
        "euclidean": similarity.pairwise_euclidean_sim,
        "manhattan": similarity.pairwise_manhattan_sim,
    }[args.metric](u[None], v[None])
    print(f"{score.item():.4f}")
    return 0
