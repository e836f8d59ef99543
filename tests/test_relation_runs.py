"""Relation runs end to end on a tiny demo study (tests/tiny_relations.py): the metrics, the pipeline's reuse of
the NER run, the brat predictions as the organisers' script and ``medner evaluate`` read them, the same seed giving
the same run, and the settings and corpora a relation run refuses."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from medner.cli import main as medner_main
from medner.corpus.brat import read_brat_folder
from medner.corpus.registry import load_corpus
from medner.relation_runs import (SCORED, SETTINGS, VARIANTS, RelationFolder, RelationSettings, execute_relation_run,
                                  find_relation_runs)
from medner.run_folder import RunFolder
from medner.runs import RunSettings
from tiny_relations import DEMO_SIZE, folder_of, ner_settings, relation_settings, shared_tiny_study

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """(root, {variant: metrics}) with MEDNER_ROOT at root for the whole module."""
    with shared_tiny_study(tmp_path_factory) as study:
        yield study


@pytest.fixture(scope="module")
def gold_test(study):
    """The demo's gold test folder and documents."""
    corpus = load_corpus("demo", demo_size=DEMO_SIZE)
    folder = Path(corpus.source) / "test"
    return folder, read_brat_folder(folder)


def history_without_seconds(folder: RelationFolder) -> list[dict[str, str]]:
    with open(folder.path / "history.csv", encoding="utf-8", newline="") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


@pytest.mark.parametrize("variant", VARIANTS)
def test_metrics_hold_every_section_setting_and_split(study, variant):
    root, all_metrics = study
    metrics = all_metrics[variant]
    assert set(metrics) == {"schema_version", "kind", "run", "config", "corpus", "environment", "cost", "best_epoch",
                            "best_dev_score", "stopped_because", "relations", "ner"}
    assert metrics["kind"] == "relations"
    assert {k: metrics["run"][k] for k in ("corpus", "embedding", "seed", "variant")} == {
        "corpus": "demo", "embedding": "glove", "seed": 1, "variant": variant}
    for setting in SETTINGS:
        assert set(metrics["relations"][setting]) == set(SCORED)
        for split in SCORED:
            scores = metrics["relations"][setting][split]
            assert set(scores["strict"]["per_type"]) <= set(metrics["config"]["types"])
            assert 0.0 <= scores["strict"]["micro"]["f1"] <= scores["lenient"]["micro"]["f1"] <= 1.0
    assert metrics["relations"]["gold_entities"]["test"]["strict"]["micro"]["f1"] > 0.5  # the demo's links are easy
    assert metrics["relations"]["end_to_end"]["test"]["strict"]["micro"]["tp"] > 0  # the tiny taggers find some
    assert metrics["config"]["relation_loss_weight"] == (1.0 if variant == "shared" else None)
    assert metrics["config"]["window"] == 1 and metrics["config"]["model"]["hidden_size"] == 64
    assert metrics["corpus"]["candidate_reach"]["test"]["total"]["share"] >= 0.98
    assert 1 <= metrics["best_epoch"] <= metrics["cost"]["epochs"] <= 12
    folder = folder_of(root, variant)
    assert json.loads(folder.metrics_path.read_text(encoding="utf-8")) == metrics
    assert len(history_without_seconds(folder)) == metrics["cost"]["epochs"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_checkpoint_rebuilds_the_model(study, variant):
    from medner.model.relations import JointTagger, RelationExtractor

    root, all_metrics = study
    checkpoint = folder_of(root, variant).load_checkpoint()
    model = (JointTagger if variant == "shared" else RelationExtractor)(**checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])
    assert checkpoint["types"] == all_metrics[variant]["config"]["types"] and checkpoint["variant"] == variant
    assert model.trainable_parameters() == all_metrics[variant]["cost"]["components"]["relation"]["trainable_parameters"]


