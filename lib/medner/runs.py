"""One run of the study as named stages: prepare the inputs, train, predict, score, write.

A run is one corpus x one embedding x one seed (x one training fraction) (x one fold of a
k-fold cross-validation, :mod:`medner.corpus.folds`), described by
:class:`RunSettings` and written to its :class:`~medner.run_folder.RunFolder`. Its ``kind`` says what it
trains: the study's BiLSTM-CRF on frozen vectors (``bilstm-crf``, the default), or a reference system of the
papers (:mod:`medner.reference`: ``finetune``, ``finetune-crf``, ``scratch-crf``), which trains end to end on
the run's words and reads no vector cache; both go through the same five stages, folder, scorer and metrics:

1. :func:`prepare_inputs`: the corpus and its splits, the training subset of a fraction,
   BIO tags (with what the tagging dropped), and the token vectors from the embedding cache;
2. :func:`train_model`: the BiLSTM-CRF trained on the cached vectors, early stopping on dev;
3. :func:`predict`: tags for dev and test, decoded to entities with character offsets;
4. :func:`score`: the predictions against the gold documents (n2c2 strict and lenient,
   confusion, SemEval-2013, token-level BIO);
5. :func:`write_run`: predictions, history, checkpoint, and ``metrics.json`` last.

:func:`execute_run` composes them (``medner train``); notebook ``02-train`` calls each in
its own cell. A finished run is read back by :func:`execute_run` instead of trained again,
unless ``force``.

A run is built by one process at a time: :func:`begin_run` takes the run folder's lock
(:mod:`medner.locks`) and :func:`write_run` lets it go once ``metrics.json`` is written (a process
that stops in between holds it until it ends). Another process building the same run (a second
``make``, a notebook in JupyterLab) waits, and a run finished while it waited is not trained again,
even with ``force``.

The training subset for ``fraction < 1`` is nested: the training document ids are
sorted, shuffled once with the run seed, and the first ``ceil(fraction * n)`` are
kept, so with one seed a smaller fraction's documents are contained in a larger one's.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medner import __version__, locks
from medner.corpus.folds import check_folds
from medner.model.compute import check_compute
from medner.run_folder import SCHEMA_VERSION, RunFolder
from medner.study_order import FROZEN_KIND, KINDS_WITHOUT_EMBEDDING, REFERENCE_KINDS, system_name

#: Epochs of a run unless told otherwise (flair's schedule may stop sooner). At 10 the demo-corpus
#: runs were still improving on dev; at 20 a demo run takes under two minutes on a 2-core CPU.
DEFAULT_MAX_EPOCHS = 20
#: The splits a run predicts and scores.
SCORED_SPLITS: tuple[str, ...] = ("dev", "test")


@dataclass(frozen=True)
class RunSettings:
    """Everything that defines one run: the notebook's parameters and the command line's options, checked here."""

    corpus: str  # demo, n2c2-2018, phee, or any name with corpus_path
    embedding: str  # a spec name in embeddings/ or the path of a spec .yaml file
    seed: int  # weight initialisation, batch order, dropout, training subset
    fraction: float = 1.0  # share of the training documents, in (0, 1]
    folds: int | None = None  # k of a k-fold cross-validation over the corpus's documents; None: its own split
    fold: int | None = None  # the fold of this run, 1..folds (its test documents); None without folds
    stratified: bool = True  # folds stratified by label (medner.corpus.folds)
    corpus_path: str | Path | None = None  # the corpus folder; None: the registry's default
    label_map: str | Path | None = None  # file mapping the corpus's labels to n2c2 names
    demo_size: int | None = None  # sentences of the generated demo corpus; None: the generator's default
    results_root: str | Path | None = None  # folder of the run folders; None: results/
    cache_root: str | Path | None = None  # token vector cache; None: embeddings/cache
    max_epochs: int = DEFAULT_MAX_EPOCHS  # at most this many epochs
    num_threads: int | None = 1  # torch CPU threads for training; None: every core
    implementation: str = "fused"  # how the tagger computes: fused or nn.LSTM (medner.model.compute)
    precision: str = "float32"  # the LSTM's matrix products: float32 or bfloat16
    tag_scheme: str = "BIO"  # BIO or BIOES
    model: dict[str, Any] = field(default_factory=dict)  # keyword arguments of the kind's model (hidden_size, ...)
    kind: str = FROZEN_KIND  # bilstm-crf (the study), or a reference system: finetune, finetune-crf, scratch-crf
    training: dict[str, Any] = field(default_factory=dict)  # a reference run's schedule (ReferenceTrainingConfig values)

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed: expected an integer >= 0; given {self.seed!r}")
        if isinstance(self.fraction, bool) or not 0.0 < float(self.fraction) <= 1.0:
            raise ValueError(f"fraction: expected a number in (0, 1]; given {self.fraction!r}")
        if isinstance(self.max_epochs, bool) or not isinstance(self.max_epochs, int) or self.max_epochs < 1:
            raise ValueError(f"max_epochs: expected an integer >= 1; given {self.max_epochs!r}")
        if self.num_threads is not None and (isinstance(self.num_threads, bool) or self.num_threads < 1):
            raise ValueError(f"num_threads: expected an integer >= 1 or None (every core); given {self.num_threads!r}")
        check_compute(self.implementation, self.precision)
        check_folds(self.folds, self.fold)
        tag_dictionary([], self.tag_scheme)  # refuses an unknown scheme
        system_name(self.kind, "-")  # refuses an unknown kind
        if self.kind == FROZEN_KIND and self.training:
            raise ValueError(f"training: only a reference run takes a schedule ({', '.join(REFERENCE_KINDS)}); "
                             f"given kind {self.kind!r} with {sorted(self.training)}")
        if self.kind in KINDS_WITHOUT_EMBEDDING:
            object.__setattr__(self, "embedding", "none")  # it reads no embedding: recorded as none

    def folder(self) -> RunFolder:
        """The run's folder: ``<results>/<corpus>/<embedding>/seed-<n>[/frac-<f>]``."""
        from medner.corpus.registry import corpus_name

        path = None if self.corpus_path in (None, "") else self.corpus_path
        return RunFolder.of(self.results_root, corpus_name(self.corpus, path), self.embedding, int(self.seed),
                            float(self.fraction), fold=self.fold, folds=self.folds, kind=self.kind)


