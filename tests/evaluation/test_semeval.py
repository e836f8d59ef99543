"""SemEval-2013 schemas: the definition table, and a cross-check against nervaluate 1.2.1."""

from __future__ import annotations

import random

import pytest
from nervaluate import Evaluator

from medner.corpus.document import Document, Entity
from medner.evaluation.semeval import SCHEMAS, pool_semeval, score_semeval, semeval_span_scores
from medner.evaluation.span import Span
from nested_numbers import flat

NERVALUATE_NAME = {"strict": "strict", "exact": "exact", "partial": "partial", "type": "ent_type"}
FIELDS = ("correct", "incorrect", "partial", "missed", "spurious")


def counts(result: dict, schema: str) -> tuple[int, ...]:
    return tuple(result[schema][k] for k in FIELDS)


def ours(gold: list[list[Span]], pred: list[list[Span]], labels=("A", "B", "C")) -> dict:
    return semeval_span_scores(gold, pred, list(labels))


def theirs(gold: list[list[Span]], pred: list[list[Span]], labels=("A", "B", "C")) -> dict:
    """nervaluate's results; its offsets are inclusive, so a half-open span ends at end - 1."""

    def as_dicts(docs):
        return [[{"label": s.label, "start": s.start, "end": s.end - 1} for s in spans] for spans in docs]

    # nervaluate infers its loader from the first document, so the data starts with an empty-safe document.
    results = Evaluator(as_dicts([[Span("A", 1000, 1001)], *gold]), as_dicts([[Span("A", 1000, 1001)], *pred]),
                        tags=list(labels), loader="dict").evaluate()
    out = {"overall": {}, "labels": {}}
    for schema, name in NERVALUATE_NAME.items():
        r = results["overall"][name]
        out["overall"][schema] = {
            "correct": r.correct - 1, "incorrect": r.incorrect, "partial": r.partial, "missed": r.missed, "spurious": r.spurious,
        }
    for label, by_schema in results["entities"].items():
        out["labels"][label] = {}
        for schema, name in NERVALUATE_NAME.items():
            r = by_schema[name]
            out["labels"][label][schema] = {
                "correct": r.correct - (label == "A"), "incorrect": r.incorrect, "partial": r.partial,
                "missed": r.missed, "spurious": r.spurious,
            }
    return out


@pytest.mark.parametrize(
    "pred, expected",
    [
        # pred vs gold A[10,20)      strict          exact           partial         type
        (Span("A", 10, 20), {"strict": (1, 0, 0, 0, 0), "exact": (1, 0, 0, 0, 0), "partial": (1, 0, 0, 0, 0), "type": (1, 0, 0, 0, 0)}),
        (Span("B", 10, 20), {"strict": (0, 1, 0, 0, 0), "exact": (1, 0, 0, 0, 0), "partial": (1, 0, 0, 0, 0), "type": (0, 1, 0, 0, 0)}),
        (Span("A", 12, 25), {"strict": (0, 1, 0, 0, 0), "exact": (0, 1, 0, 0, 0), "partial": (0, 0, 1, 0, 0), "type": (1, 0, 0, 0, 0)}),
        (Span("B", 12, 25), {"strict": (0, 1, 0, 0, 0), "exact": (0, 1, 0, 0, 0), "partial": (0, 0, 1, 0, 0), "type": (0, 1, 0, 0, 0)}),
        (Span("A", 20, 30), {s: (0, 0, 0, 1, 1) for s in SCHEMAS}),
    ],
)
def test_the_segura_bedmar_table(pred, expected):
    result = ours([[Span("A", 10, 20)]], [[pred]])["overall"]
    assert {s: counts(result, s) for s in SCHEMAS} == expected
    assert {s: counts(theirs([[Span("A", 10, 20)]], [[pred]])["overall"], s) for s in SCHEMAS} == expected


def test_precision_and_recall_formulas():
    gold = [[Span("A", 0, 5), Span("A", 10, 15), Span("B", 20, 25), Span("C", 30, 35)]]
    pred = [[Span("A", 0, 5), Span("A", 11, 15), Span("A", 20, 25), Span("C", 50, 55)]]
    result = ours(gold, pred)["overall"]
    assert counts(result, "strict") == (1, 2, 0, 1, 1)
    assert result["strict"]["precision"] == pytest.approx(1 / 4) and result["strict"]["recall"] == pytest.approx(1 / 4)
    assert counts(result, "partial") == (2, 0, 1, 1, 1)
    assert result["partial"]["precision"] == pytest.approx(2.5 / 4)
    assert counts(result, "type") == (2, 1, 0, 1, 1)
    assert result["type"]["f1"] == pytest.approx(0.5)
    assert result["strict"]["possible"] == 4 and result["strict"]["actual"] == 4


def random_layer(rng: random.Random, length: int, labels: str, density: float) -> list[Span]:
    """Non-overlapping random spans over positions [0, length), as a BIO tagger would produce."""
    spans, i = [], 0
    while i < length:
        if rng.random() < density:
            end = min(length, i + rng.randrange(1, 5))
            spans.append(Span(rng.choice(labels), i, end))
            i = end + rng.randrange(0, 2)
        else:
            i += 1
    return spans


def one_to_one(gold: list[Span], pred: list[Span]) -> bool:
    """No entity overlaps two on the other side."""
    def ov(a, b):
        return a.start < b.end and b.start < a.end
    return all(sum(ov(g, p) for p in pred) <= 1 for g in gold) and all(sum(ov(g, p) for g in gold) <= 1 for p in pred)


