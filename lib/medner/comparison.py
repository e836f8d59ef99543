"""The comparison over every run of one corpus: the data behind the paper's tables and figures.

Each function here reads run folders (``results/<corpus>/<embedding>/seed-<n>[/frac-<f>]``,
see :mod:`medner.runs`) or the data an earlier function returned, and returns plain
data; :mod:`medner.figures` and :mod:`medner.tables` turn that data into files, and
:func:`compare_study` does every step in order for the ``03-compare`` notebook.

Decisions, and why:

* **Which runs.** Tables, significance, confusion and cost use the runs trained on the
  full training set (fraction 1.0; the largest fraction present if no run used all of
  it). Runs on smaller fractions only feed the learning curves.
* **Seed spread.** Every score is reported over seeds as mean, sample standard
  deviation, min, max and every value (Reimers and Gurevych 2017: report
  distributions, not single runs), computed by
  :func:`medner.evaluation.statistics.aggregate_seeds`.
* **Confidence interval.** The bootstrap over test documents measures a different
  uncertainty than the seed spread: how much the score would move on another test
  set of the same size. It is computed for one representative run per embedding, the
  *median-seed run* (the seed whose strict micro-F1 is the median of the seeds; with
  an even count, the lower of the two middle ones), not on pooled predictions:
  pooling the predictions of several seeds would bootstrap a mixture that is no
  system anyone trained. The table says which seed that was.
* **Significance.** The paired approximate randomisation test (the n2c2-2018
  organisers' test) compares two embeddings run by run: for every seed both
  embeddings were trained with, the two runs of that seed are tested on the same
  gold documents. A label difference is reported with its mean delta over seeds and
  the number of seeds in which it was significant at ``alpha`` (for example "3/3"),
  so a difference that only one lucky seed shows is visible as such. No multiple
  comparison correction is applied; the counts are meant to be read as counts.
"""

from __future__ import annotations

import csv
import json
import math
import statistics as pystatistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medner import N2C2_LABELS

#: The two span-matching schemas of the n2c2-2018 scorer, in table order.
SCHEMAS: tuple[str, ...] = ("strict", "lenient")
#: The metrics of every row of ``summary.csv``.
TIDY_METRICS: tuple[str, ...] = ("precision", "recall", "f1", "tp", "fp", "fn", "support")
#: The averages that appear as pseudo-labels in ``summary.csv`` and the tables.
AVERAGES: tuple[str, ...] = ("micro", "macro")
#: Columns of ``summary.csv``, in order.
TIDY_COLUMNS: tuple[str, ...] = ("corpus", "embedding", "seed", "fraction", "label", "schema", "metric", "value")
#: The embeddings of the study's defaults, always first (and always the same colours) in every output.
DEFAULT_EMBEDDINGS: tuple[str, ...] = ("glove", "flair", "bert")
_REQUIRED_KEYS: tuple[str, ...] = ("run", "scores", "cost")


# ----------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class Run:
    """One finished run: where it lives and its ``metrics.json``."""

    corpus: str
    embedding: str
    seed: int
    fraction: float
    path: Path
    metrics: dict[str, Any] = field(repr=False, compare=False)

    @property
    def predictions_dir(self) -> Path:
        """The run's test predictions as brat files."""
        return self.path / "predictions" / "brat"

    def score(self, schema: str = "strict", label: str = "micro", metric: str = "f1") -> float:
        """One test score: ``label`` is a label name or ``"micro"``/``"macro"``."""
        return tidy_value(self.metrics["scores"]["test"], schema, label, metric)

    def history(self) -> list[dict[str, float]]:
        """The per-epoch rows of ``history.csv`` (epoch, train_loss, dev_f1, learning_rate, seconds)."""
        return read_history(self.path / "history.csv")


def embedding_order(names: Iterable[str]) -> list[str]:
    """Embedding names in the study's fixed order: glove, flair, bert first, then the others sorted."""
    unique = set(names)
    first = [name for name in DEFAULT_EMBEDDINGS if name in unique]
    return first + sorted(unique - set(DEFAULT_EMBEDDINGS))