@dataclass
class RunInputs:
    """What :func:`prepare_inputs` gives the later stages: documents, tagged sentences and their vectors per split."""

    corpus: Any  # medner.corpus.registry.Corpus
    spec: Any  # medner.embeddings.specs.EmbeddingSpec
    embedder: Any  # medner.embeddings.base.TokenEmbedder
    tags: list[str]  # the tag dictionary, index order
    train_ids: list[str]  # the training documents of this fraction
    documents: dict[str, list]  # split -> gold Documents
    sentences: dict[str, list]  # split -> tagged, non-empty Sentences
    tagging: dict[str, dict]  # split -> TaggingReport.as_dict()
    vectors: dict[str, Any]  # split -> CachedVectors
    build_seconds: float  # building the embedder
    started: float = field(default_factory=time.perf_counter)  # when the run began (time.perf_counter)
    kind: str = FROZEN_KIND  # what the run trains (RunSettings.kind)

    @property
    def labels(self) -> list[str]:
        return list(self.corpus.labels)

    def train_tags(self) -> list[list[int]]:
        """The gold tag indices of every training sentence; a tag outside the dictionary is a ValueError."""
        index = {t: i for i, t in enumerate(self.tags)}
        rows = []
        for s in self.sentences["train"]:
            unknown = [t for t in s.tags if t not in index]
            if unknown:
                raise ValueError(f"document {s.doc_id} sentence {s.index}: tag {unknown[0]!r} is not in the tag "
                                 f"dictionary {self.tags}")
            rows.append([index[t] for t in s.tags])
        return rows


@dataclass
class TrainedModel:
    """What :func:`train_model` gives: the tagger with its best dev epoch's weights, and how it was trained."""

    model: Any  # medner.model.BiLSTMCRFTagger
    result: Any  # medner.training.TrainingResult
    config: Any  # medner.training.TrainingConfig


