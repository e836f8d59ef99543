"""Relation scoring, n2c2-2018 Track 2 style: hand-made cases, the organisers' script's counts, statistics, folders."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from medner.cli import main
from medner.corpus.brat import write_brat_folder
from medner.corpus.document import Document, Entity, Relation
from medner.evaluation.relations import (
    RelationSpans,
    evaluate_folders,
    relation_counts,
    relation_document_counts,
    relation_spans,
    score_relations,
)
from medner.evaluation.span import Span, score_folders
from medner.evaluation.statistics import approximate_randomisation_counts, bootstrap_ci_counts

TEXT = "aspirin 81 mg po daily for chest pain; metoprolol 25 mg tablet bid; rash\n"


def at(label: str, phrase: str, eid: str, *, shift: tuple[int, int] = (0, 0)) -> Entity:
    """The entity ``eid`` over ``phrase`` in TEXT, its start and end moved by ``shift``."""
    start = TEXT.index(phrase) + shift[0]
    end = TEXT.index(phrase) + len(phrase) + shift[1]
    return Entity(eid, label, ((start, end),), TEXT[start:end])


def gold_entities() -> list[Entity]:
    return [
        at("Drug", "aspirin", "T1"), at("Strength", "81 mg", "T2"), at("Route", "po", "T3"),
        at("Frequency", "daily", "T4"), at("Reason", "chest pain", "T5"),
        at("Drug", "metoprolol", "T6"), at("Strength", "25 mg", "T7"), at("Form", "tablet", "T8"),
    ]


def gold_relations() -> list[Relation]:
    links = [("Strength-Drug", "T2", "T1"), ("Route-Drug", "T3", "T1"), ("Frequency-Drug", "T4", "T1"),
             ("Reason-Drug", "T5", "T1"), ("Strength-Drug", "T7", "T6"), ("Form-Drug", "T8", "T6")]
    return [Relation(f"R{i}", t, a1, a2) for i, (t, a1, a2) in enumerate(links, 1)]


def gold_doc(doc_id: str = "d1") -> Document:
    return Document(doc_id, TEXT, gold_entities(), relations=gold_relations())


def micro(scores: dict, mode: str) -> tuple[int, int, int, int]:
    m = scores[mode]["micro"]
    return m["tp"], m["fp"], m["fn"], m["dropped"]


def typed(scores: dict, mode: str, relation_type: str) -> tuple[int, int, int, int]:
    s = scores[mode]["per_type"][relation_type]
    return s["tp"], s["fp"], s["fn"], s["dropped"]


def test_gold_against_itself_scores_one_everywhere_even_with_a_duplicated_link():
    gold = gold_doc()
    gold.relations.append(Relation("R7", "Strength-Drug", "T2", "T1"))  # the same link twice, as PHEE has
    scores = score_relations([gold], [gold])
    for mode in ("strict", "lenient"):
        for name in ("micro", "macro", "weighted", "overall_macro"):
            block = scores[mode][name]
            assert block["precision"] == block["recall"] == block["f1"] == 1.0, (mode, name)
        assert micro(scores, mode) == (7, 0, 0, 0)
        assert scores[mode]["per_type"]["Strength-Drug"]["support"] == 3
    assert list(scores["strict"]["per_type"]) == ["Strength-Drug", "Form-Drug", "Frequency-Drug", "Route-Drug", "Reason-Drug"]
    assert scores["strict"]["macro"]["n_types"] == 5
    assert scores["documents"] == {"scored": 1, "missing_predictions": 0}
    assert scores["ignored"] == {"gold": {}, "pred": {}}


def test_predicted_entity_ids_are_unrelated_to_the_gold_ids():
    gold = gold_doc()
    rename = {f"T{i}": f"T{100 - i}" for i in range(1, 9)}
    entities = [Entity(rename[e.id], e.label, e.fragments, e.text) for e in reversed(gold.entities)]
    relations = [Relation(f"R{50 + i}", r.type, rename[r.arg1], rename[r.arg2]) for i, r in enumerate(gold.relations)]
    scores = score_relations([gold], [Document("d1", TEXT, entities, relations=relations)])
    assert micro(scores, "strict") == (6, 0, 0, 0)


def test_strict_needs_the_same_extents_lenient_overlapping_ones():
    entities = gold_entities()
    entities[1] = at("Strength", "81 mg", "T2", shift=(0, -3))  # "81" for "81 mg"
    entities[5] = at("Drug", "metoprolol", "T6", shift=(2, 0))  # the drug of two links, shortened
    pred = Document("d1", TEXT, entities, relations=gold_relations())
    scores = score_relations([gold_doc()], [pred])
    assert micro(scores, "strict") == (3, 3, 3, 0)
    assert typed(scores, "strict", "Strength-Drug") == (0, 2, 2, 0)
    assert typed(scores, "strict", "Form-Drug") == (0, 1, 1, 0)
    assert micro(scores, "lenient") == (6, 0, 0, 0)
    assert scores["strict"]["per_type"]["Form-Drug"]["f1"] == 0.0
    assert scores["lenient"]["micro"]["f1"] == 1.0


def test_an_argument_with_the_right_extent_but_the_wrong_label_does_not_match():
    entities = gold_entities()
    entities[1] = at("Dosage", "81 mg", "T2")  # the NER mislabelled the attribute; the relation type is still right
    pred = Document("d1", TEXT, entities, relations=gold_relations())
    scores = score_relations([gold_doc()], [pred])
    for mode in ("strict", "lenient"):
        assert typed(scores, mode, "Strength-Drug") == (1, 1, 1, 0)
        assert micro(scores, mode) == (5, 1, 1, 0)


def test_a_wrong_type_is_a_false_positive_of_its_type_and_a_miss_of_the_gold_type():
    relations = gold_relations()
    relations[1] = Relation("R2", "Dosage-Drug", "T3", "T1")  # Route-Drug in the gold
    scores = score_relations([gold_doc()], [Document("d1", TEXT, gold_entities(), relations=relations)])
    for mode in ("strict", "lenient"):
        assert typed(scores, mode, "Route-Drug") == (0, 0, 1, 0)
        assert typed(scores, mode, "Dosage-Drug") == (0, 1, 0, 0)
        assert micro(scores, mode) == (5, 1, 1, 0)
    # Dosage-Drug is only predicted: it is averaged (with zeros) in macro, and has no gold support.
    assert scores["strict"]["macro"]["n_types"] == 6
    assert scores["strict"]["per_type"]["Dosage-Drug"]["support"] == 0


def test_swapped_arguments_do_not_match():
    relations = gold_relations()
    relations[0] = Relation("R1", "Strength-Drug", "T1", "T2")  # drug as Arg1, strength as Arg2
    scores = score_relations([gold_doc()], [Document("d1", TEXT, gold_entities(), relations=relations)])
    for mode in ("strict", "lenient"):
        assert typed(scores, mode, "Strength-Drug") == (1, 1, 1, 0)


def test_a_duplicate_prediction_is_dropped_not_a_false_positive():
    relations = [*gold_relations(), Relation("R9", "Strength-Drug", "T2", "T1")]
    pred = Document("d1", TEXT, gold_entities(), relations=relations)
    scores = score_relations([gold_doc()], [pred])
    for mode in ("strict", "lenient"):
        assert typed(scores, mode, "Strength-Drug") == (2, 0, 0, 1)
        assert scores[mode]["micro"]["precision"] == 1.0


def test_two_overlapping_predictions_of_one_link_lenient_one_counts_and_one_is_dropped():
    # Two predicted strengths overlap the gold "81 mg", each linked to aspirin.
    entities = [at("Drug", "aspirin", "T1"), at("Strength", "81 mg", "T2", shift=(0, -3)), at("Strength", "81 mg", "T3", shift=(3, 0))]
    pred = Document("d1", TEXT, entities, relations=[Relation("R1", "Strength-Drug", "T2", "T1"),
                                                      Relation("R2", "Strength-Drug", "T3", "T1")])
    gold = Document("d1", TEXT, gold_entities()[:2], relations=gold_relations()[:1])
    scores = score_relations([gold], [pred])
    assert micro(scores, "strict") == (0, 2, 1, 0)
    assert micro(scores, "lenient") == (1, 0, 0, 1)


def test_lenient_prefers_the_exact_link_then_the_leftmost_overlapping_one():
    drug = Span("Drug", 0, 7)
    gold = [RelationSpans("Strength-Drug", Span("Strength", 10, 13), drug),
            RelationSpans("Strength-Drug", Span("Strength", 15, 20), drug)]
    # The first prediction (in order) overlaps both gold links; the second is exactly the first gold link.
    wide = RelationSpans("Strength-Drug", Span("Strength", 9, 16), drug)
    pred = [wide, RelationSpans("Strength-Drug", Span("Strength", 10, 13), drug)]
    assert relation_counts(gold, pred, "strict") == (1, 1, 1, 0)
    # Overlap alone, in order, would give the first link to the wide prediction and drop the exact one.
    assert relation_counts(gold, pred, "lenient") == (2, 0, 0, 0)
    assert relation_counts(gold, [wide] * 3, "lenient") == (2, 0, 0, 1)


def test_zero_divisions_give_zero_and_empty_types_are_not_averaged():
    no_links = Document("d1", TEXT, gold_entities())
    only_pred = score_relations([no_links], [gold_doc()])
    assert micro(only_pred, "strict") == (0, 6, 0, 0)
    assert only_pred["strict"]["micro"] == pytest.approx({"tp": 0, "fp": 6, "fn": 0, "dropped": 0,
                                                           "precision": 0.0, "recall": 0.0, "f1": 0.0})
    only_gold = score_relations([gold_doc()], [no_links])
    assert only_gold["lenient"]["micro"]["recall"] == only_gold["lenient"]["micro"]["precision"] == 0.0
    nothing = score_relations([no_links], [no_links], types=["ADE-Drug"])
    assert nothing["strict"]["per_type"]["ADE-Drug"] == {"tp": 0, "fp": 0, "fn": 0, "dropped": 0, "support": 0,
                                                         "precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert nothing["strict"]["macro"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "n_types": 0}
    assert score_relations([no_links], [no_links])["strict"]["per_type"] == {}


def test_a_missing_prediction_misses_every_link_and_types_choose_what_is_scored():
    scores = score_relations([gold_doc("d1"), gold_doc("d2")], [gold_doc("d1")], types=["Strength-Drug", "ADE-Drug"])
    assert scores["documents"] == {"scored": 2, "missing_predictions": 1}
    assert micro(scores, "strict") == (2, 0, 2, 0)
    assert list(scores["strict"]["per_type"]) == ["Strength-Drug", "ADE-Drug"]
    assert scores["ignored"]["gold"] == {"Form-Drug": 2, "Frequency-Drug": 2, "Reason-Drug": 2, "Route-Drug": 2}
    assert scores["ignored"]["pred"] == {"Form-Drug": 1, "Frequency-Drug": 1, "Reason-Drug": 1, "Route-Drug": 1}
    with pytest.raises(ValueError, match="more than once"):
        score_relations([gold_doc()], [], types=["ADE-Drug", "ADE-Drug"])
    with pytest.raises(ValueError, match="empty type list"):
        score_relations([gold_doc()], [], types=[])


@pytest.mark.parametrize("side", ["gold", "predicted"])
def test_a_relation_naming_no_entity_of_its_document_is_an_error(side):
    broken = gold_doc()
    broken.relations.append(Relation("R8", "ADE-Drug", "T42", "T1"))
    gold, pred = (broken, gold_doc()) if side == "gold" else (gold_doc(), broken)
    with pytest.raises(ValueError, match=f"^{side} document d1: relation R8 names Arg1:T42, expected an entity id"):
        score_relations([gold], [pred])


def test_the_setting_with_gold_entities_and_the_end_to_end_setting_use_one_function():
    # With gold entities: the relation model missed one link and invented one.
    given = Document("d1", TEXT, gold_entities(), relations=[*gold_relations()[1:], Relation("R9", "Strength-Drug", "T7", "T1")])
    with_gold_entities = score_relations([gold_doc()], [given])
    assert micro(with_gold_entities, "strict") == (5, 1, 1, 0)
    # End to end: the NER also lost "tablet", so its link cannot be predicted.
    entities = [e for e in gold_entities() if e.id != "T8"]
    e2e = Document("d1", TEXT, entities, relations=[r for r in given.relations if r.arg1 != "T8"])
    assert micro(score_relations([gold_doc()], [e2e]), "strict") == (4, 1, 2, 0)


def script_counts(gold: list[RelationSpans], pred: list[RelationSpans], mode: str) -> tuple[int, int, int]:
    """tp, fp, fn as the organisers' ``track2_eval.py`` counts the relations of one file (objects by identity)."""

    def equals(g: RelationSpans, s: RelationSpans) -> bool:
        def arg(a: Span, b: Span) -> bool:
            if a.label != b.label:
                return False
            return (a.start, a.end) == (b.start, b.end) if mode == "strict" else (a.start < b.end and b.start < a.end)

        return g.type == s.type and arg(g.arg1, s.arg1) and arg(g.arg2, s.arg2)

    kept, matched = list(range(len(pred))), []
    for s in range(len(pred)):
        for g in range(len(gold)):
            if equals(gold[g], pred[s]):
                if g not in matched:
                    matched.append(g)
                elif s in kept:
                    kept.remove(s)
    tp = len({s for s in kept for g in gold if equals(g, pred[s])})
    return tp, len(kept) - tp, len(gold) - tp


