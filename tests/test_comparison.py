"""The comparison over runs, on a small generated study (tests/resources/comparison/fake_study.py): every
section checked against numbers read straight from the runs' files, and comparison.json written, read back,
documented and recomputed only when stale."""

from __future__ import annotations

import json
import os
import statistics

import pytest

from medner.cli import main as medner_main
from medner.comparison import study as comparison_study
from medner.comparison.measurements import (
    confusion_matrices,
    cost,
    cost_point,
    in_domain_training_seconds,
    training_curves,
    vector_seconds,
)
from medner.comparison.resampling import confidence_intervals, median_seed_run, significance
from medner.comparison.selection import TIDY_METRICS, load_runs, run_records
from medner.comparison.spreads import learning_curves, main_scores, per_label_table, seed_spread
from medner.comparison.study import (
    SCHEMA_VERSION,
    SECTIONS,
    comparison_settings,
    compute_comparison,
    read_comparison,
    read_or_compute_comparison,
    stale_because,
    write_comparison,
)
from medner.corpus.stats import label_counts_by_split
from medner.study_order import SCHEMAS, embedding_order
from resources.comparison.fake_study import LABELS, write_fake_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return write_fake_study(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def runs(study):
    return load_runs(study.results_root, study.corpus)


@pytest.fixture(scope="module")
def comparison(study, tmp_path_factory):
    """The whole comparison of the study, written and read back as the figures and tables see it."""
    counts = {"train": study.train_counts, "test": {label: 1 for label in LABELS}}
    data = compute_comparison(study.results_root, study.corpus, study.gold, label_counts=counts, n_boot=100,
                              n_shuffles=100, progress=False)
    return read_comparison(write_comparison(data, tmp_path_factory.mktemp("figures") / "comparison.json"))


def _metrics(study, embedding, seed):
    path = study.results_root / study.corpus / embedding / f"seed-{seed}" / "metrics.json"
    return json.loads(path.read_text())


# ----------------------------------------------------------------------------- selection


def test_load_runs_finds_every_run_in_study_order(runs):
    assert [(r.embedding, r.seed) for r in runs] == [(e, s) for e in ("glove", "flair", "bert") for s in (1, 2, 3)]
    assert all(r.fraction == 1.0 and r.folder.finished for r in runs)


def test_embedding_order_puts_defaults_first_then_sorted():
    assert embedding_order(["zeta", "bert", "alpha", "glove", "flair"]) == ["glove", "flair", "bert", "alpha", "zeta"]
    assert embedding_order(["bert", "xlmr"]) == ["bert", "xlmr"]


def test_load_runs_reports_a_broken_metrics_file(tmp_path):
    write_fake_study(tmp_path, embeddings=("glove",), seeds=(1,))
    path = tmp_path / "fake" / "glove" / "seed-1" / "metrics.json"
    path.write_text('{"run": {\n  "corpus": "fake",,\n}')
    with pytest.raises(ValueError, match=r"seed-1/metrics\.json: line 2"):
        load_runs(tmp_path, "fake")


def test_load_runs_refuses_a_run_of_another_corpus(tmp_path):
    write_fake_study(tmp_path, embeddings=("glove",), seeds=(1,))
    path = tmp_path / "fake" / "glove" / "seed-1" / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["run"]["corpus"] = "phee"
    path.write_text(json.dumps(metrics))
    with pytest.raises(ValueError, match="run.corpus is 'phee', expected 'fake'"):
        load_runs(tmp_path, "fake")


def test_load_runs_refuses_two_folders_claiming_the_same_run(tmp_path):
    write_fake_study(tmp_path, embeddings=("glove",), seeds=(1, 2))
    path = tmp_path / "fake" / "glove" / "seed-2" / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["run"]["seed"] = 1
    path.write_text(json.dumps(metrics))
    with pytest.raises(ValueError, match=r"the same run .* is also in"):
        load_runs(tmp_path, "fake")


def test_load_runs_without_runs_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match="no finished run on the corpus's own split under"):
        load_runs(tmp_path, "demo")


def _edit_metrics(results_root, embedding: str, seed: int, edit) -> None:
    path = results_root / "fake" / embedding / f"seed-{seed}" / "metrics.json"
    metrics = json.loads(path.read_text())
    edit(metrics)
    path.write_text(json.dumps(metrics))