def label_order(names: Iterable[str]) -> list[str]:
    """Labels in n2c2-2018 order, then any other label sorted (custom label maps)."""
    unique = set(names)
    return [label for label in N2C2_LABELS if label in unique] + sorted(unique - set(N2C2_LABELS))


def _load_metrics(path: Path) -> dict[str, Any]:
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: line {error.lineno}: expected a JSON object ({error.msg})") from None
    if not isinstance(metrics, dict):
        raise ValueError(f"{path}: expected a JSON object, found {type(metrics).__name__}")
    missing = [key for key in _REQUIRED_KEYS if key not in metrics]
    if missing:
        raise ValueError(f"{path}: expected top-level keys {', '.join(_REQUIRED_KEYS)}; missing {', '.join(missing)}")
    run = metrics["run"]
    for key in ("corpus", "embedding", "seed", "fraction"):
        if key not in run:
            raise ValueError(f"{path}: expected run.{key} in metrics.json")
    if "test" not in metrics["scores"]:
        raise ValueError(f"{path}: expected scores.test in metrics.json")
    return metrics


def collect_runs(results_root: str | Path, corpus: str) -> list[Run]:
    """Every finished run of ``corpus`` under ``results_root``, sorted by embedding, fraction, seed.

    A run is finished when its ``metrics.json`` exists (it is written last, atomically).
    The run's identity is read from ``metrics.json``; a file whose ``run.corpus`` is not
    ``corpus`` is an error, because mixing corpora in one table would be silently wrong.
    Raises FileNotFoundError when there is no run at all.
    """
    corpus_dir = Path(results_root) / corpus
    paths = sorted(corpus_dir.glob("*/seed-*/metrics.json")) + sorted(corpus_dir.glob("*/seed-*/frac-*/metrics.json"))
    if not paths:
        raise FileNotFoundError(
            f"no finished run under {corpus_dir} (expected <embedding>/seed-<n>[/frac-<f>]/metrics.json)"
        )
    runs = []
    for path in paths:
        metrics = _load_metrics(path)
        info = metrics["run"]
        if info["corpus"] != corpus:
            raise ValueError(f"{path}: run.corpus is {info['corpus']!r}, expected {corpus!r}")
        runs.append(
            Run(
                corpus=corpus,
                embedding=str(info["embedding"]),
                seed=int(info["seed"]),
                fraction=float(info["fraction"]),
                path=path.parent,
                metrics=metrics,
            )
        )
    order = {name: i for i, name in enumerate(embedding_order(r.embedding for r in runs))}
    runs.sort(key=lambda r: (order[r.embedding], r.fraction, r.seed))
    seen: dict[tuple[str, int, float], Path] = {}
    for run in runs:
        key = (run.embedding, run.seed, run.fraction)
        if key in seen:
            raise ValueError(f"{run.path}: the same run (embedding, seed, fraction) = {key} is also in {seen[key]}")
        seen[key] = run.path
    return runs


def read_history(path: str | Path) -> list[dict[str, float]]:
    """The rows of one ``history.csv`` as floats; a bad cell is an error naming file, line and column."""
    path = Path(path)
    columns = ("epoch", "train_loss", "dev_f1", "learning_rate", "seconds")
    rows = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: line 1: expected columns {','.join(columns)}; missing {','.join(missing)}")
        for line, row in enumerate(reader, start=2):
            parsed = {}
            for column in columns:
                try:
                    parsed[column] = float(row[column])
                except (TypeError, ValueError):
                    raise ValueError(f"{path}: line {line}: expected a number in column {column}, found {row[column]!r}") from None
            rows.append(parsed)
    return rows


def main_fraction(runs: Sequence[Run]) -> float:
    """The training fraction the tables use: 1.0, or the largest present when no run used all data."""
    fractions = {r.fraction for r in runs}
    return 1.0 if 1.0 in fractions else max(fractions)


def full_data_runs(runs: Sequence[Run]) -> list[Run]:
    """The runs at :func:`main_fraction`."""
    fraction = main_fraction(runs)
    return [r for r in runs if r.fraction == fraction]


