"""The error browser: outcome of every entity, filters, worst documents, HTML page."""

from __future__ import annotations

import random

import pytest

from medner.corpus.document import Document, Entity
from medner.error_browser import (
    ERROR_KINDS,
    classify_documents,
    classify_entities,
    error_rows,
    error_summary,
    render_document,
    worst_documents,
    write_error_page,
)

TEXT = "Take aspirin 81 mg PO daily for pain; stopped lisinopril after rash <b>."


def ent(eid: str, label: str, start: int, end: int, text: str = TEXT) -> Entity:
    return Entity(eid, label, ((start, end),), text[start:end])


def span(word: str, label: str, eid: str) -> Entity:
    start = TEXT.index(word)
    return ent(eid, label, start, start + len(word))


GOLD = Document("d1", TEXT, [
    span("aspirin", "Drug", "T1"),
    span("81 mg", "Strength", "T2"),
    span("PO", "Route", "T3"),
    span("daily", "Frequency", "T4"),
    span("pain", "Reason", "T5"),
    span("rash", "ADE", "T6"),
])
PRED = Document("d1", TEXT, [
    span("aspirin", "Drug", "T1"),  # correct
    span("81", "Strength", "T2"),  # wrong boundary
    span("PO", "Form", "T3"),  # wrong label
    # daily: missed
    span("pain", "Reason", "T4"),  # correct
    span("lisinopril", "Drug", "T5"),  # spurious
    span("rash", "Reason", "T6"),  # wrong label (ADE vs Reason)
])


def test_every_entity_gets_the_outcome_its_edit_implies() -> None:
    result = classify_entities(GOLD, PRED)
    kinds = {(o.gold.text if o.gold else None, o.pred.text if o.pred else None): o.kind for o in result.outcomes}
    assert kinds == {
        ("aspirin", "aspirin"): "correct",
        ("81 mg", "81"): "wrong_boundary",
        ("PO", "PO"): "wrong_label",
        ("daily", None): "missed",
        ("pain", "pain"): "correct",
        (None, "lisinopril"): "spurious",
        ("rash", "rash"): "wrong_label",
    }
    assert result.counts == {"correct": 2, "missed": 1, "spurious": 1, "wrong_label": 2, "wrong_boundary": 1}
    assert result.n_errors == 5
    # strict F1 = 2 tp / (6 gold + 6 pred)
    assert result.strict_f1 == pytest.approx(4 / 12)


def test_gold_document_without_prediction_is_all_missed_and_unknown_prediction_is_an_error() -> None:
    other = Document("d2", "nothing here", [])
    errors = classify_documents([GOLD, other], [])
    assert errors[0].counts["missed"] == len(GOLD.entities)
    assert errors[1].n_errors == 0 and errors[1].strict_f1 == 1.0
    with pytest.raises(ValueError, match="no gold counterpart: ghost"):
        classify_documents([GOLD], [Document("ghost", "x", [])])


def test_filters_by_label_and_kind() -> None:
    errors = classify_documents([GOLD], [PRED])
    rows = error_rows(errors, labels=["ADE"], kinds=["wrong_label"])
    assert [(r["gold_label"], r["pred_label"], r["gold_text"]) for r in rows] == [("ADE", "Reason", "rash")]
    # A label matches on either side: Form only exists as a prediction.
    assert [r["gold_text"] for r in error_rows(errors, labels=["Form"])] == ["PO"]
    assert {r["kind"] for r in error_rows(errors)} == set(ERROR_KINDS)
    with pytest.raises(ValueError, match="unknown error kind.*expected some of"):
        error_rows(errors, kinds=["typo"])
    summary = error_summary(errors)
    assert summary["Drug"] == {"correct": 1, "missed": 0, "spurious": 1, "wrong_label": 0, "wrong_boundary": 0}
    assert list(summary)[:3] == ["Drug", "Strength", "Frequency"]  # n2c2 label order


