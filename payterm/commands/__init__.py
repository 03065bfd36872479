"""One module per ``payterm`` subcommand, each with ``register(subparsers)``."""
