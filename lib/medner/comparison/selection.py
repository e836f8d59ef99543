"""Which runs the comparison reads, and how one of their scores is addressed.

Runs are found and read by :mod:`medner.run_folder` (the one class that knows a run folder);
:class:`Run` is only a view of one: its key (embedding, seed, fraction), its metrics and its folder.

Cross-validated runs (:mod:`medner.corpus.folds`) are pooled before anything else sees them: the
k fold runs of one embedding, seed and fraction become one :class:`Run` whose test scores are those
of every document of the corpus, each tested once in its fold (:func:`medner.evaluation.span.pool_scores`),
whose confusion counts and costs are the folds' sums, and whose predictions are the folds' together
(:class:`PooledFolder`). Its ``members`` keep the fold runs, for the spread over folds and the training curves.
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medner import paths
from medner.run_folder import RunFolder, find_runs
from medner.study_order import AVERAGES, FROZEN_KIND, SCHEMAS, embedding_order, label_order, system_name

#: The metrics each run reports per label (and per average) and schema, in ``summary.csv`` order.
TIDY_METRICS: tuple[str, ...] = ("precision", "recall", "f1", "tp", "fp", "fn", "support")
#: The metrics of :data:`TIDY_METRICS` that are counts (integers); the others are scores in 0..1.
COUNT_METRICS: tuple[str, ...] = ("tp", "fp", "fn", "support")
#: Every key of a run's metrics.json the comparison reads, dotted (``*``: every label). The others it reads
#: (``confusion``, ``best_epoch``, ``config.embedding.training_record``) may be absent: it says what it left out.
COMPARED_KEYS: tuple[str, ...] = (
    *(f"scores.test.{schema}.micro.{metric}" for schema in SCHEMAS for metric in ("precision", "recall", "f1", "tp", "fp", "fn")),
    *(f"scores.test.{schema}.macro.{metric}" for schema in SCHEMAS for metric in ("precision", "recall", "f1")),
    *(f"scores.test.{schema}.labels.*.{metric}" for schema in SCHEMAS for metric in TIDY_METRICS),
    "cost.embedding_seconds", "cost.training_seconds", "cost.trainable_parameters",
)
#: What the comparison also reads of a cross-validated run's metrics.json.
COMPARED_FOLD_KEYS: tuple[str, ...] = ("corpus.split_record",)


@dataclass(frozen=True)
class Run:
    """One finished run: its key, its ``metrics.json`` and its folder; or the k fold runs of a cross-validation,
    pooled (``folds`` k, ``members`` the fold runs; ``fold`` is the fold of a member).

    ``embedding`` names the run's row: the embedding of the study's BiLSTM-CRF, or a reference system's name
    (``finetune-crf-bert``, ``scratch-crf``; :func:`medner.study_order.system_name`), whose ``kind`` says which.
    """

    embedding: str
    seed: int
    fraction: float
    folder: Any  # RunFolder, or PooledFolder for pooled folds
    metrics: dict[str, Any] = field(repr=False, compare=False)
    fold: int | None = None
    folds: int | None = None
    members: tuple[Run, ...] = field(default=(), repr=False, compare=False)
    kind: str = FROZEN_KIND

    @property
    def path(self) -> Path:
        return self.folder.path

    def score(self, schema: str = "strict", label: str = "micro", metric: str = "f1") -> float:
        """One test score: ``label`` is a label name or ``"micro"``/``"macro"`` (see :func:`tidy_value`)."""
        return tidy_value(self.metrics["scores"]["test"], schema, label, metric)


def load_runs(results_root: str | Path | None, corpus: str, folds: int | None = None) -> list[Run]:
    """Every finished run of ``corpus`` under ``results_root`` tested on the corpus's own split (``folds`` None)
    or in a ``folds``-fold cross-validation (its fold runs pooled), sorted by embedding (study order), fraction, seed.

    The run's key is read from its ``metrics.json``; a run whose ``run.corpus`` is not ``corpus``
    is an error, because mixing corpora in one table would be silently wrong, and so are two
    folders holding the same key, a run scored on other labels than the rest, and a metrics.json lacking a
    key the comparison reads (:data:`COMPARED_KEYS`; written by an older medner): each error names the run
    and the command that re-runs it. Raises FileNotFoundError when there is no such finished run.
    """
    singles = [run for run in finished_runs(results_root, corpus) if run.folds == folds]
    if not singles:
        root = Path(results_root) if results_root not in (None, "") else paths.results_dir()
        kind = "on the corpus's own split" if folds is None else f"of a {folds}-fold cross-validation"
        raise FileNotFoundError(f"no finished run {kind} under {root / corpus} "
                                "(expected <embedding>/seed-<n>[/fold-<i>-of-<k>][/frac-<f>]/metrics.json)")
    check_same_labels(singles, results_root)
    runs = [r for r in singles if r.fold is None] + pool_folds([r for r in singles if r.fold is not None])
    order = {name: i for i, name in enumerate(embedding_order(r.embedding for r in runs))}
    runs.sort(key=lambda r: (order[r.embedding], r.fraction, r.seed))
    seen: dict[tuple[str, int, float], Path] = {}
    for run in runs:
        key = (run.embedding, run.seed, run.fraction)
        if key in seen:
            raise ValueError(f"{run.path}: the same run (embedding, seed, fraction) = {key} is also in {seen[key]}")
        seen[key] = run.path
    return runs


def finished_runs(results_root: str | Path | None, corpus: str) -> list[Run]:
    """Every finished run folder of ``corpus`` as a :class:`Run`, folds not pooled; a run of another corpus is
    an error."""
    runs = []
    for folder in find_runs(results_root, corpus):
        metrics = folder.read_metrics()
        key = metrics["run"]
        if key["corpus"] != corpus:
            raise ValueError(f"{folder.metrics_path}: run.corpus is {key['corpus']!r}, expected {corpus!r}")
        check_comparable(metrics, folder, results_root)
        kind = str(key.get("kind", FROZEN_KIND))
        runs.append(Run(system_name(kind, str(key["embedding"])), int(key["seed"]), float(key["fraction"]), folder,
                        metrics, fold=key.get("fold"), folds=key.get("folds"), kind=kind))
    return runs


def check_same_labels(runs: Sequence[Run], results_root: str | Path | None = None) -> None:
    """Raise ValueError naming the first run scored on other labels than most runs (another version of the corpus
    or of its label map): its scores cannot share a table with theirs."""
    label_sets = [frozenset(run.metrics["scores"]["test"]["strict"]["labels"]) for run in runs]
    common = Counter(label_sets).most_common(1)[0][0] if runs else frozenset()
    for run, labels in zip(runs, label_sets):
        if labels != common:
            lacking, extra = label_order(common - labels), label_order(labels - common)
            differences = "; ".join(part for part in (lacking and f"lacks {', '.join(lacking)}",
                                                      extra and f"has {', '.join(extra)} besides") if part)
            raise ValueError(f"{run.folder.metrics_path}: expected scores for the labels of the other runs "
                             f"({', '.join(label_order(common))}); it {differences}: it was scored on another version "
                             f"of the corpus or its label map; re-run that run: "
                             f"{rerun_command(run.metrics['run'], results_root)} (with the --path or --label-map of the "
                             "others), or move it to another results folder")


def check_comparable(metrics: Mapping[str, Any], folder: RunFolder, results_root: str | Path | None) -> None:
    """Raise ValueError when a run's ``metrics`` lack a key of :data:`COMPARED_KEYS` (a run written by an older
    medner, or a file cut short): one line naming its metrics.json, the key, and the command that re-runs it."""
    keys = COMPARED_KEYS + (COMPARED_FOLD_KEYS if metrics["run"].get("fold") is not None else ())
    missing = next((found for dotted in keys if (found := missing_key(metrics, dotted))), None)
    if missing is None:
        return
    version = metrics.get("schema_version", 1)
    raise ValueError(f"{folder.metrics_path}: expected {missing}, which this metrics.json (schema_version {version}) "
                     f"lacks: it was written by an older medner or cut short; re-run that run: "
                     f"{rerun_command(metrics['run'], results_root)} (adding the --path or --label-map it had, if any), "
                     "or delete that metrics.json and run make runs")


def missing_key(metrics: Mapping[str, Any], dotted: str) -> str | None:
    """The first key of the dotted path ``dotted`` (``*``: every key of a mapping) that ``metrics`` lacks, dotted
    (a value that is not a mapping where one is needed lacks every key under it); None when all are there."""
    def walk(node: Any, parts: list[str], done: list[str]) -> str | None:
        if not parts:
            return None
        if not isinstance(node, Mapping):
            return ".".join(done + parts)
        head, rest = parts[0], parts[1:]
        if head == "*":
            return next((found for key, child in node.items() if (found := walk(child, rest, [*done, str(key)]))), None)
        if head not in node:
            return ".".join([*done, head])
        return walk(node[head], rest, [*done, head])

    return walk(metrics, dotted.split("."), [])


def rerun_command(run: Mapping[str, Any], results_root: str | Path | None) -> str:
    """The ``medner train`` command that trains the run ``run`` (a metrics.json's ``run``) again, over the old one."""
    kind = run.get("kind", FROZEN_KIND)
    embedding = [] if run["embedding"] == "none" and kind != FROZEN_KIND else [str(run["embedding"])]
    words = ["medner", "train", str(run["corpus"]), *embedding, "--seed", str(run["seed"])]
    if kind != FROZEN_KIND:
        words += ["--kind", kind]
    if float(run["fraction"]) != 1.0:
        words += ["--fraction", f"{float(run['fraction']):g}"]
    if run.get("fold") is not None:
        words += ["--folds", str(run["folds"]), "--fold", str(run["fold"])]
    if results_root not in (None, ""):
        words += ["--results", str(results_root)]
    return shlex.join([*words, "--force"])


def main_fraction(runs: Sequence[Run]) -> float:
    """The training fraction the tables use: 1.0, or the largest present when no run used all data."""
    fractions = {r.fraction for r in runs}
    return 1.0 if 1.0 in fractions else max(fractions)


def full_data_runs(runs: Sequence[Run]) -> list[Run]:
    """The runs at :func:`main_fraction`."""
    fraction = main_fraction(runs)
    return [r for r in runs if r.fraction == fraction]


def runs_by_embedding(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Runs grouped by embedding, in study order, each group sorted by seed."""
    grouped: dict[str, list[Run]] = {name: [] for name in embedding_order(r.embedding for r in runs)}
    for run in runs:
        grouped[run.embedding].append(run)
    for group in grouped.values():
        group.sort(key=lambda r: r.seed)
    return grouped


def study_labels(runs: Sequence[Run]) -> list[str]:
    """The labels the runs were scored on, in n2c2 order."""
    names: set[str] = set()
    for run in runs:
        names.update(run.metrics["scores"]["test"]["strict"]["labels"])
    return label_order(names)


def tidy_value(scores: Mapping[str, Any], schema: str, label: str, metric: str) -> float:
    """One number of a ``score_documents`` dict, addressed as in ``summary.csv``.

    For ``label="micro"`` the support is tp + fn. For ``label="macro"`` the counts
    (tp, fp, fn, support) are the totals over labels, as in a classification report;
    precision, recall and F1 are the unweighted means over labels.
    """
    block = scores[schema]
    if label in AVERAGES:
        if metric in ("precision", "recall", "f1"):
            return float(block[label][metric])
        micro = block["micro"]
        if metric == "support":
            return float(micro["tp"] + micro["fn"])
        return float(micro[metric])
    if label not in block["labels"]:
        raise KeyError(f"label {label!r} not scored (scored: {', '.join(block['labels'])})")
    return float(block["labels"][label][metric])


def paper_score(metrics: Mapping[str, Any], key: str) -> float | None:
    """One of the papers' scores (:data:`medner.study_order.PAPER_SCORES`) of a run's test set, read from its
    ``semeval`` and ``token_bio``; None when the run has none (written before they were scored)."""
    try:
        if key == "semeval_type_micro":
            return float(metrics["semeval"]["overall"]["type"]["f1"])
        if key in ("bio_strict_macro", "bio_strict_weighted"):
            return float(metrics["token_bio"][key.rsplit("_", 1)[1]]["f1"])
    except (KeyError, TypeError):
        return None
    raise ValueError(f"paper score: expected one of semeval_type_micro, bio_strict_macro, bio_strict_weighted; "
                     f"given {key!r}")


def run_records(runs: Sequence[Run], results_root: str | Path | None) -> list[dict[str, Any]]:
    """The ``runs`` section: per run its key, its folder (relative to ``results_root``) and every test score.

    ``scores`` is ``{label or "micro"/"macro": {schema: {metric: value}}}`` with the metrics of
    :data:`TIDY_METRICS` (counts as integers), labels in n2c2 order: ``summary.csv`` is this, flattened.
    ``fold`` is null for a run on the corpus's own split; a cross-validated run gives one record per
    fold (``fold`` 1..k) and one of the folds pooled (``fold`` "pooled").
    """
    root = Path(results_root) if results_root not in (None, "") else paths.results_dir()
    records = []
    for run in runs:
        for member in (*run.members, run):
            records.append({
                "embedding": member.embedding,
                "seed": member.seed,
                "fraction": member.fraction,
                "fold": "pooled" if member.members else member.fold,
                "folder": member.path.relative_to(root).as_posix() if member.path.is_relative_to(root) else str(member.path),
                "scores": _tidy_scores(member.metrics["scores"]["test"]),
            })
    return records


def _tidy_scores(test: Mapping[str, Any]) -> dict[str, Any]:
    labels = label_order(test["strict"]["labels"]) + list(AVERAGES)
    return {
        label: {schema: {metric: _typed(metric, tidy_value(test, schema, label, metric)) for metric in TIDY_METRICS}
                for schema in SCHEMAS}
        for label in labels
    }


def pool_folds(fold_runs: Sequence[Run]) -> list[Run]:
    """The fold runs of every (embedding, seed, fraction, k), each set pooled into one :class:`Run`.

    Every fold from 1 to k must be there, and every fold run of the study must have split the corpus
    the same way (the fold assignment is recorded in each run): otherwise the pooled scores would not
    test each document exactly once, or the embeddings would not be compared on the same folds.
    """
    groups: dict[tuple[str, int, float, int], list[Run]] = {}
    assignments = {}
    for run in fold_runs:
        groups.setdefault((run.embedding, run.seed, run.fraction, int(run.folds)), []).append(run)
        record = run.metrics.get("corpus", {}).get("split_record", {})
        assignments[record.get("assignment_sha256")] = run.folder.metrics_path
    if len(assignments) > 1:
        paths_ = sorted(str(p) for p in assignments.values())
        raise ValueError(f"the fold runs split the corpus in {len(assignments)} different ways ({', '.join(paths_[:2])}): "
                         "expected one fold assignment for the whole study; train them with the same FOLDS and corpus")
    pooled = []
    for (embedding, seed, fraction, k), members in groups.items():
        members = sorted(members, key=lambda r: r.fold)
        missing = sorted(set(range(1, k + 1)) - {r.fold for r in members})
        if missing:
            raise ValueError(f"{embedding} seed {seed}: folds {', '.join(map(str, missing))} of {k} have no finished run; "
                             "finish them (make resumes where it stopped) before comparing")
        folder = PooledFolder([r.folder for r in members])
        pooled.append(Run(embedding, seed, fraction, folder, pooled_metrics(members), folds=k, members=tuple(members),
                          kind=members[0].kind))
    return pooled


def pooled_metrics(members: Sequence[Run]) -> dict[str, Any]:
    """What the comparison reads of a run's metrics, for the k fold runs of one cross-validated run together."""
    from medner.evaluation.span import pool_scores

    first = members[0].metrics
    costs = [r.metrics["cost"] for r in members]
    return {
        "run": {**first["run"], "fold": None},
        "scores": {"test": pool_scores([r.metrics["scores"]["test"] for r in members])},
        "confusion": {kind: _summed_confusion([r.metrics.get("confusion", {}).get(kind) for r in members])
                      for kind in ("span", "token")},
        "cost": {
            "embedding_seconds": sum(float(c["embedding_seconds"]) for c in costs),
            "embedding_cache_hit": all(bool(c.get("embedding_cache_hit", False)) for c in costs),
            "training_seconds": sum(float(c["training_seconds"]) for c in costs),
            "trainable_parameters": int(costs[0]["trainable_parameters"]),
        },
        # every fold trains its own in-domain vectors or LMs: their seconds add up (see in_domain_training_seconds)
        "config": {"embedding": {"training_record": {
            f"fold-{r.fold}": r.metrics.get("config", {}).get("embedding", {}).get("training_record") for r in members}}},
        "corpus": {"split_record": first.get("corpus", {}).get("split_record", {})},
        **_pooled_paper_scores(members),
    }


def _pooled_paper_scores(members: Sequence[Run]) -> dict[str, Any]:
    """``semeval`` and ``token_bio`` of the fold runs pooled (each only when every fold has it)."""
    from medner.evaluation.semeval import pool_semeval
    from medner.evaluation.token import pool_bio_strict

    pooled = {}
    for key, pool in (("semeval", pool_semeval), ("token_bio", pool_bio_strict)):
        parts = [r.metrics.get(key) for r in members]
        if all(parts):
            pooled[key] = pool(parts)
    return pooled


def _summed_confusion(matrices: Sequence[Mapping[str, Any] | None]) -> dict[str, Any] | None:
    """Confusion matrices of the folds with their counts added (None when a fold has none)."""
    if any(m is None for m in matrices):
        return None
    rows, columns = list(matrices[0]["rows"]), list(matrices[0]["columns"])
    counts = [[0] * len(columns) for _ in rows]
    for matrix in matrices:
        if list(matrix["rows"]) != rows or list(matrix["columns"]) != columns:
            raise ValueError("the folds' confusion matrices have different rows or columns")
        for i, row in enumerate(matrix["counts"]):
            for j, value in enumerate(row):
                counts[i][j] += int(value)
    normalised = [[c / sum(row) if sum(row) else 0.0 for c in row] for row in counts]
    return {"rows": rows, "columns": columns, "counts": counts, "normalised": normalised}


class PooledFolder:
    """The folders of the k fold runs of one cross-validated run, read as one where the comparison reads a folder."""

    def __init__(self, folders: Sequence[RunFolder]) -> None:
        self.folders = list(folders)
        # the seed's folder (or its fraction's), which holds the fold folders
        self.path = self.folders[0].path.parent if self.folders[0].path.name.startswith("fold-") else \
            self.folders[0].path.parent.parent / self.folders[0].path.name
        self.metrics_path = self.folders[0].metrics_path

    def read_predictions(self, gold_documents: Sequence) -> list:
        """Every fold's test predictions together: each document of the corpus once. ``gold_documents`` are
        every document of the corpus (each fold reads the predictions of its own test documents)."""
        return [doc for folder in self.folders for doc in folder.read_predictions(gold_documents)]


def _typed(metric: str, value: float) -> int | float:
    return int(value) if metric in COUNT_METRICS else value