def random_document(rng: random.Random) -> tuple[list[RelationSpans], list[RelationSpans]]:
    """Distinct gold links between disjoint entities; predictions: some links kept, moved inside their entities, retyped, swapped, repeated."""
    labels = ["Drug", "Strength", "Route", "Frequency"]
    spans, position = [], 0
    for _ in range(rng.randint(2, 8)):
        position += rng.randint(2, 5)
        length = rng.randint(2, 6)
        spans.append(Span(rng.choice(labels), position, position + length))
        position += length
    pairs = {(a, b) for a in range(len(spans)) for b in range(len(spans)) if a != b}
    chosen = rng.sample(sorted(pairs), k=min(len(pairs), rng.randint(0, 6)))
    gold = [RelationSpans(f"{spans[a].label}-{spans[b].label}", spans[a], spans[b]) for a, b in chosen]
    pred = []
    for relation in gold:
        kind = rng.choice(["keep", "keep", "move", "drop", "retype", "swap", "twice"])
        moved = Span(relation.arg1.label, relation.arg1.start + rng.randint(0, 1), relation.arg1.end)
        pred += {"keep": [relation], "move": [relation._replace(arg1=moved)], "drop": [],
                 "retype": [relation._replace(type="ADE-Drug")], "swap": [relation._replace(arg1=relation.arg2, arg2=relation.arg1)],
                 "twice": [relation, relation._replace(arg1=moved)]}[kind]
    rng.shuffle(pred)
    return gold, pred


