"""``medner corpus ...``: look at a corpus the way the study will see it."""

from __future__ import annotations

import argparse
import json

from medner.corpus.candidates import DEFAULT_WINDOW
from medner.corpus.phee import EFFECT_RULES
from medner.corpus.registry import CORPUS_NAMES
from medner.corpus.tagging import SCHEMES


def register(subparsers) -> None:
    """Add ``medner corpus stats`` to ``medner``."""
    corpus = subparsers.add_parser("corpus", help="corpus statistics (documents, labels, tagging drops, boundary alignment)")
    commands = corpus.add_subparsers(dest="corpus_command", metavar="SUBCOMMAND")
    corpus.set_defaults(func=_help_printer(corpus))

    stats = commands.add_parser(
        "stats",
        help="documents, sentences, tokens, entities per label per split, drops, boundary alignment, relations",
        description="Statistics of a corpus as the study sees it: sizes and entities per split, entities the "
        "tagging cannot represent (per label and reason), labels ignored by the label map, the share of "
        "gold entity boundaries that fall on token boundaries; relations per type, those dropped with an "
        "argument, and the share of gold relations the candidate (attribute, drug) pairs reach.",
    )
    stats.add_argument("corpus", metavar="CORPUS", help=f"{', '.join(CORPUS_NAMES)}, brat, or a path to a brat folder")
    stats.add_argument("--path", help="corpus folder (required for n2c2-2018 and brat; phee defaults to ../shared/data/phee)")
    stats.add_argument("--label-map", help="label map file: YAML 'source: target' or two columns 'source<TAB>target' ('-' ignores)")
    stats.add_argument("--seed", type=int, default=13, help="seed of the dev / 80-10-10 splits and of the demo generator (default 13)")
    stats.add_argument("--demo-size", type=int, default=None, help="sentences in the demo corpus (default: the generator's)")
    stats.add_argument("--scheme", choices=SCHEMES, default="BIO", help="tagging scheme whose drops are counted (default BIO)")
    stats.add_argument("--window", type=int, default=DEFAULT_WINDOW,
                       help=f"sentences apart a candidate (attribute, drug) pair may be (default {DEFAULT_WINDOW}; "
                            "medner.corpus.candidates)")
    stats.add_argument("--phee-effects", choices=EFFECT_RULES, default=EFFECT_RULES[0],
                       help="phee only: 'ade' keeps every Effect an ADE (default), 'events' ignores the Effects of "
                            "potential therapeutic events only (medner.corpus.phee)")
    stats.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    stats.set_defaults(func=run_stats)


def _help_printer(parser: argparse.ArgumentParser):
    """``medner corpus`` alone prints the corpus subcommands."""

    def print_corpus_help(args: argparse.Namespace) -> int:
        parser.print_help()
        return 0

    return print_corpus_help


def run_stats(args: argparse.Namespace) -> int:
    """Load the corpus named in ``args`` and print its statistics."""
    from medner.corpus.registry import load_corpus
    from medner.corpus.stats import corpus_statistics, format_statistics

    corpus = load_corpus(args.corpus, path=args.path, label_map=args.label_map, seed=args.seed, demo_size=args.demo_size,
                         phee_effects=args.phee_effects)
    statistics = corpus_statistics(corpus, scheme=args.scheme, progress=not args.json, window=args.window)
    if args.json:
        print(json.dumps(statistics, indent=2))
    else:
        print(format_statistics(statistics))
    return 0