def test_random_cross_check_against_nervaluate():
    rng = random.Random(13)
    unambiguous = ambiguous_type_differences = 0
    for _ in range(400):
        n_docs = rng.randrange(1, 4)
        gold = [random_layer(rng, 30, "ABC", 0.3) for _ in range(n_docs)]
        pred = [random_layer(rng, 30, "ABC", 0.3) for _ in range(n_docs)]
        a = ours(gold, pred)
        b = theirs(gold, pred)
        # strict, exact and partial agree on any non-overlapping gold and predictions.
        for schema in ("strict", "exact", "partial"):
            assert counts(a["overall"], schema) == counts(b["overall"], schema), (schema, gold, pred)
        # The type schema agrees whenever overlaps pair entities one to one (differences 2 and 3 need more).
        if all(one_to_one(g, p) for g, p in zip(gold, pred)):
            unambiguous += 1
            assert counts(a["overall"], "type") == counts(b["overall"], "type"), (gold, pred)
        else:
            ambiguous_type_differences += counts(a["overall"], "type") != counts(b["overall"], "type")
        for schema in SCHEMAS:
            r = a["overall"][schema]
            assert r["possible"] == sum(len(g) for g in gold) and r["actual"] == sum(len(p) for p in pred)
    assert unambiguous > 50
    assert ambiguous_type_differences > 0


def test_per_label_counts_of_nervaluate_are_ours_on_one_label_at_a_time():
    rng = random.Random(7)
    for _ in range(200):
        gold = [random_layer(rng, 30, "ABC", 0.3) for _ in range(2)]
        pred = [random_layer(rng, 30, "ABC", 0.3) for _ in range(2)]
        b = theirs(gold, pred)
        for label, by_schema in b["labels"].items():
            only = ours([[s for s in g if s.label == label] for g in gold], [[s for s in p if s.label == label] for p in pred])
            for schema in ("strict", "exact", "partial", "type"):
                assert counts(only["overall"], schema) == counts(by_schema, schema), (label, schema)


def test_difference_per_label_attribution_of_a_type_mismatch():
    gold, pred = [[Span("A", 0, 5)]], [[Span("B", 0, 5)]]
    a, b = ours(gold, pred), theirs(gold, pred)
    assert counts(a["overall"], "strict") == counts(b["overall"], "strict") == (0, 1, 0, 0, 0)
    # Ours: the INC belongs to the gold label A, so labels add up to the overall counts.
    assert counts(a["labels"]["A"], "strict") == (0, 1, 0, 0, 0)
    assert counts(a["labels"]["B"], "strict") == (0, 0, 0, 0, 0)
    # nervaluate scores each label alone: A is missed, B is spurious, and no INC is left.
    assert counts(b["labels"]["A"], "strict") == (0, 0, 0, 1, 0)
    assert counts(b["labels"]["B"], "strict") == (0, 0, 0, 0, 1)


def test_difference_split_entity_with_a_wrong_label_first_half():
    gold = [[Span("A", 0, 10)]]
    pred = [[Span("B", 0, 4), Span("A", 5, 10)]]
    # Ours: the correctly labelled half is tried first in the type schema: COR + SPU.
    assert counts(ours(gold, pred)["overall"], "type") == (1, 0, 0, 0, 1)
    # nervaluate: the first half takes the gold entity as INC, the second is SPU.
    assert counts(theirs(gold, pred)["overall"], "type") == (0, 1, 0, 0, 1)


def test_difference_exact_match_preferred_over_an_earlier_overlap():
    gold = [[Span("A", 5, 10)]]
    pred = [[Span("A", 0, 7), Span("A", 5, 10)]]  # overlapping predictions: the first one partly overlaps
    assert counts(ours(gold, pred)["overall"], "strict") == (1, 0, 0, 0, 1)
    assert counts(theirs(gold, pred)["overall"], "strict") == (0, 1, 0, 0, 1)


def test_difference_closest_versus_leftmost_gold_in_the_type_schema():
    gold = [[Span("A", 0, 2), Span("A", 3, 12)]]
    pred = [[Span("A", 0, 10), Span("A", 10, 12)]]
    # Ours: the first prediction takes the leftmost gold entity, the second the other: 2 COR.
    assert counts(ours(gold, pred)["overall"], "type") == (2, 0, 0, 0, 0)
    # nervaluate takes the closest boundaries (3,12) for the first; the second finds it taken: COR, MIS, SPU.
    assert counts(theirs(gold, pred)["overall"], "type") == (1, 0, 0, 1, 1)


def test_score_semeval_on_documents_uses_outer_extents_and_pairs_by_id():
    text = "x" * 40
    gold = [Document("a", text, [Entity("T1", "Drug", ((0, 3), (6, 9)), "xxx xxx")]), Document("b", text, [])]
    pred = [Document("a", text, [Entity("T1", "Drug", ((0, 9),), "x" * 9)])]
    result = score_semeval(gold, pred)
    assert counts(result["overall"], "strict") == (1, 0, 0, 0, 0)
    assert result["documents"] == {"scored": 2, "missing_predictions": 1}
    assert result["labels"]["Drug"]["strict"]["f1"] == 1.0


def test_pooling_two_halves_gives_the_scores_of_the_whole():
    rng = random.Random(3)
    gold = [random_layer(rng, 40, "ABC", 0.3) for _ in range(30)]
    pred = [random_layer(rng, 40, "ABC", 0.3) for _ in range(30)]
    whole = semeval_span_scores(gold, pred, ["A", "B", "C"])
    pooled = pool_semeval([semeval_span_scores(gold[:11], pred[:11], ["A", "B", "C"]),
                           semeval_span_scores(gold[11:], pred[11:], ["A", "B", "C"])])
    assert flat(pooled) == pytest.approx(flat(whole))