def _without_lenient_scores(metrics):  # before the scorer recorded lenient matching
    del metrics["scores"]["test"]["lenient"]


def _without_support(metrics):  # a scorer that gave per-label scores without their support
    for schema in SCHEMAS:
        for label in metrics["scores"]["test"][schema]["labels"].values():
            del label["support"]


def _without_parameter_count(metrics):  # before the cost section counted the tagger's weights
    del metrics["cost"]["trainable_parameters"]


@pytest.mark.parametrize(("edit", "key"), [
    (_without_lenient_scores, "scores.test.lenient"),
    (_without_support, "scores.test.strict.labels.Drug.support"),
    (_without_parameter_count, "cost.trainable_parameters"),
])
def test_an_older_metrics_file_is_named_with_the_missing_key_and_the_command_that_reruns_it(tmp_path, edit, key):
    write_fake_study(tmp_path, embeddings=("glove", "bert"), seeds=(1, 2))
    _edit_metrics(tmp_path, "bert", 2, edit)
    with pytest.raises(ValueError) as raised:
        load_runs(tmp_path, "fake")
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{tmp_path}/fake/bert/seed-2/metrics.json: expected {key}, ")
    assert f"re-run that run: medner train fake bert --seed 2 --results {tmp_path} --force" in message
    assert "or delete that metrics.json and run make runs" in message


def test_an_older_metrics_file_without_confusion_leaves_the_confusion_out_and_says_so(tmp_path):
    study = write_fake_study(tmp_path, embeddings=("glove", "bert"), seeds=(1, 2))
    _edit_metrics(tmp_path, "glove", 1, lambda metrics: metrics.pop("confusion"))
    data = compute_comparison(tmp_path, "fake", study.gold, n_boot=10, n_shuffles=10, progress=False)
    assert data["confusion"] == {"span": {}, "token": {}}
    assert data["missing"]["confusion.span"] == "runs have no span-level confusion"


def test_a_run_scored_on_other_labels_is_named_not_a_key_error(tmp_path):
    write_fake_study(tmp_path, embeddings=("glove", "bert"), seeds=(1, 2))

    def without_ade(metrics):  # scored before the label map brought ADE in
        for schema in SCHEMAS:
            del metrics["scores"]["test"][schema]["labels"]["ADE"]

    _edit_metrics(tmp_path, "glove", 2, without_ade)
    with pytest.raises(ValueError, match=r"glove/seed-2/metrics\.json: expected scores for the labels of the other runs "
                                         r"\(Drug, .*, ADE\); it lacks ADE: .* medner train fake glove --seed 2 "):
        load_runs(tmp_path, "fake")


def test_medner_compare_names_an_older_run_in_one_line(tmp_path, capsys):
    study = write_fake_study(tmp_path, embeddings=("glove",), seeds=(1,))
    _edit_metrics(tmp_path, "glove", 1, _without_parameter_count)
    status = medner_main(["compare", "fake", "--path", str(study.corpus_path), "--results", str(tmp_path),
                          "--out", str(tmp_path / "comparison.json"),
                          "--n-boot", "10", "--n-shuffles", "10", "--progress", "none"])
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1
    assert error.startswith(f"medner: error: {tmp_path}/fake/glove/seed-1/metrics.json: expected cost.trainable_parameters")


def test_run_records_hold_every_test_score_of_every_run(study, runs):
    records = run_records(runs, study.results_root)
    assert [(r["embedding"], r["seed"]) for r in records] == [(r.embedding, r.seed) for r in runs]
    flair = next(r for r in records if (r["embedding"], r["seed"]) == ("flair", 2))
    assert flair["folder"] == "fake/flair/seed-2"
    assert list(flair["scores"]) == [*LABELS, "micro", "macro"]
    assert all(list(by_metric) == list(TIDY_METRICS) for by_schema in flair["scores"].values()
               for by_metric in by_schema.values())
    metrics = _metrics(study, "flair", 2)["scores"]["test"]
    assert flair["scores"]["Route"]["lenient"]["f1"] == metrics["lenient"]["labels"]["Route"]["f1"]
    micro = metrics["strict"]["micro"]
    assert flair["scores"]["micro"]["strict"]["fp"] == micro["fp"]
    assert flair["scores"]["micro"]["strict"]["support"] == micro["tp"] + micro["fn"]
    assert flair["scores"]["macro"]["strict"]["f1"] == metrics["strict"]["macro"]["f1"]
    assert isinstance(flair["scores"]["Drug"]["strict"]["tp"], int)


