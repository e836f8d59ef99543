"""One run's folder: where it is, what it holds, and how each file is read and written.

A run is one corpus x one embedding x one seed (x one training fraction). Its folder::

    <results>/<corpus>/<embedding>/seed-<n>[/fold-<i>-of-<k>][/frac-<f>]/
        metrics.json            everything measured (METRICS_SCHEMA); written LAST, atomically
        history.csv             epoch,train_loss,dev_f1,learning_rate,seconds
        model.pt                the best dev epoch's weights and what rebuilds the model (tensors and plain data only)
        predictions/brat/       test documents: <id>.txt (copied) + <id>.ann (predicted entities)
        predictions/test.conll  test tokens with predicted tags
        02-train.ipynb          the executed notebook, when make ran the run
        errors.html             the static error page (04-errors)

``<embedding>`` is the spec's name (``glove``; ``my`` for a spec file ``/some/where/my.yaml``);
the ``fold-<i>-of-<k>`` level appears only in a k-fold cross-validation (:mod:`medner.corpus.folds`),
and the ``frac-<f>`` level only when the fraction is not 1. A folder is
*finished* exactly when ``metrics.json`` exists: every other file is written first,
each atomically (:mod:`medner.files`), so an interrupted run never looks finished.

:class:`RunFolder` is the one place that knows this layout: the run stages
(:mod:`medner.runs`), the comparison, the error browser, the notebooks and, through
``medner runs folders``, the Makefile all ask it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from medner import files, paths
from medner.study_order import FROZEN_KIND, KINDS_WITHOUT_EMBEDDING, system_name

#: Bumped whenever a key of metrics.json changes meaning or moves.
#: 2: the implementation and the matrix-product precision are training settings
#: (``config.training.implementation`` and ``.precision``), no longer a model setting
#: (``config.model.precision``); ``corpus.label_map`` records the label map file.
SCHEMA_VERSION = 2
#: Schema versions this code reads (every key the comparison uses means the same in both).
READABLE_SCHEMA_VERSIONS = (1, 2)

#: The columns of history.csv, in order.
HISTORY_COLUMNS: tuple[str, ...] = ("epoch", "train_loss", "dev_f1", "learning_rate", "seconds")

_SCORES = "score_documents() dict: {strict, lenient: {micro, macro, weighted, overall_macro, labels}, documents, ignored}"

#: The documented shape of metrics.json: key -> (type, description), nested dicts for sections.
#: :func:`validate_metrics` checks a metrics dict against it (keys present, types right).
METRICS_SCHEMA: dict[str, Any] = {
    "schema_version": (int, "version of this schema (SCHEMA_VERSION)"),
    "run": {
        "corpus": (str, "corpus name as the registry gives it"),
        "embedding": (str, "embedding spec name (none: a reference system that reads no embedding)"),
        "kind": (str, "what the run trains: bilstm-crf (the study's BiLSTM-CRF on frozen vectors), or a reference "
                      "system: finetune, finetune-crf (the encoder fine-tuned, softmax or CRF head), scratch-crf "
                      "(a Transformer-CRF from scratch); runs written before it have none: bilstm-crf"),
        "seed": (int, "run seed: weight initialisation, batch order, dropout, training subset"),
        "fraction": (float, "share of training documents used, in (0, 1]"),
        "fold": ((int, type(None)), "fold of a k-fold cross-validation (1..folds), or null: the corpus's own split"),
        "folds": ((int, type(None)), "k of that cross-validation, or null"),
        "finished": (str, "UTC time the run finished, ISO 8601"),
    },
    "config": {
        "model": (dict, "BiLSTMCRFTagger keyword arguments (hidden_size, dropouts, use_crf, ...)"),
        "training": (dict, "TrainingConfig values (learning rate, batch size, annealing, max_epochs, seed, threads, "
                           "implementation: fused or nn.LSTM, medner.model.compute; precision: the LSTM's matrix "
                           "products' arithmetic) and kernels: the fused LSTM's and the CRF's loops, compiled or "
                           "torch (medner.model.fused.kernels), or nn.LSTM; step_products: the LSTM's step "
                           "products, packed (the kernels' own), bmm or nn.LSTM"),
        "tag_scheme": (str, "BIO or BIOES"),
        "tags": (list, "the tag dictionary, index order"),
        "embedding": (dict, "spec name, family, source, options, embedder fingerprint and dimension"),
        "seeds": (dict, "every RNG seeded and its seed"),
        "deterministic_algorithms": (bool, "torch deterministic algorithms on during training"),
    },
    "corpus": {
        "name": (str, "corpus name"),
        "source": (str, "folder read"),
        "label_map": ((str, type(None)), "label map file given, or null"),
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
        "slurm": ((dict, type(None)), "the Slurm job that ran the run (make all RUNNER=slurm): job_id, job_name, "
                                      "partition, node, cluster, cpus_per_task; null when not under Slurm. "
                                      "Runs written before it have no such key"),
    },
    "cost": {
        "embedding_seconds": (float, "seconds to read (hit) or compute (miss) the vectors of train+dev+test"),
        "embedding_cache_hit": (bool, "all three splits were read from the cache (false for a reference run: it reads "
                                      "no cache)"),
        "embedder_build_seconds": (float, "seconds to build the embedder (loading models, in-domain training or reuse)"),
        "training_seconds": (float, "seconds in the epoch loop, dev evaluation included"),
        "epochs": (int, "epochs run"),
        "seconds_per_epoch": (float, "training_seconds / epochs"),
        "tokens_per_second": (float, "training tokens processed per second of pure training (no dev evaluation)"),
        "trainable_parameters": (int, "weights the tagger trains (a fine-tuned encoder's included)"),
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

#: What every finished run's metrics.json must hold for anyone to read it (the comparison, the error browser).
REQUIRED_KEYS: tuple[str, ...] = ("run", "scores", "cost")
#: What to do about a metrics.json this medner cannot read: the end of every such error.
RERUN_HINT = ("written by another version of medner or cut short: re-run that run (medner train ... --force), "
              "or delete that metrics.json and run make runs")


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
            names = " or ".join(t.__name__ for t in expected) if isinstance(expected, tuple) else expected.__name__
            raise ValueError(f"{where}.{key}: expected {names}, found {type(value).__name__}")
    for split in ("test", "dev"):
        if where == "metrics" and "micro" not in metrics["scores"][split].get("strict", {}):
            raise ValueError(f"metrics.scores.{split}.strict.micro: missing")


def embedding_name(embedding: str | Path) -> str:
    """The name a run folder carries for ``embedding``: a spec name as it is, a spec file's ``name`` (its stem)."""
    text = str(embedding)
    candidate = Path(text).expanduser()
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():  # the rule load_spec follows
        from medner.embeddings.specs import load_spec

        return load_spec(text).name
    return text