def runs_by_embedding(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Runs grouped by embedding, in :func:`embedding_order`, each group sorted by seed."""
    grouped: dict[str, list[Run]] = {name: [] for name in embedding_order(r.embedding for r in runs)}
    for run in runs:
        grouped[run.embedding].append(run)
    for group in grouped.values():
        group.sort(key=lambda r: r.seed)
    return grouped


def study_labels(runs: Sequence[Run]) -> list[str]:
    """The labels the runs were scored on, in :func:`label_order`."""
    names: set[str] = set()
    for run in runs:
        names.update(run.metrics["scores"]["test"]["strict"]["labels"])
    return label_order(names)


# ----------------------------------------------------------------------------- tidy summary


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


def tidy_summary(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """One row per run x label (every label, then "micro", "macro") x schema x metric.

    Columns are :data:`TIDY_COLUMNS`; values are the test-set scores (F1 in 0..1).
    """
    rows = []
    for run in runs:
        scores = run.metrics["scores"]["test"]
        labels = label_order(scores["strict"]["labels"]) + list(AVERAGES)
        for label in labels:
            for schema in SCHEMAS:
                for metric in TIDY_METRICS:
                    rows.append(
                        {
                            "corpus": run.corpus,
                            "embedding": run.embedding,
                            "seed": run.seed,
                            "fraction": run.fraction,
                            "label": label,
                            "schema": schema,
                            "metric": metric,
                            "value": tidy_value(scores, schema, label, metric),
                        }
                    )
    return rows


def write_summary_csv(rows: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Write :func:`tidy_summary` rows as CSV (counts as integers, scores with full precision)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=TIDY_COLUMNS)
        writer.writeheader()
        for row in rows:
            out = dict(row)
            if out["metric"] in ("tp", "fp", "fn", "support"):
                out["value"] = int(out["value"])
            else:
                out["value"] = repr(float(out["value"]))
            writer.writerow(out)
    return path


# ----------------------------------------------------------------------------- seed spreads


@dataclass(frozen=True)
class SeedSpread:
    """One score over seeds: mean, sample standard deviation (0 for one seed), min, max, every value."""

    mean: float
    sd: float
    min: float
    max: float
    values: tuple[float, ...]
    seeds: tuple[int, ...]

    @property
    def n(self) -> int:
        return len(self.values)


def seed_spread(values_by_seed: Mapping[int, float]) -> SeedSpread:
    """Aggregate one score over seeds with :func:`medner.evaluation.statistics.aggregate_seeds`."""
    from medner.evaluation.statistics import aggregate_seeds

    if not values_by_seed:
        raise ValueError("seed_spread needs at least one seed's value")
    records = [{"embedding": "-", "seed": seed, "label": "-", "f1": float(value)} for seed, value in values_by_seed.items()]
    aggregated = aggregate_seeds(records)["-"]["-"]
    seeds = tuple(int(s) for s in aggregated["seeds"])
    return SeedSpread(
        mean=float(aggregated["mean"]),
        sd=float(aggregated["sd"]),
        min=float(aggregated["min"]),
        max=float(aggregated["max"]),
        values=tuple(float(v) for v in aggregated["values"]),
        seeds=seeds,
    )


# ----------------------------------------------------------------------------- main and per-label tables


@dataclass(frozen=True)
class ConfidenceInterval:
    """A bootstrap interval of strict micro-F1 for one run (the median-seed run of an embedding)."""

    seed: int
    estimate: float
    low: float
    high: float
    n_boot: int
    alpha: float


@dataclass(frozen=True)
class MainRow:
    """One embedding in the main results table.

    ``scores`` maps ``(schema, average)`` (for example ``("strict", "micro")``) to the
    F1 spread over seeds; ``ci`` is the bootstrap interval of the median-seed run, or
    None when it was not computed (no gold documents given).
    """

    embedding: str
    scores: dict[tuple[str, str], SeedSpread]
    ci: ConfidenceInterval | None


def median_seed_run(runs: Sequence[Run]) -> Run:
    """The run whose strict micro-F1 is the median over seeds (the lower middle one for an even count)."""
    if not runs:
        raise ValueError("median_seed_run needs at least one run")
    ranked = sorted(runs, key=lambda r: (r.score("strict", "micro", "f1"), r.seed))
    return ranked[(len(ranked) - 1) // 2]


def read_predictions(run: Run, gold_test_docs: Sequence) -> list:
    """The run's test predictions (``predictions/brat``) as Documents, checked against the gold texts.

    A gold document without a prediction file is a document with no predictions, as in the scorer
    (:func:`medner.evaluation.span.read_prediction_folder`).
    """
    from medner.evaluation.span import read_prediction_folder

    folder = run.predictions_dir
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: expected the run's test predictions as brat files")
    return read_prediction_folder(list(gold_test_docs), folder)


def main_table(
    runs: Sequence[Run],
    gold_test_docs: Sequence | None = None,
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> list[MainRow]:
    """The main results: per embedding, micro and macro F1, strict and lenient, over seeds.

    Uses the full-data runs (:func:`full_data_runs`). With ``gold_test_docs``, adds the
    bootstrap CI (over test documents, ``n_boot`` resamples, level ``1 - alpha``) of
    strict micro-F1 for the median-seed run of each embedding (see the module docstring).
    """
    rows = []
    for embedding, group in runs_by_embedding(full_data_runs(runs)).items():
        scores = {
            (schema, average): seed_spread({r.seed: r.score(schema, average, "f1") for r in group})
            for schema in SCHEMAS
            for average in AVERAGES
        }
        ci = None
        if gold_test_docs is not None:
            from medner.evaluation.statistics import bootstrap_ci

            median_run = median_seed_run(group)
            result = bootstrap_ci(
                list(gold_test_docs),
                read_predictions(median_run, gold_test_docs),
                labels=study_labels(group),
                n_boot=n_boot,
                seed=seed,
                alpha=alpha,
            )["micro_f1"]
            ci = ConfidenceInterval(
                seed=median_run.seed,
                estimate=float(result["estimate"]),
                low=float(result["low"]),
                high=float(result["high"]),
                n_boot=n_boot,
                alpha=alpha,
            )
        rows.append(MainRow(embedding=embedding, scores=scores, ci=ci))
    return rows


@dataclass(frozen=True)
class PerLabelTable:
    """Per-label F1 over seeds: ``scores[label][embedding][schema]``, and each label's test support."""

    labels: list[str]
    embeddings: list[str]
    support: dict[str, int]
    scores: dict[str, dict[str, dict[str, SeedSpread]]]


def per_label_table(runs: Sequence[Run]) -> PerLabelTable:
    """Per label, per embedding, strict and lenient F1 over the seeds of the full-data runs."""
    chosen = full_data_runs(runs)
    grouped = runs_by_embedding(chosen)
    labels = study_labels(chosen)
    support = {}
    for label in labels:
        supports = {int(r.score("strict", label, "support")) for r in chosen if label in r.metrics["scores"]["test"]["strict"]["labels"]}
        if len(supports) != 1:
            # every run is scored on the same gold test set, so the support must agree
            raise ValueError(f"runs disagree on the test support of {label!r}: {sorted(supports)}")
        support[label] = supports.pop()
    scores = {
        label: {
            embedding: {
                schema: seed_spread({r.seed: r.score(schema, label, "f1") for r in group}) for schema in SCHEMAS
            }
            for embedding, group in grouped.items()
        }
        for label in labels
    }
    return PerLabelTable(labels=labels, embeddings=list(grouped), support=support, scores=scores)


# ----------------------------------------------------------------------------- significance


@dataclass(frozen=True)
class PairDifference:
    """The difference ``a - b`` of one label's F1 between two embeddings, seed by seed."""

    seeds: tuple[int, ...]
    deltas: tuple[float, ...]
    p_values: tuple[float, ...]
    alpha: float

    @property
    def mean_delta(self) -> float:
        return pystatistics.fmean(self.deltas)

    @property
    def n_significant(self) -> int:
        """Seeds in which the difference was significant at ``alpha``."""
        return sum(p < self.alpha for p in self.p_values)

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)


