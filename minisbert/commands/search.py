"""``python -m minisbert search --corpus FILE --query "..."``: the corpus lines closest to each query.

The SBERT way (Reimers & Gurevych 2019): the corpus is encoded once, each query once, and the ranking
is a matrix product of the vectors, not one BERT pass per (query, line) pair.
"""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("search", help="semantic search: the corpus lines most similar to a query")
    p.add_argument("--corpus", required=True, help="a UTF-8 text file, one document per line (blank lines skipped)")
    p.add_argument("--query", "-q", action="append", required=True, help="a query (repeat for several)")
    p.add_argument("--top-k", "-k", type=int, default=5, help="hits per query (default 5)")
    p.add_argument("--model", default="all-MiniLM-L6-v2", help="model folder or fetched model name")
    p.add_argument("--batch-size", type=int, default=32, help="sentences per forward pass (default 32)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..sbert import SentenceBert
    from ..similarity import semantic_search
    from .encode import read_lines

    if args.top_k <= 0:
        raise ValueError(f"--top-k must be positive, got {args.top_k}")
    # Keep each document's line number, so a hit can be found in the file.
    corpus = [(number, line) for number, line in enumerate(read_lines(args.corpus), start=1) if line.strip()]
    if not corpus:
        raise ValueError(f"{args.corpus} has no non-blank lines to search")
    model = SentenceBert.from_pretrained(args.model)
    corpus_vectors = model.encode([line for _, line in corpus], batch_size=args.batch_size, convert_to="torch")
    query_vectors = model.encode(args.query, batch_size=args.batch_size, convert_to="torch")
    for query, hits in zip(args.query, semantic_search(query_vectors, corpus_vectors, top_k=args.top_k)):
        print(f"query: {query}")
        for rank, hit in enumerate(hits, start=1):
            number, line = corpus[hit["corpus_id"]]
            print(f"  {rank}. {hit['score']:.4f}  line {number}: {line}")
    return 0
