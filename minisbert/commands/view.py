"""``python -m minisbert view "a sentence" [--pair "another"] --out view.html``: see the attention inside.

Writes one self-contained HTML page (no network needed to open it) with the head, model and neuron views of
the sentence; with ``--pair``, the pair view of the cross-encoder input ``[CLS] a [SEP] b [SEP]`` (set
against the two sentences encoded separately) instead of the single head view. ``--layer`` and ``--heads``
choose what the page opens on (one head by default; everything can be changed in the page). A page stays
under ``--max-mb`` megabytes: a longer input is cut, and the page says so. See ``minisbert/views`` and
docs/views.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def heads_list(value: str):
    """``--heads``: "all", or head indices separated by commas ("0,3"); "all" is None here (every head)."""
    if value.strip().lower() == "all":
        return None
    try:
        heads = [int(part) for part in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 'all' or head indices separated by commas (e.g. 0,3), "
                                         f"got {value!r}") from None
    if len(set(heads)) != len(heads):
        raise argparse.ArgumentTypeError(f"names a head twice: {value!r}")
    return heads


def positive_mb(value: str) -> float:
    try:
        mb = float(value)
    except ValueError:
        mb = float("nan")
    if not mb > 0 or mb == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of megabytes, got {value!r}")
    return mb


def register(subparsers) -> None:
    p = subparsers.add_parser("view", help="write an interactive HTML page of a sentence's attention",
                              description="Write an interactive HTML page of a sentence's attention: the head, "
                                          "model and neuron views (with --pair, the pair view instead of the "
                                          "head view). It opens offline in any browser.")
    p.add_argument("text", metavar="SENTENCE", help="the sentence to look at")
    p.add_argument("--pair", metavar="SENTENCE", help="a second sentence: show the cross-encoder input of both")
    p.add_argument("--model", default="all-MiniLM-L6-v2", help="model folder or fetched model name")
    p.add_argument("--layer", type=int, default=0, help="the layer the page opens on (default 0)")
    p.add_argument("--heads", type=heads_list, default=[0], metavar="H,H|all",
                   help="the heads the page draws at first: indices separated by commas (e.g. 0,3) or 'all' "
                        "(default 0); the neuron view opens on the first")
    p.add_argument("--max-mb", type=positive_mb, default=None, metavar="MB",
                   help="the largest page to write, in megabytes (default 50): a longer input is cut to fit")
    p.add_argument("--out", required=True, help="the HTML file to write")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..sbert import SentenceBert
    from ..views import MAX_PAGE_MB, attention_page

    out = Path(args.out)
    if out.is_dir():
        raise IsADirectoryError(f"--out {out} is a folder: give the HTML file to write")
    model = SentenceBert.from_pretrained(args.model)
    heads = list(range(model.bert.config.num_attention_heads)) if args.heads is None else args.heads
    panels = ("pair", "model", "neuron") if args.pair is not None else ("head", "model", "neuron")
    page = attention_page(model, args.text, args.pair, panels=panels, layer=args.layer, heads=heads,
                          head=heads[0], max_mb=args.max_mb or MAX_PAGE_MB)
    path = page.save(out)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, {len(page.data['tokens'])} tokens)")
    if page.data["note"]:
        print(page.data["note"])
    return 0
