"""The n2c2-2018 span scorer: hand-made cases, the organisers' script's behaviour, and folders."""

from __future__ import annotations

import random

import pytest

from medner.corpus.brat import write_brat_folder
from medner.corpus.document import Document, Entity
from medner.evaluation.span import (
    Span,
    document_label_counts,
    n2c2_counts,
    score_documents,
    score_folders,
    strict_micro_f1,
)

TEXT = "aspirin 81 mg po daily for chest pain; held for rash and nausea later " * 3


def ent(label: str, *fragments: tuple[int, int], eid: str = "T1") -> Entity:
    return Entity(eid, label, tuple(fragments), " ".join(TEXT[s:e] for s, e in fragments))


def doc(doc_id: str, *entities: Entity) -> Document:
    return Document(doc_id, TEXT, [Entity(f"T{i}", e.label, e.fragments, e.text) for i, e in enumerate(entities, 1)])


def test_strict_needs_same_label_and_bounds_lenient_needs_overlap():
    gold = [doc("d", ent("Drug", (0, 7)), ent("Strength", (8, 13)), ent("Reason", (26, 36)))]
    pred = [doc("d", ent("Drug", (0, 7)), ent("Strength", (8, 10)), ent("ADE", (26, 36)))]
    scores = score_documents(gold, pred)
    strict, lenient = scores["strict"], scores["lenient"]
    assert (strict["micro"]["tp"], strict["micro"]["fp"], strict["micro"]["fn"]) == (1, 2, 2)
    assert (lenient["micro"]["tp"], lenient["micro"]["fp"], lenient["micro"]["fn"]) == (2, 1, 1)
    assert strict["labels"]["Strength"] == pytest.approx(
        {"tp": 0, "fp": 1, "fn": 1, "dropped": 0, "support": 1, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    )
    assert lenient["labels"]["Strength"]["f1"] == 1.0
    # A label confusion is a miss of the gold label and a false positive of the predicted one, in both modes.
    assert lenient["labels"]["Reason"]["fn"] == 1 and lenient["labels"]["ADE"]["fp"] == 1
    assert strict["micro"]["precision"] == pytest.approx(1 / 3)
    assert strict["micro"]["f1"] == pytest.approx(2 * (1 / 3) * (1 / 3) / (2 / 3))


def test_touching_spans_do_not_overlap():
    assert n2c2_counts([Span("Drug", 0, 7)], [Span("Drug", 7, 10)], "lenient") == (0, 1, 1, 0)
    assert n2c2_counts([Span("Drug", 0, 7)], [Span("Drug", 6, 10)], "lenient") == (1, 0, 0, 0)


def test_discontinuous_entity_counts_by_outer_extent():
    gold = [doc("d", ent("ADE", (50, 54), (59, 65)))]  # "rash ... nausea"
    assert score_documents(gold, [doc("d", ent("ADE", (50, 65)))])["strict"]["micro"]["f1"] == 1.0
    assert score_documents(gold, [doc("d", ent("ADE", (50, 54)))])["strict"]["micro"]["tp"] == 0
    assert score_documents(gold, [doc("d", ent("ADE", (50, 54)))])["lenient"]["micro"]["tp"] == 1


def test_several_predictions_on_one_gold_entity_count_once_and_the_others_are_dropped():
    gold = [Span("Reason", 26, 36)]
    pred = [Span("Reason", 26, 31), Span("Reason", 32, 36), Span("Reason", 26, 36)]
    # Strict: the exact one is a TP; the two halves match nothing strictly, so they are false positives.
    assert n2c2_counts(gold, pred, "strict") == (1, 2, 0, 0)
    # Lenient: the exact one is preferred, the halves overlap an entity already taken: dropped.
    assert n2c2_counts(gold, pred, "lenient") == (1, 0, 0, 2)
    scores = score_documents([doc("d", ent("Reason", (26, 36)))], [doc("d", *(ent("Reason", (s.start, s.end)) for s in pred))])
    assert scores["lenient"]["micro"] == pytest.approx(
        {"tp": 1, "fp": 0, "fn": 0, "dropped": 2, "precision": 1.0, "recall": 1.0, "f1": 1.0}
    )


def test_leftmost_free_gold_entity_is_taken_so_a_spanning_prediction_does_not_block_others():
    gold = [Span("Drug", 0, 4), Span("Drug", 6, 10)]
    pred = [Span("Drug", 0, 8), Span("Drug", 8, 10)]
    assert n2c2_counts(gold, pred, "lenient") == (2, 0, 0, 0)


def organisers_counts(gold: list[Span], pred: list[Span], mode: str) -> tuple[int, int, int]:
    """What the organisers' track2_eval.py counts for one document, re-stated from its behaviour.

    It walks the predictions in file order; each prediction marks every gold entity it matches; a
    prediction that meets an already marked gold entity is removed. TP = kept predictions that match
    some gold entity, FP = other kept predictions, FN = gold - TP.
    """

    def match(g: Span, p: Span) -> bool:
        if g.label != p.label:
            return False
        return (g.start, g.end) == (p.start, p.end) if mode == "strict" else (g.start < p.end and p.start < g.end)

    marked: set[int] = set()
    kept = list(range(len(pred)))
    for p in range(len(pred)):
        for g in range(len(gold)):
            if match(gold[g], pred[p]):
                if g not in marked:
                    marked.add(g)
                elif p in kept:
                    kept.remove(p)
    tp = sum(1 for p in kept if any(match(g, pred[p]) for g in gold))
    return tp, len(kept) - tp, len(gold) - tp


def random_spans(rng: random.Random, n: int, labels: str) -> list[Span]:
    spans = []
    for _ in range(n):
        start = rng.randrange(0, 60)
        spans.append(Span(rng.choice(labels), start, start + rng.randrange(1, 8)))
    return spans


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_agrees_with_the_organisers_script_whenever_each_prediction_matches_at_most_one_gold_entity(mode):
    rng = random.Random(2018)
    compared = differed = 0
    for _ in range(3000):
        gold = random_spans(rng, rng.randrange(0, 6), "AB")
        pred = random_spans(rng, rng.randrange(0, 6), "AB")
        ours = n2c2_counts(gold, pred, mode)
        theirs = organisers_counts(gold, pred, mode)
        one_each = all(
            sum(1 for g in gold if g.label == p.label and (
                (g.start, g.end) == (p.start, p.end) if mode == "strict" else g.start < p.end and p.start < g.end
            )) <= 1
            for p in pred
        )
        tp, fp, fn, dropped = ours
        assert tp + fp + dropped == len(pred) and tp + fn == len(gold)
        if one_each:
            compared += 1
            assert ours[:3] == theirs, (gold, pred)
        else:
            differed += ours[:3] != theirs
    assert compared > 1000
    if mode == "lenient":
        assert differed > 0  # the departure documented in medner.evaluation.span is real


def test_duplicate_gold_entities_against_themselves_score_one_unlike_the_organisers_script():
    gold = [Span("Drug", 0, 7), Span("Drug", 0, 7), Span("ADE", 50, 54)]
    assert n2c2_counts(gold, list(gold), "strict") == (3, 0, 0, 0)
    # The script lets the first prediction mark both duplicates, removes the second: one FN.
    assert organisers_counts(gold, list(gold), "strict") == (2, 0, 1)


def test_macro_weighted_and_overall_macro_over_documents():
    gold = [
        doc("a", ent("Drug", (0, 7)), ent("Drug", (75, 82)), ent("Reason", (26, 36))),
        doc("b", ent("Drug", (0, 7))),
        doc("c"),  # no entities at all
    ]
    pred = [doc("a", ent("Drug", (0, 7)), ent("Reason", (26, 36))), doc("b", ent("Route", (14, 16))), doc("c")]
    strict = score_documents(gold, pred)["strict"]
    drug, reason, route = (strict["labels"][k] for k in ("Drug", "Reason", "Route"))
    assert (drug["tp"], drug["fp"], drug["fn"]) == (1, 0, 2)
    assert reason["f1"] == 1.0 and route["f1"] == 0.0 and route["support"] == 0
    assert strict["macro"]["f1"] == pytest.approx((drug["f1"] + 1.0 + 0.0) / 3)
    assert strict["macro"]["n_labels"] == 3
    assert strict["weighted"]["recall"] == pytest.approx((3 * (1 / 3) + 1 * 1.0) / 4)
    # Per document: a -> P 1, R 2/3; b -> 0; c -> 0 (no entities: 0.0, as the script); mean over 3.
    f1_a = 2 * 1 * (2 / 3) / (1 + 2 / 3)
    assert strict["overall_macro"] == pytest.approx(
        {"precision": 1 / 3, "recall": (2 / 3) / 3, "f1": f1_a / 3, "n_documents": 3}
    )


def test_requested_label_absent_everywhere_is_reported_with_zeros_but_not_averaged():
    gold = [doc("a", ent("Drug", (0, 7)))]
    scores = score_documents(gold, gold, labels=["Drug", "Form"])
    assert scores["strict"]["labels"]["Form"]["f1"] == 0.0
    assert scores["strict"]["macro"]["f1"] == 1.0 and scores["strict"]["macro"]["n_labels"] == 1


def test_labels_filter_counts_what_it_leaves_out():
    gold = [doc("a", ent("Drug", (0, 7)), ent("Treatment", (0, 13)))]
    pred = [doc("a", ent("Drug", (0, 7)), ent("Subject", (70, 77)))]
    scores = score_documents(gold, pred, labels=["Drug"])
    assert list(scores["strict"]["labels"]) == ["Drug"]
    assert scores["strict"]["micro"]["f1"] == 1.0
    assert scores["ignored"] == {"gold": {"Treatment": 1}, "pred": {"Subject": 1}}


def test_default_labels_are_in_n2c2_order_then_alphabetical():
    gold = [doc("a", ent("Zeta", (0, 7)), ent("Route", (14, 16)), ent("Drug", (0, 7)), ent("Alpha", (8, 10)))]
    assert list(score_documents(gold, gold)["strict"]["labels"]) == ["Drug", "Route", "Alpha", "Zeta"]


def test_missing_prediction_documents_count_and_extra_ones_are_errors():
    gold = [doc("a", ent("Drug", (0, 7))), doc("b", ent("Drug", (0, 7)))]
    scores = score_documents(gold, [doc("a", ent("Drug", (0, 7)))])
    assert scores["documents"] == {"scored": 2, "missing_predictions": 1}
    assert scores["strict"]["micro"]["fn"] == 1
    with pytest.raises(ValueError, match="1 without: zz"):
        score_documents(gold, [doc("zz")])
    with pytest.raises(ValueError, match="unique gold document ids"):
        score_documents([gold[0], gold[0]], [])


def test_undefined_ratios_are_zero():
    scores = score_documents([doc("a")], [doc("a")], labels=["Drug"])
    for mode in ("strict", "lenient"):
        for block in ("micro", "macro", "weighted", "overall_macro"):
            assert scores[mode][block]["f1"] == 0.0 and scores[mode][block]["precision"] == 0.0


def test_document_label_counts_shape_and_sums():
    gold = [doc("a", ent("Drug", (0, 7))), doc("b", ent("Reason", (26, 36)))]
    pred = [doc("b", ent("Reason", (26, 30)))]
    counts = document_label_counts(gold, pred, ["Drug", "Reason"], "lenient")
    assert counts.shape == (2, 2, 4)
    assert counts[0].tolist() == [[0, 0, 1, 0], [0, 0, 0, 0]]
    assert counts[1].tolist() == [[0, 0, 0, 0], [1, 0, 0, 0]]


def test_document_label_counts_agree_with_n2c2_counts_when_one_side_is_empty():
    """The shortcut for labels with nothing to match gives what the matcher gives, and modes are checked first."""
    spans = [Span("Drug", 0, 7), Span("Drug", 8, 13), Span("Drug", 0, 13)]
    gold = [doc("a", ent("Drug", (0, 7)), ent("Drug", (8, 13)), ent("Drug", (0, 13))), doc("b")]
    pred = [doc("a"), doc("b", ent("Drug", (0, 7)), ent("Drug", (8, 13)))]
    for mode in ("strict", "lenient"):
        counts = document_label_counts(gold, pred, ["Drug"], mode)
        assert counts[0, 0].tolist() == list(n2c2_counts(spans, [], mode)) == [0, 0, 3, 0]
        assert counts[1, 0].tolist() == list(n2c2_counts([], spans[:2], mode)) == [0, 2, 0, 0]
    with pytest.raises(ValueError, match="expected mode to be one of"):
        document_label_counts([doc("a")], [doc("a")], ["Drug"], "partial")


def test_score_folders_reads_predictions_against_the_gold_text(tmp_path):
    gold = [doc("a", ent("Drug", (0, 7)), ent("Reason", (26, 36))), doc("b", ent("Drug", (0, 7)))]
    write_brat_folder(gold, tmp_path / "gold")
    write_brat_folder([doc("a", ent("Drug", (0, 7)))], tmp_path / "pred", write_text=False)
    scores = score_folders(tmp_path / "gold", tmp_path / "pred")
    assert scores["documents"] == {"scored": 2, "missing_predictions": 1}
    assert (scores["strict"]["micro"]["tp"], scores["strict"]["micro"]["fn"]) == (1, 2)

    (tmp_path / "pred" / "c.ann").write_text("")
    with pytest.raises(ValueError, match=r"1 without: c\.ann"):
        score_folders(tmp_path / "gold", tmp_path / "pred")
    (tmp_path / "pred" / "c.ann").unlink()

    other = Document("a", "x" * len(TEXT), [])
    write_brat_folder([other], tmp_path / "pred")
    with pytest.raises(ValueError, match="a.txt: expected the same text"):
        score_folders(tmp_path / "gold", tmp_path / "pred")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        score_folders(tmp_path / "gold", tmp_path / "nowhere")


def test_strict_micro_f1_alone_is_score_documents_strict_micro_f1():
    """Duplicates on either side, labels left out, documents without predictions: the same number, exactly."""
    rng = random.Random(7)
    for trial in range(300):
        gold, pred = [], []
        for d in range(rng.randrange(1, 5)):
            spans = random_spans(rng, rng.randrange(0, 7), "ABC")
            gold.append(doc(f"d{d}", *(ent(s.label, (s.start, s.end)) for s in spans)))
            if rng.random() < 0.8:  # else: no prediction file for this document
                guesses = [*rng.sample(spans, rng.randrange(0, len(spans) + 1)),
                           *random_spans(rng, rng.randrange(0, 4), "ABC")]
                guesses += rng.sample(guesses, rng.randrange(0, len(guesses) + 1))  # duplicated predictions
                pred.append(doc(f"d{d}", *(ent(s.label, (s.start, s.end)) for s in guesses)))
        labels = None if trial % 3 == 0 else ["A", "B"]
        if labels is None and not any(d.entities for d in [*gold, *pred]):
            continue
        expected = score_documents(gold, pred, labels=labels)["strict"]["micro"]["f1"]
        assert strict_micro_f1(gold, pred, labels=labels) == expected
    with pytest.raises(ValueError, match="without"):
        strict_micro_f1(gold, [doc("elsewhere")], labels=["A"])


def test_pooled_scores_of_disjoint_document_sets_are_the_scores_of_their_union():
    """The folds of a cross-validation: scoring each fold and pooling equals scoring every document at once
    (counts exactly; averages to float rounding), with labels absent from some folds and documents without
    predictions."""
    from medner.evaluation.span import pool_scores

    rng = random.Random(11)
    for _ in range(50):
        gold, pred = [], []
        for d in range(rng.randrange(3, 12)):
            spans = random_spans(rng, rng.randrange(0, 6), "ABC")
            gold.append(doc(f"d{d}", *(ent(s.label, (s.start, s.end)) for s in spans)))
            if rng.random() < 0.9:
                guesses = [*rng.sample(spans, rng.randrange(0, len(spans) + 1)), *random_spans(rng, rng.randrange(0, 3), "ABD")]
                pred.append(doc(f"d{d}", *(ent(s.label, (s.start, s.end)) for s in guesses)))
        cut = sorted(rng.sample(range(1, len(gold)), 2))
        parts = [gold[: cut[0]], gold[cut[0] : cut[1]], gold[cut[1] :]]
        labels = ["A", "B", "C"]
        whole = score_documents(gold, pred, labels=labels)
        pooled = pool_scores([score_documents(part, [p for p in pred if p.id in {g.id for g in part}], labels=labels)
                              for part in parts])
        for mode in ("strict", "lenient"):
            for key in ("tp", "fp", "fn", "dropped"):
                assert pooled[mode]["micro"][key] == whole[mode]["micro"][key]
                assert all(pooled[mode]["labels"][lab][key] == whole[mode]["labels"][lab][key] for lab in labels)
            for average in ("micro", "macro", "weighted", "overall_macro"):
                for metric in ("precision", "recall", "f1"):
                    assert pooled[mode][average][metric] == pytest.approx(whole[mode][average][metric], abs=1e-12)
        assert pooled["documents"] == whole["documents"] and pooled["ignored"] == whole["ignored"]
    with pytest.raises(ValueError, match="same labels|expected every part scored on the labels"):
        pool_scores([score_documents(gold, pred, labels=["A"]), score_documents(gold, pred, labels=["B"])])