@dataclass
class Predictions:
    """Predicted tags and the entities decoded from them, for each scored split."""

    tags: dict[str, list[list[str]]]
    documents: dict[str, list]


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


def _print_line(line: str) -> None:
    print(line, flush=True)  # batch logs want each line at once


# ----------------------------------------------------------------------------------------------- 1 prepare


def prepare_inputs(settings: RunSettings, *, progress: str = "auto", log: Callable[[str], None] = _print_line) -> RunInputs:
    """Stage 1: the corpus, the training subset, BIO tags and the cached token vectors of every split."""
    from medner.corpus.registry import load_corpus
    from medner.embeddings.specs import build_embedder, load_spec
    from medner.training import resolve_progress

    started = time.perf_counter()
    mode = resolve_progress(progress)  # type: ignore[arg-type]
    spec = None if settings.kind in KINDS_WITHOUT_EMBEDDING else load_spec(settings.embedding)
    corpus = load_corpus(settings.corpus, path=settings.corpus_path or None, label_map=settings.label_map or None,
                         demo_size=settings.demo_size, folds=settings.folds, fold=settings.fold,
                         stratified=settings.stratified)
    train_ids = training_subset([d.id for d in corpus.splits["train"]], float(settings.fraction), int(settings.seed))
    keep = set(train_ids)
    documents = {"train": [d for d in corpus.splits["train"] if d.id in keep],
                 "dev": corpus.splits["dev"], "test": corpus.splits["test"]}
    sentences, tagging = _tagged(documents, settings.tag_scheme)
    tags = tag_dictionary(list(corpus.labels), settings.tag_scheme)
    if settings.kind != FROZEN_KIND:  # trains on the words themselves: no vector cache
        from medner.reference.stages import reference_features

        embedder, seconds = reference_features(settings, spec)
        return RunInputs(corpus=corpus, spec=spec, embedder=embedder, tags=tags, train_ids=train_ids, documents=documents,
                         sentences=sentences, tagging=tagging, vectors={}, build_seconds=seconds, started=started,
                         kind=settings.kind)
    build_start = time.perf_counter()
    embedder = build_embedder(spec, corpus, progress=mode == "bar")
    inputs = RunInputs(corpus=corpus, spec=spec, embedder=embedder, tags=tags,
                       train_ids=train_ids, documents=documents, sentences=sentences, tagging=tagging, vectors={},
                       build_seconds=time.perf_counter() - build_start, started=started)
    inputs.vectors = _cached_vectors(inputs, settings.cache_root, progress=mode == "bar")
    if mode == "lines":
        hit = all(v.hit for v in inputs.vectors.values())
        seconds = sum(v.seconds for v in inputs.vectors.values())
        log(f"{spec.name} vectors for {corpus.name}: {'read from cache' if hit else 'computed'} "
            f"in {seconds:.1f} s (dimension {embedder.dim})")
    return inputs


def _tagged(documents: dict[str, list], scheme: str) -> tuple[dict[str, list], dict[str, dict]]:
    """Per split: the documents' tagged sentences (empty ones left out: no token to tag or embed) and the
    tagging report (every gold entity kept or dropped, and why)."""
    from medner.corpus.tagging import tag_documents

    sentences, tagging = {}, {}
    for split, split_docs in documents.items():
        tagged, report = tag_documents(split_docs, scheme=scheme)
        sentences[split] = [s for s in tagged if len(s) > 0]
        tagging[split] = report.as_dict()
    return sentences, tagging


def _cached_vectors(inputs: RunInputs, cache_root: str | Path | None, *, progress: bool) -> dict[str, Any]:
    """The token vectors of every split, read from the embedding cache (computed into it on a miss)."""
    from medner.embeddings.cache import EmbeddingCache

    cache = EmbeddingCache(cache_root or None)
    return {split: cache.load_or_compute(inputs.embedder, inputs.corpus.name, split,
                                         [s.words for s in inputs.sentences[split]], progress=progress)
            for split in ("train", "dev", "test")}


