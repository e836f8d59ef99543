"""One relation run: does sharing the encoder between NER and relation extraction help?

A relation run is one corpus x one embedding x one seed x one **variant**:

* ``pipeline``: the study's NER run of the same corpus, embedding and seed (:mod:`medner.runs`,
  read back when finished, trained otherwise) gives the entities; a relation model with its own
  encoder of the tagger's shape (:class:`medner.model.relations.RelationExtractor`) links them.
* ``shared``: one encoder with the tagger's CRF head and a relation head, trained together
  (:class:`medner.model.relations.JointTagger`); its NER is its own.

Both read the same cached vectors, splits, candidate pairs (:mod:`medner.corpus.candidates`),
schedule and seed; the relation head and the relation training are the same code. The run
folder (:class:`RelationFolder`)::

    <results>/<corpus>/relations/<embedding>/<variant>/seed-<n>/
        metrics.json                  everything measured; written LAST
        history.csv                   epoch,train_loss,dev_f1,learning_rate,seconds (dev_f1: the selection score)
        model.pt                      the best dev epoch's weights (tensors and plain data only)
        predictions/gold-entities/    test documents: gold T lines + predicted R lines (relation extraction alone)
        predictions/end-to-end/       test documents: predicted T and R lines (entities from the variant's own NER)
        05-relations.ipynb            the executed notebook, when make ran the run

Scores: relations as the n2c2 organisers' script scores them (:mod:`medner.evaluation.relations`),
strict and lenient, with gold entities and end to end, on dev and test; NER as the study scores it.
Cost: a pipeline's trained parameters, training seconds and peak memory are those of its two
models (NER run + relation model: parameters and seconds summed, memory the larger peak), so
the two variants are compared on what it takes to get both tasks done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from medner import files, locks, paths
from medner.corpus.candidates import DEFAULT_WINDOW, candidate_reach
from medner.run_folder import RunFolder
from medner.runs import RunInputs, RunSettings, _print_line, environment

#: The two ways of building the relation model.
VARIANTS: tuple[str, ...] = ("pipeline", "shared")
#: Version of a relation run's metrics.json.
RELATION_SCHEMA_VERSION = 1
#: The splits a relation run scores.
SCORED = ("dev", "test")
#: The two settings of relation scoring: entities given, and entities predicted by the run's own NER.
SETTINGS = ("gold_entities", "end_to_end")


class RelationFolder(RunFolder):
    """The folder of one relation run (layout in the module docstring); a :class:`RunFolder` for its shared files."""

    @classmethod
    def of_relations(cls, results_root: str | Path | None, corpus: str, embedding: str, variant: str,
                     seed: int) -> RelationFolder:
        """``<results_root>/<corpus>/relations/<embedding>/<variant>/seed-<n>``."""
        check_variant(variant)
        ner = RunFolder.of(results_root, corpus, embedding, seed)
        corpus_dir, embedding_dir = ner.path.parent.parent, ner.path.parent.name
        return cls(corpus_dir / "relations" / embedding_dir / variant / ner.path.name)

    @property
    def notebook_path(self) -> Path:
        return self.path / "05-relations.ipynb"

    def setting_dir(self, setting: str) -> Path:
        """The test predictions of a scoring setting (``gold_entities`` or ``end_to_end``) as brat files."""
        return self.path / "predictions" / setting.replace("_", "-")

    @property
    def predictions_dir(self) -> Path:
        return self.setting_dir("end_to_end")

    def write_setting(self, setting: str, documents) -> None:
        from medner.corpus.brat import write_brat_folder

        for document in documents:
            paths.path_part(document.id, "document id")
        with files.atomic_folder(self.setting_dir(setting)) as staging:
            write_brat_folder(documents, staging.path, write_text=True)

    def write_metrics(self, metrics: dict) -> dict:
        for key in ("run", "relations", "ner", "cost"):
            if key not in metrics:
                raise ValueError(f"relation metrics: {key} missing")
        files.write_json(self.metrics_path, metrics, indent=1)
        return files.read_json(self.metrics_path)

    def read_metrics(self) -> dict[str, Any]:
        if not self.finished:
            raise FileNotFoundError(f"{self.metrics_path}: expected a finished relation run (metrics.json); run it first")
        metrics = files.read_json(self.metrics_path)
        if not isinstance(metrics, dict) or metrics.get("kind") != "relations":
            raise ValueError(f"{self.metrics_path}: expected the metrics of a relation run (kind: relations); "
                             "re-run it (medner relations ... --force)")
        return metrics


def check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {', '.join(VARIANTS)}; given {variant!r}")


def find_relation_runs(results_root: str | Path | None, corpus: str) -> list[RelationFolder]:
    """Every finished relation run of ``corpus`` under ``results_root``, sorted by path."""
    root = (Path(results_root) if results_root not in (None, "") else paths.results_dir())
    root = root / paths.path_part(corpus, "corpus name") / "relations"
    return [RelationFolder(p.parent) for p in sorted(root.glob(f"*/*/seed-*/{RunFolder.METRICS}"))]


@dataclass(frozen=True)
class RelationSettings:
    """One relation run: the NER run's settings (corpus, embedding, seed, epochs, threads, ...), the variant,
    the candidate window and the shared model's loss weight."""

    ner: RunSettings
    variant: str
    window: int = DEFAULT_WINDOW
    relation_loss_weight: float = 1.0
    model: dict[str, Any] = field(default_factory=dict)  # relation model options (relation_hidden_size, ...)

    def __post_init__(self) -> None:
        check_variant(self.variant)
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 0:
            raise ValueError(f"window: expected a number of sentences >= 0; given {self.window!r}")
        if not float(self.relation_loss_weight) > 0:
            raise ValueError(f"relation_loss_weight: expected a number > 0; given {self.relation_loss_weight!r}")
        if self.ner.fraction != 1.0 or self.ner.folds:
            raise ValueError("relation runs use the whole training split of the corpus's own split: "
                             "fraction 1 and no folds")

    def folder(self) -> RelationFolder:
        from medner.corpus.registry import corpus_name

        path = None if self.ner.corpus_path in (None, "") else self.ner.corpus_path
        return RelationFolder.of_relations(self.ner.results_root, corpus_name(self.ner.corpus, path), self.ner.embedding,
                                           self.variant, int(self.ner.seed))