def test_counts_equal_the_organisers_script_where_every_prediction_matches_at_most_one_link():
    rng = random.Random(2018)
    checked = 0
    for _ in range(300):
        gold, pred = random_document(rng)
        for mode in ("strict", "lenient"):
            tp, fp, fn, dropped = relation_counts(gold, pred, mode)
            assert (tp, fp, fn) == script_counts(gold, pred, mode), (gold, pred, mode)
            assert dropped == len(pred) - tp - fp
            checked += len(pred)
    assert checked > 500


def corpus(n_docs: int) -> list[Document]:
    return [gold_doc(f"d{i:02d}") for i in range(n_docs)]


def test_document_counts_feed_the_bootstrap_and_the_paired_randomisation_test():
    gold = corpus(12)
    types = ["Strength-Drug", "Form-Drug", "Frequency-Drug", "Route-Drug", "Reason-Drug"]
    worse = [Document(d.id, TEXT, d.entities, relations=d.relations[:1]) for d in gold]
    good = [Document(d.id, TEXT, d.entities, relations=d.relations if i % 3 else d.relations[:4]) for i, d in enumerate(gold)]
    counts = relation_document_counts(gold, good, "strict", types)
    assert counts.shape == (12, 5, 4) and counts.dtype == np.int64
    scores = score_relations(gold, good, types=types)
    assert tuple(counts.sum(axis=(0, 1))) == micro(scores, "strict")
    interval = bootstrap_ci_counts(counts, types, n_boot=200, seed=0)
    assert interval["micro_f1"]["estimate"] == pytest.approx(scores["strict"]["micro"]["f1"])
    assert interval["micro_f1"]["low"] <= interval["micro_f1"]["estimate"] <= interval["micro_f1"]["high"] <= 1.0
    assert interval["n_documents"] == 12 and list(interval["labels"]) == types
    same = approximate_randomisation_counts(counts, counts, types, n_shuffles=200, seed=0)
    assert same["overall"] == {"delta": 0.0, "p_value": 1.0}
    bad = relation_document_counts(gold, worse, "strict", types)
    far = approximate_randomisation_counts(counts, bad, types, n_shuffles=200, seed=0)
    assert far["overall"]["delta"] > 0.5 and far["overall"]["p_value"] < 0.02
    with pytest.raises(ValueError, match="expected counts of shape"):
        bootstrap_ci_counts(counts, types[:2])


