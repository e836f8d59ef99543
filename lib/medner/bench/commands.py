"""``medner bench`` (our trainer against flair's on PHEE), ``medner bench-embeddings`` (the embedding layer) and
``medner bench-growth`` (the study's steps on growing corpora) and ``medner bench-finetune`` (our fine-tuning
epoch against the Hugging Face Trainer): development tools that measure; nothing in the
study depends on them."""

from __future__ import annotations

import argparse


def _bench(args: argparse.Namespace) -> int:
    from medner.bench.training import benchmark, format_figures

    precisions = tuple(p.strip() for p in args.precision.split(",") if p.strip())
    figures = benchmark(args.path, epochs=args.epochs, seed=args.seed, threads=args.threads, precisions=precisions,
                        out=args.out)
    print(format_figures(figures))
    return 0


def register(subparsers) -> None:
    """Add ``bench``, ``bench-embeddings``, ``bench-growth`` and ``bench-finetune`` to ``medner``."""
    from medner.bench.embeddings import register_bench
    from medner.bench.finetune import register_bench as register_finetune
    from medner.bench.growth import register_bench as register_growth

    bench = subparsers.add_parser(
        "bench",
        help="training speed and test F1 against flair's SequenceTagger + ModelTrainer on PHEE, same embeddings",
        description="Train ours and flair's tagger on PHEE with the bert embedding for the same epochs; print seconds "
        "per epoch after the first, their ratio, total seconds, strict micro-F1 and peak memory; write JSON.",
    )
    bench.add_argument("--path", default=None, help="PHEE folder (default ../shared/data/phee)")
    bench.add_argument("--epochs", type=int, default=5, help="epochs for both (default 5)")
    bench.add_argument("--seed", type=int, default=1, help="seed for both (default 1)")
    bench.add_argument("--threads", type=int, default=1, help="torch threads for both (default 1)")
    bench.add_argument("--precision", default="float32,bfloat16",
                       help="our LSTM's matrix-product precisions to run, comma-separated; the first is the headline "
                       "(default float32,bfloat16)")
    bench.add_argument("--out", default=None, help="JSON output (default results/bench/training.json)")
    bench.set_defaults(func=_bench)

    register_bench(subparsers)
    register_growth(subparsers)
    register_finetune(subparsers)