@dataclass
class RelationInputs:
    """What :func:`prepare_relation_inputs` gives: the NER run's inputs and the relation layouts of every split."""

    ner: RunInputs
    types: list[str]  # relation types, classes 1..n
    allowed: torch.Tensor  # allowed_classes(labels, types)
    layouts: dict[str, Any]  # split -> Layout of the gold entities
    packed: dict[str, Any]  # split -> PackedVectors
    reach: dict[str, dict]  # split -> candidate_reach(...).as_dict()


def prepare_relation_inputs(settings: RelationSettings, *, progress: str = "auto",
                            log: Callable[[str], None] = _print_line) -> RelationInputs:
    """Stage 1: the NER run's inputs (:func:`medner.runs.prepare_inputs`) and, per split, the candidate pairs of
    the gold entities laid out over the sentences. A corpus without relations is a ValueError."""
    from medner.relation_training import document_pairs, relation_types, allowed_classes
    from medner.runs import prepare_inputs
    from medner.training import PackedVectors

    ner = prepare_inputs(settings.ner, progress=progress, log=log)
    types = relation_types(ner.documents["train"])
    if not types:
        raise ValueError(f"corpus {ner.corpus.name}: its training documents have no relations (brat R lines); "
                         "a relation run needs them")
    layouts = {split: document_pairs(ner.documents[split], ner.sentences[split], ner.labels, types, settings.window)
               for split in ("train", "dev", "test")}
    return RelationInputs(ner=ner, types=types, allowed=allowed_classes(ner.labels, types), layouts=layouts,
                          packed={split: PackedVectors(ner.vectors[split]) for split in ("train", "dev", "test")},
                          reach={split: candidate_reach(ner.documents[split], window=settings.window).as_dict()
                                 for split in ("train", "dev", "test")})


