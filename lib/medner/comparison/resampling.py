"""The two resampling procedures of the comparison: bootstrap intervals and significance tests.

Both re-score the runs' test predictions (``predictions/brat``) against the gold test documents
with :mod:`medner.evaluation.statistics`; they are the slow part of the comparison.

* **Confidence interval.** The bootstrap over test documents measures a different uncertainty
  than the seed spread: how much the score would move on another test set of the same size. It
  is computed for one representative run per embedding, the *median-seed run* (the seed whose
  strict micro-F1 is the median of the seeds; with an even count, the lower of the two middle
  ones), not on pooled predictions: pooling the predictions of several seeds would bootstrap a
  mixture that is no system anyone trained. The table says which seed that was.
* **Significance.** The paired approximate randomisation test (the n2c2-2018 organisers' test)
  compares two embeddings run by run: for every seed both embeddings were trained with, the two
  runs of that seed are tested on the same gold documents. A label difference is reported with
  its mean delta over seeds and the number of seeds in which it was significant at ``alpha``
  (for example "3/3"), so a difference that only one lucky seed shows is visible as such. No
  multiple comparison correction is applied; the counts are meant to be read as counts.
"""

from __future__ import annotations

import statistics as pystatistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from medner.comparison.selection import Run, full_data_runs, runs_by_embedding, study_labels
from medner.evaluation.statistics import approximate_randomisation, bootstrap_ci


def median_seed_run(runs: Sequence[Run]) -> Run:
    """The run whose strict micro-F1 is the median over seeds (the lower middle one for an even count)."""
    if not runs:
        raise ValueError("median_seed_run: expected at least one run, given none")
    ranked = sorted(runs, key=lambda r: (r.score("strict", "micro", "f1"), r.seed))
    return ranked[(len(ranked) - 1) // 2]


def confidence_intervals(
    runs: Sequence[Run], gold_test_docs: Sequence, *, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Per embedding, the bootstrap interval of strict micro-F1 for its median-seed full-data run.

    ``{embedding: {"seed", "estimate", "low", "high", "n_boot", "alpha"}}``: ``n_boot`` resamples
    of the test documents, level ``1 - alpha``; ``seed`` is the run's seed (the resampling uses ``seed``
    of this function, the same for every embedding).
    """
    gold = list(gold_test_docs)
    intervals = {}
    for embedding, group in runs_by_embedding(full_data_runs(runs)).items():
        median_run = median_seed_run(group)
        result = bootstrap_ci(
            gold, median_run.folder.read_predictions(gold), labels=study_labels(group), n_boot=n_boot, seed=seed, alpha=alpha
        )["micro_f1"]
        intervals[embedding] = {
            "seed": median_run.seed,
            "estimate": float(result["estimate"]),
            "low": float(result["low"]),
            "high": float(result["high"]),
            "n_boot": n_boot,
            "alpha": alpha,
        }
    return intervals


def paired_seeds(runs: Sequence[Run]) -> list[tuple[str, str, list[tuple[int, Run, Run]]]]:
    """Every pair of embeddings (study order) with the full-data runs of the seeds both have: ``(a, b,
    [(seed, run_a, run_b)])``. Pairs with no common seed are left out."""
    grouped = runs_by_embedding(full_data_runs(runs))
    names = list(grouped)
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            seeds_a = {r.seed: r for r in grouped[a]}
            seeds_b = {r.seed: r for r in grouped[b]}
            common = sorted(set(seeds_a) & set(seeds_b))
            if common:
                pairs.append((a, b, [(s, seeds_a[s], seeds_b[s]) for s in common]))
    return pairs


def pair_difference(seeds: Sequence[int], results: Sequence[dict[str, float]], alpha: float) -> dict[str, Any]:
    """One label's (or the overall) difference ``a - b`` over seeds, from the per-seed test results.

    ``{"seeds", "deltas", "p_values", "alpha", "mean_delta", "n_significant", "n_seeds"}``:
    ``n_significant`` counts the seeds with ``p_value < alpha``.
    """
    deltas = [float(r["delta"]) for r in results]
    p_values = [float(r["p_value"]) for r in results]
    return {
        "seeds": list(seeds),
        "deltas": deltas,
        "p_values": p_values,
        "alpha": alpha,
        "mean_delta": pystatistics.fmean(deltas),
        "n_significant": sum(p < alpha for p in p_values),
        "n_seeds": len(seeds),
    }


def significance(
    runs: Sequence[Run],
    gold_test_docs: Sequence,
    *,
    n_shuffles: int = 1000,
    alpha: float = 0.05,
    mode: str = "strict",
    seed: int = 0,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """The ``significance`` section: paired approximate randomisation for every pair of embeddings, seed by seed.

    For each pair of :func:`paired_seeds`, the two runs of each common seed are tested against
    ``gold_test_docs`` with :func:`medner.evaluation.statistics.approximate_randomisation`. One
    dict per pair: ``{"a", "b", "mode", "n_shuffles", "labels": {label: difference}, "overall":
    difference}`` with differences as :func:`pair_difference` gives them (overall: micro-F1).
    """
    from tqdm.auto import tqdm

    gold = list(gold_test_docs)
    labels = study_labels(full_data_runs(runs))
    predictions = _prediction_reader(gold)
    jobs = paired_seeds(runs)
    results = []
    with tqdm(total=sum(len(s) for _, _, s in jobs), desc="approximate randomisation", disable=not progress,
              mininterval=5.0) as bar:
        for a, b, seeds in jobs:
            per_seed = []
            for _, run_a, run_b in seeds:
                per_seed.append(approximate_randomisation(
                    gold, predictions(run_a), predictions(run_b), labels=labels, n_shuffles=n_shuffles, seed=seed, mode=mode
                ))
                bar.update(1)
            seed_ids = [s for s, _, _ in seeds]
            results.append({
                "a": a,
                "b": b,
                "mode": mode,
                "n_shuffles": n_shuffles,
                "labels": {label: pair_difference(seed_ids, [r["labels"][label] for r in per_seed], alpha) for label in labels},
                "overall": pair_difference(seed_ids, [r["overall"] for r in per_seed], alpha),
            })
    return results


def _prediction_reader(gold: list) -> Callable[[Run], list]:
    """``run -> its test predictions``, each folder read once (a run takes part in several pairs)."""
    cache: dict[Path, list] = {}

    def predictions(run: Run) -> list:
        if run.path not in cache:
            cache[run.path] = run.folder.read_predictions(gold)
        return cache[run.path]

    return predictions
