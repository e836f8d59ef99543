"""One run of the study and its folder: corpus x embedding x seed (x training fraction).

Layout (:func:`run_dir`)::

    <results>/<corpus>/<embedding>/seed-<n>[/frac-<f>]/
        metrics.json          everything measured (schema below); written LAST, atomically
        history.csv           epoch,train_loss,dev_f1,learning_rate,seconds
        model.pt              {"state_dict", "config", "tags", ...} of the best dev epoch
        predictions/brat/     test documents: <id>.txt (copied) + <id>.ann (predicted entities)
        predictions/test.conll  test tokens with predicted tags

A run folder is finished exactly when ``metrics.json`` exists: every other file is
written first (each through a temporary file and ``os.replace``), and ``metrics.json``
last, so an interrupted run never looks finished. :func:`execute_run` on a finished
folder returns the stored metrics without training, unless ``force``.

The training subset for ``fraction < 1`` is nested: the training document ids are
sorted, shuffled once with the run seed, and the first ``ceil(fraction * n)`` are
kept, so with one seed a smaller fraction's documents are contained in a larger one's.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medner import __version__, paths

#: Epochs of a run unless told otherwise (flair's schedule may stop sooner). At 10 the demo-corpus
#: runs were still improving on dev; at 20 a demo run takes under two minutes on a 2-core CPU.
DEFAULT_MAX_EPOCHS = 20

#: Bumped whenever a key of metrics.json changes meaning or moves.
SCHEMA_VERSION = 1

_SCORES = "score_documents() dict: {strict, lenient: {micro, macro, weighted, overall_macro, labels}, documents, ignored}"

#: The documented shape of metrics.json: key -> (type, description), nested dicts for sections.
#: :func:`validate_metrics` checks a metrics dict against it (keys present, types right).
METRICS_SCHEMA: dict[str, Any] = {
    "schema_version": (int, "version of this schema (SCHEMA_VERSION)"),
    "run": {
        "corpus": (str, "corpus name as the registry gives it"),
        "embedding": (str, "embedding spec name"),
        "seed": (int, "run seed: weight initialisation, batch order, dropout, training subset"),
        "fraction": (float, "share of training documents used, in (0, 1]"),
        "finished": (str, "UTC time the run finished, ISO 8601"),
    },
    "config": {
        "model": (dict, "BiLSTMCRFTagger keyword arguments (hidden_size, dropouts, use_crf, ...)"),
        "training": (dict, "TrainingConfig values (learning rate, batch size, annealing, max_epochs, seed, threads) "
                           "and kernels: the LSTM's and CRF's loops, compiled or torch (medner.model.kernels), "
                           "and step_products: the LSTM's step products, packed (the kernels' own) or bmm"),
        "tag_scheme": (str, "BIO or BIOES"),
        "tags": (list, "the tag dictionary, index order"),
        "embedding": (dict, "spec name, family, source, options, embedder fingerprint and dimension"),
        "seeds": (dict, "every RNG seeded and its seed"),
        "deterministic_algorithms": (bool, "torch deterministic algorithms on during training"),
    },
    "corpus": {
        "name": (str, "corpus name"),
        "source": (str, "folder read"),
        "labels": (list, "labels scored, n2c2 order"),
        "split_record": (dict, "how the splits were made (folders or seeded ids)"),
        "ignored_labels": (dict, "source label -> entities the label map ignored"),
        "splits": (dict, "per split: documents, sentences, tokens, entities"),
        "tagging": (dict, "per split: TaggingReport.as_dict() (kept / dropped per label and reason)"),
        "training_documents": (dict, "fraction subset: used, available, seed, sha256 of the sorted ids"),
    },
    "environment": {
        "versions": (dict, "python, medner, torch, numpy, transformers, flair, gensim"),
        "hardware": (dict, "platform, processor, cpu_count, torch threads, memory_gb"),
    },
    "cost": {
        "embedding_seconds": (float, "seconds to read (hit) or compute (miss) the vectors of train+dev+test"),
        "embedding_cache_hit": (bool, "all three splits were read from the cache"),
        "embedder_build_seconds": (float, "seconds to build the embedder (loading models, in-domain training or reuse)"),
        "training_seconds": (float, "seconds in the epoch loop, dev evaluation included"),
        "epochs": (int, "epochs run"),
        "seconds_per_epoch": (float, "training_seconds / epochs"),
        "tokens_per_second": (float, "training tokens processed per second of pure training (no dev evaluation)"),
        "trainable_parameters": (int, "weights the tagger trains"),
        "peak_rss_mb": (float, "peak resident memory of the process at the end of the run, MiB"),
        "total_seconds": (float, "wall time of the whole run"),
    },
    "best_epoch": (int, "epoch whose weights were kept (best dev strict micro-F1)"),
    "best_dev_f1": (float, "dev strict micro-F1 of that epoch"),
    "stopped_because": (str, "why training stopped"),
    "scores": {
        "test": (dict, _SCORES),
        "dev": (dict, _SCORES),
    },
    "confusion": {
        "span": (dict, "span_confusion() on test: rows labels+SPURIOUS, columns labels+MISSED, counts, normalised"),
        "token": (dict, "token_confusion() on test tags: rows/columns labels+O, counts, normalised"),
    },
    "semeval": (dict, "score_semeval() on test: the four SemEval-2013 schemas, overall and per label"),
    "token_bio": (dict, "score_bio_strict() on test tags (seqeval strict IOB2)"),
}


def validate_metrics(metrics: dict, schema: dict | None = None, where: str = "metrics") -> None:
    """Raise ValueError naming the first key that is missing or of the wrong type under METRICS_SCHEMA."""
    schema = METRICS_SCHEMA if schema is None else schema
    if not isinstance(metrics, dict):
        raise ValueError(f"{where}: expected an object, found {type(metrics).__name__}")
    for key, rule in schema.items():
        if key not in metrics:
            raise ValueError(f"{where}.{key}: missing")
        value = metrics[key]
        if isinstance(rule, dict):
            validate_metrics(value, rule, f"{where}.{key}")
            continue
        expected = rule[0]
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) if expected is float else isinstance(value, expected)
        if expected is int and isinstance(value, bool):
            ok = False
        if not ok:
            raise ValueError(f"{where}.{key}: expected {expected.__name__}, found {type(value).__name__}")
    for split in ("test", "dev"):
        if where == "metrics" and "micro" not in metrics["scores"][split].get("strict", {}):
            raise ValueError(f"metrics.scores.{split}.strict.micro: missing")


def run_dir(results_root: str | Path | None, corpus: str, embedding: str, seed: int, fraction: float = 1.0) -> Path:
    """``<results_root>/<corpus>/<embedding>/seed-<n>[/frac-<f>]``; the frac level only when fraction != 1."""
    root = Path(results_root) if results_root else paths.results_dir()
    folder = root / corpus / embedding / f"seed-{int(seed)}"
    if float(fraction) != 1.0:
        folder = folder / f"frac-{float(fraction):g}"
    return folder


def training_subset(doc_ids: Sequence[str], fraction: float, seed: int) -> list[str]:
    """The training document ids of a fraction: nested across fractions for one seed (see module docstring)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    shuffled = sorted(doc_ids)
    random.Random(seed).shuffle(shuffled)
    return shuffled[: math.ceil(fraction * len(shuffled))]


