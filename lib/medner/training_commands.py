"""``medner train`` (one run into its run folder) and ``medner bench`` (training speed and F1 against flair)."""

from __future__ import annotations

import argparse
import json


def _train(args: argparse.Namespace) -> int:
    from medner.runs import execute_run

    from medner.runs import DEFAULT_MAX_EPOCHS

    epochs = DEFAULT_MAX_EPOCHS if args.epochs is None else args.epochs
    if epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {args.epochs}")
    metrics = execute_run(
        args.corpus,
        args.embedding,
        args.seed,
        fraction=args.fraction,
        corpus_path=args.path,
        label_map=args.label_map,
        results_root=args.results,
        max_epochs=epochs,
        force=args.force,
        progress=args.progress,
        num_threads=args.threads,
        precision=args.precision,
    )
    if args.json:
        print(json.dumps({"run": metrics["run"], "test": metrics["scores"]["test"]["strict"]["micro"], "cost": metrics["cost"]}, indent=1))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from medner.benchmark_flair import benchmark, format_figures

    precisions = tuple(p.strip() for p in args.precision.split(",") if p.strip())
    figures = benchmark(args.path, epochs=args.epochs, seed=args.seed, threads=args.threads, precisions=precisions,
                        out=args.out)
    print(format_figures(figures))
    return 0


def register(subparsers) -> None:
    """Add ``train`` and ``bench`` to ``medner``."""
    train = subparsers.add_parser(
        "train",
        help="train one run (corpus x embedding x seed [x fraction]) into results/<corpus>/<embedding>/seed-<n>",
        description="Train the BiLSTM-CRF on cached vectors, predict and score the test set, write the run folder "
        "(metrics.json last). A finished run is not trained again unless --force.",
    )
    train.add_argument("corpus", help="demo, n2c2-2018, phee, or a name used with --path")
    train.add_argument("embedding", help="embedding spec name in embeddings/ (glove, flair, bert, ...) or a spec .yaml path")
    train.add_argument("--seed", type=int, required=True, help="run seed (weights, batch order, dropout, training subset)")
    train.add_argument("--fraction", type=float, default=1.0, help="share of training documents, in (0, 1] (default 1)")
    train.add_argument("--path", default=None, help="corpus folder (brat train/ dev/ test/)")
    train.add_argument("--label-map", default=None, help="file mapping corpus labels to n2c2 labels")
    train.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: medner.runs.DEFAULT_MAX_EPOCHS)")
    train.add_argument("--results", default=None, help="results folder (default results/)")
    train.add_argument("--force", action="store_true", help="train again even if the run folder holds a finished run")
    train.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    train.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                       help="arithmetic of the LSTM's matrix products on the CPU (default float32; bfloat16 is faster "
                       "on CPUs with AVX512-BF16 or AMX and changes the last digits)")
    train.add_argument("--progress", choices=("auto", "bar", "lines", "none"), default="auto",
                       help="a bar per epoch, one line per epoch, or auto (bar on a terminal)")
    train.add_argument("--json", action="store_true", help="print the run, test micro scores and cost as JSON")
    train.set_defaults(func=_train)

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
