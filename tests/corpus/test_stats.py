"""Corpus statistics and the ``medner corpus stats`` command."""

from __future__ import annotations

import json

import pytest

from medner.cli import main
from medner.corpus.document import Document, Entity
from medner.corpus.registry import Corpus
from medner.corpus.stats import corpus_statistics, format_statistics


def tiny_corpus() -> Corpus:
    text = "Take aspirin 40mg daily. Stop it."
    train = Document(
        "a",
        text,
        [
            Entity("T1", "Drug", ((5, 12),), "aspirin"),
            Entity("T2", "Strength", ((13, 17),), "40mg"),
            Entity("T3", "Dosage", ((14, 17),), "0mg"),  # starts inside "40"
            Entity("T4", "Drug", ((5, 17),), "aspirin 40mg"),  # longest: wins over T1 and T2
            Entity("T5", "Frequency", ((18, 29),), "daily. Stop"),  # crosses the sentence end
            Entity("T6", "Drug", ((5, 12), (18, 23)), "aspirin daily"),  # discontinuous, overlaps T4
        ],
    )
    test = Document("b", "Metoprolol 25 mg PO", [Entity("T1", "Route", ((17, 19),), "PO")])
    return Corpus(
        name="tiny",
        splits={"train": [train], "dev": [], "test": [test]},
        labels=("Drug", "Strength", "Dosage", "Frequency", "Route"),
        ignored={"Cue": 3},
        split_record={"method": "folders"},
        source="memory",
    )


def test_statistics_are_computed_from_the_documents():
    stats = corpus_statistics(tiny_corpus(), progress=False)
    train, dev, test = (stats["splits"][s] for s in ("train", "dev", "test"))
    assert (train["documents"], train["sentences"], train["tokens"]) == (1, 2, 9)
    assert train["entities"] == {"Drug": 3, "Strength": 1, "Dosage": 1, "Frequency": 1}
    assert train["discontinuous"] == 1
    assert train["drops"] == {
        "Drug": {"overlap": 2, "boundary_inside_token": 0, "boundary_crosses_sentence": 0},
        "Strength": {"overlap": 1, "boundary_inside_token": 0, "boundary_crosses_sentence": 0},
        "Dosage": {"overlap": 0, "boundary_inside_token": 1, "boundary_crosses_sentence": 0},
        "Frequency": {"overlap": 0, "boundary_inside_token": 0, "boundary_crosses_sentence": 1},
    }
    assert train["tagging"]["total"]["kept"] == 1
    # 7 fragments, 14 boundaries; only the start of "0mg" is not a token boundary
    assert train["boundary_alignment"]["boundaries"] == 14 and train["boundary_alignment"]["aligned"] == 13
    assert dev == {**dev, "documents": 0, "sentences": 0, "entities_total": 0}
    assert dev["boundary_alignment"]["rate"] is None
    assert test["boundary_alignment"]["rate"] == 1.0
    overall = stats["overall"]
    assert overall["documents"] == 2 and overall["tokens"] == 13 and overall["entities_total"] == 7 and overall["kept"] == 2
    assert overall["boundary_alignment"]["aligned"] == 15 and overall["boundary_alignment"]["rate"] == pytest.approx(15 / 16)
    assert overall["drops"]["Drug"]["overlap"] == 2
    assert stats["ignored"] == {"Cue": 3}
    assert any("0mg" in line for line in stats["examples"]["misaligned_boundaries"])
    json.dumps(stats)  # JSON-ready

    table = format_statistics(stats)
    assert "boundary alignment" in table and "93.75%" in table
    assert "crosses sentence" in table and "Cue" in table