def tag_dictionary(labels: Sequence[str], scheme: str = "BIO") -> list[str]:
    """``O`` then the prefixed tags of every label, label by label (index order of the tagger's outputs)."""
    prefixes = {"BIO": ("B", "I"), "BIOES": ("B", "I", "E", "S")}
    if scheme not in prefixes:
        raise ValueError(f"tag scheme must be BIO or BIOES, got {scheme!r}")
    return ["O"] + [f"{p}-{label}" for label in labels for p in prefixes[scheme]]


def load_metrics(folder: str | Path) -> dict:
    """The metrics.json of a finished run folder."""
    path = Path(folder) / "metrics.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: line {exc.lineno}: expected JSON ({exc.msg})") from None


def load_runs(results_root: str | Path | None, corpus: str) -> list[dict]:
    """The metrics of every finished run of ``corpus`` (folders with metrics.json), sorted by path."""
    root = (Path(results_root) if results_root else paths.results_dir()) / corpus
    found = sorted(root.glob("*/seed-*/metrics.json")) + sorted(root.glob("*/seed-*/frac-*/metrics.json"))
    return [load_metrics(p.parent) for p in found]


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def environment() -> dict:
    """Library versions and hardware, for metrics.json."""
    versions = {"python": platform.python_version(), "medner": __version__, "torch": torch.__version__, "numpy": np.__version__}
    for name in ("transformers", "flair", "gensim"):
        module = sys.modules.get(name)
        if module is None:
            try:
                from importlib.metadata import version

                versions[name] = version(name)
            except Exception:  # not installed: say so rather than fail the run
                versions[name] = None
        else:
            versions[name] = getattr(module, "__version__", None)
    try:
        import psutil

        memory_gb = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        memory_gb = None
    hardware = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gb": memory_gb,
    }
    return {"versions": versions, "hardware": hardware}


