"""The relation section of the comparison and the relation table and figures, on the tiny relation study
(tests/tiny_relations.py: a pipeline and a shared run, one seed): significance and intervals checked against the
runs' own scores, every file written, and no relation runs drawing nothing."""

from __future__ import annotations

import pytest

from medner import relation_figures
from medner.comparison.relations import relation_section
from medner.comparison.study import compute_comparison, read_comparison, write_comparison
from medner.corpus.registry import load_corpus
from medner.report_folder import NotDrawable
from resources.comparison.fake_study import write_fake_study
from test_figures import assert_figure_files
from tiny_relations import DEMO_SIZE, shared_tiny_study

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """(results root, {variant: metrics}, gold test documents); the runs are those of test_relation_runs when it ran."""
    with shared_tiny_study(tmp_path_factory) as (root, metrics):
        yield root / "results", metrics, load_corpus("demo", demo_size=DEMO_SIZE).splits["test"]


@pytest.fixture(scope="module")
def section(study, tmp_path_factory):
    """The relations section of the study's comparison, written to comparison.json and read back as 03 reads it."""
    results, _, gold = study
    data = compute_comparison(results, "demo", gold, n_boot=50, n_shuffles=50, progress=False)
    return read_comparison(write_comparison(data, tmp_path_factory.mktemp("data") / "comparison.json"))["relations"]


def strict_micro_f1(metrics: dict, setting: str) -> float:
    return metrics["relations"][setting]["test"]["strict"]["micro"]["f1"]


def test_the_section_is_relation_section_of_the_runs(study, section):
    results, metrics, gold = study
    direct = relation_section(results, "demo", gold, n_boot=50, n_shuffles=50)
    assert direct == section
    assert [(r["embedding"], r["variant"], r["seed"]) for r in section["runs"]] == [("glove", "pipeline", 1),
                                                                                    ("glove", "shared", 1)]
    for row in section["runs"]:
        run = metrics[row["variant"]]
        assert row["ner_f1"] == run["ner"]["scores"]["test"]["strict"]["micro"]["f1"]
        assert row["relation"]["end_to_end"]["strict"]["micro"] == strict_micro_f1(run, "end_to_end")
        assert row["cost"]["trainable_parameters"] == run["cost"]["trainable_parameters"]
    assert [(s["embedding"], s["variant"], s["n_seeds"]) for s in section["summary"]] == [("glove", "pipeline", 1),
                                                                                          ("glove", "shared", 1)]
    assert section["types"] == metrics["shared"]["config"]["types"]


def test_significance_compares_pipeline_with_shared_in_both_settings(study, section):
    _, metrics, _ = study
    tests = {test["setting"]: test for test in section["significance"]}
    assert set(tests) == {"gold_entities", "end_to_end"}
    for setting, test in tests.items():
        overall = test["overall"]
        assert (test["embedding"], test["a"], test["b"], overall["seeds"]) == ("glove", "pipeline", "shared", [1])
        assert all(0.0 <= p <= 1.0 for p in overall["p_values"])
        expected = strict_micro_f1(metrics["pipeline"], setting) - strict_micro_f1(metrics["shared"], setting)
        assert overall["deltas"] == [pytest.approx(expected, abs=1e-12)]


def test_intervals_hold_the_estimate_of_each_run(study, section):
    _, metrics, _ = study
    for variant in ("pipeline", "shared"):
        for setting in ("gold_entities", "end_to_end"):
            ci = section["ci"]["glove"][variant][setting]
            assert ci["seed"] == 1 and ci["n_boot"] == 50
            assert ci["low"] <= ci["estimate"] <= ci["high"]
            assert ci["estimate"] == pytest.approx(strict_micro_f1(metrics[variant], setting), abs=1e-12)


def test_without_gold_documents_the_statistics_are_left_out(study):
    results, _, _ = study
    section = relation_section(results, "demo", None)
    assert section["significance"] == [] and section["ci"] == {} and len(section["runs"]) == 2


def test_the_table_and_both_figures_are_written(section, tmp_path):
    written = relation_figures.write_relation_table(section, tmp_path / "relation-results", corpus="demo")
    assert sorted(p.name for p in written) == ["relation-results.md", "relation-results.tex"]
    markdown = (tmp_path / "relation-results.md").read_text(encoding="utf-8")
    assert "| glove" in markdown and "pipeline" in markdown and "shared" in markdown
    for test in section["significance"]:  # each seed's difference pipeline - shared and its p-value, in the shared row
        overall = test["overall"]
        shown = "; ".join(f"{100 * d:+.1f} p {p:.3f}" for d, p in zip(overall["deltas"], overall["p_values"]))
        assert f"{overall['n_significant']}/{overall['n_seeds']} ({shown})" in markdown
    for name, draw in (("09-relation-per-type", relation_figures.plot_relation_per_type),
                       ("10-relation-sharing", relation_figures.plot_relation_sharing)):
        stem = tmp_path / name
        assert_figure_files(draw(section, stem, title="tiny"), stem)
        first = [p.read_bytes() for p in (stem.with_suffix(".pdf"), stem.with_suffix(".png"))]
        draw(section, stem, title="tiny")  # the same section gives the same bytes
        assert [p.read_bytes() for p in (stem.with_suffix(".pdf"), stem.with_suffix(".png"))] == first


def test_without_relation_runs_the_section_is_none_and_nothing_is_drawn(tmp_path):
    fake = write_fake_study(tmp_path / "results", embeddings=("glove",), seeds=(1,))
    data = compute_comparison(fake.results_root, fake.corpus, fake.gold, n_boot=10, n_shuffles=10, progress=False)
    assert data["relations"] is None
    assert relation_section(fake.results_root, fake.corpus, fake.gold) is None
    out = tmp_path / "figures"
    for section in (None, {}, {"summary": []}):
        with pytest.raises(NotDrawable, match="no relation runs"):
            relation_figures.write_relation_table(section, out / "relation-results", corpus="fake")
        with pytest.raises(NotDrawable, match="no relation runs"):
            relation_figures.plot_relation_per_type(section, out / "09")
        with pytest.raises(NotDrawable, match="no relation runs"):
            relation_figures.plot_relation_sharing(section, out / "10")
    assert not out.exists()


def test_the_main_results_files_carry_the_relation_rows_after_the_ner_table(section, tmp_path):
    from medner.tables import main_table_markdown, write_main_table

    comparison_rows = [{"embedding": "glove", "scores": {s: {a: {"mean": 0.5, "sd": 0.0, "min": 0.5, "max": 0.5,
                                                                 "values": [0.5], "seeds": [1]} for a in ("micro", "macro")}
                                                        for s in ("strict", "lenient")}, "ci": None, "papers": None}]
    appendix = relation_figures.relation_appendix(section, corpus="demo")
    write_main_table(comparison_rows, tmp_path / "main-results", corpus="demo", appendix=appendix)
    markdown = (tmp_path / "main-results.md").read_text(encoding="utf-8")
    assert markdown == main_table_markdown(comparison_rows, corpus="demo") + "\n" + appendix[1]
    assert markdown.index("Strict micro F1") < markdown.index("Relations on demo") and "| glove | shared |" in markdown
    assert relation_figures.relation_appendix(None, corpus="demo") is None
