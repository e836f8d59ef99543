"""The whole comparison of one corpus as one documented dict, written to ``comparison.json``.

:func:`compute_comparison` reads every finished run and computes every section of
:data:`SECTIONS` (the file carries that table under ``about``, so it documents itself);
:func:`write_comparison` writes it atomically and :func:`read_comparison` reads it back,
checking its layout version. :func:`compare_corpus` adds what the runs do not hold (the gold
test documents, the corpus statistics) from the corpus's name; :func:`read_or_compute_comparison`
is the notebook's entry: the file when it is current, else a fresh computation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from medner import files, locks
from medner.comparison.measurements import confusion_matrices, cost, has_confusion, training_curves
from medner.comparison.relations import relation_section
from medner.comparison.resampling import confidence_intervals, paired_seeds, significance
from medner.comparison.selection import (Run, finished_runs, full_data_runs, load_runs, main_fraction, run_records,
                                         study_labels)
from medner.comparison.spreads import learning_curves, main_scores, per_label_table
from medner.corpus.stats import label_counts_by_split
from medner.study_order import FROZEN_KIND, embedding_order

#: Version of the layout below; bumped when a key changes meaning or moves.
SCHEMA_VERSION = 1
_SPREAD = "spread = {mean, sd (sample sd; 0 for one seed), min, max, values, seeds} of a score over seeds"
_DIFFERENCE = ("difference = {seeds, deltas (F1 of a minus F1 of b, per seed), p_values, alpha, mean_delta, "
               "n_significant (seeds with p < alpha), n_seeds}")
#: Every key of comparison.json and what it holds; F1 and other scores are in 0..1, on the test set.
SECTIONS: dict[str, str] = {
    "schema_version": "version of this layout (medner.comparison.study.SCHEMA_VERSION)",
    "about": f"this table: key -> what it holds; {_SPREAD}; {_DIFFERENCE}",
    "corpus": "corpus name",
    "settings": "how the statistics were computed: n_boot (bootstrap resamples), n_shuffles (approximate "
                "randomisation shuffles), alpha (intervals at 1 - alpha; significance threshold), seed (of both "
                "resamplings), significance_mode (span matching the significance tests use), folds (the k-fold "
                "cross-validation compared, or null: the runs on the corpus's own split)",
    "test_documents": "gold test documents the bootstrap and the significance tests resampled (null: none given)",
    "evaluation": "how the runs were tested: {kind: 'split' (the corpus's own test split) or 'k-fold' (every document "
                  "tested once, in its fold; scores pool the folds' test documents), folds (k, or null), stratified, "
                  "assignment_sha256 (the fold assignment all runs share), documents (gold documents scored)}",
    "main_fraction": "training fraction of the runs behind main, per_label, significance, training_curves, confusion "
                     "and cost: 1.0, or the largest present when no run used all training documents",
    "embeddings": "every embedding with a finished run, in study order (glove, flair, bert, then the others sorted), "
                  "then the reference systems (finetune-<embedding>, finetune-crf-<embedding>, scratch-crf)",
    "references": "the rows of embeddings that are reference systems of the papers (medner.reference): they differ in "
                  "more than the embedding (a fine-tuned encoder, or a Transformer-CRF from scratch), so the tables and "
                  "figures show them under their own heading",
    "labels": "the labels the main-fraction runs were scored on, n2c2 order",
    "missing": "key -> why it is empty (main.ci: why every ci is null)",
    "main": "per embedding: {embedding, scores {strict|lenient: {micro|macro: F1 spread}}, ci}: ci is the bootstrap "
            "interval of strict micro-F1 for the median-seed run {seed, estimate, low, high, n_boot, alpha}, or null; "
            "papers {semeval_type_micro|bio_strict_macro|bio_strict_weighted: F1 spread}: the scores other papers "
            "report (SemEval-2013 type micro, MedMine; BIO-strict macro and support-weighted over labels, Belkadi et "
            "al.), or null when a run has none (main.papers in missing says so); kind: bilstm-crf (the study) or the "
            "reference kind; cost {trainable_parameters, training_seconds (mean over seeds), peak_rss_mb (mean; null "
            "when not recorded)}; "
            "cross-validated: scores pool the folds, and over_folds {strict|lenient: {micro|macro: spread over every "
            "fold run, with its folds}} gives the single folds' scores",
    "per_label": "{labels, embeddings, references (those of embeddings that are reference systems), support {label: "
                 "gold test entities}, scores {label: {embedding: {strict|lenient: F1 spread}}}}",
    "significance": "per embedding pair: {a, b, mode, n_shuffles, labels {label: difference}, overall (micro-F1): "
                    "difference}",
    "learning_curves": "per embedding: [{fraction, strict, lenient}]: micro-F1 spreads at every training fraction",
    "training_curves": "per embedding: [{seed, epoch, dev_f1, train_loss, best_epoch}] per epoch, from history.csv",
    "confusion": "span and token: per embedding {kind, rows, columns, counts (summed over seeds), normalised (each row "
                 "over its total), n_seeds}; span rows are labels + SPURIOUS, columns labels + MISSED",
    "cost": "per embedding: {runs [{seed, embedding_seconds, embedding_cache_hit, training_seconds, trainable_parameters, "
            "f1 (strict micro), embedding_training_seconds (in-domain training of the vectors or LMs)}], vector_seconds "
            "(computing the vectors, from a run that filled the cache), vector_seconds_measured (false: every run hit it)}",
    "label_counts": "{split: {label: gold entities}} from the corpus statistics (empty: none given)",
    "relations": "the relation study (pipeline vs shared encoder; medner.comparison.relations), or null without relation "
                 "runs or in a cross-validation: {embeddings, types, runs [{embedding, variant, seed, folder, relation "
                 "{gold_entities|end_to_end: {strict|lenient: {micro, macro}}}, per_type {setting: {type: strict F1}}, "
                 "support, ner_f1, cost {trainable_parameters, training_seconds, peak_rss_mb}, types}], summary "
                 "[{embedding, variant, n_seeds, relation {setting: {mode: {micro|macro: spread}}}, ner_f1 spread, cost "
                 "{key: spread}}], per_type {types, support, scores {type: {setting: {embedding: {variant: spread}}}}}, "
                 "significance [{embedding, setting, a: pipeline, b: shared, mode, n_shuffles, overall: difference}], "
                 "ci {embedding: {variant: {setting: {seed, estimate, low, high, n_boot, alpha}}}}}",
    "runs": "every finished run: {embedding, seed, fraction, fold (null; or 1..k and 'pooled' in a cross-validation), "
            "folder (relative to the results root), scores {label|micro|macro: {strict|lenient: {precision, recall, f1, "
            "tp, fp, fn, support}}}}; the averages' counts are micro totals; summary.csv is this, flattened",
}


def compute_comparison(
    results_root: str | Path | None,
    corpus: str,
    gold_test_docs: Sequence | None,
    *,
    label_counts: Mapping[str, Mapping[str, int]] | None = None,
    gold_all_docs: Sequence | None = None,
    folds: int | None = None,
    n_boot: int = 1000,
    n_shuffles: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Every section of :data:`SECTIONS` for the finished runs of ``corpus`` under ``results_root``.

    ``gold_test_docs`` are the gold test Documents the runs were scored on (as read from their
    brat files, e.g. ``load_corpus(...).splits["test"]``); without them the intervals and the
    significance tests are left out, and ``missing`` says so. Cross-validated runs test every
    document once, in its fold: for them the intervals and tests resample ``gold_all_docs``
    (``load_corpus(...).documents()``) instead. ``folds``: compare the runs of that k-fold cross-validation
    (None: the runs on the corpus's own split; the two never share a table). ``label_counts`` is
    ``{split: {label: count}}`` or the corpus statistics it is read from
    (:func:`medner.corpus.stats.label_counts_by_split`).
    """
    runs = load_runs(results_root, corpus, folds)
    evaluation = evaluation_of(runs)
    gold_docs = gold_all_docs if evaluation["kind"] == "k-fold" else gold_test_docs
    if evaluation["kind"] == "k-fold" and gold_docs is None and gold_test_docs is not None:
        raise ValueError("cross-validated runs are resampled over every document of the corpus: expected "
                         "gold_all_docs (the corpus's documents, every split), given only its test split")
    gold = None if gold_docs is None else list(gold_docs)
    evaluation["documents"] = None if gold is None else len(gold)
    missing: dict[str, str] = {}
    main = main_scores(runs)
    intervals = _confidence_intervals(runs, gold, missing, n_boot=n_boot, alpha=alpha, seed=seed)
    for row in main:
        row["ci"] = intervals.get(row["embedding"])
    if any(row["papers"] is None for row in main):
        missing["main.papers"] = "some runs have no semeval or token_bio scores (written by an older medner)"
    pairs = _significance(runs, gold, missing, n_shuffles=n_shuffles, alpha=alpha, seed=seed, progress=progress)
    relations = None if folds else relation_section(results_root, corpus, gold_test_docs, n_boot=n_boot,
                                                    n_shuffles=n_shuffles, alpha=alpha, seed=seed)
    if label_counts is None:
        missing["label_counts"] = "no corpus statistics given"
    counts = label_counts_by_split(label_counts) if label_counts is not None else {}
    return {
        "schema_version": SCHEMA_VERSION,
        "about": SECTIONS,
        "corpus": corpus,
        "settings": comparison_settings(n_boot=n_boot, n_shuffles=n_shuffles, alpha=alpha, seed=seed, folds=folds),
        "test_documents": None if gold is None else len(gold),
        "evaluation": evaluation,
        "main_fraction": main_fraction(runs),
        "embeddings": embedding_order(r.embedding for r in runs),
        "references": embedding_order(r.embedding for r in runs if r.kind != FROZEN_KIND),
        "labels": study_labels(full_data_runs(runs)),
        "missing": missing,
        "main": main,
        "per_label": per_label_table(runs),
        "significance": pairs,
        "learning_curves": learning_curves(runs),
        "training_curves": training_curves(runs),
        "confusion": _confusion(runs, missing),
        "cost": cost(runs),
        "label_counts": counts,
        "relations": relations,
        "runs": run_records(runs, results_root),
    }