def fraction_label(fraction: float) -> str:
    """``frac-<f>`` in the shortest form of ``f`` (0.5, not 0.50), or ``""`` for the whole training set."""
    value = float(fraction)
    if not 0.0 < value <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    return "" if value == 1.0 else f"frac-{value:g}"


class RunFolder:
    """The folder of one run and its files (see the module docstring for the layout)."""

    METRICS = "metrics.json"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @classmethod
    def of(cls, results_root: str | Path | None, corpus: str, embedding: str | Path, seed: int,
           fraction: float = 1.0, *, fold: int | None = None, folds: int | None = None,
           kind: str = FROZEN_KIND) -> RunFolder:
        """The folder of a run: ``<results_root>/<corpus>/<system>/seed-<n>[/fold-<i>-of-<k>][/frac-<f>]``.

        ``<system>`` is the embedding's name for the study's BiLSTM-CRF, and for a reference ``kind``
        ``<kind>-<embedding name>`` (``finetune-bert``) or the kind alone (``scratch-crf``, which reads no embedding;
        :func:`medner.study_order.system_name`).
        ``embedding`` is a spec name or the path of a spec file (the folder carries the spec's name);
        an empty ``results_root`` is :func:`medner.paths.results_dir`. A corpus or embedding name that is
        not one plain folder name (``../x``, ``a/b``, an absolute path) is a ValueError: no run is written
        outside ``results_root``.
        """
        from medner.corpus.folds import check_folds

        if isinstance(seed, bool) or int(seed) != seed or int(seed) < 0:
            raise ValueError(f"seed: expected an integer >= 0; given {seed!r}")
        check_folds(folds, fold)
        root = Path(results_root) if results_root not in (None, "") else paths.results_dir()
        name = embedding if kind in KINDS_WITHOUT_EMBEDDING else embedding_name(embedding)
        parts = paths.path_part(corpus, "corpus name"), paths.path_part(system_name(kind, str(name)), "embedding name")
        folder = root.joinpath(*parts, f"seed-{int(seed)}")
        if fold is not None:
            folder = folder / f"fold-{fold}-of-{folds}"
        level = fraction_label(fraction)
        return cls(folder / level if level else folder)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunFolder) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    # ------------------------------------------------------------------ where each file is

    @property
    def metrics_path(self) -> Path:
        return self.path / self.METRICS

    @property
    def history_path(self) -> Path:
        return self.path / "history.csv"

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "model.pt"

    @property
    def predictions_dir(self) -> Path:
        """The test predictions as brat files (``<id>.txt`` and ``<id>.ann``)."""
        return self.path / "predictions" / "brat"

    @property
    def conll_path(self) -> Path:
        return self.path / "predictions" / "test.conll"

    @property
    def notebook_path(self) -> Path:
        return self.path / "02-train.ipynb"

    @property
    def errors_page(self) -> Path:
        return self.path / "errors.html"

    @property
    def finished(self) -> bool:
        """Whether the run finished: its metrics.json exists (it is written last)."""
        return self.metrics_path.is_file()

    # ------------------------------------------------------------------ writing, in the order a run writes

    def begin(self) -> None:
        """Make the folder and take away its finished mark until the new metrics.json lands."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.metrics_path.unlink(missing_ok=True)

    def write_predictions(self, documents: Sequence, sentences: Sequence) -> None:
        """The predicted test documents as brat (texts copied) and their tagged sentences as CoNLL."""
        from medner.corpus.brat import write_brat_folder
        from medner.corpus.conll import write_conll

        for document in documents:  # each id names predictions/brat/<id>.ann: it must stay inside that folder
            paths.path_part(document.id, "document id")
        with files.atomic_folder(self.predictions_dir) as staging:
            write_brat_folder(documents, staging.path, write_text=True)
        files.write_file(self.conll_path, lambda temporary: write_conll(sentences, temporary))

    def write_history(self, rows: Iterable[dict]) -> None:
        """history.csv: one row per epoch, :data:`HISTORY_COLUMNS`."""
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(HISTORY_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        files.write_file(self.history_path, text.getvalue())

    def save_checkpoint(self, checkpoint: dict) -> None:
        """model.pt: tensors and plain data only, so :meth:`load_checkpoint` needs no code from the file."""
        import torch

        # serialised in memory first: torch.save reports a full disk as a RuntimeError, the writer as a WriteError
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        files.write_file(self.checkpoint_path, buffer.getvalue())

    def write_metrics(self, metrics: dict) -> dict:
        """Validate ``metrics`` and write metrics.json, which marks the run finished; returns what was written."""
        validate_metrics(metrics)
        files.write_json(self.metrics_path, metrics, indent=1)
        return self.read_metrics()

    # ------------------------------------------------------------------ reading

    def read_metrics(self) -> dict[str, Any]:
        """The run's metrics.json; a broken or foreign file is a ValueError naming it and what was expected."""
        if not self.finished:
            raise FileNotFoundError(f"{self.metrics_path}: expected a finished run (metrics.json); run it first")
        metrics = files.read_json(self.metrics_path)
        if not isinstance(metrics, dict):
            raise ValueError(f"{self.metrics_path}: expected a JSON object, found {type(metrics).__name__}")
        missing = [key for key in REQUIRED_KEYS if key not in metrics]
        if missing:
            raise ValueError(f"{self.metrics_path}: expected top-level keys {', '.join(REQUIRED_KEYS)}; "
                             f"missing {', '.join(missing)}; {RERUN_HINT}")
        version = metrics.get("schema_version", 1)
        if version not in READABLE_SCHEMA_VERSIONS:
            raise ValueError(f"{self.metrics_path}: schema_version {version!r}; this medner reads "
                             f"{', '.join(map(str, READABLE_SCHEMA_VERSIONS))}; {RERUN_HINT}")
        for section, keys in (("run", ("corpus", "embedding", "seed", "fraction")), ("scores", ("test",))):
            if not isinstance(metrics[section], dict):
                raise ValueError(f"{self.metrics_path}: expected {section} to be an object; {RERUN_HINT}")
            for key in keys:
                if key not in metrics[section]:
                    raise ValueError(f"{self.metrics_path}: expected {section}.{key} in metrics.json; {RERUN_HINT}")
        return metrics

    def fold_options(self) -> dict[str, Any]:
        """``{"folds", "fold", "stratified"}`` of a cross-validated run, as :func:`medner.corpus.registry.load_corpus`
        takes them, read from its metrics (``{}`` for a run on the corpus's own split): the corpus as the run saw it."""
        metrics = self.read_metrics()
        if not metrics["run"].get("fold"):
            return {}
        record = metrics.get("corpus", {}).get("split_record", {})
        return {"folds": metrics["run"]["folds"], "fold": metrics["run"]["fold"], "stratified": record.get("stratified", True)}

    def read_history(self) -> list[dict[str, float]]:
        """The rows of history.csv as floats; a bad cell is a ValueError naming file, line and column."""
        return read_history(self.history_path)

    def read_predictions(self, gold_documents: Sequence) -> list:
        """The test predictions as Documents, checked against the gold texts; a gold document without a
        prediction file has no predictions, as in the scorer."""
        from medner.evaluation.span import read_prediction_folder

        if not self.predictions_dir.is_dir():
            raise FileNotFoundError(f"{self.predictions_dir}: expected the run's test predictions as brat files")
        return read_prediction_folder(list(gold_documents), self.predictions_dir)

    def load_checkpoint(self) -> dict:
        """model.pt, loaded with ``weights_only=True``: a results folder from elsewhere cannot run code here."""
        import torch

        if not self.checkpoint_path.is_file():
            raise FileNotFoundError(f"{self.checkpoint_path}: expected the run's model checkpoint (model.pt)")
        try:
            return torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - torch raises several types for one cause: not a checkpoint
            raise ValueError(f"{self.checkpoint_path}: expected a medner checkpoint of tensors and plain data "
                             f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})") from None


