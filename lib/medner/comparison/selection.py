"""Which runs the comparison reads, and how one of their scores is addressed.

Runs are found and read by :mod:`medner.run_folder` (the one class that knows a run folder);
:class:`Run` is only a view of one: its key (embedding, seed, fraction), its metrics and its folder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medner import paths
from medner.run_folder import RunFolder, find_runs
from medner.study_order import AVERAGES, SCHEMAS, embedding_order, label_order

#: The metrics each run reports per label (and per average) and schema, in ``summary.csv`` order.
TIDY_METRICS: tuple[str, ...] = ("precision", "recall", "f1", "tp", "fp", "fn", "support")
#: The metrics of :data:`TIDY_METRICS` that are counts (integers); the others are scores in 0..1.
COUNT_METRICS: tuple[str, ...] = ("tp", "fp", "fn", "support")


@dataclass(frozen=True)
class Run:
    """One finished run: its key, its ``metrics.json`` and its folder."""

    embedding: str
    seed: int
    fraction: float
    folder: RunFolder
    metrics: dict[str, Any] = field(repr=False, compare=False)

    @property
    def path(self) -> Path:
        return self.folder.path

    def score(self, schema: str = "strict", label: str = "micro", metric: str = "f1") -> float:
        """One test score: ``label`` is a label name or ``"micro"``/``"macro"`` (see :func:`tidy_value`)."""
        return tidy_value(self.metrics["scores"]["test"], schema, label, metric)


def load_runs(results_root: str | Path | None, corpus: str) -> list[Run]:
    """Every finished run of ``corpus`` under ``results_root``, sorted by embedding (study order), fraction, seed.

    The run's key is read from its ``metrics.json``; a run whose ``run.corpus`` is not ``corpus``
    is an error, because mixing corpora in one table would be silently wrong, and so are two
    folders holding the same key. Raises FileNotFoundError when there is no finished run.
    """
    folders = find_runs(results_root, corpus)
    if not folders:
        root = Path(results_root) if results_root not in (None, "") else paths.results_dir()
        raise FileNotFoundError(
            f"no finished run under {root / corpus} (expected <embedding>/seed-<n>[/frac-<f>]/metrics.json)"
        )
    runs = []
    for folder in folders:
        metrics = folder.read_metrics()
        key = metrics["run"]
        if key["corpus"] != corpus:
            raise ValueError(f"{folder.metrics_path}: run.corpus is {key['corpus']!r}, expected {corpus!r}")
        runs.append(Run(str(key["embedding"]), int(key["seed"]), float(key["fraction"]), folder, metrics))
    order = {name: i for i, name in enumerate(embedding_order(r.embedding for r in runs))}
    runs.sort(key=lambda r: (order[r.embedding], r.fraction, r.seed))
    seen: dict[tuple[str, int, float], Path] = {}
    for run in runs:
        key = (run.embedding, run.seed, run.fraction)
        if key in seen:
            raise ValueError(f"{run.path}: the same run (embedding, seed, fraction) = {key} is also in {seen[key]}")
        seen[key] = run.path
    return runs


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


def run_records(runs: Sequence[Run], results_root: str | Path | None) -> list[dict[str, Any]]:
    """The ``runs`` section: per run its key, its folder (relative to ``results_root``) and every test score.

    ``scores`` is ``{label or "micro"/"macro": {schema: {metric: value}}}`` with the metrics of
    :data:`TIDY_METRICS` (counts as integers), labels in n2c2 order: ``summary.csv`` is this, flattened.
    """
    root = Path(results_root) if results_root not in (None, "") else paths.results_dir()
    records = []
    for run in runs:
        test = run.metrics["scores"]["test"]
        labels = label_order(test["strict"]["labels"]) + list(AVERAGES)
        scores = {
            label: {
                schema: {
                    metric: _typed(metric, tidy_value(test, schema, label, metric)) for metric in TIDY_METRICS
                }
                for schema in SCHEMAS
            }
            for label in labels
        }
        records.append({
            "embedding": run.embedding,
            "seed": run.seed,
            "fraction": run.fraction,
            "folder": run.path.relative_to(root).as_posix() if run.path.is_relative_to(root) else str(run.path),
            "scores": scores,
        })
    return records


def _typed(metric: str, value: float) -> int | float:
    return int(value) if metric in COUNT_METRICS else value
