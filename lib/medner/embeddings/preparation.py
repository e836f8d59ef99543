"""Preparing one embedding for one corpus (the ``01-embeddings`` step): build the embedder, training
in-domain vectors or language models when its spec asks, and fill the vector cache for every split."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medner.checks import progress_mode

SPLITS: tuple[str, ...] = ("train", "dev", "test")


def prepare_embedding(
    corpus: Any,
    embedding: str,
    *,
    cache_root: str | os.PathLike[str] | None = None,
    workdir: str | os.PathLike[str] | None = None,
    progress: str = "auto",
) -> dict[str, Any]:
    """Build one embedding for one corpus (training in-domain vectors if its spec asks) and fill the cache.

    Every split is embedded once through :func:`medner.embeddings.cache.embed_corpus`, so the
    runs that follow only read the cache. Returns that function's report (per split:
    sentences, tokens, cache hit, seconds, MB, OOV report for static vectors; cache totals)
    plus ``embedding`` (the name asked for), ``build_seconds`` (building the embedder,
    in-domain training included) and ``training`` (the in-domain training record, or None). In ``lines`` mode each step prints one line.
    """
    from medner.embeddings.cache import EmbeddingCache, embed_corpus
    from medner.embeddings.specs import build_embedder, load_spec

    mode = progress_mode(progress)
    show_bars = mode == "bar"
    started = time.perf_counter()
    embedder = build_embedder(load_spec(embedding), corpus, workdir=Path(workdir) if workdir else None, progress=show_bars)
    build_seconds = time.perf_counter() - started
    if mode == "lines":
        print(f"{embedding}: embedder ready in {build_seconds:.1f} s ({embedder.dim} dimensions)", flush=True)
    cache = EmbeddingCache(Path(cache_root) if cache_root else None)
    report = embed_corpus(embedder, corpus, SPLITS, cache=cache, progress=show_bars)
    report["embedding"] = embedding
    report["build_seconds"] = build_seconds
    report["training"] = getattr(embedder, "training_record", None)
    if mode == "lines":
        for row in embedding_split_rows(report):
            oov = f", OOV {row['oov_rate']:.1%}" if row["oov_rate"] is not None else ""
            print(f"{embedding} {row['split']}: {row['tokens']} tokens, cache {'hit' if row['cache_hit'] else 'miss'}, "
                  f"{row['seconds']:.1f} s, {row['mb']:.1f} MB{oov}", flush=True)
    return report


def embedding_split_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One flat row per split of a :func:`prepare_embedding` report: sizes, OOV rate, cache hit, seconds, MB."""
    rows = []
    for split, entry in report["splits"].items():
        oov = entry.get("oov")
        rows.append({
            "split": split,
            "sentences": entry["sentences"],
            "tokens": entry["tokens"],
            "oov_rate": oov["oov_rate"] if oov else None,
            "cache_hit": entry["hit"],
            "seconds": entry["seconds"],
            "mb": entry["mb"],
        })
    return rows