def read_history(path: str | Path) -> list[dict[str, float]]:
    """The rows of one history.csv as floats; a bad cell is a ValueError naming file, line and column."""
    path = Path(path)
    rows = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in HISTORY_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: line 1: expected columns {','.join(HISTORY_COLUMNS)}; missing {','.join(missing)}")
        for line, row in enumerate(reader, start=2):
            parsed = {}
            for column in HISTORY_COLUMNS:
                try:
                    parsed[column] = float(row[column])
                except (TypeError, ValueError):
                    raise ValueError(f"{path}: line {line}: expected a number in column {column}, "
                                     f"found {row[column]!r}") from None
            rows.append(parsed)
    return rows


def find_runs(results_root: str | Path | None, corpus: str) -> list[RunFolder]:
    """Every finished run folder of ``corpus`` under ``results_root`` (metrics.json present), sorted by path."""
    root = Path(results_root) if results_root not in (None, "") else paths.results_dir()
    root = root / paths.path_part(corpus, "corpus name")
    levels = ("*/seed-*", "*/seed-*/frac-*", "*/seed-*/fold-*", "*/seed-*/fold-*/frac-*")
    found = [path for level in levels for path in sorted(root.glob(f"{level}/{RunFolder.METRICS}"))]
    return [RunFolder(p.parent) for p in found]


