"""``medner compare CORPUS``: compute the comparison of every finished run of a corpus into ``comparison.json``."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    """Add ``medner compare`` to ``medner``."""
    parser = subparsers.add_parser(
        "compare",
        help="every finished run of a corpus -> comparison.json (seed spreads, bootstrap, significance, curves, cost)",
        description="Read every finished run folder of CORPUS and write the data behind the study's tables and "
        "figures as one JSON file (its 'about' key says what each section holds). Notebook 03 draws from it.",
    )
    parser.add_argument("corpus", metavar="CORPUS", help="demo, n2c2-2018, phee, or a name used with --path")
    parser.add_argument("--out", required=True, help="the comparison.json to write")
    parser.add_argument("--results", default=None, help="folder of the run folders (default results/)")
    parser.add_argument("--path", default=None, help="corpus folder (brat train/ dev/ test/), as the runs were given")
    parser.add_argument("--label-map", default=None, help="file mapping corpus labels to n2c2 labels, as the runs were given")
    parser.add_argument("--demo-size", type=int, default=None, help="sentences of the demo corpus, as the runs were given")
    parser.add_argument("--folds", type=int, default=None,
                        help="compare the runs of this k-fold cross-validation (default: the runs on the corpus's own split)")
    parser.add_argument("--stats", default=None,
                        help="corpus statistics JSON written by 00-corpus (default: computed from the corpus)")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the test documents (default 1000)")
    parser.add_argument("--n-shuffles", type=int, default=1000, help="approximate randomisation shuffles (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of both resamplings (default 0)")
    parser.add_argument("--progress", choices=("auto", "bar", "none"), default="auto",
                        help="a bar over the significance tests, none, or auto (a bar on a terminal)")
    parser.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    """Compute the comparison named by ``args``, write it and print one line saying what it holds."""
    from medner import locks
    from medner.checks import check_positive_int
    from medner.comparison.study import compare_corpus, write_comparison

    check_positive_int("--n-boot", args.n_boot)
    check_positive_int("--n-shuffles", args.n_shuffles)
    progress = args.progress == "bar" or (args.progress == "auto" and sys.stderr.isatty())
    with locks.building(args.out, f"the comparison {args.out}"):  # under make, its step holds it already
        data = compare_corpus(args.results, args.corpus, corpus_path=args.path, label_map=args.label_map,
                              demo_size=args.demo_size, stats_path=args.stats, folds=args.folds, n_boot=args.n_boot,
                              n_shuffles=args.n_shuffles, seed=args.seed, progress=progress)
        path = write_comparison(data, args.out)
    missing = "; ".join(f"{key}: {why}" for key, why in data["missing"].items()) or "nothing"
    print(f"{path}: {len(data['runs'])} runs of {', '.join(data['embeddings'])}; missing: {missing}")
    return 0
