"""``python -m minisbert encode``: sentences (arguments or a file of lines) → an (N, H) ``.npy`` file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("encode", help="encode sentences into an .npy file of sentence vectors")
    p.add_argument("sentences", nargs="*", help="sentences to encode (or use --file)")
    p.add_argument("--file", "-f", help="a UTF-8 text file, one sentence per line ('-' reads stdin); row i of "
                                        "the output is line i + 1, blank lines included")
    p.add_argument("--output", "-o", required=True, help="the .npy file to write, float32 (N, H)")
    p.add_argument("--model", default="all-MiniLM-L6-v2", help="model folder or fetched model name")
    p.add_argument("--batch-size", type=int, default=32, help="sentences per forward pass (default 32)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (an error if no GPU is available)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"],
                   help="bf16: matrix products in bfloat16, fp32 output, fast on CPUs with bf16 instructions; "
                        "auto: bf16 where the hardware has them (default fp32, the exact path)")
    p.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                   help="L2-normalise the vectors (default: as the model folder says)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="show a progress bar")
    p.set_defaults(run=run)


def read_lines(path: str) -> list[str]:
    """The lines of a UTF-8 file (or stdin for '-'), without their line ends; a final newline adds no line."""
    if path == "-":
        text = sys.stdin.read()
    else:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"no such file: {p}")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"{p} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    return text.splitlines() if text else []


def run(args) -> int:
    import numpy as np

    from ..speed.hardware import check_device
    from ..sbert import SentenceBert
    from ..io.files import atomic_write

    device = check_device(args.device)  # before anything is loaded

    if args.file is not None and args.sentences:
        raise ValueError("give sentences as arguments or with --file, not both")
    sentences = read_lines(args.file) if args.file is not None else args.sentences
    if not sentences:
        raise ValueError("nothing to encode: give sentences as arguments or a non-empty --file")
    model = SentenceBert.from_pretrained(args.model).to(device)
    vectors = model.encode(sentences, batch_size=args.batch_size, normalize=args.normalize, progress=args.progress,
                           compute=args.precision)

    def write(tmp):
        with open(tmp, "wb") as f:  # a file object, so np.save does not append its own ".npy"
            np.save(f, vectors)

    atomic_write(args.output, write)
    print(f"wrote {vectors.shape[0]} x {vectors.shape[1]} float32 vectors to {args.output}")
    return 0