def test_relation_spans_resolve_arguments_in_document_order():
    spans = relation_spans(gold_doc())
    assert spans[0] == RelationSpans("Strength-Drug", Span("Strength", 8, 13), Span("Drug", 0, 7))
    assert relation_spans(None) == []


# ---- folders and `medner evaluate` ----

EVAL_TEXT = "started vancomycin 1 g IV q12h for MRSA bacteremia; rash on day 3.\n"

#: `medner evaluate` on the folders of `no_relation_folders`, as it printed before relations were scored.
TABLE_WITHOUT_RELATIONS = """\
                       ----------- strict -----------    ---------- lenient -----------
                        Prec.    Rec.      F1       n     Prec.    Rec.      F1       n
                 Drug  1.0000  1.0000  1.0000       1    1.0000  1.0000  1.0000       1
                Route  1.0000  1.0000  1.0000       1    1.0000  1.0000  1.0000       1
               Reason  0.0000  0.0000  0.0000       1    1.0000  1.0000  1.0000       1
                  ADE  0.0000  0.0000  0.0000       1    0.0000  0.0000  0.0000       1
                       ------------------------------------------------------------------
      Overall (micro)  0.6667  0.5000  0.5714            1.0000  0.7500  0.8571        
       Macro (labels)  0.5000  0.5000  0.5000            0.7500  0.7500  0.7500        
    Weighted (labels)  0.5000  0.5000  0.5000            0.7500  0.7500  0.7500        
Overall (macro, docs)  0.3333  0.3333  0.3333            0.5000  0.5000  0.5000        
               strict  tp 2  fp 1  fn 2  dropped 0
              lenient  tp 3  fp 0  fn 1  dropped 0
2 documents scored, 1 without a prediction file
"""


