"""Span- and token-level label confusion."""

from __future__ import annotations

import random

import pytest

from medner.corpus.document import Document, Entity
from medner.evaluation.confusion import span_confusion, token_confusion
from medner.evaluation.span import score_documents

TEXT = "z" * 200
LABELS = ["Drug", "Route", "ADE"]


def doc(doc_id: str, *spans: tuple[str, int, int]) -> Document:
    return Document(doc_id, TEXT, [Entity(f"T{i}", lab, ((s, e),), TEXT[s:e]) for i, (lab, s, e) in enumerate(spans, 1)])


def test_each_gold_entity_gets_one_outcome():
    gold = [doc("a", ("Drug", 0, 5), ("Drug", 10, 15), ("Route", 20, 25), ("ADE", 30, 35), ("ADE", 40, 45))]
    pred = [doc("a", ("Drug", 0, 5), ("Drug", 11, 15), ("Drug", 20, 25), ("Route", 31, 33), ("Route", 60, 62))]
    result = span_confusion(gold, pred, LABELS)
    assert result["rows"] == ["Drug", "Route", "ADE", "SPURIOUS"]
    assert result["columns"] == ["Drug", "Route", "ADE", "MISSED"]
    assert result["counts"] == [
        [2, 0, 0, 0],  # Drug: one exact, one boundary
        [1, 0, 0, 0],  # Route: predicted as Drug with exact boundaries
        [0, 1, 0, 1],  # ADE: one predicted as Route (overlapping), one missed
        [0, 1, 0, 0],  # one spurious Route
    ]
    assert result["normalised"][2] == [0.0, 0.5, 0.0, 0.5]
    assert result["outcomes"]["Drug"] == {
        "exact": 1, "boundary": 1, "wrong_label_exact": 0, "wrong_label_overlap": 0, "missed": 0, "spurious": 0,
        "gold": 2, "predicted": 3,
    }
    assert result["outcomes"]["Route"]["wrong_label_exact"] == 1 and result["outcomes"]["Route"]["spurious"] == 1
    assert result["outcomes"]["ADE"]["wrong_label_overlap"] == 1 and result["outcomes"]["ADE"]["missed"] == 1


def test_same_label_with_wrong_boundaries_is_preferred_to_another_label_exact():
    gold = [doc("a", ("Drug", 0, 10))]
    pred = [doc("a", ("Route", 0, 10), ("Drug", 2, 10))]
    result = span_confusion(gold, pred, LABELS)
    assert result["outcomes"]["Drug"]["boundary"] == 1
    assert result["counts"][3] == [0, 1, 0, 0]  # the Route prediction is left spurious


def test_agrees_with_the_span_scorer_and_adds_up_on_random_documents():
    rng = random.Random(5)
    gold, pred = [], []
    for d in range(40):
        spans = []
        for _ in range(rng.randrange(0, 8)):
            s = rng.randrange(0, 150)
            spans.append((rng.choice(LABELS), s, s + rng.randrange(1, 12)))
        gold.append(doc(f"d{d}", *spans))
        noisy = []
        for lab, s, e in spans:
            r = rng.random()
            if r < 0.15:
                continue
            if r < 0.3:
                lab = rng.choice(LABELS)
            elif r < 0.45:
                s, e = s + rng.randrange(-2, 3), e + rng.randrange(-2, 3)
                s, e = max(0, s), max(max(0, s) + 1, e)
            noisy.append((lab, s, e))
        if rng.random() < 0.5:
            s = rng.randrange(0, 150)
            noisy.append((rng.choice(LABELS), s, s + 3))
        pred.append(doc(f"d{d}", *noisy))
    result = span_confusion(gold, pred, LABELS)
    scores = score_documents(gold, pred, labels=LABELS)
    counts = result["counts"]
    for i, label in enumerate(LABELS):
        out = result["outcomes"][label]
        assert out["exact"] == scores["strict"]["labels"][label]["tp"]
        assert out["exact"] + out["boundary"] == scores["lenient"]["labels"][label]["tp"]
        assert sum(counts[i]) == out["gold"] == scores["strict"]["labels"][label]["support"]
        assert sum(row[i] for row in counts) == out["predicted"]
        assert counts[i][i] == out["exact"] + out["boundary"]
        assert sum(result["normalised"][i]) == pytest.approx(1.0 if out["gold"] else 0.0)
    assert counts[len(LABELS)][len(LABELS)] == 0


def test_missing_prediction_documents_make_every_gold_entity_missed():
    result = span_confusion([doc("a", ("Drug", 0, 5))], [], LABELS)
    assert result["counts"][0] == [0, 0, 0, 1]


def test_token_confusion_collapses_b_and_i():
    gold = [["B-Drug", "I-Drug", "O", "B-ADE"], ["O"]]
    pred = [["B-Drug", "B-Drug", "B-Route", "I-Drug"], ["B-ADE"]]
    result = token_confusion(gold, pred, LABELS)
    assert result["rows"] == result["columns"] == ["Drug", "Route", "ADE", "O"]
    assert result["counts"] == [
        [2, 0, 0, 0],
        [0, 0, 0, 0],
        [1, 0, 0, 0],
        [0, 1, 1, 0],
    ]
    assert result["normalised"][3] == [0.0, 0.5, 0.5, 0.0]
    assert result["normalised"][1] == [0.0, 0.0, 0.0, 0.0]


def test_token_confusion_rejects_unknown_labels_and_lengths():
    with pytest.raises(ValueError, match="predicted sentence 0, token 0: expected a label among"):
        token_confusion([["O"]], [["B-Form"]], LABELS)
    with pytest.raises(ValueError, match="sentence 0: expected 1 predicted tags"):
        token_confusion([["O"]], [["O", "O"]], LABELS)