# ----------------------------------------------------------------------------------------------- 2 train


def train_model(inputs: RunInputs, settings: RunSettings, *, progress: str = "auto",
                log: Callable[[str], None] = _print_line) -> TrainedModel:
    """Stage 2: a fresh tagger (initialised from the run seed) trained on the cached vectors; the weights of
    its best dev epoch (strict micro-F1) are loaded back into it."""
    from medner.model import BiLSTMCRFTagger
    from medner.training import TrainingConfig, train_tagger

    if settings.kind != FROZEN_KIND:
        from medner.reference.stages import train_reference_model

        model, result, config = train_reference_model(inputs, settings, _dev_scorer(inputs, settings.tag_scheme),
                                                      progress=progress, log=log)
        return TrainedModel(model=model, result=result, config=config)
    # Weight initialisation is part of what the seed fixes.
    torch.manual_seed(settings.seed)
    model = BiLSTMCRFTagger(inputs.embedder.dim, len(inputs.tags), **settings.model)
    config = TrainingConfig(max_epochs=settings.max_epochs, seed=int(settings.seed), num_threads=settings.num_threads,
                            implementation=settings.implementation, precision=settings.precision)
    result = train_tagger(model, inputs.vectors["train"], inputs.train_tags(), inputs.vectors["dev"],
                          _dev_scorer(inputs, settings.tag_scheme), config, progress=progress, log=log)
    return TrainedModel(model=model, result=result, config=config)


def _dev_scorer(inputs: RunInputs, scheme: str) -> Callable[[list[list[int]]], float]:
    """Predicted dev tag indices -> dev strict micro-F1 on character offsets: what model selection maximises."""
    from medner.corpus.tagging import decode_documents
    from medner.evaluation.span import strict_micro_f1

    def dev_f1(predicted: list[list[int]]) -> float:
        strings = [[inputs.tags[i] for i in row] for row in predicted]
        pred_docs = decode_documents(inputs.documents["dev"], inputs.sentences["dev"], strings, scheme=scheme)
        return strict_micro_f1(inputs.documents["dev"], pred_docs, labels=inputs.labels)

    return dev_f1


# ----------------------------------------------------------------------------------------------- 3 predict


def predict(model, inputs: RunInputs, *, scheme: str = "BIO") -> Predictions:
    """Stage 3: the model's tags for the dev and test sentences, and the entities they decode to."""
    from medner.corpus.tagging import decode_documents
    from medner.training import predict_tags

    if inputs.kind != FROZEN_KIND:
        from medner.reference.stages import predict_split

        indices = {split: predict_split(model, inputs.sentences[split]) for split in SCORED_SPLITS}
    else:
        indices = {split: predict_tags(model, inputs.vectors[split]) for split in SCORED_SPLITS}
    tags = {split: [[inputs.tags[i] for i in row] for row in indices[split]] for split in SCORED_SPLITS}
    documents = {split: decode_documents(inputs.documents[split], inputs.sentences[split], tags[split], scheme=scheme)
                 for split in SCORED_SPLITS}
    return Predictions(tags=tags, documents=documents)


# ----------------------------------------------------------------------------------------------- 4 score


def score(inputs: RunInputs, predictions: Predictions) -> dict[str, Any]:
    """Stage 4: scores on character offsets against the gold documents, as metrics.json holds them:
    ``scores`` (test and dev), ``confusion`` (span and token, test), ``semeval`` and ``token_bio`` (test)."""
    from medner.evaluation.confusion import span_confusion, token_confusion
    from medner.evaluation.semeval import score_semeval
    from medner.evaluation.span import score_documents
    from medner.evaluation.token import score_bio_strict

    labels, gold, pred = inputs.labels, inputs.documents, predictions.documents
    gold_test_tags = [s.tags for s in inputs.sentences["test"]]
    return {
        "scores": {split: score_documents(gold[split], pred[split], labels=labels) for split in ("test", "dev")},
        "confusion": {
            "span": span_confusion(gold["test"], pred["test"], labels),
            "token": token_confusion(gold_test_tags, predictions.tags["test"], labels),
        },
        "semeval": score_semeval(gold["test"], pred["test"], labels=labels),
        "token_bio": score_bio_strict(gold_test_tags, predictions.tags["test"], labels=labels),
    }


