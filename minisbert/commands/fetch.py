"""``python -m minisbert fetch all-MiniLM-L6-v2``: download a pretrained folder into weights/."""

from ..fetch import KNOWN_MODELS, fetch


def register(subparsers) -> None:
    p = subparsers.add_parser("fetch", help="download a pretrained model folder into weights/")
    p.add_argument("name", choices=sorted(KNOWN_MODELS), help="model to fetch")
    p.add_argument("--root", default=None, help="folder to fetch into (default: $MINISBERT_WEIGHTS or weights/)")
    p.set_defaults(run=run)


def run(args) -> int:
    print(fetch(args.name, root=args.root))
    return 0
