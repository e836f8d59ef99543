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