# ----------------------------------------------------------------------------------------------- 5 write


def write_run(folder: RunFolder, settings: RunSettings, inputs: RunInputs, trained: TrainedModel,
              predictions: Predictions, scores: dict[str, Any]) -> dict:
    """Stage 5: predictions, history and checkpoint, then ``metrics.json`` (which marks the run finished).

    Returns the metrics as written (see :data:`medner.run_folder.METRICS_SCHEMA`).
    """
    from medner.corpus.document import Sentence

    test_sentences = [Sentence(doc_id=s.doc_id, index=s.index, tokens=s.tokens, tags=row)
                      for s, row in zip(inputs.sentences["test"], predictions.tags["test"])]
    folder.begin()
    folder.write_predictions(predictions.documents["test"], test_sentences)
    folder.write_history(trained.result.history_rows())
    folder.save_checkpoint(checkpoint_of(settings, inputs, trained))
    metrics = folder.write_metrics(metrics_of(settings, inputs, trained, scores))
    locks.release(folder.metrics_path)  # taken by begin_run
    return metrics


def checkpoint_of(settings: RunSettings, inputs: RunInputs, trained: TrainedModel) -> dict:
    """model.pt: the best epoch's weights and what rebuilds and runs the model; tensors and plain data only."""
    return {
        "state_dict": trained.result.best_state,
        "config": trained.model.config,
        "compute": trained.model.compute,
        "tags": inputs.tags,
        "tag_scheme": settings.tag_scheme,
        "embedding": None if inputs.embedder is None else {
            "name": inputs.spec.name, "fingerprint": inputs.embedder.fingerprint, "dim": inputs.embedder.dim},
        "best_epoch": trained.result.best_epoch,
        "kind": settings.kind,
        **({"vocabulary": list(trained.model.vocabulary.forms)} if hasattr(trained.model, "vocabulary") else {}),
    }


def metrics_of(settings: RunSettings, inputs: RunInputs, trained: TrainedModel, scores: dict[str, Any]) -> dict:
    """The metrics.json of a run (:data:`medner.run_folder.METRICS_SCHEMA`), from what its stages returned."""
    from medner.memory import peak_rss_mb

    result = trained.result
    return {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "corpus": inputs.corpus.name,
            "embedding": "none" if inputs.spec is None else inputs.spec.name,
            "kind": settings.kind,
            "seed": int(settings.seed),
            "fraction": float(settings.fraction),
            "fold": settings.fold,
            "folds": settings.folds,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "config": _config_record(settings, inputs, trained),
        "corpus": _corpus_record(settings, inputs),
        "environment": environment(),
        "cost": {
            "embedding_seconds": float(sum(v.seconds for v in inputs.vectors.values())),
            "embedding_cache_hit": bool(inputs.vectors) and all(v.hit for v in inputs.vectors.values()),
            "embedder_build_seconds": float(inputs.build_seconds),
            "training_seconds": float(result.seconds),
            "epochs": int(result.epochs),
            "seconds_per_epoch": float(result.seconds_per_epoch),
            "tokens_per_second": float(result.tokens_per_second),
            "trainable_parameters": int(result.trainable_parameters),
            "peak_rss_mb": float(peak_rss_mb()),
            "total_seconds": float(time.perf_counter() - inputs.started),
        },
        "best_epoch": int(result.best_epoch),
        "best_dev_f1": float(result.best_dev_f1),
        "stopped_because": result.stopped_because,
        **scores,
    }