# ----------------------------------------------------------------------------- spreads


def test_seed_spread_is_mean_sample_sd_min_max_and_every_value():
    spread = seed_spread({2: 0.5, 1: 0.7, 3: 0.6})
    assert spread["seeds"] == [1, 2, 3] and spread["values"] == [0.7, 0.5, 0.6]
    assert spread["mean"] == pytest.approx(0.6) and spread["sd"] == pytest.approx(0.1)
    assert (spread["min"], spread["max"]) == (0.5, 0.7)
    assert seed_spread({4: 0.8})["sd"] == 0.0
    with pytest.raises(ValueError, match="at least one seed"):
        seed_spread({})


def test_main_scores_means_and_sd_over_seeds(study, runs):
    rows = main_scores(runs)
    assert [r["embedding"] for r in rows] == ["glove", "flair", "bert"]
    for row in rows:
        for schema in SCHEMAS:
            for average in ("micro", "macro"):
                values = [_metrics(study, row["embedding"], s)["scores"]["test"][schema][average]["f1"] for s in (1, 2, 3)]
                spread = row["scores"][schema][average]
                assert spread["mean"] == pytest.approx(statistics.mean(values))
                assert spread["sd"] == pytest.approx(statistics.stdev(values))
                assert spread["values"] == pytest.approx(values)


def test_main_scores_carry_the_papers_scores_over_seeds(study, runs):
    for row in main_scores(runs):
        metrics = [_metrics(study, row["embedding"], s) for s in (1, 2, 3)]
        expected = {"semeval_type_micro": [m["semeval"]["overall"]["type"]["f1"] for m in metrics],
                    "bio_strict_macro": [m["token_bio"]["macro"]["f1"] for m in metrics],
                    "bio_strict_weighted": [m["token_bio"]["weighted"]["f1"] for m in metrics]}
        for key, values in expected.items():
            assert row["papers"][key]["values"] == pytest.approx(values)
            assert row["papers"][key]["sd"] == pytest.approx(statistics.stdev(values))


def test_a_run_without_the_papers_scores_leaves_its_row_without_them_and_says_so(tmp_path):
    fake = write_fake_study(tmp_path, embeddings=("glove", "bert"), seeds=(1, 2))
    _edit_metrics(tmp_path, "bert", 2, lambda metrics: metrics.pop("token_bio"))
    data = compute_comparison(tmp_path, fake.corpus, None, progress=False)
    papers = {row["embedding"]: row["papers"] for row in data["main"]}
    assert papers["bert"] is None and set(papers["glove"]) == {"semeval_type_micro", "bio_strict_macro",
                                                               "bio_strict_weighted"}
    assert "older medner" in data["missing"]["main.papers"]


def test_per_label_table(study, runs):
    table = per_label_table(runs)
    assert table["labels"] == list(LABELS)
    gold_support = {label: sum(e.label == label for d in study.gold for e in d.entities) for label in LABELS}
    assert table["support"] == gold_support
    values = [_metrics(study, "bert", s)["scores"]["test"]["strict"]["labels"]["ADE"]["f1"] for s in (1, 2, 3)]
    assert table["scores"]["ADE"]["bert"]["strict"]["mean"] == pytest.approx(statistics.mean(values))


def test_learning_curves_one_point_per_fraction(tmp_path):
    fake = write_fake_study(tmp_path, embeddings=("glove", "bert"), seeds=(1, 2), fractions=(0.5, 1.0, 0.25))
    curves = learning_curves(load_runs(tmp_path, fake.corpus))
    assert list(curves) == ["glove", "bert"]
    assert [p["fraction"] for p in curves["bert"]] == [0.25, 0.5, 1.0]
    assert all(len(p["strict"]["values"]) == 2 for p in curves["glove"])


