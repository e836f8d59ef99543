"""``medner train`` (one run into its run folder), ``medner predict`` (tag new texts with a finished run)
and ``medner runs folders`` (the run folders of a study, for the Makefile)."""

from __future__ import annotations

import argparse
import json

from medner.study_order import FROZEN_KIND, KINDS_WITHOUT_EMBEDDING, REFERENCE_KINDS


def _train(args: argparse.Namespace) -> int:
    from medner.runs import execute_run

    from medner.runs import DEFAULT_MAX_EPOCHS

    epochs = DEFAULT_MAX_EPOCHS if args.epochs is None else args.epochs
    if epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {args.epochs}")
    if args.embedding is None and args.kind not in KINDS_WITHOUT_EMBEDDING:
        raise ValueError(f"embedding: expected an embedding spec name for kind {args.kind}; only "
                         f"{', '.join(KINDS_WITHOUT_EMBEDDING)} reads none")
    metrics = execute_run(
        args.corpus,
        args.embedding or "none",
        args.seed,
        kind=args.kind,
        fraction=args.fraction,
        folds=args.folds,
        fold=args.fold,
        stratified=not args.no_stratify,
        corpus_path=args.path,
        label_map=args.label_map,
        results_root=args.results,
        max_epochs=epochs,
        force=args.force,
        progress=args.progress,
        num_threads=args.threads,
        implementation=args.implementation,
        precision=args.precision,
    )
    if args.json:
        print(json.dumps({"run": metrics["run"], "test": metrics["scores"]["test"]["strict"]["micro"], "cost": metrics["cost"]}, indent=1))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from medner.predict import predict_folder

    summary = predict_folder(args.run_folder, args.text_dir, args.out, progress=args.progress == "bar",
                             log=lambda line: print(line, flush=True))
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        counts = ", ".join(f"{label} {n}" for label, n in sorted(summary["entities"].items())) or "no entities"
        print(f"{summary['documents']} documents tagged ({counts}) -> {summary['out']}")
    return 0


def _folders(args: argparse.Namespace) -> int:
    from medner.corpus.registry import corpus_name
    from medner.run_folder import make_variables, study_folders

    corpus = corpus_name(args.corpus, args.path)
    references = {"references": args.references, "reference_embeddings": args.reference_embeddings}
    if args.make:
        print(make_variables(args.results, corpus, args.embeddings, args.seeds, args.fractions, args.folds, **references),
              end="")
        return 0
    for _, folder in study_folders(args.results, corpus, args.embeddings, args.seeds, args.fractions, args.folds,
                                   **references):
        print(folder.path)
    return 0