def _config_record(settings: RunSettings, inputs: RunInputs, trained: TrainedModel) -> dict:
    """metrics.json's ``config``: the model, the training schedule and compute, tags, embedding and seeds."""
    result = trained.result
    training = asdict(trained.config)
    training.update(num_threads=result.num_threads, kernels=result.kernels, step_products=result.step_products)
    seed = int(settings.seed)
    return {
        "model": trained.model.config,
        "training": training,
        "tag_scheme": settings.tag_scheme,
        "tags": inputs.tags,
        "embedding": _embedding_record(inputs, trained),
        "seeds": {**result.seeds, "model_init": seed, "batch_order": seed, "training_subset": seed},
        "deterministic_algorithms": True,
    }


def _embedding_record(inputs: RunInputs, trained: TrainedModel) -> dict:
    """metrics.json's ``config.embedding``: the spec and embedder; for a run that reads no embedding, its vocabulary."""
    spec, embedder = inputs.spec, inputs.embedder
    if spec is None:
        vocabulary = getattr(trained.model, "vocabulary", None)
        return {"name": "none", "family": None, "vocabulary_size": None if vocabulary is None else len(vocabulary)}
    return {
        "name": spec.name, "family": spec.family, "source": str(spec.source), "options": spec.options,
        "fingerprint": embedder.fingerprint, "dim": embedder.dim,
        "training_record": getattr(embedder, "training_record", None),
    }


def _corpus_record(settings: RunSettings, inputs: RunInputs) -> dict:
    """metrics.json's ``corpus``: what was read, how it was split and tagged, and the training subset."""
    corpus = inputs.corpus
    return {
        "name": corpus.name,
        "source": corpus.source,
        "label_map": None if settings.label_map in (None, "") else str(Path(settings.label_map).resolve()),
        "labels": inputs.labels,
        "split_record": corpus.split_record,
        "ignored_labels": corpus.ignored,
        "splits": {split: _split_summary(inputs.documents[split], inputs.sentences[split]) for split in inputs.documents},
        "tagging": inputs.tagging,
        "training_documents": {
            "used": len(inputs.train_ids),
            "available": len(corpus.splits["train"]),
            "seed": int(settings.seed),
            "ids_sha256": hashlib.sha256("\n".join(sorted(inputs.train_ids)).encode("utf-8")).hexdigest(),
        },
    }


def _split_summary(docs, sentences) -> dict:
    return {
        "documents": len(docs),
        "sentences": len(sentences),
        "tokens": sum(len(s) for s in sentences),
        "entities": sum(len(d.entities) for d in docs),
    }


def environment() -> dict:
    """Library versions, hardware and the Slurm job (if any), for metrics.json."""
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
    return {"versions": versions, "hardware": hardware, "slurm": slurm_job()}


def slurm_job() -> dict | None:
    """The Slurm job this process runs in (``make all RUNNER=slurm``), from the variables Slurm sets in a job's
    environment; None outside Slurm."""
    job_id = os.environ.get("SLURM_JOB_ID")
    if not job_id:
        return None
    cpus = os.environ.get("SLURM_CPUS_PER_TASK", "")
    return {
        "job_id": job_id,
        "job_name": os.environ.get("SLURM_JOB_NAME"),
        "partition": os.environ.get("SLURM_JOB_PARTITION"),
        "node": os.environ.get("SLURMD_NODENAME"),
        "cluster": os.environ.get("SLURM_CLUSTER_NAME"),
        "cpus_per_task": int(cpus) if cpus.isdigit() else None,
    }


# ----------------------------------------------------------------------------------------------- a whole run


class FinishedMeanwhile(ValueError):
    """Another process finished the run while this one waited for its lock: it is not trained again."""


def begin_run(settings: RunSettings, *, force: bool = False, log: Callable[[str], None] = _print_line) -> RunFolder:
    """The run's folder, ready to be written, and its lock held until :func:`write_run` (see the module docstring).

    A finished run is a ValueError unless ``force``; one that another process finished while this one waited
    for the lock is a :class:`FinishedMeanwhile` error, even with ``force``: it was just trained.
    """
    folder = settings.folder()
    lock = locks.acquire(folder.metrics_path, f"run {folder.path}", log=log)
    if folder.finished and (lock.built_meanwhile() or not force):
        lock.release()
        if lock.built_meanwhile():
            by = f" ({lock.waited_for.describe()})" if lock.waited_for else ""
            raise FinishedMeanwhile(f"{folder.path}: another process{by} finished this run while this one waited; "
                                    "not training it again (call begin_run again to train it once more)")
        raise ValueError(f"{folder.path} holds a finished run (metrics.json); set force=True to train it again, "
                         "or browse it with 04-errors")
    folder.begin()
    return folder