# ----------------------------------------------------------------------------- resampling


def test_confidence_interval_is_that_of_the_median_seed_run(study, runs):
    intervals = confidence_intervals(runs, study.gold, n_boot=200)
    assert list(intervals) == ["glove", "flair", "bert"]
    for embedding, ci in intervals.items():
        group = [r for r in runs if r.embedding == embedding]
        f1s = sorted(r.score("strict", "micro", "f1") for r in group)
        median = median_seed_run(group)
        assert median.score("strict", "micro", "f1") == f1s[1]
        assert ci["seed"] == median.seed and ci["n_boot"] == 200 and ci["alpha"] == 0.05
        # the bootstrap re-scores the predictions on disk: it must agree with the run's metrics
        assert ci["estimate"] == pytest.approx(f1s[1])
        assert ci["low"] <= ci["estimate"] <= ci["high"] and ci["low"] < ci["high"]


def test_significance_pairs_every_embedding_seed_by_seed(study, runs):
    pairs = significance(runs, study.gold, n_shuffles=200, progress=False)
    assert [(p["a"], p["b"]) for p in pairs] == [("glove", "flair"), ("glove", "bert"), ("flair", "bert")]
    for pair in pairs:
        assert list(pair["labels"]) == list(LABELS)
        drug = pair["labels"]["Drug"]
        assert drug["seeds"] == [1, 2, 3] and drug["n_seeds"] == 3
        expected = [
            _metrics(study, pair["a"], s)["scores"]["test"]["strict"]["labels"]["Drug"]["f1"]
            - _metrics(study, pair["b"], s)["scores"]["test"]["strict"]["labels"]["Drug"]["f1"]
            for s in (1, 2, 3)
        ]
        assert drug["deltas"] == pytest.approx(expected)
        assert drug["mean_delta"] == pytest.approx(statistics.mean(expected))
        assert all(0 < p <= 1 for p in drug["p_values"])
        assert drug["n_significant"] == sum(p < 0.05 for p in drug["p_values"])
    # glove (quality 0.55) and bert (0.85) are far apart: overall, every seed differs significantly
    glove_bert = pairs[1]
    assert glove_bert["overall"]["n_significant"] == 3 and glove_bert["overall"]["mean_delta"] < 0


# ----------------------------------------------------------------------------- measurements


def test_training_curves_read_every_history(study, runs):
    glove = training_curves(runs)["glove"]
    assert [c["seed"] for c in glove] == [1, 2, 3]
    history = runs[1].folder.read_history()
    assert glove[1]["dev_f1"] == [row["dev_f1"] for row in history]
    assert glove[1]["best_epoch"] == _metrics(study, "glove", 2)["best_epoch"]


def test_confusion_is_summed_over_seeds(study, runs):
    bert = confusion_matrices(runs, "span")["bert"]
    assert bert["rows"][-1] == "SPURIOUS" and bert["columns"][-1] == "MISSED" and bert["n_seeds"] == 3
    assert bert["kind"] == "span"
    expected = sum(_metrics(study, "bert", s)["confusion"]["span"]["counts"][0][0] for s in (1, 2, 3))
    assert bert["counts"][0][0] == expected
    assert all(sum(row) == pytest.approx(1.0) for row in bert["normalised"] if any(row))
    with pytest.raises(ValueError, match="'span' or 'token'"):
        confusion_matrices(runs, "char")


def test_cost_takes_vector_seconds_from_the_run_that_filled_the_cache(runs):
    flair = cost(runs)["flair"]
    assert [p["embedding_cache_hit"] for p in flair["runs"]] == [False, True, True]
    assert (flair["vector_seconds"], flair["vector_seconds_measured"]) == (60.0, True)
    cached = [{"embedding_seconds": 0.5, "embedding_cache_hit": True}, {"embedding_seconds": 0.7, "embedding_cache_hit": True}]
    assert vector_seconds(cached) == (0.7, False)


def test_cost_names_the_missing_key(runs):
    broken = runs[0].metrics | {"cost": {"embedding_seconds": 1.0}}
    run = type(runs[0])(runs[0].embedding, runs[0].seed, runs[0].fraction, runs[0].folder, broken)
    with pytest.raises(ValueError, match=r"metrics\.json: expected cost\.training_seconds"):
        cost_point(run)


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


