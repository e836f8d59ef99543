"""``medner embed`` (prepare an embedding for a corpus and fill the cache) and ``medner embeddings list``."""

from __future__ import annotations

import argparse
import json
import logging
import time

from medner.embeddings.base import EmbeddingUnavailableError

SPLITS = ("train", "dev", "test")


def register(subparsers) -> None:
    """Add ``embed`` and ``embeddings list`` to ``medner``."""
    embed = subparsers.add_parser(
        "embed", help="Prepare an embedding for a corpus (train in-domain if needed) and fill the vector cache",
        description="Build the embedder a spec describes (training in-domain GloVe/Flair on the corpus's training "
                    "text when the spec says so, reusing stored artefacts), embed the chosen splits into the disk "
                    "cache, and report OOV rates (static vectors), cache hits, misses, seconds and MB.")
    embed.add_argument("spec", help="embedding spec name (embeddings/<name>.yaml) or path to a spec file")
    embed.add_argument("corpus", help="corpus name (demo, phee, n2c2-2018, brat) or folder")
    embed.add_argument("--path", default=None, help="corpus folder (required for some corpora)")
    embed.add_argument("--label-map", default=None, help="label map file for brat corpora")
    embed.add_argument("--splits", default=",".join(SPLITS), help="comma-separated splits (default: %(default)s)")
    embed.add_argument("--cache-dir", default=None, help="cache folder (default: embeddings/cache)")
    embed.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    embed.set_defaults(func=_embed_command)

    group = subparsers.add_parser("embeddings", help="Embedding specs: list them with their availability")
    group_sub = group.add_subparsers(dest="embeddings_command", metavar="ACTION")
    listing = group_sub.add_parser("list", help="List embedding specs with family and whether they work offline")
    listing.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    listing.set_defaults(func=_list_command)
    group.set_defaults(func=lambda args: group.print_help() or 0)


def _embed_command(args: argparse.Namespace) -> int:
    from medner.cli import CommandError
    from medner.corpus.registry import load_corpus
    from medner.embeddings.cache import EmbeddingCache, embed_corpus
    from medner.embeddings.specs import build_embedder, load_spec

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("medner").setLevel(logging.INFO)  # our training/caching lines, not gensim's chatter
    splits = tuple(part.strip() for part in args.splits.split(",") if part.strip())
    unknown = [split for split in splits if split not in SPLITS]
    if not splits or unknown:
        raise CommandError(f"--splits must be a comma-separated subset of {','.join(SPLITS)}, got {args.splits!r}")
    spec = load_spec(args.spec)
    corpus = load_corpus(args.corpus, path=args.path, label_map=args.label_map)
    started = time.perf_counter()
    try:
        embedder = build_embedder(spec, corpus, progress=not args.json)
    except EmbeddingUnavailableError as exc:
        raise CommandError(str(exc)) from None
    prepare_seconds = time.perf_counter() - started
    report = embed_corpus(embedder, corpus, splits, cache=EmbeddingCache(args.cache_dir), progress=not args.json)
    training = embedder.training_record
    report["prepare"] = {"seconds": prepare_seconds, "training": _training_summary(training)}
    report["spec"] = {"name": spec.name, "family": spec.family, "source": spec.source}
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    print(f"{spec.name} ({spec.family}, dim {embedder.dim}) on {corpus.name}: fingerprint {embedder.fingerprint[:16]}")
    prep = report["prepare"]
    trained = prep["training"]
    if trained and "reused" in trained:
        verb = "reused trained artefacts" if trained["reused"] else f"trained in {trained['seconds']:.1f} s"
        print(f"  in-domain: {verb} ({trained['path']})")
    print(f"  embedder ready in {prep['seconds']:.1f} s")
    print(f"  {'split':<6} {'sentences':>9} {'tokens':>8} {'cache':>7} {'seconds':>8} {'MB':>8} {'OOV':>7}")
    for split, entry in report["splits"].items():
        oov = f"{100 * entry['oov']['oov_rate']:.2f}%" if "oov" in entry else "-"
        print(f"  {split:<6} {entry['sentences']:>9} {entry['tokens']:>8} {'hit' if entry['hit'] else 'miss':>7} "
              f"{entry['seconds']:>8.2f} {entry['mb']:>8.2f} {oov:>7}")
    for split, entry in report["splits"].items():
        if "oov" in entry:
            stages = ", ".join(f"{stage} {count}" for stage, count in entry["oov"]["stages"].items())
            print(f"  lookup {split}: {stages}")
    cache = report["cache"]
    print(f"  cache: {cache['hits']} hits, {cache['misses']} misses, {cache['rebuilt']} rebuilt, "
          f"{cache['seconds']:.2f} s, {cache['mb']:.2f} MB")
    return 0


def _training_summary(training) -> dict | None:
    if not training:
        return None
    if "reused" in training:
        return {"path": training["path"], "reused": training["reused"], "seconds": training.get("seconds")}
    return {name: _training_summary(part) for name, part in training.items()}  # a stack: one record per part


def _list_command(args: argparse.Namespace) -> int:
    from medner.embeddings.specs import availability, list_specs

    rows = []
    for spec in list_specs():
        ok, detail = availability(spec)
        rows.append({"name": spec.name, "family": spec.family, "offline": ok, "detail": detail,
                     "description": spec.description})
    if args.json:
        print(json.dumps({"specs": rows}, indent=2))
        return 0
    width = max(len(row["name"]) for row in rows)
    print(f"{'spec':<{width}}  {'family':<7}  offline  detail")
    for row in rows:
        print(f"{row['name']:<{width}}  {row['family']:<7}  {'yes' if row['offline'] else 'no':<7}  {row['detail']}")
    return 0