def test_worst_documents_rank_by_errors_and_skip_perfect_ones() -> None:
    perfect = Document("a-perfect", TEXT, list(GOLD.entities))
    one_miss = Document("b-one-miss", TEXT, list(GOLD.entities[1:]))
    gold = [Document(d, TEXT, list(GOLD.entities)) for d in ("a-perfect", "b-one-miss", "d1")]
    errors = classify_documents(gold, [perfect, one_miss, PRED])
    assert [d.doc_id for d in worst_documents(errors, 5)] == ["d1", "b-one-miss"]
    assert [d.doc_id for d in worst_documents(errors, 1)] == ["d1"]


def test_render_document_shows_both_sides_escaped_and_dims_filtered_out_entities() -> None:
    page = render_document(GOLD, PRED, kinds=["missed"])
    assert "&lt;b&gt;" in page and "<b>" not in page
    assert page.count('class="medner-col"') == 2
    assert "Frequency (missed) &#x27;daily&#x27;" in page
    # Only the missed entity is in full colour: every other highlighted entity is dimmed.
    assert page.count('class="medner-ent"') == 1
    assert page.count('class="medner-ent medner-dim"') >= 10


def test_discontinuous_entities_are_highlighted_per_fragment() -> None:
    text = "aspirin and then tablets"
    frag = Entity("T1", "Drug", ((0, 7), (17, 24)), "aspirin tablets")
    html_text = render_document(Document("x", text, [frag]), Document("x", text, []))
    gold_side = html_text.split("<h4>predicted")[0]
    assert gold_side.count(">aspirin</span>") == 1 and gold_side.count(">tablets</span>") == 1
    # The gap between the fragments is plain text, not highlighted.
    assert "</span> and then <span" in gold_side


def test_write_error_page_writes_the_worst_documents(tmp_path) -> None:
    gold = [Document(f"doc{i}", TEXT, list(GOLD.entities)) for i in range(4)]
    pred = [Document(f"doc{i}", TEXT, list(GOLD.entities[i:])) for i in range(4)]
    out = write_error_page(gold, pred, tmp_path / "run" / "errors.html", n=2, title="demo/glove seed 1")
    page = out.read_text(encoding="utf-8")
    assert out.name == "errors.html" and not list(out.parent.glob("*.part"))
    assert '<h3>doc3</h3>' in page and '<h3>doc2</h3>' in page and '<h3>doc1</h3>' not in page
    assert '["doc3", "doc2"]' in page
    assert 'name="kind" value="missed"' in page and 'name="label" value="ADE"' in page


def test_correct_outcomes_equal_the_span_scorer_strict_true_positives() -> None:
    span_scorer = pytest.importorskip("medner.evaluation.span", reason="the span scorer has not landed")
    rng = random.Random(7)
    labels = ["Drug", "Strength", "Route"]
    text = "x" * 200
    gold_docs, pred_docs = [], []
    for d in range(30):
        gold, pred = [], []
        for i in range(rng.randint(0, 6)):
            start = rng.randrange(0, 190)
            g = ent(f"T{i}", rng.choice(labels), start, start + rng.randint(1, 8), text)
            gold.append(g)
            roll = rng.random()
            if roll < 0.4:
                pred.append(g)
            elif roll < 0.7:
                pred.append(ent(f"T{i}", rng.choice(labels), g.start, min(200, g.end + rng.randint(0, 3)), text))
        for i in range(rng.randint(0, 2)):
            start = rng.randrange(0, 190)
            pred.append(ent(f"S{i}", rng.choice(labels), start, start + 3, text))
        gold_docs.append(Document(f"d{d}", text, gold))
        pred_docs.append(Document(f"d{d}", text, pred))
    scores = span_scorer.score_documents(gold_docs, pred_docs)
    correct = sum(e.counts["correct"] for e in classify_documents(gold_docs, pred_docs))
    assert correct == scores["strict"]["micro"]["tp"]