def study_folders(results_root: str | Path | None, corpus: str, embeddings: Sequence[str], seeds: Sequence[str],
                  fractions: Sequence[str], folds: int | None = None, *, references: Sequence[str] = (),
                  reference_embeddings: Sequence[str] = ()) -> list[tuple[str, RunFolder]]:
    """The folder of every run of a study, each with its key ``<system>.<seed>.<fraction>.<fold>``.

    The systems are the ``embeddings`` (the study's BiLSTM-CRF), then each reference kind of ``references``
    with each of ``reference_embeddings`` (once for a kind that reads no embedding), named by
    :func:`medner.study_order.system_name`. Seeds and fractions are keyed as they are written (``0.50`` stays
    ``0.50`` in the key, while its folder is ``frac-0.5``): the Makefile looks its targets up by the words of its
    own variables. The fold is 1 to ``folds`` in a k-fold cross-validation, 0 without one.
    """
    fold_ids = range(1, folds + 1) if folds else [None]
    return [(f"{name}.{seed}.{fraction}.{fold or 0}",
             RunFolder.of(results_root, corpus, embedding, _number(seed, int, "seed"), _number(fraction, float, "fraction"),
                          fold=fold, folds=folds, kind=kind))
            for name, kind, embedding in study_systems(embeddings, references, reference_embeddings)
            for seed in seeds for fraction in fractions for fold in fold_ids]