def eval_ent(eid: str, label: str, start: int, end: int) -> Entity:
    return Entity(eid, label, ((start, end),), EVAL_TEXT[start:end])


def eval_docs(with_relations: bool) -> tuple[list[Document], list[Document]]:
    gold = [
        Document("n1", EVAL_TEXT, [eval_ent("T1", "Drug", 8, 18), eval_ent("T2", "Route", 23, 25), eval_ent("T3", "Reason", 35, 50)]),
        Document("n2", EVAL_TEXT, [eval_ent("T1", "ADE", 52, 56)]),
    ]
    pred = [Document("n1", EVAL_TEXT, [eval_ent("T1", "Drug", 8, 18), eval_ent("T2", "Route", 23, 25), eval_ent("T3", "Reason", 40, 50)])]
    if with_relations:
        gold[0].relations = [Relation("R1", "Route-Drug", "T2", "T1"), Relation("R2", "Reason-Drug", "T3", "T1")]
        pred[0].relations = [Relation("R1", "Route-Drug", "T2", "T1"), Relation("R2", "Reason-Drug", "T3", "T1")]
    return gold, pred


def write_folders(tmp_path, gold: list[Document], pred: list[Document]):
    write_brat_folder(gold, tmp_path / "gold")
    write_brat_folder(pred, tmp_path / "pred", write_text=False)
    return tmp_path / "gold", tmp_path / "pred"


