"""The comparison over runs, on a small generated study (tests/resources.comparison.fake_study.py)."""

from __future__ import annotations

import csv
import json
import statistics

import pytest

from medner.comparison import (
    SCHEMAS,
    TIDY_METRICS,
    CostPoint,
    collect_runs,
    compare_study,
    confusion_matrices,
    cost_data,
    embedding_compute_seconds,
    embedding_order,
    in_domain_training_seconds,
    label_counts_by_split,
    learning_curves,
    main_table,
    median_seed_run,
    per_label_table,
    read_history,
    significance,
    tidy_summary,
    training_curves,
    write_summary_csv,
)
from resources.comparison.fake_study import LABELS, write_fake_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return write_fake_study(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def runs(study):
    return collect_runs(study.results_root, study.corpus)


def _metrics(study, embedding, seed):
    path = study.results_root / study.corpus / embedding / f"seed-{seed}" / "metrics.json"
    return json.loads(path.read_text())


def test_collect_runs_finds_every_run_in_study_order(runs):
    assert [(r.embedding, r.seed) for r in runs] == [(e, s) for e in ("glove", "flair", "bert") for s in (1, 2, 3)]
    assert all(r.fraction == 1.0 and (r.path / "metrics.json").is_file() for r in runs)


def test_embedding_order_puts_defaults_first_then_sorted():
    assert embedding_order(["zeta", "bert", "alpha", "glove", "flair"]) == ["glove", "flair", "bert", "alpha", "zeta"]
    assert embedding_order(["bert", "xlmr"]) == ["bert", "xlmr"]


def test_collect_runs_reports_a_broken_metrics_file(tmp_path):
    write_fake_study(tmp_path, embeddings=("glove",), seeds=(1,))
    path = tmp_path / "fake" / "glove" / "seed-1" / "metrics.json"
    path.write_text('{"run": {\n  "corpus": "fake",,\n}')
    with pytest.raises(ValueError, match=r"seed-1/metrics\.json: line 2"):
        collect_runs(tmp_path, "fake")


def test_collect_runs_refuses_a_run_of_another_corpus(tmp_path):
    write_fake_study(tmp_path, embeddings=("glove",), seeds=(1,))
    path = tmp_path / "fake" / "glove" / "seed-1" / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["run"]["corpus"] = "phee"
    path.write_text(json.dumps(metrics))
    with pytest.raises(ValueError, match="run.corpus is 'phee', expected 'fake'"):
        collect_runs(tmp_path, "fake")


def test_collect_runs_without_runs_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match="no finished run under"):
        collect_runs(tmp_path, "demo")


def test_tidy_summary_has_one_row_per_run_label_schema_metric(study, runs, tmp_path):
    rows = tidy_summary(runs)
    labels = len(LABELS) + 2  # every label plus micro and macro
    assert len(rows) == len(runs) * labels * len(SCHEMAS) * len(TIDY_METRICS)
    keys = {(r["embedding"], r["seed"], r["label"], r["schema"], r["metric"]) for r in rows}
    assert len(keys) == len(rows)
    metrics = _metrics(study, "flair", 2)["scores"]["test"]
    lookup = {(r["embedding"], r["seed"], r["label"], r["schema"], r["metric"]): r["value"] for r in rows}
    assert lookup[("flair", 2, "Route", "lenient", "f1")] == metrics["lenient"]["labels"]["Route"]["f1"]
    assert lookup[("flair", 2, "micro", "strict", "fp")] == metrics["strict"]["micro"]["fp"]
    micro = metrics["strict"]["micro"]
    assert lookup[("flair", 2, "micro", "strict", "support")] == micro["tp"] + micro["fn"]
    assert lookup[("flair", 2, "macro", "strict", "f1")] == metrics["strict"]["macro"]["f1"]

    path = write_summary_csv(rows, tmp_path / "summary.csv")
    with path.open() as handle:
        written = list(csv.DictReader(handle))
    assert len(written) == len(rows)
    assert list(written[0]) == ["corpus", "embedding", "seed", "fraction", "label", "schema", "metric", "value"]
    assert float(written[2]["value"]) == rows[2]["value"]


