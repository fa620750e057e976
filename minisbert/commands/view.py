"""``python -m minisbert view "a sentence" [--pair "another"] --out view.html``: see the attention inside.

Writes one self-contained HTML page (no network needed to open it) with the head, model and neuron views of
the sentence; with ``--pair``, the pair view of the cross-encoder input ``[CLS] a [SEP] b [SEP]`` (set
against the two sentences encoded separately) instead of the single head view. See ``minisbert/views``.
"""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("view", help="write an interactive HTML page of a sentence's attention",
                              description=__doc__.splitlines()[0].strip("`: "))
    p.add_argument("text", metavar="SENTENCE", help="the sentence to look at")
    p.add_argument("--pair", metavar="SENTENCE", help="a second sentence: show the cross-encoder input of both")
    p.add_argument("--model", default="all-MiniLM-L6-v2", help="model folder or fetched model name")
    p.add_argument("--layer", type=int, default=0, help="the layer the page opens on (default 0)")
    p.add_argument("--out", required=True, help="the HTML file to write")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..sbert import SentenceBert
    from ..views import attention_page

    model = SentenceBert.from_pretrained(args.model)
    panels = ("pair", "model", "neuron") if args.pair is not None else ("head", "model", "neuron")
    page = attention_page(model, args.text, args.pair, panels=panels, layer=args.layer)
    path = page.save(args.out)
    print(f"{path} ({len(page.html) / 1e6:.1f} MB, {len(page.data['tokens'])} tokens)")
    if page.data["note"]:
        print(page.data["note"])
    return 0