def study_systems(embeddings: Sequence[str], references: Sequence[str] = (),
                  reference_embeddings: Sequence[str] = ()) -> list[tuple[str, str, str]]:
    """``(system name, kind, embedding)`` of every system a study trains: its embeddings, then its references."""
    systems = [(str(e), FROZEN_KIND, str(e)) for e in embeddings]
    for kind in references:
        for embedding in (["none"] if kind in KINDS_WITHOUT_EMBEDDING else reference_embeddings):
            systems.append((system_name(kind, str(embedding)), kind, str(embedding)))
    return list(dict.fromkeys(systems))


def make_variables(results_root: str | Path | None, corpus: str, embeddings: Sequence[str], seeds: Sequence[str],
                   fractions: Sequence[str], folds: int | None = None, *, references: Sequence[str] = (),
                   reference_embeddings: Sequence[str] = ()) -> str:
    """Make assignments ``run_dir.<system>.<seed>.<fraction>.<fold> := <folder>`` for :func:`study_folders`, and
    ``reference_systems := ...`` with each one's ``reference_kind.<system>`` and ``reference_embedding.<system>``.

    The Makefile includes them (``medner runs folders --make``), so its targets are the folders this
    module lays out, not a second copy of the rule.
    """
    text = "".join(f"run_dir.{key} := {folder.path}\n" for key, folder in
                   study_folders(results_root, corpus, embeddings, seeds, fractions, folds, references=references,
                                 reference_embeddings=reference_embeddings))
    systems = study_systems((), references, reference_embeddings)
    if systems:
        text += f"reference_systems := {' '.join(name for name, _, _ in systems)}\n"
    return text + "".join(f"reference_kind.{name} := {kind}\nreference_embedding.{name} := {embedding}\n"
                          for name, kind, embedding in systems)


def _number(text: str | float, kind: type, name: str):
    """``text`` as an int or a float; anything else is a ValueError naming what was expected."""
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{name}: expected {'an integer' if kind is int else 'a number'}; given {text!r}") from None