def finished_metrics(folder: RunFolder, settings: RunSettings) -> dict:
    """A finished run's metrics, after checking it was trained with the settings asked for now."""
    finished = folder.read_metrics()
    recorded = {**finished.get("config", {}).get("model", {}), **finished.get("config", {}).get("training", {})}
    asked = {**settings.model, "implementation": settings.implementation, "precision": settings.precision}
    for key, value in asked.items():
        was = recorded.get(key, "float32" if key == "precision" else "fused" if key == "implementation" else value)
        if was != value:
            raise ValueError(f"{folder.metrics_path}: the finished run was trained with {key}={was!r}, not {value!r}; "
                             "retrain it with force=True (--force) or write to another results folder")
    return finished


def execute_run(
    corpus_name: str,
    embedding: str,
    seed: int,
    *,
    force: bool = False,
    progress: str = "auto",
    **options: Any,
) -> dict:
    """Prepare, train, predict, score and write one run; returns its metrics (see METRICS_SCHEMA).

    ``options`` are :class:`RunSettings` fields (``fraction``, ``corpus_path``, ``max_epochs``, ``num_threads``,
    ``implementation``, ``precision``, ...); any other keyword goes to :class:`medner.model.BiLSTMCRFTagger`
    (``hidden_size``, ``use_crf``, ...). A finished run folder (metrics.json present) is read back instead,
    unless ``force``. ``num_threads``: torch CPU threads for training, one by default (see
    :func:`medner.training.train_tagger`); ``None`` uses every core.
    """
    from medner.training import resolve_progress

    known = set(RunSettings.__dataclass_fields__) - {"corpus", "embedding", "seed", "model"}
    settings = RunSettings(corpus_name, embedding, seed, **{k: v for k, v in options.items() if k in known},
                           model={k: v for k, v in options.items() if k not in known})
    mode = resolve_progress(progress)  # type: ignore[arg-type]
    folder = settings.folder()
    if folder.finished and not force:
        finished = finished_metrics(folder, settings)
        if mode != "none":
            _print_line(f"{folder.path}: finished run found, not training again (force=True retrains)")
        return finished
    try:
        folder = begin_run(settings, force=True, log=_print_line if mode != "none" else lambda line: None)
    except FinishedMeanwhile as finished:
        if mode != "none":
            _print_line(str(finished))
        return finished_metrics(folder, settings)
    try:
        inputs = prepare_inputs(settings, progress=mode)
        trained = train_model(inputs, settings, progress=mode)
        predictions = predict(trained.model, inputs, scheme=settings.tag_scheme)
        metrics = write_run(folder, settings, inputs, trained, predictions, score(inputs, predictions))
    finally:
        locks.release(folder.metrics_path)
    if mode != "none":
        _print_line(run_summary(metrics, folder))
    return metrics


def run_summary(metrics: dict, folder: RunFolder) -> str:
    """One line: the run, its test strict micro-F1, best epoch, time and folder."""
    run, micro = metrics["run"], metrics["scores"]["test"]["strict"]["micro"]
    fraction = f" / fraction {run['fraction']:g}" if run["fraction"] != 1.0 else ""
    fraction += f" / fold {run['fold']} of {run['folds']}" if run.get("fold") else ""
    name = system_name(run.get("kind", FROZEN_KIND), run["embedding"])
    return (f"{run['corpus']} / {name} / seed {run['seed']}{fraction}: test strict micro-F1 "
            f"{micro['f1']:.4f} (P {micro['precision']:.4f}, R {micro['recall']:.4f}), best epoch "
            f"{metrics['best_epoch']}/{metrics['cost']['epochs']}, {metrics['cost']['total_seconds']:.0f} s -> {folder.path}")
