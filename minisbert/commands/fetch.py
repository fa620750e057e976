"""``python -m minisbert fetch NAME``: a pretrained model folder (``all-MiniLM-L6-v2``) or a data set
(``stsb``, ``sick``, ``snli``), downloaded, checked against pinned digests and unpacked atomically."""

from ..io.fetch import DATA_SETS, KNOWN_MODELS, MIRROR_ENV_VAR, fetch


def register(subparsers) -> None:
    names = sorted(KNOWN_MODELS) + sorted(spec.hub_id for spec in KNOWN_MODELS.values()) + sorted(DATA_SETS)
    p = subparsers.add_parser(
        "fetch", help="download a pretrained model folder or a data set (stsb, sick, snli)",
        description="Models go to weights/ in a source checkout, else to the user cache ($MINISBERT_HOME, "
                    "default ~/.cache/minisbert); data sets to $MINISBERT_DATA, else the user cache. "
                    f"${MIRROR_ENV_VAR}=URL fetches the data archives from URL/<archive name> instead of "
                    "their official hosts (the same digests are checked).")
    p.add_argument("name", choices=names, metavar="NAME", help=f"one of: {', '.join(names)}")
    p.add_argument("--root", default=None,
                   help="folder to fetch into (default: models $MINISBERT_WEIGHTS, weights/ or the user cache; "
                        "data sets $MINISBERT_DATA or the user cache)")
    p.set_defaults(run=run)


def run(args) -> int:
    print(fetch(args.name, root=args.root, quiet=getattr(args, "quiet", False)))
    return 0
