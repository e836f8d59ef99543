"""The ``medner`` command line: ``medner --help`` lists the subcommands.

Each subcommand lives with the code it drives and registers itself through a
``register(subparsers)`` function in one of ``COMMAND_MODULES``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from medner import __version__

#: Modules that add subcommands, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "medner.corpus.commands",
    "medner.embeddings.commands",
    "medner.run_commands",
    "medner.relation_commands",
    "medner.evaluation.commands",
    "medner.comparison.commands",
    "medner.bench.commands",
    "medner.slurm",
)


class CommandError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medner",
        description="Clinical medication NER: one BiLSTM-CRF, GloVe vs Flair vs BERT embeddings, n2c2-2018 labels.",
    )
    parser.add_argument("--version", action="version", version=f"medner {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from medner.embeddings.base import EmbeddingUnavailableError
    from medner.files import WriteError

    try:
        return int(args.func(args) or 0)
    except (CommandError, FileNotFoundError, FileExistsError, ValueError, EmbeddingUnavailableError, WriteError) as exc:
        print(f"medner: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