def test_command_prints_tables_or_json(tmp_path, capsys):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for k in range(10):
        (folder / f"d{k}.txt").write_text(f"Gave aspirin {k} mg.", encoding="utf-8")
        (folder / f"d{k}.ann").write_text("T1\tDrug 5 12\taspirin\n", encoding="utf-8")
    assert main(["corpus", "stats", "brat", "--path", str(folder), "--json", "--seed", "4"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["corpus"] == "corpus" and stats["split_record"]["seed"] == 4
    assert stats["overall"]["entities"] == {"Drug": 10}
    assert main(["corpus", "stats", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "entities per label" in out and "Drug" in out


def test_command_errors_are_one_line(capsys):
    assert main(["corpus", "stats", "n2c2-2018"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "medner: error: n2c2-2018 needs --path to the folder holding train/ and test/ "
        "(obtained under the n2c2 data-use agreement)"
    )


@pytest.mark.phee
def test_phee_statistics_meet_the_alignment_target(phee_path, capsys):
    assert main(["corpus", "stats", "phee", "--path", str(phee_path), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    for split in ("train", "dev", "test"):
        assert stats["splits"][split]["boundary_alignment"]["rate"] >= 0.995, split
        assert stats["splits"][split]["documents"] > 900
    assert stats["overall"]["boundary_alignment"]["rate"] >= 0.995
    assert stats["ignored"]["Treatment"] > 0


# -- relations (issue 15) ---------------------------------------------------------------------------------


def test_relations_their_drops_and_the_candidate_reach_are_reported():
    from medner.corpus.document import Relation

    corpus = tiny_corpus()
    train = corpus.splits["train"][0]
    train.entities.append(Entity("T7", "Reason", ((30, 32),), "it"))
    # T6 is the drug tagging keeps (the longest extent); T1 and T2 overlap it, T5 crosses the sentence end
    train.relations = [Relation("R1", "Strength-Drug", "T2", "T1"), Relation("R2", "Frequency-Drug", "T5", "T6"),
                       Relation("R3", "Reason-Drug", "T7", "T6")]
    corpus.ignored_relations = {"Cue-Drug": {"argument_ignored": 2}}
    stats = corpus_statistics(corpus, progress=False, window=0)
    assert stats["splits"]["train"]["relations"] == {"Strength-Drug": 1, "Frequency-Drug": 1, "Reason-Drug": 1}
    assert stats["overall"]["relation_drops"] == {
        "Strength-Drug": {"overlap": 1, "boundary_inside_token": 0, "boundary_crosses_sentence": 0},
        "Frequency-Drug": {"overlap": 0, "boundary_inside_token": 0, "boundary_crosses_sentence": 1}}
    candidates = stats["overall"]["candidates"]
    assert candidates["window"] == 0
    assert candidates["per_type"]["Reason-Drug"]["outside_window"] == 1  # "it" is in the next sentence
    assert candidates["total"] == {"gold": 3, "reached": 2, "outside_window": 1, "not_attribute_drug": 0, "share": 2 / 3}
    json.dumps(stats)
    table = format_statistics(stats)
    assert "relations per type (brat R lines)" in table and "Cue-Drug" in table and "66.67%" in table
    assert "within 0 sentence(s)" in table
    assert "relations per type" not in format_statistics(corpus_statistics(tiny_corpus(), progress=False))


def test_the_demo_candidates_reach_every_relation(medner_root, capsys):
    assert main(["corpus", "stats", "demo", "--demo-size", "300", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    candidates = stats["overall"]["candidates"]
    assert len(candidates["per_type"]) == 8
    assert all(row["share"] >= 0.98 for row in candidates["per_type"].values())
    assert stats["overall"]["relations"] == {t: row["gold"] for t, row in candidates["per_type"].items()}


@pytest.mark.phee
def test_phee_report_says_what_the_event_rule_would_relabel(phee_path, capsys):
    assert main(["corpus", "stats", "phee", "--path", str(phee_path)]) == 0
    out = capsys.readouterr().out
    assert "the event rule (phee_effects='events') relabels 123 from ADE to ignored; rule in use 'ade', relabelled 0" in out
    assert "PHEE events -> relations" in out
