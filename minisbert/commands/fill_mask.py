"""``python -m minisbert fill-mask "The man went to the [MASK] to buy milk." --model DIR -k 5``."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("fill-mask", help="the top tokens a pre-trained BERT predicts for each [MASK]")
    p.add_argument("text", help="text with one or more [MASK] tokens")
    p.add_argument("--model", required=True, help="a BERT folder with its masked-LM head (python -m minisbert pretrain writes one)")
    p.add_argument("-k", type=int, default=5, help="how many tokens to show per [MASK] (default 5)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..fill_mask import fill_mask, load_masked_lm

    model, tokenizer = load_masked_lm(args.model)
    for n, candidates in enumerate(fill_mask(model, tokenizer, args.text, args.k), start=1):
        print(f"[MASK] {n}: " + ", ".join(f"{token} {p:.3f}" for token, p in candidates))
    return 0