def test_main_table_means_and_sd_over_seeds(study, runs):
    rows = main_table(runs)
    assert [r.embedding for r in rows] == ["glove", "flair", "bert"]
    for row in rows:
        for schema in SCHEMAS:
            for average in ("micro", "macro"):
                values = [_metrics(study, row.embedding, s)["scores"]["test"][schema][average]["f1"] for s in (1, 2, 3)]
                spread = row.scores[(schema, average)]
                assert spread.mean == pytest.approx(statistics.mean(values))
                assert spread.sd == pytest.approx(statistics.stdev(values))
                assert spread.values == pytest.approx(values)
        assert row.ci is None  # no gold documents given


def test_main_table_ci_is_that_of_the_median_seed_run(study, runs):
    rows = main_table(runs, study.gold, n_boot=200)
    for row in rows:
        group = [r for r in runs if r.embedding == row.embedding]
        f1s = sorted(r.score("strict", "micro", "f1") for r in group)
        median = median_seed_run(group)
        assert median.score("strict", "micro", "f1") == f1s[1]
        assert row.ci.seed == median.seed
        # the bootstrap re-scores the predictions on disk: it must agree with the run's metrics
        assert row.ci.estimate == pytest.approx(f1s[1])
        assert row.ci.low <= row.ci.estimate <= row.ci.high
        assert row.ci.low < row.ci.high


def test_per_label_table(study, runs):
    table = per_label_table(runs)
    assert table.labels == list(LABELS)
    gold_support = {label: sum(e.label == label for d in study.gold for e in d.entities) for label in LABELS}
    assert table.support == gold_support
    values = [_metrics(study, "bert", s)["scores"]["test"]["strict"]["labels"]["ADE"]["f1"] for s in (1, 2, 3)]
    assert table.scores["ADE"]["bert"]["strict"].mean == pytest.approx(statistics.mean(values))


def test_significance_pairs_every_embedding_seed_by_seed(study, runs):
    pairs = significance(runs, study.gold, n_shuffles=200, progress=False)
    assert [(p.a, p.b) for p in pairs] == [("glove", "flair"), ("glove", "bert"), ("flair", "bert")]
    for pair in pairs:
        assert set(pair.labels) == set(LABELS)
        drug = pair.labels["Drug"]
        assert drug.seeds == (1, 2, 3)
        expected = [
            _metrics(study, pair.a, s)["scores"]["test"]["strict"]["labels"]["Drug"]["f1"]
            - _metrics(study, pair.b, s)["scores"]["test"]["strict"]["labels"]["Drug"]["f1"]
            for s in (1, 2, 3)
        ]
        assert drug.deltas == pytest.approx(expected)
        assert all(0 < p <= 1 for p in drug.p_values)
        assert drug.n_significant == sum(p < 0.05 for p in drug.p_values)
    # glove (quality 0.55) and bert (0.85) are far apart: overall, every seed differs significantly
    glove_bert = pairs[1]
    assert glove_bert.overall.n_significant == 3 and glove_bert.overall.mean_delta < 0


def test_learning_curves_one_point_per_fraction(tmp_path):
    fake = write_fake_study(tmp_path, embeddings=("glove", "bert"), seeds=(1, 2), fractions=(0.5, 1.0, 0.25))
    curves = learning_curves(collect_runs(tmp_path, fake.corpus))
    assert list(curves) == ["glove", "bert"]
    assert [p.fraction for p in curves["bert"]] == [0.25, 0.5, 1.0]
    assert all(p.strict.n == 2 for p in curves["glove"])


def test_training_curves_read_every_history(study, runs):
    curves = training_curves(runs)
    glove = curves["glove"]
    assert [c.seed for c in glove] == [1, 2, 3]
    history = read_history(study.results_root / "fake" / "glove" / "seed-2" / "history.csv")
    assert glove[1].dev_f1 == tuple(row["dev_f1"] for row in history)
    assert glove[1].best_epoch == _metrics(study, "glove", 2)["best_epoch"]