@dataclass
class RelationModelRun:
    """What :func:`train_relation_run` gives: the trained model, its training record, and the NER run it builds on."""

    model: Any
    result: Any  # TrainingResult
    config: Any  # TrainingConfig
    ner_folder: RunFolder | None  # the pipeline's NER run; None for the shared model
    ner_metrics: dict | None


def _training_config(settings: RelationSettings):
    from medner.training import TrainingConfig

    ner = settings.ner
    return TrainingConfig(max_epochs=ner.max_epochs, seed=int(ner.seed), num_threads=ner.num_threads,
                          implementation=ner.implementation, precision=ner.precision)


def train_relation_run(inputs: RelationInputs, settings: RelationSettings, *, progress: str = "auto",
                       log: Callable[[str], None] = _print_line) -> RelationModelRun:
    """Stage 2: the pipeline's NER run (read back or trained) and its relation model, or the shared model;
    trained from the run seed, best dev epoch kept."""
    from medner.model.relations import JointTagger, RelationExtractor
    from medner.relation_training import train_relation_model
    from medner.training import _flat_tags

    ner_folder = ner_metrics = None
    if settings.variant == "pipeline":
        ner_folder, ner_metrics = _ner_run(settings, progress, log)
    torch.manual_seed(settings.ner.seed)
    dim, labels = inputs.ner.embedder.dim, inputs.ner.labels
    if settings.variant == "shared":
        model = JointTagger(dim, len(inputs.ner.tags), len(labels), len(inputs.types),
                            relation_loss_weight=float(settings.relation_loss_weight), **settings.model)
        train_tags = _flat_tags(inputs.packed["train"], inputs.ner.train_tags())
    else:
        model = RelationExtractor(dim, len(labels), len(inputs.types), **settings.model)
        train_tags = None
    config = _training_config(settings)
    result = train_relation_model(model, inputs.packed["train"], inputs.layouts["train"], inputs.packed["dev"],
                                  inputs.layouts["dev"], _dev_scorer(inputs, settings), config, train_tags=train_tags,
                                  allowed=inputs.allowed, progress=progress, log=log)
    return RelationModelRun(model, result, config, ner_folder, ner_metrics)


def _ner_run(settings: RelationSettings, progress: str, log) -> tuple[RunFolder, dict]:
    """The pipeline's NER run: its folder and metrics (trained now when it is not finished)."""
    from medner.runs import execute_run

    ner = settings.ner
    options = {name: getattr(ner, name) for name in RunSettings.__dataclass_fields__
               if name not in ("corpus", "embedding", "seed", "model")}
    metrics = execute_run(ner.corpus, ner.embedding, ner.seed, progress=progress, **options, **ner.model)
    return ner.folder(), metrics


def _dev_scorer(inputs: RelationInputs, settings: RelationSettings):
    """The selection score: dev relation F1 with gold entities (pipeline); its mean with NER strict micro-F1 (shared)."""
    from medner.relation_training import relation_f1_by_id, relations_of
    from medner.runs import _dev_scorer as ner_dev_scorer

    gold = inputs.ner.documents["dev"]
    ner_f1 = ner_dev_scorer(inputs.ner, settings.ner.tag_scheme)

    def score(predictions) -> float:
        relation_f1 = relation_f1_by_id(gold, relations_of(inputs.layouts["dev"], predictions.classes, inputs.types))
        if predictions.tags is None:
            return relation_f1
        return (relation_f1 + ner_f1(predictions.tags)) / 2

    return score


