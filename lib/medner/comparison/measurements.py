"""What the full-data runs measured besides their scores: training histories, confusion between labels, cost."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from medner.comparison.selection import Run, full_data_runs, runs_by_embedding

#: The confusion matrices a run's metrics.json holds: spans (labels + SPURIOUS x labels + MISSED) and tokens.
CONFUSION_KINDS: tuple[str, ...] = ("span", "token")


def training_curves(runs: Sequence[Run]) -> dict[str, list[dict[str, Any]]]:
    """The ``training_curves`` section: per embedding, every seed's per-epoch history (full-data runs; every
    fold's, with its ``fold``, in a cross-validation).

    ``{embedding: [{"seed", "epoch", "dev_f1", "train_loss", "best_epoch"}]}``: lists per epoch
    from ``history.csv``; ``best_epoch`` is the epoch whose weights were kept (None if not recorded).
    """
    curves: dict[str, list[dict[str, Any]]] = {}
    for embedding, group in runs_by_embedding(full_data_runs(runs)).items():
        curves[embedding] = []
        for run in (member for run in group for member in (run.members or (run,))):
            history = run.folder.read_history()
            best = run.metrics.get("best_epoch")
            curve = {
                "seed": run.seed,
                "epoch": [row["epoch"] for row in history],
                "dev_f1": [row["dev_f1"] for row in history],
                "train_loss": [row["train_loss"] for row in history],
                "best_epoch": None if best is None else int(best),
            }
            if run.fold is not None:
                curve["fold"] = run.fold
            curves[embedding].append(curve)
    return curves


def has_confusion(runs: Sequence[Run], kind: str) -> bool:
    """Whether every full-data run holds the ``kind`` confusion matrix."""
    return all(run.metrics.get("confusion", {}).get(kind) is not None for run in full_data_runs(runs))


def confusion_matrices(runs: Sequence[Run], kind: str = "span") -> dict[str, dict[str, Any]]:
    """Per embedding, the ``kind`` ("span" or "token") confusion counts of its full-data runs, summed over seeds.

    ``{embedding: {"kind", "rows", "columns", "counts", "normalised", "n_seeds"}}``: counts are
    summed (not averaged) so cells stay integers; ``normalised`` divides each row by its total (0
    for an empty row). Runs must agree on rows and columns.
    """
    if kind not in CONFUSION_KINDS:
        raise ValueError(f"confusion kind: expected 'span' or 'token', given {kind!r}")
    matrices = {}
    for embedding, group in runs_by_embedding(full_data_runs(runs)).items():
        first = group[0].metrics.get("confusion", {}).get(kind)
        if first is None:
            raise ValueError(f"{group[0].folder.metrics_path}: expected confusion.{kind}")
        rows, columns = list(first["rows"]), list(first["columns"])
        counts = [[0] * len(columns) for _ in rows]
        for run in group:
            matrix = run.metrics.get("confusion", {}).get(kind)
            if matrix is None or list(matrix["rows"]) != rows or list(matrix["columns"]) != columns:
                raise ValueError(f"{run.folder.metrics_path}: expected confusion.{kind} with the rows and columns "
                                 f"of {group[0].path}")
            for i, row in enumerate(matrix["counts"]):
                for j, value in enumerate(row):
                    counts[i][j] += int(value)
        normalised = [[c / sum(row) if sum(row) else 0.0 for c in row] for row in counts]
        matrices[embedding] = {
            "kind": kind, "rows": rows, "columns": columns, "counts": counts, "normalised": normalised, "n_seeds": len(group)
        }
    return matrices


def in_domain_training_seconds(metrics: Mapping[str, Any]) -> float:
    """Seconds the run's embedding spent on in-domain training (GloVe vectors, Flair LMs), 0 for pretrained.

    Read from ``config.embedding.training_record``: a trained artefact that was reused
    keeps the seconds of the training that made it, so every run reports the real cost;
    a stacked embedding's record holds one record per part, which are summed.
    """
    record = metrics.get("config", {}).get("embedding", {}).get("training_record")
    if not isinstance(record, Mapping):
        return 0.0
    if "seconds" in record:
        seconds = record["seconds"]
        return float(seconds) if isinstance(seconds, (int, float)) and math.isfinite(seconds) else 0.0
    return sum(in_domain_training_seconds({"config": {"embedding": {"training_record": part}}}) for part in record.values())


def vector_seconds(points: Sequence[Mapping[str, Any]]) -> tuple[float, bool]:
    """What computing one embedding's vectors cost, and whether that was measured.

    The test vectors are computed once and then read from the cache, so a run that hit
    the cache says little about the embedding's cost: take the longest embedding time
    among the runs that missed it. When every run hit the cache, the longest time of
    any run is returned with ``False`` (the true cost was paid before these runs).
    """
    misses = [p["embedding_seconds"] for p in points if not p["embedding_cache_hit"]]
    if misses:
        return max(misses), True
    return max(p["embedding_seconds"] for p in points), False


def cost_point(run: Run) -> dict[str, Any]:
    """One run's cost and strict micro-F1: ``{"seed", "embedding_seconds", "embedding_cache_hit",
    "training_seconds", "trainable_parameters", "f1", "embedding_training_seconds"}``."""
    cost = run.metrics["cost"]
    try:
        return {
            "seed": run.seed,
            "embedding_seconds": float(cost["embedding_seconds"]),
            "embedding_cache_hit": bool(cost.get("embedding_cache_hit", False)),
            "training_seconds": float(cost["training_seconds"]),
            "trainable_parameters": int(cost["trainable_parameters"]),
            "f1": run.score("strict", "micro", "f1"),
            "embedding_training_seconds": in_domain_training_seconds(run.metrics),
        }
    except KeyError as error:
        raise ValueError(f"{run.folder.metrics_path}: expected cost.{error.args[0]}") from None


def cost(runs: Sequence[Run]) -> dict[str, dict[str, Any]]:
    """The ``cost`` section: per embedding, every full-data run's :func:`cost_point` and what its vectors cost.

    ``{embedding: {"runs": [point], "vector_seconds", "vector_seconds_measured"}}`` (see :func:`vector_seconds`).
    """
    section = {}
    for embedding, group in runs_by_embedding(full_data_runs(runs)).items():
        points = [cost_point(run) for run in group]
        seconds, measured = vector_seconds(points)
        section[embedding] = {"runs": points, "vector_seconds": seconds, "vector_seconds_measured": measured}
    return section