def evaluation_of(runs: Sequence[Run]) -> dict[str, Any]:
    """The ``evaluation`` section (without ``documents``): on the corpus's own test split, or k-fold; a study
    mixing the two is an error (its scores would not be comparable)."""
    kinds = {run.folds for run in runs}
    if len(kinds) > 1:
        raise ValueError(f"the runs mix evaluations ({', '.join('own split' if k is None else f'{k} folds' for k in kinds)}): "
                         "expected one per results folder; move one kind to another results root")
    folds = kinds.pop()
    if folds is None:
        return {"kind": "split", "folds": None, "stratified": None, "assignment_sha256": None}
    record = runs[0].metrics["corpus"]["split_record"]
    return {"kind": "k-fold", "folds": folds, "stratified": record.get("stratified"),
            "assignment_sha256": record.get("assignment_sha256")}


def comparison_settings(*, n_boot: int, n_shuffles: int, alpha: float, seed: int, folds: int | None = None) -> dict[str, Any]:
    """The ``settings`` section: what a comparison computed with these values holds."""
    return {"n_boot": n_boot, "n_shuffles": n_shuffles, "alpha": alpha, "seed": seed, "significance_mode": "strict",
            "folds": folds}


def _confidence_intervals(runs: Sequence[Run], gold: list | None, missing: dict[str, str], **options) -> dict:
    if gold is None:
        missing["main.ci"] = "no gold test documents given"
        return {}
    return confidence_intervals(runs, gold, **options)


