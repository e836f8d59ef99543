"""Subcommands of this layer (filled in by the layer's issue)."""


def register(subparsers) -> None:
    """Add this layer's subcommands to ``medner``."""