@dataclass(frozen=True)
class PairComparison:
    """Approximate randomisation between embeddings ``a`` and ``b`` per label and overall (micro-F1)."""

    a: str
    b: str
    mode: str
    n_shuffles: int
    labels: dict[str, PairDifference]
    overall: PairDifference


def significance(
    runs: Sequence[Run],
    gold_test_docs: Sequence,
    *,
    n_shuffles: int = 1000,
    alpha: float = 0.05,
    mode: str = "strict",
    seed: int = 0,
    progress: bool = True,
) -> list[PairComparison]:
    """Paired approximate randomisation for every pair of embeddings, seed by seed.

    For each pair (in :func:`embedding_order`) and each seed both embeddings have a
    full-data run for, the two runs' predictions are tested against ``gold_test_docs``
    with :func:`medner.evaluation.statistics.approximate_randomisation`. Pairs with no
    common seed are left out.
    """
    from tqdm.auto import tqdm

    from medner.evaluation.statistics import approximate_randomisation

    grouped = runs_by_embedding(full_data_runs(runs))
    labels = study_labels(full_data_runs(runs))
    names = list(grouped)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    jobs = []
    for a, b in pairs:
        seeds_a = {r.seed: r for r in grouped[a]}
        seeds_b = {r.seed: r for r in grouped[b]}
        common = sorted(set(seeds_a) & set(seeds_b))
        if common:
            jobs.append((a, b, [(s, seeds_a[s], seeds_b[s]) for s in common]))
    predictions: dict[Path, list] = {}

    def predictions_of(run: Run) -> list:
        if run.path not in predictions:
            predictions[run.path] = read_predictions(run, gold)
        return predictions[run.path]

    gold = list(gold_test_docs)
    total = sum(len(seeds) for _, _, seeds in jobs)
    results = []
    with tqdm(total=total, desc="approximate randomisation", disable=not progress, mininterval=5.0) as bar:
        for a, b, seeds in jobs:
            per_seed = []
            for run_seed, run_a, run_b in seeds:
                per_seed.append(
                    approximate_randomisation(
                        gold,
                        predictions_of(run_a),
                        predictions_of(run_b),
                        labels=labels,
                        n_shuffles=n_shuffles,
                        seed=seed,
                        mode=mode,
                    )
                )
                bar.update(1)
            seed_ids = tuple(s for s, _, _ in seeds)

            def difference(pick) -> PairDifference:
                return PairDifference(
                    seeds=seed_ids,
                    deltas=tuple(float(pick(r)["delta"]) for r in per_seed),
                    p_values=tuple(float(pick(r)["p_value"]) for r in per_seed),
                    alpha=alpha,
                )

            results.append(
                PairComparison(
                    a=a,
                    b=b,
                    mode=mode,
                    n_shuffles=n_shuffles,
                    labels={label: difference(lambda r, label=label: r["labels"][label]) for label in labels},
                    overall=difference(lambda r: r["overall"]),
                )
            )
    return results