def test_the_pipeline_reuses_the_ner_run_and_adds_its_cost(study):
    root, all_metrics = study
    pipeline, shared = all_metrics["pipeline"], all_metrics["shared"]
    ner_folder = RunFolder.of(root / "results", "demo", "glove", 1)
    assert ner_folder.path == root / "results" / "demo" / "glove" / "seed-1"
    ner = ner_folder.read_metrics()
    assert pipeline["ner"] == {"scores": ner["scores"], "source": str(ner_folder.path)}
    cost, parts = pipeline["cost"], pipeline["cost"]["components"]
    assert cost["trainable_parameters"] == parts["ner"]["trainable_parameters"] + parts["relation"]["trainable_parameters"]
    assert parts["ner"]["trainable_parameters"] == ner["cost"]["trainable_parameters"]
    assert cost["training_seconds"] == pytest.approx(ner["cost"]["training_seconds"] + parts["relation"]["training_seconds"])
    assert cost["peak_rss_mb"] >= ner["cost"]["peak_rss_mb"]
    # one encoder and two heads against two encoders and two heads
    assert shared["cost"]["trainable_parameters"] < cost["trainable_parameters"]
    assert shared["ner"]["source"] == "shared" and set(shared["ner"]["scores"]) == {"dev", "test"}


@pytest.mark.parametrize("variant", VARIANTS)
def test_predictions_read_back_as_brat_with_t_and_r_lines(study, gold_test, variant):
    root, _ = study
    _, gold = gold_test
    folder = folder_of(root, variant)
    given = read_brat_folder(folder.setting_dir("gold_entities"))
    end = read_brat_folder(folder.setting_dir("end_to_end"))
    assert [d.id for d in given] == [d.id for d in end] == [d.id for d in gold]
    for predicted, truth in zip(given, gold):
        assert predicted.text == truth.text
        assert sorted(e.key() for e in predicted.entities) == sorted(e.key() for e in truth.entities)
    for documents in (given, end):
        assert sum(len(d.entities) for d in documents) > 0 and sum(len(d.relations) for d in documents) > 0
        for doc in documents:
            by_id = doc.entities_by_id()
            assert all(by_id[r.arg2].label == "Drug" and r.type == f"{by_id[r.arg1].label}-Drug" for r in doc.relations)


def test_the_pipelines_end_to_end_entities_are_the_ner_runs_predictions(study):
    root, _ = study
    ner = read_brat_folder(RunFolder.of(root / "results", "demo", "glove", 1).path / "predictions" / "brat")
    end = {d.id: d for d in read_brat_folder(folder_of(root, "pipeline").setting_dir("end_to_end"))}
    for doc in ner:
        assert sorted(e.key() for e in end[doc.id].entities) == sorted(e.key() for e in doc.entities)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("setting", SETTINGS)