def evaluate(capsys, *argv) -> str:
    assert main(["evaluate", *map(str, argv)]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("pred_relations", [False, True])
def test_without_gold_relations_the_output_is_what_it_was(tmp_path, capsys, pred_relations):
    gold, _ = eval_docs(False)
    _, pred = eval_docs(pred_relations)  # predicted links alone do not switch relation scoring on
    gold_dir, pred_dir = write_folders(tmp_path, gold, pred)
    assert evaluate(capsys, gold_dir, pred_dir) == TABLE_WITHOUT_RELATIONS
    scores = json.loads(evaluate(capsys, gold_dir, pred_dir, "--json"))
    assert "relations" not in scores
    assert scores == json.loads(json.dumps(score_folders(gold_dir, pred_dir)))


def test_gold_relations_are_scored_in_the_json_and_as_a_second_table_block(tmp_path, capsys):
    gold_dir, pred_dir = write_folders(tmp_path, *eval_docs(True))
    scores = json.loads(evaluate(capsys, gold_dir, pred_dir, "--json"))
    relations = scores["relations"]
    assert set(relations) == {"strict", "lenient", "documents", "ignored"}
    # The Reason argument is only overlapped: the link counts in lenient mode alone.
    assert micro(relations, "strict") == (1, 1, 1, 0)
    assert micro(relations, "lenient") == (2, 0, 0, 0)
    assert list(relations["strict"]["per_type"]) == ["Route-Drug", "Reason-Drug"]
    assert {k: v for k, v in scores.items() if k != "relations"} == json.loads(json.dumps(score_folders(gold_dir, pred_dir)))

    table = evaluate(capsys, gold_dir, pred_dir)
    entity_block, relation_block = table.split("\n\n")
    assert entity_block + "\n" == TABLE_WITHOUT_RELATIONS
    lines = relation_block.splitlines()
    assert lines[0].split()[0] == "Relations" and "strict" in lines[0] and "lenient" in lines[0]
    rows = {line[:21].strip(): line[21:].split() for line in lines[2:]}
    assert rows["Route-Drug"] == ["1.0000", "1.0000", "1.0000", "1", "1.0000", "1.0000", "1.0000", "1"]
    assert rows["Reason-Drug"] == ["0.0000", "0.0000", "0.0000", "1", "1.0000", "1.0000", "1.0000", "1"]
    assert rows["Overall (micro)"] == ["0.5000", "0.5000", "0.5000", "1.0000", "1.0000", "1.0000"]
    assert rows["Macro (types)"] == ["0.5000", "0.5000", "0.5000", "1.0000", "1.0000", "1.0000"]
    assert [line.strip() for line in lines[-2:]] == ["strict  tp 1  fp 1  fn 1  dropped 0", "lenient  tp 2  fp 0  fn 0  dropped 0"]


def test_end_to_end_through_brat_folders(tmp_path):
    gold = corpus(3)
    pred = [gold_doc(d.id) for d in gold]
    pred[0].relations = pred[0].relations[:3]  # three links missed
    pred[1].entities = [at("Drug", "aspirin", "T1", shift=(0, -1)) if e.id == "T1" else e for e in pred[1].entities]
    gold_dir, pred_dir = write_folders(tmp_path, gold, pred[:2])
    scores = evaluate_folders(gold_dir, pred_dir)
    relations = scores["relations"]
    assert relations["documents"] == {"scored": 3, "missing_predictions": 1}
    # d00: 3 of 6; d01: the four aspirin links lose their exact drug; d02: no prediction file.
    assert micro(relations, "strict") == (3 + 2, 4, 3 + 4 + 6, 0)
    assert micro(relations, "lenient") == (3 + 6, 0, 3 + 6, 0)
    assert micro(score_relations(gold, gold), "strict") == (18, 0, 0, 0)