# ----------------------------------------------------------------------------- curves, confusion, cost


@dataclass(frozen=True)
class LearningPoint:
    """Strict and lenient micro-F1 over seeds at one training fraction."""

    fraction: float
    strict: SeedSpread
    lenient: SeedSpread


def learning_curves(runs: Sequence[Run]) -> dict[str, list[LearningPoint]]:
    """Per embedding, micro-F1 over seeds at each training fraction (sorted by fraction)."""
    curves = {}
    for embedding, group in runs_by_embedding(runs).items():
        points = []
        for fraction in sorted({r.fraction for r in group}):
            at = [r for r in group if r.fraction == fraction]
            points.append(
                LearningPoint(
                    fraction=fraction,
                    strict=seed_spread({r.seed: r.score("strict", "micro", "f1") for r in at}),
                    lenient=seed_spread({r.seed: r.score("lenient", "micro", "f1") for r in at}),
                )
            )
        curves[embedding] = points
    return curves


@dataclass(frozen=True)
class TrainingCurve:
    """The per-epoch history of one run (full-data runs only)."""

    embedding: str
    seed: int
    epoch: tuple[float, ...]
    dev_f1: tuple[float, ...]
    train_loss: tuple[float, ...]
    best_epoch: int | None


def training_curves(runs: Sequence[Run]) -> dict[str, list[TrainingCurve]]:
    """Per embedding, the dev F1 and training loss per epoch of every seed's full-data run."""
    curves: dict[str, list[TrainingCurve]] = {}
    for embedding, group in runs_by_embedding(full_data_runs(runs)).items():
        curves[embedding] = []
        for run in group:
            history = run.history()
            best = run.metrics.get("best_epoch")
            curves[embedding].append(
                TrainingCurve(
                    embedding=embedding,
                    seed=run.seed,
                    epoch=tuple(row["epoch"] for row in history),
                    dev_f1=tuple(row["dev_f1"] for row in history),
                    train_loss=tuple(row["train_loss"] for row in history),
                    best_epoch=None if best is None else int(best),
                )
            )
    return curves