def test_medner_evaluate_on_the_written_predictions_gives_the_runs_test_scores(study, gold_test, capsys, variant, setting):
    root, all_metrics = study
    gold_dir, _ = gold_test
    capsys.readouterr()
    assert medner_main(["evaluate", str(gold_dir), str(folder_of(root, variant).setting_dir(setting)), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)["relations"]
    stored = all_metrics[variant]["relations"][setting]["test"]
    for mode in ("strict", "lenient"):
        assert evaluated[mode]["micro"] == stored[mode]["micro"] and evaluated[mode]["macro"] == stored[mode]["macro"]
        # the run lists every type of its training split; evaluate those of the test files
        assert evaluated[mode]["per_type"] == {t: v for t, v in stored[mode]["per_type"].items() if t in evaluated[mode]["per_type"]}
        assert all(v["support"] + v["tp"] + v["fp"] == 0 for t, v in stored[mode]["per_type"].items()
                   if t not in evaluated[mode]["per_type"])


def test_the_same_seed_gives_the_same_history_and_scores(study):
    root, all_metrics = study
    for variant in VARIANTS:
        before = history_without_seconds(folder_of(root, variant))
        again = execute_relation_run(relation_settings(root, variant), force=True, progress="none")
        assert history_without_seconds(folder_of(root, variant)) == before
        assert again["relations"] == all_metrics[variant]["relations"] and again["ner"] == all_metrics[variant]["ner"]
        assert again["best_epoch"] == all_metrics[variant]["best_epoch"]


@pytest.mark.parametrize("changes, key", [
    ({"window": 0}, "window=1, not 0"),
    ({"relation_loss_weight": 0.5}, "relation_loss_weight=1.0, not 0.5"),
    ({"model": {"hidden_size": 32}}, "hidden_size=64, not 32"),
    ({"ner": {"implementation": "nn.LSTM"}}, "implementation='fused', not 'nn.LSTM'"),
])
def test_a_finished_run_asked_for_with_other_settings_is_an_error_not_a_read_back(study, changes, key):
    root, _ = study
    finished = folder_of(root, "shared").metrics_path.read_bytes()
    with pytest.raises(ValueError, match="the finished relation run was trained with " + key.replace("(", r"\(")):
        execute_relation_run(relation_settings(root, "shared", **changes), progress="none")
    assert folder_of(root, "shared").metrics_path.read_bytes() == finished


def test_find_relation_runs_and_the_folders_command(study, capsys):
    root, _ = study
    assert find_relation_runs(root / "results", "demo") == [folder_of(root, "pipeline"), folder_of(root, "shared")]
    assert find_relation_runs(root / "results", "other") == []
    capsys.readouterr()
    assert medner_main(["relations", "folders", "demo", "--results", str(root / "results"), "--embeddings", "glove",
                        "--seeds", "1", "--make"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "relation_study := 1"
    assert f"relation_ner.glove.1 := {root / 'results' / 'demo' / 'glove' / 'seed-1'}" in lines
    assert f"relation_dir.glove.shared.1 := {folder_of(root, 'shared').path}" in lines


def test_a_corpus_without_relations_is_a_one_line_error(study, gold_test, tmp_path):
    from medner.relation_commands import corpus_has_relations

    root, _ = study
    source = Path(load_corpus("demo", demo_size=DEMO_SIZE).source)
    corpus = tmp_path / "norel"
    shutil.copytree(source, corpus)
    assert corpus_has_relations("norel", str(corpus))
    for ann in corpus.rglob("*.ann"):
        ann.write_text("".join(line for line in ann.read_text(encoding="utf-8").splitlines(keepends=True)
                               if not line.startswith("R")), encoding="utf-8")
    assert not corpus_has_relations("norel", str(corpus))
    ner = RunSettings("norel", "glove", 1, corpus_path=corpus, results_root=tmp_path / "results",
                      cache_root=root / "cache", max_epochs=1)
    with pytest.raises(ValueError) as error:
        execute_relation_run(RelationSettings(ner, "shared"), progress="none")
    message = str(error.value)
    assert "\n" not in message and message.startswith("corpus norel: its training documents have no relations")
    assert find_relation_runs(tmp_path / "results", "norel") == []


@pytest.mark.parametrize("ner, changes, message", [
    ({"fraction": 0.5}, {}, "relation runs use the whole training split"),
    ({"folds": 5, "fold": 1}, {}, "relation runs use the whole training split"),
    ({}, {"variant": "joint"}, "variant: expected one of pipeline, shared; given 'joint'"),
    ({}, {"window": -1}, "window: expected a number of sentences >= 0; given -1"),
    ({}, {"window": True}, "window: expected a number of sentences >= 0; given True"),
    ({}, {"relation_loss_weight": 0}, "relation_loss_weight: expected a number > 0; given 0"),
])
def test_relation_settings_refuse_what_a_relation_run_cannot_be(tmp_path, ner, changes, message):
    with pytest.raises(ValueError, match=message):
        RelationSettings(ner_settings(tmp_path, **ner), **{"variant": "shared", **changes})
