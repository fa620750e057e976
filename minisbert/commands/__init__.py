"""One module per command of ``python -m minisbert``; each defines ``register(subparsers)``."""
