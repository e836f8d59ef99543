"""Scores over seeds: the main table's rows, the per-label table and the learning curves.

Every score is reported over seeds as mean, sample standard deviation, min, max and every
value (Reimers and Gurevych 2017: report distributions, not single runs), computed by
:func:`medner.evaluation.statistics.aggregate_seeds`. A *spread* is the dict
``{"mean", "sd", "min", "max", "values", "seeds"}`` (``values`` in the order of ``seeds``;
``sd`` is 0 for a single seed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from medner.comparison.selection import Run, full_data_runs, paper_score, runs_by_embedding, study_labels
from medner.evaluation.statistics import aggregate_seeds
from medner.study_order import AVERAGES, FROZEN_KIND, PAPER_SCORES, SCHEMAS

Spread = dict[str, Any]


def seed_spread(values_by_seed: Mapping[int, float]) -> Spread:
    """One score over seeds as a spread (see the module docstring)."""
    if not values_by_seed:
        raise ValueError("seed_spread: expected at least one seed's value, given none")
    records = [{"embedding": "-", "seed": seed, "label": "-", "f1": float(value)} for seed, value in values_by_seed.items()]
    aggregated = aggregate_seeds(records)["-"]["-"]
    return {
        "mean": float(aggregated["mean"]),
        "sd": float(aggregated["sd"]),
        "min": float(aggregated["min"]),
        "max": float(aggregated["max"]),
        "values": [float(v) for v in aggregated["values"]],
        "seeds": [int(s) for s in aggregated["seeds"]],
    }


def fold_spread(runs: Sequence[Run], schema: str, average: str) -> Spread:
    """A score over the fold runs of cross-validated runs (every fold of every seed): a spread whose
    ``seeds`` are the runs' seeds, one entry per fold, and ``folds`` their folds."""
    members = [m for run in runs for m in run.members]
    values = np.array([m.score(schema, average, "f1") for m in members])
    return {
        "mean": float(values.mean()),
        "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "min": float(values.min()),
        "max": float(values.max()),
        "values": [float(v) for v in values],
        "seeds": [m.seed for m in members],
        "folds": [m.fold for m in members],
    }


def main_scores(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """The ``main`` section without its intervals: per embedding (study order), the F1 spread of its
    full-data runs for every schema and average: ``{"embedding", "scores": {schema: {average: spread}}}``.

    Cross-validated runs are scored on all their folds' test documents pooled, and their rows add
    ``over_folds``: the same scores as spreads over the single folds (:func:`fold_spread`).
    """
    rows = []
    for embedding, group in runs_by_embedding(full_data_runs(runs)).items():
        row: dict[str, Any] = {
            "embedding": embedding,
            "scores": {
                schema: {average: seed_spread({r.seed: r.score(schema, average, "f1") for r in group}) for average in AVERAGES}
                for schema in SCHEMAS
            },
        }
        row["papers"] = paper_spreads(group)
        row["kind"] = group[0].kind
        row["cost"] = row_cost(group)
        if all(r.members for r in group):
            row["over_folds"] = {schema: {average: fold_spread(group, schema, average) for average in AVERAGES}
                                 for schema in SCHEMAS}
        rows.append(row)
    return rows


def row_cost(group: Sequence[Run]) -> dict[str, Any]:
    """What one row's runs cost, beside its scores: ``{"trainable_parameters", "training_seconds" (mean over
    seeds), "peak_rss_mb" (mean, or None when a run did not record it)}``."""
    peaks = [r.metrics["cost"].get("peak_rss_mb") for r in group]
    return {
        "trainable_parameters": int(group[0].metrics["cost"]["trainable_parameters"]),
        "training_seconds": float(np.mean([float(r.metrics["cost"]["training_seconds"]) for r in group])),
        "peak_rss_mb": None if any(p is None for p in peaks) else float(np.mean([float(p) for p in peaks])),
    }


def paper_spreads(group: Sequence[Run]) -> dict[str, Spread] | None:
    """The papers' scores (:data:`medner.study_order.PAPER_SCORES`) of one row's runs as spreads over seeds;
    None when a run lacks them (a metrics.json written before they were scored)."""
    spreads = {}
    for key in PAPER_SCORES:
        values = {r.seed: paper_score(r.metrics, key) for r in group}
        if any(v is None for v in values.values()):
            return None
        spreads[key] = seed_spread(values)
    return spreads


def per_label_table(runs: Sequence[Run]) -> dict[str, Any]:
    """The ``per_label`` section: per label, embedding and schema, the F1 spread of the full-data runs.

    ``{"labels", "embeddings", "support": {label: gold test entities}, "scores": {label: {embedding:
    {schema: spread}}}}``. Every run is scored on the same gold test set, so runs that disagree on a
    label's support are an error.
    """
    chosen = full_data_runs(runs)
    grouped = runs_by_embedding(chosen)
    labels = study_labels(chosen)
    support = {}
    for label in labels:
        supports = {
            int(r.score("strict", label, "support")) for r in chosen if label in r.metrics["scores"]["test"]["strict"]["labels"]
        }
        if len(supports) != 1:
            raise ValueError(f"runs disagree on the test support of {label!r}: expected one value, found {sorted(supports)}")
        support[label] = supports.pop()
    scores = {
        label: {
            embedding: {schema: seed_spread({r.seed: r.score(schema, label, "f1") for r in group}) for schema in SCHEMAS}
            for embedding, group in grouped.items()
        }
        for label in labels
    }
    references = [name for name, group in grouped.items() if group[0].kind != FROZEN_KIND]
    return {"labels": labels, "embeddings": list(grouped), "references": references, "support": support,
            "scores": scores}


def learning_curves(runs: Sequence[Run]) -> dict[str, list[dict[str, Any]]]:
    """The ``learning_curves`` section: per embedding, one point per training fraction (sorted), with the
    strict and lenient micro-F1 spreads of its runs: ``{embedding: [{"fraction", "strict", "lenient"}]}``."""
    curves = {}
    for embedding, group in runs_by_embedding(runs).items():
        points = []
        for fraction in sorted({r.fraction for r in group}):
            at = [r for r in group if r.fraction == fraction]
            points.append({
                "fraction": fraction,
                "strict": seed_spread({r.seed: r.score("strict", "micro", "f1") for r in at}),
                "lenient": seed_spread({r.seed: r.score("lenient", "micro", "f1") for r in at}),
            })
        curves[embedding] = points
    return curves
