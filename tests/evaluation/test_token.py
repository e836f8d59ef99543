"""BIO-strict token-level scores, cross-checked against seqeval 1.2.2 (mode strict, IOB2)."""

from __future__ import annotations

import random

import pytest
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from medner.evaluation.span import Span
from medner.evaluation.token import bio_entities, pool_bio_strict, score_bio_strict
from nested_numbers import flat


def test_strict_iob2_reading():
    tags = ["B-Drug", "I-Drug", "I-Route", "O", "I-Drug", "I-Drug", "B-Drug", "B-Drug", "I-Drug"]
    assert bio_entities(tags) == [Span("Drug", 0, 2), Span("Drug", 6, 7), Span("Drug", 7, 9)]


def test_bad_tags_and_lengths_are_errors_naming_where():
    with pytest.raises(ValueError, match="gold sentence 1, token 2: .*found 'E-Drug'"):
        score_bio_strict([["O"], ["O", "O", "E-Drug"]], [["O"], ["O", "O", "O"]])
    with pytest.raises(ValueError, match="sentence 0: expected 2 predicted tags"):
        score_bio_strict([["O", "O"]], [["O"]])


def random_tags(rng: random.Random, n: int) -> list[str]:
    choices = ["O"] * 6 + [f"{p}-{lab}" for p in "BI" for lab in ("Drug", "Route", "ADE")]
    return [rng.choice(choices) for _ in range(n)]


def test_random_cross_check_against_seqeval_strict_iob2():
    rng = random.Random(42)
    for _ in range(150):
        lengths = [rng.randrange(1, 20) for _ in range(rng.randrange(1, 6))]
        gold = [random_tags(rng, n) for n in lengths]
        pred = [random_tags(rng, n) if rng.random() < 0.5 else
                [t if rng.random() < 0.8 else rng.choice(["O", "B-Drug", "I-ADE"]) for t in g] for g, n in zip(gold, lengths)]
        ours = score_bio_strict(gold, pred)
        if not ours["labels"]:
            continue  # seqeval averages nothing into nan (with numpy warnings); see the test below
        report = classification_report(gold, pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
        theirs_labels = {k: v for k, v in report.items() if k not in ("micro avg", "macro avg", "weighted avg")}
        found = {label for label, s in ours["labels"].items() if s["support"] or s["tp"] + s["fp"]}
        assert found == set(theirs_labels)
        for label, s in theirs_labels.items():
            mine = ours["labels"][label]
            assert mine["support"] == s["support"]
            assert mine["precision"] == pytest.approx(s["precision"])
            assert mine["recall"] == pytest.approx(s["recall"])
            assert mine["f1"] == pytest.approx(s["f1-score"])
        for ours_key, theirs_key in (("micro", "micro avg"), ("macro", "macro avg"), ("weighted", "weighted avg")):
            for metric, theirs_metric in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
                assert ours[ours_key][metric] == pytest.approx(report[theirs_key][theirs_metric]), (ours_key, metric)


def test_no_entities_anywhere_scores_zero():
    scores = score_bio_strict([["O", "O"]], [["O", "O"]])
    assert scores["labels"] == {}
    assert scores["micro"]["f1"] == scores["macro"]["f1"] == scores["weighted"]["f1"] == 0.0


def test_labels_argument_restricts_scoring():
    gold = [["B-Drug", "O", "B-ADE"]]
    pred = [["B-Drug", "O", "B-Route"]]
    scores = score_bio_strict(gold, pred, labels=["Drug"])
    assert list(scores["labels"]) == ["Drug"] and scores["micro"]["f1"] == 1.0
    full = score_bio_strict(gold, pred)
    assert list(full["labels"]) == ["Drug", "Route", "ADE"]
    assert (full["micro"]["tp"], full["micro"]["fp"], full["micro"]["fn"]) == (1, 1, 1)


def test_pooling_two_halves_gives_the_scores_of_the_whole():
    rng = random.Random(7)
    gold = [random_tags(rng, rng.randrange(1, 15)) for _ in range(40)]
    pred = [[t if rng.random() < 0.7 else rng.choice(["O", "B-Drug", "I-ADE"]) for t in g] for g in gold]
    labels = ["Drug", "Route", "ADE"]
    whole = score_bio_strict(gold, pred, labels=labels)
    pooled = pool_bio_strict([score_bio_strict(gold[:17], pred[:17], labels=labels),
                              score_bio_strict(gold[17:], pred[17:], labels=labels)])
    assert flat(pooled) == pytest.approx(flat(whole))
    assert pooled["weighted"]["f1"] != pytest.approx(pooled["macro"]["f1"])  # the two averages really differ here

