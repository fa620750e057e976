"""``python -m minisbert trace "some text"``: max |Δ| per module between minisbert and transformers."""


def register(subparsers) -> None:
    p = subparsers.add_parser("trace", help="layer-by-layer max |difference| against transformers' BertModel")
    p.add_argument("texts", nargs="+", help="one or more texts (several are padded into one batch)")
    p.add_argument("--model", default="all-MiniLM-L6-v2", help="model folder or fetched model name")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..parity.trace import trace_against_hf

    rows = trace_against_hf(args.model, args.texts)
    width = max(len(name) for name, _ in rows)
    print(f"{'module':<{width}}  max |minisbert - transformers| at real tokens")
    for name, diff in rows:
        print(f"{name:<{width}}  {diff:.3e}")
    return 0
