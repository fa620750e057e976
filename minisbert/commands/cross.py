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
    p.add_argument("--device", default="cpu", help="cpu or cuda (an error if no GPU is available)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"],
                   help="bf16: matrix products in bfloat16, fp32 output, fast on CPUs with bf16 instructions; "
                        "auto: bf16 where the hardware has them (default fp32, the exact path)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..cross_encoder import CrossEncoder, has_head
    from ..speed.hardware import check_device
    from ..io.weights import resolve_model_dir

    device = check_device(args.device)  # before anything is loaded

    folder = resolve_model_dir(args.model)
    if not has_head(folder):
        raise ValueError(f"{folder} has no classifier head: train a cross-encoder first "
                         f"(experiments/cross_encoder_stsb.py) and pass its folder")
    model = CrossEncoder.from_pretrained(folder).to(device)
    pairs = [tuple(p) for p in args.pair]
    scores = model.predict(pairs, batch_size=args.batch_size, compute=args.precision)
    for (a, b), score in zip(pairs, scores):
        shown = f"{score:.4f}" if model.num_labels == 1 else "  ".join(
            f"{name}={v:.3f}" for name, v in zip(model.labels, score))
        print(f"{shown}  {a!r} / {b!r}")
    return 0