# ----------------------------------------------------------------------------- the whole comparison


def test_comparison_holds_every_documented_section_and_nothing_else(comparison):
    assert list(comparison) == list(SECTIONS)
    assert comparison["about"] == SECTIONS and comparison["schema_version"] == SCHEMA_VERSION
    assert comparison["settings"] == comparison_settings(n_boot=100, n_shuffles=100, alpha=0.05, seed=0)
    assert comparison["missing"] == {}  # gold, statistics, token confusion and pairs: nothing left out


def test_comparison_sections_agree_with_the_functions_that_compute_them(study, runs, comparison):
    assert comparison["embeddings"] == ["glove", "flair", "bert"] and comparison["labels"] == list(LABELS)
    assert comparison["test_documents"] == len(study.gold) and comparison["main_fraction"] == 1.0
    assert [r["embedding"] for r in comparison["main"]] == ["glove", "flair", "bert"]
    assert comparison["main"][2]["scores"] == main_scores(runs)[2]["scores"]
    assert comparison["main"][0]["ci"] == confidence_intervals(runs, study.gold, n_boot=100)["glove"]
    assert comparison["per_label"] == per_label_table(runs)
    assert comparison["confusion"]["token"] == confusion_matrices(runs, "token")
    assert comparison["cost"] == cost(runs)
    assert comparison["label_counts"]["train"] == study.train_counts
    assert len(comparison["significance"]) == 3 and comparison["significance"][0]["n_shuffles"] == 100
    assert len(comparison["runs"]) == 9


def test_comparison_without_gold_or_statistics_says_what_is_missing(study):
    data = compute_comparison(study.results_root, study.corpus, None, progress=False)
    assert data["missing"] == {
        "main.ci": "no gold test documents given",
        "significance": "no gold test documents given",
        "label_counts": "no corpus statistics given",
    }
    assert all(row["ci"] is None for row in data["main"])
    assert data["significance"] == [] and data["label_counts"] == {} and data["test_documents"] is None


def test_comparison_of_one_embedding_has_no_significance(tmp_path):
    fake = write_fake_study(tmp_path, embeddings=("bert",), seeds=(1, 2))
    data = compute_comparison(tmp_path, fake.corpus, fake.gold, n_boot=20, progress=False)
    assert data["missing"] == {"significance": "only one embedding", "label_counts": "no corpus statistics given"}
    assert data["main"][0]["ci"]["n_boot"] == 20


def test_comparison_json_is_plain_json_and_refuses_another_layout(comparison, tmp_path):
    path = write_comparison(comparison, tmp_path / "comparison.json")
    assert json.loads(path.read_text()) == comparison
    assert not list(tmp_path.glob("*.part"))  # written through a temporary name
    path.write_text(json.dumps({**comparison, "schema_version": 0}))
    with pytest.raises(ValueError, match="expected a medner comparison with schema_version 1, found 0"):
        read_comparison(path)


def test_stale_because_names_what_changed(tmp_path):
    study = write_fake_study(tmp_path / "results", embeddings=("glove", "bert"), seeds=(1,))
    path = tmp_path / "comparison.json"
    settings = comparison_settings(n_boot=20, n_shuffles=20, alpha=0.05, seed=0)
    assert "does not exist" in stale_because(path, study.results_root, study.corpus, settings)
    counts = {"splits": {"train": {"entities": {"Drug": 3}}}}
    write_comparison(compute_comparison(study.results_root, study.corpus, study.gold, label_counts=counts, n_boot=20,
                                        n_shuffles=20, progress=False), path)
    assert stale_because(path, study.results_root, study.corpus, settings) is None
    other = comparison_settings(n_boot=50, n_shuffles=20, alpha=0.05, seed=0)
    assert "asked for 'fake'" in stale_because(path, study.results_root, study.corpus, other)
    metrics = study.run_dirs[0] / "metrics.json"
    later = path.stat().st_mtime_ns + 10**9
    os.utime(metrics, ns=(later, later))
    assert stale_because(path, study.results_root, study.corpus, settings) == f"{metrics} is newer"
    os.utime(path, ns=(later, later))
    assert stale_because(path, study.results_root, study.corpus, settings) is None
    # the corpus statistics count: by content, as notebook 00 rewrites the file with the same counts
    assert "other label counts" in stale_because(path, study.results_root, study.corpus, settings,
                                                 label_counts={"train": {"Drug": 1}})
    assert stale_because(path, study.results_root, study.corpus, settings, label_counts=counts) is None
    write_fake_study(tmp_path / "results", embeddings=("flair",), seeds=(1,))  # a run finished since
    assert stale_because(path, study.results_root, study.corpus, settings) == "it holds 2 runs; 3 are finished now"