@dataclass
class RelationPredictionSet:
    """Predicted documents per split and setting (``documents[setting][split]``), and the shared model's tags."""

    documents: dict[str, dict[str, list]]
    tags: dict[str, list[list[str]]] | None
    unrepresented: dict[str, dict[str, int]]


def predict_relations(trained: RelationModelRun, inputs: RelationInputs, settings: RelationSettings) -> RelationPredictionSet:
    """Stage 3: relations over the gold entities, and end to end over the variant's own predicted entities,
    for dev and test."""
    from medner.corpus.tagging import decode_documents
    from medner.relation_training import document_pairs, predict_split, relations_of

    documents: dict[str, dict[str, list]] = {setting: {} for setting in SETTINGS}
    tags: dict[str, list[list[str]]] | None = {} if settings.variant == "shared" else None
    unrepresented = {}
    for split in SCORED:
        packed, layout = inputs.packed[split], inputs.layouts[split]
        predicted = predict_split(trained.model, packed, layout, allowed=inputs.allowed)
        documents["gold_entities"][split] = relations_of(layout, predicted.classes, inputs.types)
        if tags is not None:
            tags[split] = [[inputs.ner.tags[i] for i in row] for row in predicted.tags]
            entities = decode_documents(inputs.ner.documents[split], inputs.ner.sentences[split], tags[split],
                                        scheme=settings.ner.tag_scheme)
        else:
            entities = _pipeline_entities(trained, inputs, split)
        end_layout = document_pairs(entities, inputs.ner.sentences[split], inputs.ner.labels, inputs.types,
                                    settings.window)
        unrepresented[split] = dict(end_layout.unrepresented)
        classes = predict_split(trained.model, packed, end_layout, allowed=inputs.allowed).classes
        documents["end_to_end"][split] = relations_of(end_layout, classes, inputs.types)
    return RelationPredictionSet(documents, tags, unrepresented)


def _pipeline_entities(trained: RelationModelRun, inputs: RelationInputs, split: str) -> list:
    """The pipeline NER's predicted entities of ``split``: the NER run's test predictions as written, or (dev,
    which a run does not write) predicted again with its checkpoint."""
    from medner.corpus.document import Document
    from medner.corpus.tagging import decode_documents
    from medner.model import BiLSTMCRFTagger
    from medner.training import predict_tags

    gold = inputs.ner.documents[split]
    if split == "test":
        read = {doc.id: doc for doc in trained.ner_folder.read_predictions(gold)}
        return [read.get(doc.id, Document(id=doc.id, text=doc.text)) for doc in gold]
    checkpoint = trained.ner_folder.load_checkpoint()
    tagger = BiLSTMCRFTagger(**checkpoint["config"])
    tagger.load_state_dict(checkpoint["state_dict"])
    tagger.set_compute(**checkpoint["compute"])
    rows = predict_tags(tagger, inputs.packed[split])
    return decode_documents(gold, inputs.ner.sentences[split], [[checkpoint["tags"][i] for i in row] for row in rows],
                            scheme=checkpoint["tag_scheme"])


def score_relation_run(inputs: RelationInputs, predictions: RelationPredictionSet, trained: RelationModelRun) -> dict:
    """Stage 4: relation scores per setting and split, and the NER scores of the variant (the shared model's own,
    the pipeline's NER run's)."""
    from medner.evaluation.relations import score_relations
    from medner.evaluation.span import score_documents

    gold = inputs.ner.documents
    relations = {setting: {split: score_relations(gold[split], predictions.documents[setting][split], types=inputs.types)
                           for split in SCORED} for setting in SETTINGS}
    if trained.ner_metrics is not None:
        ner = {"scores": trained.ner_metrics["scores"], "source": str(trained.ner_folder.path)}
    else:
        ner = {"scores": {split: score_documents(gold[split], predictions.documents["end_to_end"][split],
                                                 labels=inputs.ner.labels) for split in ("test", "dev")},
               "source": "shared"}
    return {"relations": relations, "ner": ner}