def test_read_history_names_file_line_and_column(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,train_loss,dev_f1,learning_rate,seconds\n1,2.0,0.5,0.1,3\n2,1.0,n/a,0.1,3\n")
    with pytest.raises(ValueError, match=r"history\.csv: line 3: expected a number in column dev_f1, found 'n/a'"):
        read_history(path)


def test_confusion_is_summed_over_seeds(study, runs):
    matrices = confusion_matrices(runs, "span")
    bert = matrices["bert"]
    assert bert.rows[-1] == "SPURIOUS" and bert.columns[-1] == "MISSED" and bert.n_seeds == 3
    expected = sum(_metrics(study, "bert", s)["confusion"]["span"]["counts"][0][0] for s in (1, 2, 3))
    assert bert.counts[0][0] == expected
    assert all(sum(row) == pytest.approx(1.0) for row in bert.normalised if any(row))
    with pytest.raises(ValueError, match="'span' or 'token'"):
        confusion_matrices(runs, "char")


def test_cost_takes_embedding_time_from_the_run_that_filled_the_cache(runs):
    flair = cost_data(runs)["flair"]
    assert [p.embedding_cache_hit for p in flair] == [False, True, True]
    assert embedding_compute_seconds(flair) == (60.0, True)
    cached = [CostPoint("x", 1, 0.5, True, 10.0, 100, 0.5), CostPoint("x", 2, 0.7, True, 10.0, 100, 0.5)]
    assert embedding_compute_seconds(cached) == (0.7, False)


def test_in_domain_training_seconds_from_the_training_record():
    def metrics(record):
        return {"config": {"embedding": {"training_record": record}}}

    assert in_domain_training_seconds(metrics(None)) == 0.0  # pretrained
    assert in_domain_training_seconds(metrics({"path": "p", "reused": True, "seconds": 42.5})) == 42.5
    stacked = {"glove": {"reused": False, "seconds": 10.0}, "bert": None, "flair": {"seconds": 5.0}}
    assert in_domain_training_seconds(metrics(stacked)) == 15.0
    assert in_domain_training_seconds({}) == 0.0


def test_label_counts_by_split_reads_corpus_statistics_and_flat_counts():
    stats = {"corpus": "demo", "splits": {"train": {"documents": 3, "entities": {"Drug": 5}}, "test": {"entities": {"Drug": 2}}}}
    assert label_counts_by_split(stats) == {"train": {"Drug": 5}, "test": {"Drug": 2}}
    assert label_counts_by_split({"train": {"Drug": 5}}) == {"train": {"Drug": 5}}
    with pytest.raises(ValueError, match="expected entity counts per label"):
        label_counts_by_split({"train": {"Drug": "many"}})


@pytest.mark.slow
def test_compare_study_writes_every_table_and_figure(study, tmp_path):
    counts = {"train": study.train_counts, "test": {label: 1 for label in LABELS}}
    outputs = compare_study(
        study.results_root, study.corpus, study.gold, tmp_path / "figures", label_counts=counts,
        n_boot=100, n_shuffles=100, progress=False,
    )
    # one fraction only: no learning curve, and it says why
    assert outputs.skipped == {"learning_curves": "only one training fraction"}
    expected_figures = {
        "label_distribution", "per_label_f1", "span_confusion", "token_confusion", "pairwise_difference",
        "f1_vs_frequency", "training_curves", "cost",
    }
    assert set(outputs.figures) == expected_figures
    for paths in outputs.figures.values():
        assert [p.suffix for p in paths] == [".pdf", ".png"]
        assert all(p.stat().st_size > 1000 for p in paths)
    assert set(outputs.tables) == {
        "summary", "main_latex", "main_markdown", "per_label_latex", "per_label_markdown", "significance", "comparison_json"
    }
    data = json.loads(outputs.tables["comparison_json"].read_text())
    assert [row["embedding"] for row in data["main"]] == ["glove", "flair", "bert"]
    assert data["main"][0]["ci"]["n_boot"] == 100
    with outputs.tables["significance"].open() as handle:
        assert sum(1 for _ in handle) == 1 + 3 * (len(LABELS) + 1) * 3  # header + pairs x (labels + overall) x seeds