def test_read_or_compute_reads_a_current_file_and_computes_a_missing_one(study, tmp_path, monkeypatch):
    computed = []

    def compare_corpus(results_root, corpus, **options):
        computed.append(options)
        options = {k: v for k, v in options.items() if k not in ("stats_path", "corpus_path")}
        return compute_comparison(results_root, corpus, study.gold, **options)

    monkeypatch.setattr(comparison_study, "compare_corpus", compare_corpus)
    path = tmp_path / "comparison.json"
    options = {"n_boot": 20, "n_shuffles": 20, "progress": False, "corpus_path": study.corpus_path}
    first = read_or_compute_comparison(path, study.results_root, study.corpus, **options)
    assert len(computed) == 1 and path.is_file() and first["settings"]["n_boot"] == 20
    assert read_or_compute_comparison(path, study.results_root, study.corpus, **options) == first
    assert len(computed) == 1  # current: read, not computed again
    read_or_compute_comparison(path, study.results_root, study.corpus, **{**options, "n_boot": 30})
    assert len(computed) == 2


@pytest.mark.slow
def test_medner_compare_writes_comparison_json(study, tmp_path, capsys):
    out = tmp_path / "comparison.json"
    status = medner_main(["compare", study.corpus, "--path", str(study.corpus_path), "--results", str(study.results_root),
                          "--out", str(out), "--n-boot", "30", "--n-shuffles", "30", "--progress", "none"])
    assert status == 0
    data = read_comparison(out)
    assert data["main"][0]["ci"]["n_boot"] == 30 and len(data["significance"]) == 3
    assert data["label_counts"]["test"] == {label: sum(e.label == label for d in study.gold for e in d.entities)
                                            for label in LABELS if any(e.label == label for d in study.gold for e in d.entities)}
    assert f"{out}: 9 runs of glove, flair, bert; missing: nothing" in capsys.readouterr().out
    assert medner_main(["compare", study.corpus, "--out", str(out), "--n-boot", "0"]) == 2


def test_reference_runs_are_rows_of_their_own_named_by_kind_with_their_cost(tmp_path):
    fake = write_fake_study(tmp_path, embeddings=("glove", "bert"), seeds=(1, 2), references=("finetune-crf", "scratch-crf"))
    data = compute_comparison(tmp_path, fake.corpus, fake.gold, n_boot=20, n_shuffles=20, progress=False)
    assert data["embeddings"] == ["glove", "bert", "finetune-crf-bert", "scratch-crf"]
    assert data["references"] == ["finetune-crf-bert", "scratch-crf"]
    rows = {row["embedding"]: row for row in data["main"]}
    assert rows["glove"]["kind"] == "bilstm-crf" and rows["scratch-crf"]["kind"] == "scratch-crf"
    metrics = [_metrics(fake, "finetune-crf-bert", seed) for seed in (1, 2)]
    assert rows["finetune-crf-bert"]["cost"] == {
        "trainable_parameters": metrics[0]["cost"]["trainable_parameters"],
        "training_seconds": pytest.approx(statistics.mean(m["cost"]["training_seconds"] for m in metrics)),
        "peak_rss_mb": 500.0}
    assert {(p["a"], p["b"]) for p in data["significance"]} >= {("bert", "finetune-crf-bert")}
    run = next(r for r in load_runs(tmp_path, fake.corpus) if r.embedding == "scratch-crf")
    from medner.comparison.selection import rerun_command

    assert rerun_command(run.metrics["run"], tmp_path) == (f"medner train fake --seed {run.seed} --kind scratch-crf "
                                                           f"--results {tmp_path} --force")