@dataclass(frozen=True)
class ConfusionMatrix:
    """A confusion matrix summed over the seeds of one embedding, with row-normalised shares."""

    embedding: str
    kind: str
    rows: list[str]
    columns: list[str]
    counts: list[list[int]]
    n_seeds: int

    @property
    def normalised(self) -> list[list[float]]:
        """Each row divided by its total (0 for an empty row)."""
        out = []
        for row in self.counts:
            total = sum(row)
            out.append([c / total if total else 0.0 for c in row])
        return out


def confusion_matrices(runs: Sequence[Run], kind: str = "span") -> dict[str, ConfusionMatrix]:
    """Per embedding, the ``kind`` ("span" or "token") confusion counts of its full-data runs, summed over seeds.

    Counts are summed (not averaged) so cells stay integers; the figure says how many
    seeds were summed. Runs must agree on rows and columns.
    """
    if kind not in ("span", "token"):
        raise ValueError(f"confusion kind must be 'span' or 'token', got {kind!r}")
    matrices = {}
    for embedding, group in runs_by_embedding(full_data_runs(runs)).items():
        first = group[0].metrics.get("confusion", {}).get(kind)
        if first is None:
            raise ValueError(f"{group[0].path / 'metrics.json'}: expected confusion.{kind}")
        rows, columns = list(first["rows"]), list(first["columns"])
        counts = [[0] * len(columns) for _ in rows]
        for run in group:
            matrix = run.metrics.get("confusion", {}).get(kind)
            if matrix is None or list(matrix["rows"]) != rows or list(matrix["columns"]) != columns:
                raise ValueError(
                    f"{run.path / 'metrics.json'}: confusion.{kind} rows/columns differ from {group[0].path}"
                )
            for i, row in enumerate(matrix["counts"]):
                for j, value in enumerate(row):
                    counts[i][j] += int(value)
        matrices[embedding] = ConfusionMatrix(
            embedding=embedding, kind=kind, rows=rows, columns=columns, counts=counts, n_seeds=len(group)
        )
    return matrices


@dataclass(frozen=True)
class CostPoint:
    """The cost of one full-data run and its strict micro-F1."""

    embedding: str
    seed: int
    embedding_seconds: float
    embedding_cache_hit: bool
    training_seconds: float
    trainable_parameters: int
    f1: float
    #: seconds spent training the in-domain vectors or language models (0 for pretrained embeddings)
    embedding_training_seconds: float = 0.0


def embedding_compute_seconds(points: Sequence[CostPoint]) -> tuple[float, bool]:
    """What computing one embedding's vectors cost, and whether that was measured.

    The test vectors are computed once and then read from the cache, so a run that hit
    the cache says little about the embedding's cost: take the longest embedding time
    among the runs that missed it. When every run hit the cache, the longest time of
    any run is returned with ``False`` (the true cost was paid before these runs).
    """
    misses = [p.embedding_seconds for p in points if not p.embedding_cache_hit]
    if misses:
        return max(misses), True
    return max(p.embedding_seconds for p in points), False


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