def _split_summary(docs, sentences) -> dict:
    return {
        "documents": len(docs),
        "sentences": len(sentences),
        "tokens": sum(len(s) for s in sentences),
        "entities": sum(len(d.entities) for d in docs),
    }


def execute_run(
    corpus_name: str,
    embedding: str,
    seed: int,
    *,
    fraction: float = 1.0,
    corpus_path: str | Path | None = None,
    label_map: str | Path | None = None,
    demo_size: int | None = None,
    results_root: str | Path | None = None,
    max_epochs: int = DEFAULT_MAX_EPOCHS,
    force: bool = False,
    progress: str = "auto",
    tag_scheme: str = "BIO",
    num_threads: int | None = 1,
    cache_root: str | Path | None = None,
    **model_kwargs: Any,
) -> dict:
    """Train, predict and score one run, writing its folder; returns the metrics (see METRICS_SCHEMA).

    A finished run folder (metrics.json present) is read back instead, unless ``force``.
    ``model_kwargs`` go to :class:`medner.model.BiLSTMCRFTagger` (``hidden_size``, ``use_crf``, ...).
    ``num_threads``: torch CPU threads for training, one by default (see
    :func:`medner.training.train_tagger`): under ``make -j2`` two runs with two
    threads each trained an epoch more than ten times slower than with one.
    ``None`` uses every core.
    """
    from medner.corpus.brat import write_brat_folder
    from medner.corpus.conll import write_conll
    from medner.corpus.document import Sentence
    from medner.corpus.registry import load_corpus
    from medner.corpus.tagging import decode_documents, tag_documents
    from medner.embeddings.cache import EmbeddingCache
    from medner.embeddings.specs import build_embedder, load_spec
    from medner.evaluation.confusion import span_confusion, token_confusion
    from medner.evaluation.semeval import score_semeval
    from medner.evaluation.span import score_documents, strict_micro_f1
    from medner.evaluation.token import score_bio_strict
    from medner.model import BiLSTMCRFTagger
    from medner.training import TrainingConfig, peak_rss_mb, predict_tags, resolve_progress, train_tagger

    started = time.perf_counter()
    mode = resolve_progress(progress)  # type: ignore[arg-type]
    log = lambda line: print(line, flush=True)  # noqa: E731 - batch logs want each line at once
    spec = load_spec(embedding)
    if not 0.0 < float(fraction) <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    corpus = load_corpus(corpus_name, path=corpus_path, label_map=label_map, demo_size=demo_size)
    folder = run_dir(results_root, corpus.name, spec.name, seed, fraction)
    metrics_path = folder / "metrics.json"
    if metrics_path.exists() and not force:
        finished = load_metrics(folder)
        recorded = finished.get("config", {}).get("model", {})
        differing = {k: v for k, v in model_kwargs.items() if k in recorded and recorded[k] != v}
        if differing:
            key, value = next(iter(differing.items()))
            raise ValueError(
                f"{metrics_path}: the finished run was trained with {key}={recorded[key]!r}, not {value!r}; "
                "retrain it with force=True (--force) or write to another results folder"
            )
        if mode != "none":
            log(f"{folder}: finished run found, not training again (force=True retrains)")
        return finished
    folder.mkdir(parents=True, exist_ok=True)
    # From here on the folder must not look finished until the new metrics.json lands.
    metrics_path.unlink(missing_ok=True)

    labels = list(corpus.labels)
    tags = tag_dictionary(labels, tag_scheme)
    tag_index = {t: i for i, t in enumerate(tags)}
    train_ids = training_subset([d.id for d in corpus.splits["train"]], float(fraction), seed)
    keep = set(train_ids)
    docs = {
        "train": [d for d in corpus.splits["train"] if d.id in keep],
        "dev": corpus.splits["dev"],
        "test": corpus.splits["test"],
    }
    sentences: dict[str, list[Sentence]] = {}
    tagging: dict[str, dict] = {}
    for split, split_docs in docs.items():
        sentences[split], report = tag_documents(split_docs, scheme=tag_scheme)
        # Empty sentences carry no token to tag or embed.
        sentences[split] = [s for s in sentences[split] if len(s) > 0]
        tagging[split] = report.as_dict()

    build_start = time.perf_counter()
    embedder = build_embedder(spec, corpus, progress=mode == "bar")
    build_seconds = time.perf_counter() - build_start
    cache = EmbeddingCache(cache_root)
    vectors = {}
    for split in ("train", "dev", "test"):
        words = [s.words for s in sentences[split]]
        vectors[split] = cache.load_or_compute(embedder, corpus.name, split, words, progress=mode == "bar")
    embedding_seconds = sum(v.seconds for v in vectors.values())
    cache_hit = all(v.hit for v in vectors.values())
    if mode == "lines":
        log(
            f"{spec.name} vectors for {corpus.name}: {'read from cache' if cache_hit else 'computed'} "
            f"in {embedding_seconds:.1f} s (dimension {embedder.dim})"
        )

    train_tags = []
    for s in sentences["train"]:
        unknown = [t for t in s.tags if t not in tag_index]
        if unknown:
            raise ValueError(f"document {s.doc_id} sentence {s.index}: tag {unknown[0]!r} is not in the tag dictionary {tags}")
        train_tags.append([tag_index[t] for t in s.tags])

    def to_strings(predicted: list[list[int]]) -> list[list[str]]:
        return [[tags[i] for i in row] for row in predicted]

    def dev_f1(predicted: list[list[int]]) -> float:
        pred_docs = decode_documents(docs["dev"], sentences["dev"], to_strings(predicted), scheme=tag_scheme)
        return strict_micro_f1(docs["dev"], pred_docs, labels=labels)

    # Weight initialisation is part of what the seed fixes.
    torch.manual_seed(seed)
    model = BiLSTMCRFTagger(embedder.dim, len(tags), **model_kwargs)
    config = TrainingConfig(max_epochs=max_epochs, seed=seed, num_threads=num_threads)
    result = train_tagger(model, vectors["train"], train_tags, vectors["dev"], dev_f1, config, progress=mode, log=log)

    predicted = {split: to_strings(predict_tags(model, vectors[split])) for split in ("dev", "test")}
    pred_docs = {
        split: decode_documents(docs[split], sentences[split], predicted[split], scheme=tag_scheme) for split in ("dev", "test")
    }
    scores = {split: score_documents(docs[split], pred_docs[split], labels=labels) for split in ("test", "dev")}
    gold_test_tags = [s.tags for s in sentences["test"]]

    # Files first, metrics.json last.
    predictions = folder / "predictions"
    brat_dir = predictions / "brat"
    if brat_dir.exists():
        shutil.rmtree(brat_dir)
    staging = predictions / ".brat-partial"
    if staging.exists():
        shutil.rmtree(staging)
    write_brat_folder(pred_docs["test"], staging, write_text=True)
    os.replace(staging, brat_dir)
    predicted_sentences = [
        Sentence(doc_id=s.doc_id, index=s.index, tokens=s.tokens, tags=tag_row)
        for s, tag_row in zip(sentences["test"], predicted["test"])
    ]
    _atomic_write(predictions / "test.conll", lambda tmp: write_conll(predicted_sentences, tmp))
    history = io.StringIO()
    writer = csv.DictWriter(history, fieldnames=["epoch", "train_loss", "dev_f1", "learning_rate", "seconds"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(result.history_rows())
    _write_text(folder / "history.csv", history.getvalue())
    checkpoint = {
        "state_dict": result.best_state,
        "config": model.config,
        "tags": tags,
        "tag_scheme": tag_scheme,
        "embedding": {"name": spec.name, "fingerprint": embedder.fingerprint, "dim": embedder.dim},
        "best_epoch": result.best_epoch,
    }
    _atomic_write(folder / "model.pt", lambda tmp: torch.save(checkpoint, tmp))

    training_config = asdict(config)
    training_config["num_threads"] = result.num_threads
    training_config["kernels"] = result.kernels
    training_config["step_products"] = result.step_products
    metrics = {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "corpus": corpus.name,
            "embedding": spec.name,
            "seed": int(seed),
            "fraction": float(fraction),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "config": {
            "model": model.config,
            "training": training_config,
            "tag_scheme": tag_scheme,
            "tags": tags,
            "embedding": {
                "name": spec.name,
                "family": spec.family,
                "source": str(spec.source),
                "options": spec.options,
                "fingerprint": embedder.fingerprint,
                "dim": embedder.dim,
                "training_record": getattr(embedder, "training_record", None),
            },
            "seeds": {**result.seeds, "model_init": int(seed), "batch_order": int(seed), "training_subset": int(seed)},
            "deterministic_algorithms": True,
        },
        "corpus": {
            "name": corpus.name,
            "source": corpus.source,
            "labels": labels,
            "split_record": corpus.split_record,
            "ignored_labels": corpus.ignored,
            "splits": {split: _split_summary(docs[split], sentences[split]) for split in docs},
            "tagging": tagging,
            "training_documents": {
                "used": len(train_ids),
                "available": len(corpus.splits["train"]),
                "seed": int(seed),
                "ids_sha256": _sha256("\n".join(sorted(train_ids))),
            },
        },
        "environment": environment(),
        "cost": {
            "embedding_seconds": float(embedding_seconds),
            "embedding_cache_hit": bool(cache_hit),
            "embedder_build_seconds": float(build_seconds),
            "training_seconds": float(result.seconds),
            "epochs": int(result.epochs),
            "seconds_per_epoch": float(result.seconds_per_epoch),
            "tokens_per_second": float(result.tokens_per_second),
            "trainable_parameters": int(result.trainable_parameters),
            "peak_rss_mb": float(peak_rss_mb()),
            "total_seconds": float(time.perf_counter() - started),
        },
        "best_epoch": int(result.best_epoch),
        "best_dev_f1": float(result.best_dev_f1),
        "stopped_because": result.stopped_because,
        "scores": scores,
        "confusion": {
            "span": span_confusion(docs["test"], pred_docs["test"], labels),
            "token": token_confusion(gold_test_tags, predicted["test"], labels),
        },
        "semeval": score_semeval(docs["test"], pred_docs["test"], labels=labels),
        "token_bio": score_bio_strict(gold_test_tags, predicted["test"], labels=labels),
    }
    validate_metrics(metrics)
    _write_text(metrics_path, json.dumps(_plain(metrics), indent=1, sort_keys=False) + "\n")
    if mode != "none":
        micro = scores["test"]["strict"]["micro"]
        log(
            f"{corpus.name} / {spec.name} / seed {seed}"
            + (f" / fraction {fraction:g}" if fraction != 1.0 else "")
            + f": test strict micro-F1 {micro['f1']:.4f} (P {micro['precision']:.4f}, R {micro['recall']:.4f}), "
            f"best epoch {result.best_epoch}/{result.epochs}, {metrics['cost']['total_seconds']:.0f} s -> {folder}"
        )
    return json.loads(metrics_path.read_text(encoding="utf-8"))


def _sha256(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    """JSON-ready copy: numpy scalars and arrays to Python, tuples to lists, paths to strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
