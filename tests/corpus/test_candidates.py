"""Candidate (attribute, drug) pairs: the sentence window, checked against a brute-force reading of the
policy, and how many gold relations the pairs reach, per type and reason."""

from __future__ import annotations

import random

import pytest

from medner.corpus.candidates import CandidateReach, candidate_pairs, candidate_reach
from medner.corpus.document import Document, Entity, Relation
from medner.corpus.tokenize import sentences_of

TEXT = "1. Metoprolol 25 mg Tablet\nSig: One Tablet PO BID.\nStarted heparin for DVT. Developed rash."
#       0         1         2          3         4          5         6         7         8
#       012345678901234567890123456 789012345678901234567890 1234567890123456789012345678901234567


def ent(eid: str, label: str, piece: str, text: str = TEXT, after: int = 0) -> Entity:
    start = text.index(piece, after)
    return Entity(eid, label, ((start, start + len(piece)),), piece)


def note() -> Document:
    """Four sentences: a list item, its Sig line, a narrative sentence, an ADE sentence."""
    entities = [ent("T1", "Drug", "Metoprolol"), ent("T2", "Strength", "25 mg"), ent("T3", "Dosage", "One Tablet"),
                ent("T4", "Route", "PO"), ent("T5", "Drug", "heparin"), ent("T6", "Reason", "DVT"), ent("T7", "ADE", "rash")]
    relations = [Relation("R1", "Strength-Drug", "T2", "T1"), Relation("R2", "Dosage-Drug", "T3", "T1"),
                 Relation("R3", "Route-Drug", "T4", "T1"), Relation("R4", "Reason-Drug", "T6", "T5"),
                 Relation("R5", "ADE-Drug", "T7", "T5"), Relation("R6", "ADE-Drug", "T7", "T1"),
                 Relation("R7", "Drug-Reason", "T5", "T6")]
    return Document("n", TEXT, entities, relations=relations)


def test_the_note_has_the_sentences_the_fixture_says():
    assert [" ".join(s.words) for s in sentences_of(note())] == [
        "1 . Metoprolol 25 mg Tablet", "Sig : One Tablet PO BID .", "Started heparin for DVT .", "Developed rash ."]


def test_the_window_decides_which_pairs_are_candidates():
    pairs = {(p.attribute.id, p.drug.id): p.distance for p in candidate_pairs(note(), window=1)}
    assert pairs == {("T2", "T1"): 0, ("T3", "T1"): 1, ("T4", "T1"): 1,  # the Sig line is the next sentence
                     ("T6", "T5"): 0, ("T7", "T5"): 1, ("T4", "T5"): 1, ("T3", "T5"): 1}
    same_sentence = {(p.attribute.id, p.drug.id) for p in candidate_pairs(note(), window=0)}
    assert same_sentence == {("T2", "T1"), ("T6", "T5")}
    assert len(candidate_pairs(note(), window=3)) == 2 * 5
    assert {p.relation_type for p in candidate_pairs(note(), window=0)} == {"Strength-Drug", "Reason-Drug"}


def test_reach_counts_every_gold_relation_reached_or_why_not():
    reach = candidate_reach([note()], window=1).as_dict()
    assert reach["window"] == 1 and reach["pairs"] == 7
    assert list(reach["per_type"]) == ["Strength-Drug", "Dosage-Drug", "Route-Drug", "Reason-Drug", "ADE-Drug", "Drug-Reason"]
    assert reach["per_type"]["ADE-Drug"] == {"gold": 2, "reached": 1, "outside_window": 1, "not_attribute_drug": 0,
                                             "share": 0.5}
    assert reach["per_type"]["Drug-Reason"] == {"gold": 1, "reached": 0, "outside_window": 0, "not_attribute_drug": 1,
                                                "share": 0.0}
    assert reach["total"] == {"gold": 7, "reached": 5, "outside_window": 1, "not_attribute_drug": 1, "share": 5 / 7}
    same_sentence = candidate_reach([note()], window=0).as_dict()
    assert same_sentence["per_type"]["Dosage-Drug"]["outside_window"] == 1 and same_sentence["total"]["reached"] == 2
    for row in [*reach["per_type"].values(), reach["total"]]:
        assert row["gold"] == row["reached"] + row["outside_window"] + row["not_attribute_drug"]


def test_reach_adds_up_over_parts_and_refuses_another_window():
    whole = candidate_reach([note(), note()], window=1)
    part = candidate_reach([note()], window=1)
    part.add(candidate_reach([note()], window=1))
    assert part.as_dict() == whole.as_dict()
    with pytest.raises(ValueError, match="window 0 to window 1"):
        part.add(CandidateReach(window=0))
    assert CandidateReach(window=1).as_dict()["total"]["share"] is None


@pytest.mark.parametrize("window", [-1, 1.5, True])
def test_a_window_that_is_not_a_count_of_sentences_is_refused(window):
    with pytest.raises(ValueError, match="expected a number of sentences >= 0"):
        candidate_pairs(note(), window=window)


def brute_force_pairs(doc: Document, window: int) -> set[tuple[str, str, int]]:
    """The policy read literally: the sentence of each character (the next sentence for a character between
    two), an entity's sentences those of its characters, the distance the fewest boundaries between them."""
    sentences = [s for s in sentences_of(doc) if s.tokens]
    ends = [s.tokens[-1].end for s in sentences]

    def sentence_of(offset: int) -> int:
        return next((k for k, end in enumerate(ends) if offset < end), len(ends) - 1)

    def occupied(entity: Entity) -> set[int]:
        return {sentence_of(offset) for offset in range(entity.start, entity.end)}

    pairs = set()
    for drug in (e for e in doc.entities if e.label == "Drug"):
        for attribute in (e for e in doc.entities if e.label != "Drug"):
            distance = min(abs(a - b) for a in occupied(attribute) for b in occupied(drug))
            if distance <= window:
                pairs.add((attribute.id, drug.id, distance))
    return pairs


def random_note(rng: random.Random) -> Document:
    words = ["Take", "aspirin", "81", "mg", "daily", ".", "Sig", ":", "PO", "BID", "\n", "2", ")", "heparin", "rash"]
    text = ""
    for _ in range(rng.randint(3, 40)):
        word = rng.choice(words)
        text += ("" if not text or word in ".:)\n" else " ") + word
    spans, position = [], 0
    while position < len(text):
        start = rng.randrange(position, len(text))
        end = min(len(text), start + rng.randint(1, 25))
        if text[start:end].strip():
            spans.append((start, end))
        position = end + 1
    labels = ["Drug", "Drug", "Strength", "Reason", "ADE"]
    entities = [Entity(f"T{k}", rng.choice(labels), ((s, e),), text[s:e]) for k, (s, e) in enumerate(spans, start=1)]
    return Document("r", text, entities)


@pytest.mark.parametrize("window", [0, 1, 2])
def test_candidate_pairs_equal_a_brute_force_reading_of_the_policy(window):
    rng = random.Random(window)
    for _ in range(300):
        doc = random_note(rng)
        found = {(p.attribute.id, p.drug.id, p.distance) for p in candidate_pairs(doc, window=window)}
        assert found == brute_force_pairs(doc, window), doc.text