def cost_data(runs: Sequence[Run]) -> dict[str, list[CostPoint]]:
    """Per embedding, the cost (embedding and training seconds, trainable parameters) and F1 of every seed."""
    data = {}
    for embedding, group in runs_by_embedding(full_data_runs(runs)).items():
        points = []
        for run in group:
            cost = run.metrics["cost"]
            try:
                points.append(
                    CostPoint(
                        embedding=embedding,
                        seed=run.seed,
                        embedding_seconds=float(cost["embedding_seconds"]),
                        embedding_cache_hit=bool(cost.get("embedding_cache_hit", False)),
                        training_seconds=float(cost["training_seconds"]),
                        trainable_parameters=int(cost["trainable_parameters"]),
                        f1=run.score("strict", "micro", "f1"),
                        embedding_training_seconds=in_domain_training_seconds(run.metrics),
                    )
                )
            except KeyError as error:
                raise ValueError(f"{run.path / 'metrics.json'}: expected cost.{error.args[0]}") from None
        data[embedding] = points
    return data


def label_frequency(
    per_label: PerLabelTable, training_counts: Mapping[str, int], schema: str = "strict"
) -> dict[str, list[tuple[str, int, SeedSpread]]]:
    """Per embedding, ``(label, training count, F1 spread)`` for every scored label.

    A scored label missing from ``training_counts`` has count 0 (corpus statistics leave
    out labels a split does not contain); the figure names such labels instead of
    dropping them silently.
    """
    return {
        embedding: [
            (label, int(training_counts.get(label, 0)), per_label.scores[label][embedding][schema])
            for label in per_label.labels
        ]
        for embedding in per_label.embeddings
    }


