"""``python -m minisbert cross --pair A B [--pair A B ...]``: score sentence pairs with a cross-encoder.

Each pair is one BERT pass over ``[CLS] A [SEP] B [SEP]`` (see ``minisbert/cross_encoder.py``). The model
is a cross-encoder folder, e.g. the one ``experiments/cross_encoder_stsb.py`` trains into
``weights/cross-encoder-stsb``.
"""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("cross", help="score sentence pairs with a cross-encoder (both sentences in one input)")
    p.add_argument("--pair", nargs=2, action="append", required=True, metavar=("A", "B"),
                   help="two sentences to score (repeat for several pairs)")
    p.add_argument("--model", default="cross-encoder-stsb", help="cross-encoder folder or name under weights/")
    p.add_argument("--batch-size", type=int, default=32, help="pairs per forward pass (default 32)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..cross_encoder import CrossEncoder, has_head
    from ..weights import resolve_model_dir

    folder = resolve_model_dir(args.model)
    if not has_head(folder):
        raise ValueError(f"{folder} has no classifier head: train a cross-encoder first "
                         f"(experiments/cross_encoder_stsb.py) and pass its folder")
    model = CrossEncoder.from_pretrained(folder)
    pairs = [tuple(p) for p in args.pair]
    scores = model.predict(pairs, batch_size=args.batch_size)
    for (a, b), score in zip(pairs, scores):
        shown = f"{score:.4f}" if model.num_labels == 1 else "  ".join(
            f"{name}={v:.3f}" for name, v in zip(model.labels, score))
        print(f"{shown}  {a!r} / {b!r}")
    return 0