def _significance(runs: Sequence[Run], gold: list | None, missing: dict[str, str], **options) -> list[dict[str, Any]]:
    if gold is None:
        missing["significance"] = "no gold test documents given"
    elif len({r.embedding for r in full_data_runs(runs)}) < 2:
        missing["significance"] = "only one embedding"
    elif not paired_seeds(runs):
        missing["significance"] = "no two embeddings have a run with the same seed"
    else:
        return significance(runs, gold, **options)
    return []


def _confusion(runs: Sequence[Run], missing: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Both confusion sections; one that some run lacks (written by an older medner) is empty, and said so."""
    confusion: dict[str, dict[str, Any]] = {"span": {}, "token": {}}
    for kind in confusion:
        if has_confusion(runs, kind):
            confusion[kind] = confusion_matrices(runs, kind)
        else:
            missing[f"confusion.{kind}"] = f"runs have no {kind}-level confusion"
    return confusion


def write_comparison(data: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write the comparison atomically as JSON (one space of indent, a final newline)."""
    return files.write_json(path, data, indent=1)


def read_comparison(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A comparison.json of this layout; another version is a ValueError saying how to compute it again."""
    data = files.read_json(path)
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != SCHEMA_VERSION:
        raise ValueError(f"{path}: expected a medner comparison with schema_version {SCHEMA_VERSION}, found "
                         f"{version!r}; compute it again (medner compare, or delete it and run notebook 03)")
    return data


def compare_corpus(
    results_root: str | Path | None,
    corpus: str,
    *,
    corpus_path: str | Path | None = None,
    label_map: str | Path | None = None,
    demo_size: int | None = None,
    stats_path: str | Path | None = None,
    **options,
) -> dict[str, Any]:
    """:func:`compute_comparison` with the gold test documents of the corpus and its label counts.

    The corpus is loaded as the runs loaded it (:func:`medner.corpus.registry.load_corpus`); the
    label counts come from the statistics file ``00-corpus`` wrote, or are computed when
    ``stats_path`` is empty. ``options`` go to :func:`compute_comparison`.
    """
    from medner.corpus.registry import load_corpus
    from medner.corpus.stats import corpus_statistics

    loaded = load_corpus(corpus, path=corpus_path or None, label_map=label_map or None, demo_size=demo_size)
    statistics = files.read_json(stats_path) if stats_path else corpus_statistics(loaded, progress=False)
    return compute_comparison(results_root, corpus, loaded.splits["test"], gold_all_docs=loaded.documents(),
                              label_counts=statistics, **options)


def stale_because(
    path: str | os.PathLike[str], results_root: str | Path | None, corpus: str, settings: Mapping[str, Any], *,
    label_counts: Mapping[str, Any] | None = None,
) -> str | None:
    """Why the comparison at ``path`` must be computed again, or None when it is current.

    Current means: it exists in this layout for ``corpus`` and ``settings`` (as :func:`comparison_settings`
    gives them), it holds exactly the runs finished now and is newer than each of their metrics.json,
    and it holds ``label_counts`` (corpus statistics or ``{split: {label: count}}``), when given. The
    counts are compared by content, not by the statistics file's age: notebook 00 rewrites that file
    whenever it redraws its figure, with the same counts.
    """
    path = Path(path)
    if not path.is_file():
        return f"{path} does not exist"
    try:
        data = read_comparison(path)
    except ValueError as error:
        return str(error)
    if data.get("corpus") != corpus or data.get("settings") != dict(settings):
        return f"it holds {data.get('corpus')!r} with {data.get('settings')}; asked for {corpus!r} with {dict(settings)}"
    finished = [run.folder for run in finished_runs(results_root, corpus) if run.folds == settings.get("folds")]
    held = [record for record in data.get("runs", []) if record.get("fold") != "pooled"]
    if len(finished) != len(held):
        return f"it holds {len(held)} runs; {len(finished)} are finished now"
    newer = [f.metrics_path for f in finished if f.metrics_path.stat().st_mtime_ns > path.stat().st_mtime_ns]
    if newer:
        return f"{newer[0]} is newer"
    if label_counts is not None and label_counts_by_split(label_counts) != data.get("label_counts"):
        return "the corpus statistics hold other label counts"
    return None


def read_or_compute_comparison(
    path: str | os.PathLike[str], results_root: str | Path | None, corpus: str, *,
    stats_path: str | Path | None = None, folds: int | None = None, n_boot: int = 1000, n_shuffles: int = 1000,
    alpha: float = 0.05, seed: int = 0, progress: bool = True, **corpus_options,
) -> dict[str, Any]:
    """The comparison at ``path`` when it is current (:func:`stale_because`); else computed, written there and returned.

    ``make`` computes the file beforehand (``medner compare``), so in batch this only reads;
    opened in JupyterLab, the notebook computes what is missing or out of date. One process computes
    it at a time (:mod:`medner.locks`): another one waits, then reads it when it is current.
    ``corpus_options`` are ``corpus_path``, ``label_map`` and ``demo_size`` of :func:`compare_corpus`.
    """
    settings = comparison_settings(n_boot=n_boot, n_shuffles=n_shuffles, alpha=alpha, seed=seed, folds=folds)
    statistics = files.read_json(stats_path) if stats_path else None
    if stale_because(path, results_root, corpus, settings, label_counts=statistics) is None:
        return read_comparison(path)
    with locks.building(path, f"the comparison {path}"):
        reason = stale_because(path, results_root, corpus, settings, label_counts=statistics)  # computed meanwhile?
        if reason is None:
            return read_comparison(path)
        print(f"computing the comparison: {reason}")
        data = compare_corpus(results_root, corpus, stats_path=stats_path, folds=folds, n_boot=n_boot,
                              n_shuffles=n_shuffles, alpha=alpha, seed=seed, progress=progress, **corpus_options)
        write_comparison(data, path)
    return read_comparison(path)
