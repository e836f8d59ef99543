"""The ``relations`` section of the comparison: pipeline against shared encoder, per embedding.

Read from every finished relation run of the corpus (:func:`medner.relation_runs.find_relation_runs`):

* ``runs``: one row per run: relation micro-F1 (strict and lenient, with gold entities and end to
  end), per-type strict F1 in both settings, NER strict micro-F1, and cost;
* ``summary``: per embedding and variant, each of those as a spread over seeds
  (:func:`medner.comparison.spreads.seed_spread`);
* ``per_type``: per type, setting, embedding and variant, the strict F1 spread (every seed a dot);
* ``significance``: per embedding and setting, pipeline against shared with the study's paired
  approximate randomisation on relation counts (:func:`approximate_randomisation_counts` on
  :func:`relation_document_counts`), seed by seed (differences as :func:`pair_difference` gives them:
  F1 of pipeline minus F1 of shared);
* ``ci``: per embedding, variant and setting, the bootstrap interval of strict micro-F1 of the
  median-seed run (:func:`bootstrap_ci_counts`).

The statistics need the gold test documents; without them ``significance`` and ``ci`` are empty.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medner.comparison.resampling import pair_difference
from medner.comparison.spreads import seed_spread
from medner.study_order import embedding_order

#: The scoring settings of a relation run, in display order.
SETTINGS: tuple[str, ...] = ("gold_entities", "end_to_end")
VARIANTS: tuple[str, ...] = ("pipeline", "shared")
COST_KEYS: tuple[str, ...] = ("trainable_parameters", "training_seconds", "peak_rss_mb")


def _row(folder, metrics: dict, results_root: Path) -> dict[str, Any]:
    run, relations = metrics["run"], metrics["relations"]
    test = {setting: relations[setting]["test"] for setting in SETTINGS}
    try:
        where = str(folder.path.relative_to(results_root))
    except ValueError:
        where = str(folder.path)
    return {
        "embedding": run["embedding"], "variant": run["variant"], "seed": int(run["seed"]), "folder": where,
        "relation": {setting: {mode: {"micro": test[setting][mode]["micro"]["f1"], "macro": test[setting][mode]["macro"]["f1"]}
                               for mode in ("strict", "lenient")} for setting in SETTINGS},
        "per_type": {setting: {t: v["f1"] for t, v in test[setting]["strict"]["per_type"].items()} for setting in SETTINGS},
        "support": {t: v["support"] for t, v in test["gold_entities"]["strict"]["per_type"].items()},
        "ner_f1": metrics["ner"]["scores"]["test"]["strict"]["micro"]["f1"],
        "cost": {key: metrics["cost"][key] for key in COST_KEYS},
        "types": list(metrics["config"]["types"]),
    }


def _spread(rows: Sequence[dict], value) -> dict[str, Any]:
    return seed_spread({row["seed"]: float(value(row)) for row in rows})


def _summary(groups: dict[tuple[str, str], list[dict]]) -> list[dict[str, Any]]:
    out = []
    for (embedding, variant), rows in groups.items():
        out.append({
            "embedding": embedding, "variant": variant, "n_seeds": len(rows),
            "relation": {setting: {mode: {average: _spread(rows, lambda r, s=setting, m=mode, a=average: r["relation"][s][m][a])
                                          for average in ("micro", "macro")} for mode in ("strict", "lenient")}
                         for setting in SETTINGS},
            "ner_f1": _spread(rows, lambda r: r["ner_f1"]),
            "cost": {key: _spread(rows, lambda r, k=key: r["cost"][k]) for key in COST_KEYS},
        })
    return out


def _per_type(groups: dict[tuple[str, str], list[dict]], types: list[str]) -> dict[str, Any]:
    scores: dict[str, Any] = {t: {s: defaultdict(dict) for s in SETTINGS} for t in types}
    for (embedding, variant), rows in groups.items():
        for t in types:
            for setting in SETTINGS:
                present = [r for r in rows if t in r["per_type"][setting]]
                if present:
                    scores[t][setting][embedding][variant] = _spread(present, lambda r: r["per_type"][setting][t])
    support = {}
    for rows in groups.values():
        for r in rows:
            support.update(r["support"])
    return {"types": types, "support": support,
            "scores": {t: {s: dict(v) for s, v in by_setting.items()} for t, by_setting in scores.items()}}


def _statistics(folders: dict[tuple[str, str, int], Any], rows: dict[tuple[str, str, int], dict], gold: list,
                types: list[str], *, n_boot: int, n_shuffles: int, alpha: float, seed: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The significance tests (pipeline vs shared, per embedding and setting, per common seed) and the intervals."""
    from medner.evaluation.relations import relation_document_counts
    from medner.evaluation.span import read_prediction_folder
    from medner.evaluation.statistics import approximate_randomisation_counts, bootstrap_ci_counts

    counts_cache: dict[tuple, Any] = {}

    def counts(key: tuple[str, str, int], setting: str):
        if (key, setting) not in counts_cache:
            predicted = read_prediction_folder(gold, folders[key].setting_dir(setting))
            counts_cache[key, setting] = relation_document_counts(gold, predicted, "strict", types)
        return counts_cache[key, setting]

    significance = []
    embeddings = embedding_order({e for e, _, _ in folders})
    for embedding in embeddings:
        seeds = sorted({s for e, v, s in folders if e == embedding and v == "pipeline"}
                       & {s for e, v, s in folders if e == embedding and v == "shared"})
        for setting in SETTINGS if seeds else ():
            results = [approximate_randomisation_counts(counts((embedding, "pipeline", s), setting),
                                                        counts((embedding, "shared", s), setting), types,
                                                        n_shuffles=n_shuffles, seed=seed)["overall"] for s in seeds]
            significance.append({"embedding": embedding, "setting": setting, "a": "pipeline", "b": "shared",
                                 "mode": "strict", "n_shuffles": n_shuffles, "overall": pair_difference(seeds, results, alpha)})
    intervals: dict[str, Any] = defaultdict(dict)
    for embedding in embeddings:
        for variant in VARIANTS:
            keys = sorted((k for k in folders if k[0] == embedding and k[1] == variant), key=lambda k: k[2])
            for setting in SETTINGS if keys else ():
                ranked = sorted(keys, key=lambda k: (rows[k]["relation"][setting]["strict"]["micro"], k[2]))
                chosen = ranked[(len(ranked) - 1) // 2]  # the median-seed run (the lower middle one for an even count)
                ci = bootstrap_ci_counts(counts(chosen, setting), types, n_boot=n_boot, seed=seed, alpha=alpha)["micro_f1"]
                intervals[embedding].setdefault(variant, {})[setting] = {"seed": chosen[2], **ci, "n_boot": n_boot,
                                                                          "alpha": alpha}
    return significance, dict(intervals)


def relation_section(results_root: str | Path | None, corpus: str, gold_test_docs: Sequence | None, *,
                     n_boot: int = 1000, n_shuffles: int = 1000, alpha: float = 0.05, seed: int = 0) -> dict[str, Any] | None:
    """The ``relations`` section of comparison.json (see the module docstring), or None without relation runs."""
    from medner import paths
    from medner.relation_runs import find_relation_runs

    root = Path(results_root) if results_root not in (None, "") else paths.results_dir()
    found = find_relation_runs(root, corpus)
    if not found:
        return None
    rows, folders = [], {}
    for folder in found:
        row = _row(folder, folder.read_metrics(), root)
        rows.append(row)
        folders[row["embedding"], row["variant"], row["seed"]] = folder
    order = embedding_order({r["embedding"] for r in rows})
    rows.sort(key=lambda r: (order.index(r["embedding"]), VARIANTS.index(r["variant"]), r["seed"]))
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        groups[row["embedding"], row["variant"]].append(row)
    types = list(dict.fromkeys(t for r in rows for t in r["types"]))
    significance, intervals = ([], {}) if gold_test_docs is None else _statistics(
        folders, {(r["embedding"], r["variant"], r["seed"]): r for r in rows}, list(gold_test_docs), types, n_boot=n_boot, n_shuffles=n_shuffles, alpha=alpha, seed=seed)
    return {"embeddings": order, "types": types, "runs": rows, "summary": _summary(groups),
            "per_type": _per_type(groups, types), "significance": significance, "ci": intervals}