def label_counts_by_split(statistics: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """``{split: {label: entity count}}`` from :func:`medner.corpus.stats.corpus_statistics` output.

    Accepts either that function's dict (splits under ``"splits"`` each with an
    ``"entities"`` mapping per label) or an already flat ``{split: {label: count}}``.
    """
    splits = statistics.get("splits", statistics)
    counts = {}
    for split, value in splits.items():
        if not isinstance(value, Mapping):
            continue
        per_label = value.get("entities", value)
        if isinstance(per_label, Mapping) and "per_label" in per_label:
            per_label = per_label["per_label"]
        if not all(isinstance(v, (int, float)) for v in per_label.values()):
            raise ValueError(f"split {split!r}: expected entity counts per label, found keys {sorted(per_label)}")
        counts[split] = {label: int(n) for label, n in per_label.items()}
    if not counts:
        raise ValueError("corpus statistics hold no split with entity counts per label")
    return counts


# ----------------------------------------------------------------------------- everything at once


@dataclass
class StudyOutputs:
    """What :func:`compare_study` wrote, by name, and the figures it could not draw and why."""

    figures: dict[str, list[Path]] = field(default_factory=dict)
    tables: dict[str, Path] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return _jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {("/".join(k) if isinstance(k, tuple) else str(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_comparison_json(data: Mapping[str, Any], path: str | Path) -> Path:
    """Write the comparison data (dataclasses and all) as one JSON file for anyone's own analysis."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_jsonable(data), indent=1) + "\n", encoding="utf-8")
    return path


def compare_study(
    results_root: str | Path,
    corpus_name: str,
    gold_test_docs: Sequence | None,
    figures_out: str | Path,
    tables_out: str | Path | None = None,
    *,
    label_counts: Mapping[str, Mapping[str, int]] | None = None,
    n_boot: int = 1000,
    n_shuffles: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    progress: bool = True,
) -> StudyOutputs:
    """Read every run of ``corpus_name`` and write the study's tables and figures.

    ``gold_test_docs`` are the gold test Documents the runs were scored on (as read
    from their brat files, e.g. ``load_corpus(...).splits["test"]``); without them the
    bootstrap CIs and the significance figure are skipped (and listed in ``skipped``).
    ``label_counts`` is ``{split: {label: count}}`` or the output of
    :func:`medner.corpus.stats.corpus_statistics` (see :func:`label_counts_by_split`);
    without it the label distribution and the frequency figures are skipped. Tables go
    to ``tables_out`` (default: ``figures_out``).

    Files written (stems get ``.pdf`` and ``.png``; tables ``.tex`` and ``.md``):
    ``summary.csv``, ``main-results``, ``per-label``, ``significance.csv``,
    ``comparison.json`` (every number behind the tables and figures), and the figures
    ``01-label-distribution``, ``02-per-label-f1``, ``03a-span-confusion``,
    ``03b-token-confusion``, ``04-pairwise-difference``, ``05-f1-vs-frequency``,
    ``06-learning-curves`` (only with more than one training fraction),
    ``07-training-curves``, ``08-cost-vs-f1``.
    """
    from medner import figures, tables

    figures_out = Path(figures_out)
    tables_out = Path(tables_out) if tables_out is not None else figures_out
    figures_out.mkdir(parents=True, exist_ok=True)
    tables_out.mkdir(parents=True, exist_ok=True)
    outputs = StudyOutputs()

    runs = collect_runs(results_root, corpus_name)
    if label_counts is not None:
        label_counts = label_counts_by_split(label_counts)
    outputs.tables["summary"] = write_summary_csv(tidy_summary(runs), tables_out / "summary.csv")
    main = main_table(runs, gold_test_docs, n_boot=n_boot, alpha=alpha, seed=seed)
    per_label = per_label_table(runs)
    outputs.tables.update(tables.write_main_table(main, tables_out / "main-results", corpus=corpus_name))
    outputs.tables.update(tables.write_per_label_table(per_label, tables_out / "per-label", corpus=corpus_name))

    data: dict[str, Any] = {"corpus": corpus_name, "main_fraction": main_fraction(runs), "main": main, "per_label": per_label}

    if label_counts is not None:
        outputs.figures["label_distribution"] = figures.plot_label_distribution(
            label_counts, figures_out / "01-label-distribution"
        )
    else:
        outputs.skipped["label_distribution"] = "no corpus label counts given"
    outputs.figures["per_label_f1"] = figures.plot_per_label_f1(per_label, figures_out / "02-per-label-f1")
    span = confusion_matrices(runs, "span")
    outputs.figures["span_confusion"] = figures.plot_confusion(span, figures_out / "03a-span-confusion")
    if all(run.metrics.get("confusion", {}).get("token") is not None for run in full_data_runs(runs)):
        token = confusion_matrices(runs, "token")
        outputs.figures["token_confusion"] = figures.plot_confusion(token, figures_out / "03b-token-confusion")
    else:
        outputs.skipped["token_confusion"] = "runs have no token-level confusion"
    if gold_test_docs is not None and len(per_label.embeddings) > 1:
        pairs = significance(
            runs, gold_test_docs, n_shuffles=n_shuffles, alpha=alpha, seed=seed, progress=progress
        )
        data["significance"] = pairs
        outputs.tables["significance"] = tables.write_significance_csv(pairs, tables_out / "significance.csv")
        outputs.figures["pairwise_difference"] = figures.plot_pairwise_differences(
            pairs, figures_out / "04-pairwise-difference", labels=per_label.labels
        )
    else:
        outputs.skipped["pairwise_difference"] = (
            "no gold test documents given" if gold_test_docs is None else "only one embedding"
        )
    if label_counts is not None and "train" in label_counts:
        frequency = label_frequency(per_label, label_counts["train"])
        outputs.figures["f1_vs_frequency"] = figures.plot_f1_vs_frequency(frequency, figures_out / "05-f1-vs-frequency")
    else:
        outputs.skipped["f1_vs_frequency"] = "no training label counts given"
    curves = learning_curves(runs)
    data["learning_curves"] = curves
    if len({r.fraction for r in runs}) > 1:
        outputs.figures["learning_curves"] = figures.plot_learning_curves(curves, figures_out / "06-learning-curves")
    else:
        outputs.skipped["learning_curves"] = "only one training fraction"
    training = training_curves(runs)
    outputs.figures["training_curves"] = figures.plot_training_curves(training, figures_out / "07-training-curves")
    cost = cost_data(runs)
    data["cost"] = cost
    outputs.figures["cost"] = figures.plot_cost(cost, figures_out / "08-cost-vs-f1")
    outputs.tables["comparison_json"] = write_comparison_json(data, tables_out / "comparison.json")
    return outputs