def write_relation_run(folder: RelationFolder, settings: RelationSettings, inputs: RelationInputs,
                       trained: RelationModelRun, predictions: RelationPredictionSet, scores: dict) -> dict:
    """Stage 5: predictions (test, both settings), history and checkpoint, then metrics.json."""
    folder.begin()
    for setting in SETTINGS:
        folder.write_setting(setting, predictions.documents[setting]["test"])
    folder.write_history(trained.result.history_rows())
    folder.save_checkpoint({"state_dict": trained.result.best_state, "config": trained.model.config,
                            "compute": trained.model.compute, "variant": settings.variant, "types": inputs.types,
                            "labels": inputs.ner.labels, "tags": inputs.ner.tags, "window": settings.window,
                            "embedding": {"name": inputs.ner.spec.name, "fingerprint": inputs.ner.embedder.fingerprint},
                            "best_epoch": trained.result.best_epoch})
    metrics = folder.write_metrics(relation_metrics(settings, inputs, trained, predictions, scores))
    locks.release(folder.metrics_path)
    return metrics


def relation_metrics(settings: RelationSettings, inputs: RelationInputs, trained: RelationModelRun,
                     predictions: RelationPredictionSet, scores: dict) -> dict:
    """The metrics.json of a relation run."""
    from medner.memory import peak_rss_mb

    result, ner = trained.result, settings.ner
    training = {**asdict(trained.config), "num_threads": result.num_threads, "kernels": result.kernels,
                "step_products": result.step_products}
    return {
        "schema_version": RELATION_SCHEMA_VERSION,
        "kind": "relations",
        "run": {"corpus": inputs.ner.corpus.name, "embedding": inputs.ner.spec.name, "seed": int(ner.seed),
                "variant": settings.variant, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        "config": {"model": trained.model.config, "training": training, "window": settings.window,
                   "relation_loss_weight": float(settings.relation_loss_weight) if settings.variant == "shared" else None,
                   "selection": ("dev relation strict micro-F1 with gold entities" if settings.variant == "pipeline" else
                                 "mean of dev relation strict micro-F1 with gold entities and dev NER strict micro-F1"),
                   "types": inputs.types, "labels": inputs.ner.labels,
                   "embedding": {"name": inputs.ner.spec.name, "fingerprint": inputs.ner.embedder.fingerprint,
                                 "dim": inputs.ner.embedder.dim}},
        "corpus": {"name": inputs.ner.corpus.name, "candidate_reach": inputs.reach,
                   "unrepresented_gold": {split: dict(layout.unrepresented) for split, layout in inputs.layouts.items()},
                   "unrepresented_predicted": predictions.unrepresented,
                   "tagging": {split: report.get("relations", {}) for split, report in inputs.ner.tagging.items()},
                   "ignored_relations": getattr(inputs.ner.corpus, "ignored_relations", {})},
        "environment": environment(),
        "cost": _cost(trained, inputs, peak_rss_mb()),
        "best_epoch": int(result.best_epoch),
        "best_dev_score": float(result.best_dev_f1),
        "stopped_because": result.stopped_because,
        **scores,
    }


def _cost(trained: RelationModelRun, inputs: RelationInputs, peak: float) -> dict:
    """Parameters, seconds and peak memory of the variant: the shared model's, or the pipeline's two models'."""
    result = trained.result
    own = {"trainable_parameters": int(result.trainable_parameters), "training_seconds": float(result.seconds),
           "epochs": int(result.epochs), "seconds_per_epoch": float(result.seconds_per_epoch), "peak_rss_mb": float(peak)}
    cost = {**own, "total_seconds": float(time.perf_counter() - inputs.ner.started), "components": {"relation": own}}
    if trained.ner_metrics is not None:
        ner_cost = trained.ner_metrics["cost"]
        cost["components"]["ner"] = {key: ner_cost[key] for key in ("trainable_parameters", "training_seconds", "epochs",
                                                                    "seconds_per_epoch", "peak_rss_mb")}
        cost["trainable_parameters"] += int(ner_cost["trainable_parameters"])
        cost["training_seconds"] += float(ner_cost["training_seconds"])
        cost["peak_rss_mb"] = max(cost["peak_rss_mb"], float(ner_cost["peak_rss_mb"]))
    return cost


def begin_relation_run(settings: RelationSettings, *, force: bool = False,
                       log: Callable[[str], None] = _print_line) -> RelationFolder:
    """The run's folder with its lock held until :func:`write_relation_run`; a finished run is a ValueError
    unless ``force``."""
    folder = settings.folder()
    lock = locks.acquire(folder.metrics_path, f"relation run {folder.path}", log=log)
    if folder.finished and (lock.built_meanwhile() or not force):
        lock.release()
        raise ValueError(f"{folder.path} holds a finished relation run (metrics.json); set force=True to train it again")
    folder.begin()
    return folder


def finished_relation_metrics(folder: RelationFolder, settings: RelationSettings) -> dict:
    """A finished relation run's metrics, after checking it was trained with the settings asked for now (as
    :func:`medner.runs.finished_metrics` checks a NER run): window, loss weight, model options, compute."""
    finished = folder.read_metrics()
    config = finished.get("config", {})
    recorded = {**config.get("model", {}), **config.get("training", {}), "window": config.get("window"),
                "relation_loss_weight": config.get("relation_loss_weight")}
    asked = {**settings.model, "implementation": settings.ner.implementation, "precision": settings.ner.precision,
             "window": settings.window,
             "relation_loss_weight": float(settings.relation_loss_weight) if settings.variant == "shared" else None}
    for key, value in asked.items():
        if recorded.get(key, value) != value:
            raise ValueError(f"{folder.metrics_path}: the finished relation run was trained with {key}={recorded[key]!r}, "
                             f"not {value!r}; retrain it with force=True (--force) or write to another results folder")
    return finished


def execute_relation_run(settings: RelationSettings, *, force: bool = False, progress: str = "auto") -> dict:
    """Prepare, train, predict, score and write one relation run; a finished one is read back unless ``force``
    (an error when it was trained with other settings than ``settings``)."""
    folder = settings.folder()
    if folder.finished and not force:
        return finished_relation_metrics(folder, settings)
    folder = begin_relation_run(settings, force=True)
    try:
        inputs = prepare_relation_inputs(settings, progress=progress)
        trained = train_relation_run(inputs, settings, progress=progress)
        predictions = predict_relations(trained, inputs, settings)
        metrics = write_relation_run(folder, settings, inputs, trained, predictions,
                                     score_relation_run(inputs, predictions, trained))
    finally:
        locks.release(folder.metrics_path)
    _print_line(relation_summary(metrics, folder))
    return metrics


def relation_summary(metrics: dict, folder: RelationFolder) -> str:
    """One line: the run, its test relation F1 with gold entities and end to end, NER F1, time and folder."""
    run, relations = metrics["run"], metrics["relations"]
    gold = relations["gold_entities"]["test"]["strict"]["micro"]["f1"]
    end = relations["end_to_end"]["test"]["strict"]["micro"]["f1"]
    ner = metrics["ner"]["scores"]["test"]["strict"]["micro"]["f1"]
    return (f"{run['corpus']} / {run['embedding']} / {run['variant']} / seed {run['seed']}: test relation strict "
            f"micro-F1 {gold:.4f} with gold entities, {end:.4f} end to end; NER {ner:.4f}; best epoch "
            f"{metrics['best_epoch']}/{metrics['cost']['epochs']}, {metrics['cost']['total_seconds']:.0f} s -> {folder.path}")