def register(subparsers) -> None:
    """Add ``train``, ``predict`` and ``runs folders`` to ``medner``."""
    train = subparsers.add_parser(
        "train",
        help="train one run (corpus x embedding x seed [x fraction]) into results/<corpus>/<embedding>/seed-<n>",
        description="Train the BiLSTM-CRF on cached vectors, predict and score the test set, write the run folder "
        "(metrics.json last). A finished run is not trained again unless --force.",
    )
    train.add_argument("corpus", help="demo, n2c2-2018, phee, or a name used with --path")
    train.add_argument("embedding", nargs="?", default=None,
                       help="embedding spec name in embeddings/ (glove, flair, bert, ...) or a spec .yaml path; "
                       "the finetune kinds fine-tune it (a bert-family spec); none for scratch-crf")
    train.add_argument("--kind", choices=(FROZEN_KIND, *REFERENCE_KINDS), default=FROZEN_KIND,
                       help="what to train: the study's BiLSTM-CRF on frozen vectors (bilstm-crf, the default), or a "
                       "reference system: finetune / finetune-crf (the encoder fine-tuned, softmax or CRF head), "
                       "scratch-crf (a Transformer-CRF from scratch); folder results/<corpus>/<kind>-<embedding>/")
    train.add_argument("--seed", type=int, required=True, help="run seed (weights, batch order, dropout, training subset)")
    train.add_argument("--fraction", type=float, default=1.0, help="share of training documents, in (0, 1] (default 1)")
    train.add_argument("--folds", type=int, default=None,
                       help="k-fold cross-validation over all the corpus's documents (with --fold); default: its own split")
    train.add_argument("--fold", type=int, default=None, help="the fold of this run, 1..folds: its test documents")
    train.add_argument("--no-stratify", action="store_true", help="deal the folds round-robin, not stratified by label")
    train.add_argument("--path", default=None, help="corpus folder (brat train/ dev/ test/)")
    train.add_argument("--label-map", default=None, help="file mapping corpus labels to n2c2 labels")
    train.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: medner.runs.DEFAULT_MAX_EPOCHS)")
    train.add_argument("--results", default=None, help="results folder (default results/)")
    train.add_argument("--force", action="store_true", help="train again even if the run folder holds a finished run")
    train.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    train.add_argument("--implementation", choices=("fused", "nn.LSTM"), default="fused",
                       help="how the tagger computes: fused (compiled CPU loops, the default) or nn.LSTM (the model as "
                       "written, in PyTorch operations); the same maths, the last digits differ")
    train.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                       help="arithmetic of the LSTM's matrix products on the CPU (default float32; bfloat16 is faster "
                       "on CPUs with AVX512-BF16 or AMX and changes the last digits)")
    train.add_argument("--progress", choices=("auto", "bar", "lines", "none"), default="auto",
                       help="a bar per epoch, one line per epoch, or auto (bar on a terminal)")
    train.add_argument("--json", action="store_true", help="print the run, test micro scores and cost as JSON")
    train.set_defaults(func=_train)

    predict = subparsers.add_parser(
        "predict", help="tag the .txt files of a folder with a finished run's model; write brat .ann files",
        description="Tokenise every TEXT_DIR/*.txt as the run did, embed it with the run's embedding spec (checked "
        "against the fingerprint the run recorded), tag it with the run's model.pt (loaded with weights_only) and "
        "write <id>.ann and <id>.txt into --out.")
    predict.add_argument("run_folder", help="a finished run folder (results/<corpus>/<embedding>/seed-<n>[/frac-<f>])")
    predict.add_argument("text_dir", help="folder of .txt files to tag")
    predict.add_argument("--out", required=True, help="new (or empty) folder for the brat predictions")
    predict.add_argument("--progress", choices=("bar", "none"), default="none", help="a progress bar while embedding")
    predict.add_argument("--json", action="store_true", help="print the summary as JSON")
    predict.set_defaults(func=_predict)

    group = subparsers.add_parser("runs", help="the run folders of a study")
    group_sub = group.add_subparsers(dest="runs_command", metavar="ACTION")
    folders = group_sub.add_parser(
        "folders", help="print the run folder of every embedding x seed x fraction (medner.run_folder.RunFolder)")
    folders.add_argument("corpus", help="corpus name (demo, phee, n2c2-2018, any name with --path, brat)")
    folders.add_argument("--path", default=None, help="corpus folder (names a brat corpus by its folder)")
    folders.add_argument("--results", required=True, help="results folder")
    folders.add_argument("--embeddings", nargs="+", required=True, help="embedding spec names or spec files")
    folders.add_argument("--seeds", nargs="+", required=True, help="seeds")
    folders.add_argument("--fractions", nargs="+", default=["1.0"], help="training fractions (default 1.0)")
    folders.add_argument("--folds", type=int, default=None, help="k of a k-fold cross-validation (default: none)")
    folders.add_argument("--references", nargs="*", default=[], choices=REFERENCE_KINDS,
                         help="reference systems to add for every seed (medner.reference): " + ", ".join(REFERENCE_KINDS))
    folders.add_argument("--reference-embeddings", nargs="*", default=["bert"],
                         help="BERT-family specs the finetune kinds fine-tune (default bert)")
    folders.add_argument("--make", action="store_true",
                         help="print make assignments run_dir.<embedding>.<seed>.<fraction>.<fold> := <folder>")
    folders.set_defaults(func=_folders)
    group.set_defaults(func=lambda args: group.print_help() or 0)
