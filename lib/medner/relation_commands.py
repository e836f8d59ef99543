"""``medner relations train`` (one relation run into its folder) and ``medner relations folders`` (the relation
runs of a study, for the Makefile)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _train(args: argparse.Namespace) -> int:
    from medner.relation_runs import RelationSettings, execute_relation_run
    from medner.runs import DEFAULT_MAX_EPOCHS, RunSettings

    ner = RunSettings(args.corpus, args.embedding, args.seed, corpus_path=args.path, label_map=args.label_map,
                      results_root=args.results, max_epochs=DEFAULT_MAX_EPOCHS if args.epochs is None else args.epochs,
                      num_threads=args.threads, implementation=args.implementation, precision=args.precision)
    settings = RelationSettings(ner, args.variant, window=args.window, relation_loss_weight=args.relation_loss_weight)
    metrics = execute_relation_run(settings, force=args.force, progress=args.progress)
    if args.json:
        print(json.dumps({"run": metrics["run"], "relations": {setting: metrics["relations"][setting]["test"]["strict"]["micro"]
                                                               for setting in metrics["relations"]},
                          "ner": metrics["ner"]["scores"]["test"]["strict"]["micro"], "cost": metrics["cost"]}, indent=1))
    return 0


def corpus_has_relations(corpus: str, path: str | None) -> bool:
    """Whether a corpus has gold relations: the demo and PHEE do (generated, and from PHEE's events); a brat
    folder does when one of its ``.ann`` files has an ``R`` line."""
    if corpus == "phee" or corpus == "demo" and not path:
        return True
    folder = Path(path) if path else None
    if folder is None or not folder.is_dir():
        return False
    for ann in folder.rglob("*.ann"):
        with open(ann, encoding="utf-8", errors="replace") as handle:
            if any(line.startswith("R") for line in handle):
                return True
    return False


def _folders(args: argparse.Namespace) -> int:
    from medner.corpus.registry import corpus_name
    from medner.relation_runs import RelationFolder
    from medner.run_folder import RunFolder

    corpus = corpus_name(args.corpus, args.path)
    if not args.make:
        for embedding in args.embeddings:
            for variant in args.variants:
                for seed in args.seeds:
                    print(RelationFolder.of_relations(args.results, corpus, embedding, variant, int(seed)).path)
        return 0
    print(f"relation_study := {1 if corpus_has_relations(args.corpus, args.path) else ''}")
    for embedding in args.embeddings:
        for seed in args.seeds:
            print(f"relation_ner.{embedding}.{seed} := {RunFolder.of(args.results, corpus, embedding, int(seed)).path}")
            for variant in args.variants:
                folder = RelationFolder.of_relations(args.results, corpus, embedding, variant, int(seed))
                print(f"relation_dir.{embedding}.{variant}.{seed} := {folder.path}")
    return 0


def register(subparsers) -> None:
    """Add ``relations train`` and ``relations folders`` to ``medner``."""
    from medner.relation_runs import VARIANTS

    group = subparsers.add_parser("relations", help="relation runs: pipeline or shared encoder (05-relations)")
    sub = group.add_subparsers(dest="relations_command", metavar="ACTION")
    train = sub.add_parser(
        "train", help="train one relation run into results/<corpus>/relations/<embedding>/<variant>/seed-<n>",
        description="Train a relation run (pipeline: the NER run of the same corpus, embedding and seed plus a relation "
        "model with its own encoder; shared: one encoder with both heads), predict and score dev and test with gold "
        "entities and end to end, write the run folder (metrics.json last). A finished run is not trained again "
        "unless --force.")
    train.add_argument("corpus", help="demo, n2c2-2018, phee, or a name used with --path (its .ann files need R lines)")
    train.add_argument("embedding", help="embedding spec name in embeddings/ or a spec .yaml path")
    train.add_argument("--variant", choices=VARIANTS, required=True, help="pipeline or shared")
    train.add_argument("--seed", type=int, required=True, help="run seed (the pipeline's NER run has the same)")
    train.add_argument("--path", default=None, help="corpus folder (brat train/ dev/ test/)")
    train.add_argument("--label-map", default=None, help="file mapping corpus labels to n2c2 labels")
    train.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: medner.runs.DEFAULT_MAX_EPOCHS)")
    train.add_argument("--window", type=int, default=1, help="candidate pairs at most this many sentences apart (default 1)")
    train.add_argument("--relation-loss-weight", type=float, default=1.0, help="shared: the relation loss's weight (default 1)")
    train.add_argument("--results", default=None, help="results folder (default results/)")
    train.add_argument("--force", action="store_true", help="train again even if the run folder holds a finished run")
    train.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    train.add_argument("--implementation", choices=("fused", "nn.LSTM"), default="fused", help="as medner train")
    train.add_argument("--precision", choices=("float32", "bfloat16"), default="float32", help="as medner train")
    train.add_argument("--progress", choices=("auto", "bar", "lines", "none"), default="auto",
                       help="a bar per epoch, one line per epoch, or auto (bar on a terminal)")
    train.add_argument("--json", action="store_true", help="print the run, test micro scores and cost as JSON")
    train.set_defaults(func=_train)

    folders = sub.add_parser("folders", help="print the folder of every embedding x variant x seed relation run")
    folders.add_argument("corpus", help="corpus name")
    folders.add_argument("--path", default=None, help="corpus folder")
    folders.add_argument("--results", required=True, help="results folder")
    folders.add_argument("--embeddings", nargs="+", required=True, help="embedding spec names")
    folders.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS, help="variants (default both)")
    folders.add_argument("--seeds", nargs="+", required=True, help="seeds")
    folders.add_argument("--make", action="store_true", help="print make assignments relation_dir.<embedding>.<variant>.<seed> "
                         ":= <folder>, and relation_study := 1 when the corpus has relations")
    folders.set_defaults(func=_folders)
    group.set_defaults(func=lambda args: group.print_help() or 0)
