"""Spans to BIO/BIOES tags and back: overlap policy, boundary drops, invalid sequences, alignment rate."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from medner.corpus.document import Document, Entity
from medner.corpus.tagging import (
    TaggingReport,
    boundary_alignment,
    decode_documents,
    decode_sentences,
    tag_documents,
)
from medner.corpus.tokenize import sentences_of

TEXT = "Started vancomycin 1 g IV q12h for MRSA bacteremia."
#       0         1         2         3         4         5
#       012345678901234567890123456789012345678901234567890


def ent(eid: str, label: str, *fragments: tuple[int, int], text: str = TEXT) -> Entity:
    return Entity(eid, label, tuple(fragments), " ".join(text[s:e] for s, e in fragments))


def test_bio_and_bioes_tags():
    doc = Document("d", TEXT, [ent("T1", "Drug", (8, 18)), ent("T2", "Strength", (19, 22)), ent("T3", "Reason", (35, 50))])
    (sentence,), report = tag_documents([doc], scheme="BIO")
    assert list(zip(sentence.words, sentence.tags)) == [
        ("Started", "O"), ("vancomycin", "B-Drug"), ("1", "B-Strength"), ("g", "I-Strength"), ("IV", "O"),
        ("q12h", "O"), ("for", "O"), ("MRSA", "B-Reason"), ("bacteremia", "I-Reason"), (".", "O"),
    ]  # fmt: skip
    (sentence,), _ = tag_documents([doc], scheme="BIOES")
    assert sentence.tags == ["O", "S-Drug", "B-Strength", "E-Strength", "O", "O", "O", "B-Reason", "E-Reason", "O"]
    long = Document("l", "one two three four", [ent("T1", "ADE", (0, 18), text="one two three four")])
    (sentence,), _ = tag_documents([long], scheme="BIOES")
    assert sentence.tags == ["B-ADE", "I-ADE", "I-ADE", "E-ADE"]
    assert report.as_dict()["total"] == {
        "gold": 3, "kept": 3, "dropped_overlap": 0, "dropped_boundary": 0,
        "dropped_boundary_inside_token": 0, "dropped_boundary_crosses_sentence": 0,
    }  # fmt: skip


def test_overlap_keeps_the_longest_then_label_priority_then_start():
    entities = [
        ent("T1", "Drug", (8, 18)),  # nested in T2: dropped for T2 (longer)
        ent("T2", "ADE", (8, 22)),  # longest
        ent("T3", "Reason", (35, 50)),  # same extent as T4; Route comes before Reason in the n2c2 order
        ent("T4", "Route", (35, 50)),
        ent("T5", "Frequency", (26, 30)),
        ent("T6", "Frequency", (26, 30)),  # exact duplicate of T5
    ]
    doc = Document("d", TEXT, entities)
    (sentence,), report = tag_documents([doc])
    assert sentence.tags[1:4] == ["B-ADE", "I-ADE", "I-ADE"]
    assert sentence.tags[7:9] == ["B-Route", "I-Route"]
    assert sentence.tags[5] == "B-Frequency"
    dropped = {(d.entity.id, d.reason) for d in report.dropped}
    assert dropped == {("T1", "overlap"), ("T3", "overlap"), ("T6", "overlap")}
    assert "overlaps kept T2 ADE" in next(d.detail for d in report.dropped if d.entity.id == "T1")
    per_label = report.as_dict()["per_label"]
    assert list(per_label) == ["Drug", "Frequency", "Route", "Reason", "ADE"]  # n2c2 order
    assert per_label["Frequency"] == {
        "gold": 2, "kept": 1, "dropped_overlap": 1, "dropped_boundary": 0,
        "dropped_boundary_inside_token": 0, "dropped_boundary_crosses_sentence": 0,
    }  # fmt: skip


def test_overlap_tie_on_length_and_label_goes_to_the_earlier_start():
    text = "aa bb cc"
    doc = Document("d", text, [ent("T1", "Drug", (3, 8), text=text), ent("T2", "Drug", (0, 5), text=text)])
    (sentence,), report = tag_documents([doc])
    assert sentence.tags == ["B-Drug", "I-Drug", "O"]
    assert [d.entity.id for d in report.dropped] == ["T1"]


def test_custom_label_priority_and_unknown_labels_last():
    text = "aa bb"
    doc = Document("d", text, [ent("T1", "Drug", (0, 5), text=text), ent("T2", "Zeta", (0, 5), text=text), ent("T3", "ADE", (0, 5), text=text)])
    (sentence,), _ = tag_documents([doc], label_priority=("ADE", "Drug"))
    assert sentence.tags == ["B-ADE", "I-ADE"]
    (sentence,), _ = tag_documents([Document("e", text, [doc.entities[1], doc.entities[0]])])
    assert sentence.tags == ["B-Drug", "I-Drug"]


def test_discontinuous_entities_tagged_by_outer_extent_and_decoded_so():
    doc = Document("d", TEXT, [ent("T1", "Drug", (8, 18), (23, 25))])
    sentences, report = tag_documents([doc])
    assert sentences[0].tags[1:5] == ["B-Drug", "I-Drug", "I-Drug", "I-Drug"]
    (back,) = decode_documents([doc], sentences, [s.tags for s in sentences])
    assert [(e.label, e.fragments, e.text) for e in back.entities] == [("Drug", ((8, 25),), "vancomycin 1 g IV")]
    assert report.kept["Drug"] == 1


def test_boundary_inside_token_and_crossing_sentences_are_counted_drops():
    text = "Take aspirin 40mg daily. Stop lisinopril now."
    entities = [
        ent("T1", "Drug", (5, 11), text=text),  # "aspiri": ends inside a token
        ent("T2", "Strength", (13, 17), text=text),  # "40mg" = two tokens: fine
        ent("T3", "Strength", (14, 15), text=text),  # "0": starts inside "40"
        ent("T4", "Frequency", (18, 29), text=text),  # "daily. Stop": crosses the sentence end
        ent("T5", "Drug", (30, 40), text=text),
    ]
    sentences, report = tag_documents([Document("d", text, entities)])
    reasons = {d.entity.id: d.reason for d in report.dropped}
    assert reasons == {"T1": "boundary_inside_token", "T3": "boundary_inside_token", "T4": "boundary_crosses_sentence"}
    counts = report.as_dict()["per_label"]
    assert counts["Drug"]["dropped_boundary_inside_token"] == 1 and counts["Drug"]["kept"] == 1
    assert counts["Frequency"]["dropped_boundary_crosses_sentence"] == 1
    assert counts["Strength"]["dropped_boundary"] == 1 and counts["Strength"]["kept"] == 1
    for row in counts.values():
        assert row["gold"] == row["kept"] + row["dropped_overlap"] + row["dropped_boundary"]
    assert [s.tags for s in sentences] == [["O", "O", "B-Strength", "I-Strength", "O", "O"], ["O", "B-Drug", "O", "O"]]


@pytest.mark.parametrize(
    "scheme, tags, expected",
    [
        ("BIO", ["I-Drug", "I-Drug", "O", "O", "O"], [("Drug", 0, 7)]),  # I- after O starts an entity
        ("BIO", ["B-Drug", "I-ADE", "O", "O", "O"], [("Drug", 0, 4), ("ADE", 5, 7)]),  # label change splits
        ("BIO", ["B-Drug", "B-Drug", "O", "I-Route", "O"], [("Drug", 0, 4), ("Drug", 5, 7), ("Route", 10, 12)]),
        ("BIO", ["O", "O", "O", "B-Frequency", "I-Frequency"], [("Frequency", 10, 18)]),  # open at the end
        ("BIOES", ["B-Drug", "E-Drug", "S-Route", "I-Route", "E-Route"], [("Drug", 0, 7), ("Route", 8, 9), ("Route", 10, 18)]),
        ("BIOES", ["E-Drug", "O", "B-ADE", "I-ADE", "I-ADE"], [("Drug", 0, 4), ("ADE", 8, 18)]),
        ("BIOES", ["B-Drug", "E-ADE", "O", "S-Drug", "E-Drug"], [("Drug", 0, 4), ("ADE", 5, 7), ("Drug", 10, 12), ("Drug", 13, 18)]),
    ],
)
def test_decoding_invalid_sequences_conll_style(scheme, tags, expected):
    text = "Take me 1 PO daily"
    #       0123456789012345678
    sentences = sentences_of(Document("d", text))
    assert sentences[0].words == ["Take", "me", "1", "PO", "daily"]
    entities = decode_sentences("d", text, sentences, [tags], scheme=scheme)
    assert [(e.label, e.start, e.end) for e in entities] == expected
    assert [e.id for e in entities] == [f"T{k}" for k in range(1, len(expected) + 1)]
    assert all(e.text == text[e.start : e.end] for e in entities)


def test_decoding_rejects_bad_input():
    text = "Take aspirin"
    sentences = sentences_of(Document("d", text))
    with pytest.raises(ValueError, match="expected 2 tags, found 1"):
        decode_sentences("d", text, sentences, [["O"]])
    with pytest.raises(ValueError, match="expected 1 tag sequences"):
        decode_sentences("d", text, sentences, [])
    with pytest.raises(ValueError, match="found tag 'E-Drug'"):
        decode_sentences("d", text, sentences, [["B-Drug", "E-Drug"]], scheme="BIO")
    with pytest.raises(ValueError, match="found tag 'Drug'"):
        decode_sentences("d", text, sentences, [["Drug", "O"]])
    with pytest.raises(ValueError, match="scheme must be one of"):
        tag_documents([], scheme="IOB2")
    with pytest.raises(ValueError, match="not given: x"):
        decode_documents([], [sentences[0].__class__("x", 0, [], [])], [[]])


@pytest.mark.parametrize("scheme", ["BIO", "BIOES"])
def test_random_entities_round_trip_to_exactly_the_kept_ones(scheme):
    rng = random.Random(7)
    text = "1. Metoprolol 25mg PO BID x7 days for hypertension; azithromycin-induced rash.\n2. Aspirin 81 mg q.d.\n"
    tokens = [t for s in sentences_of(Document("t", text)) for t in s.tokens]
    labels = ["Drug", "Strength", "Route", "ADE", "Reason"]
    docs = []
    for k in range(60):
        entities = []
        for n in range(rng.randint(0, 6)):
            a = rng.randrange(len(tokens))
            b = min(len(tokens) - 1, a + rng.randint(0, 3))
            start = tokens[a].start + (1 if rng.random() < 0.1 else 0)  # sometimes inside a token
            entities.append(Entity(f"T{n + 1}", rng.choice(labels), ((start, tokens[b].end),), text[start : tokens[b].end]))
        docs.append(Document(f"doc{k}", text, entities))
    sentences, report = tag_documents(docs, scheme=scheme)
    decoded = decode_documents(docs, sentences, [s.tags for s in sentences], scheme=scheme)
    dropped = Counter((d.doc_id, d.entity.label, d.entity.start, d.entity.end) for d in report.dropped)
    gold = Counter((doc.id, e.label, e.start, e.end) for doc in docs for e in doc.entities)
    back = Counter((doc.id, e.label, e.start, e.end) for doc in decoded for e in doc.entities)
    assert back == gold - dropped
    assert sum(report.kept.values()) == sum(back.values())
    assert sum(report.gold.values()) == sum(gold.values()) and report.dropped  # the drops were exercised


def test_boundary_alignment_counts_every_fragment_boundary():
    text = "Take aspirin 40mg daily."
    doc = Document(
        "d",
        text,
        [
            ent("T1", "Drug", (5, 12), text=text),  # 2 aligned
            ent("T2", "Strength", (13, 15), (16, 17), text=text),  # "40" aligned both; "g": start inside "mg"
        ],
    )
    result = boundary_alignment([doc])
    assert (result.boundaries, result.aligned) == (6, 5)
    assert result.rate == pytest.approx(5 / 6)
    assert result.as_dict()["per_label"]["Strength"] == {"boundaries": 4, "aligned": 3, "rate": 0.75}
    assert result.misaligned[0][:5] == ("d", "T2", "Strength", "start", 16)
    assert boundary_alignment([]).rate is None


def test_report_counts_add_up_and_list_labels_in_priority_order():
    report = TaggingReport(scheme="BIO")
    report.gold.update({"ADE": 2, "Drug": 1, "Custom": 1})
    report.kept.update({"ADE": 2, "Drug": 1})
    assert report.labels() == ["Drug", "ADE", "Custom"]
    assert report.as_dict()["total"]["gold"] == 4


def test_whitespace_only_and_entity_free_documents_tag_decode_and_score_without_error():
    """Bad input (issue 16): a document of only whitespace has no sentence and decodes to no entity; a test
    document without entities is scored, a prediction on it counting as spurious."""
    from medner.evaluation.span import score_documents

    blank = Document("blank", " \n\t\r\n  ")
    plain = Document("plain", "No medication today.")
    sentences, report = tag_documents([blank, plain])
    assert [s.doc_id for s in sentences] == ["plain"] and report.as_dict()["total"]["gold"] == 0
    tags = [["O"] * len(s) for s in sentences]
    tags[0][1] = "B-Drug"  # a spurious prediction on "medication"
    predicted = decode_documents([blank, plain], sentences, tags)
    assert [(d.id, [e.text for e in d.entities]) for d in predicted] == [("blank", []), ("plain", ["medication"])]
    scores = score_documents([blank, plain], predicted, labels=["Drug"])
    assert scores["documents"] == {"scored": 2, "missing_predictions": 0}
    strict = scores["strict"]["micro"]
    assert (strict["tp"], strict["fp"], strict["fn"]) == (0, 1, 0) and strict["f1"] == 0.0


# -- relations (issue 15) ---------------------------------------------------------------------------------


def test_a_relation_with_an_argument_tagging_drops_is_counted_per_type_and_reason():
    from medner.corpus.document import Relation

    text = "Take aspirin 40mg daily. Stop it."
    entities = [ent("T1", "Drug", (5, 12), text=text), ent("T2", "Strength", (13, 17), text=text),
                ent("T3", "Dosage", (14, 17), text=text),  # starts inside "40": boundary_inside_token
                ent("T4", "Drug", (5, 17), text=text),  # the longest: T1 and T2 overlap it
                ent("T5", "Frequency", (18, 29), text=text)]  # crosses the sentence end
    relations = [Relation("R1", "Strength-Drug", "T2", "T1"),  # both arguments dropped for overlap
                 Relation("R2", "Dosage-Drug", "T3", "T4"), Relation("R3", "Frequency-Drug", "T5", "T4"),
                 Relation("R4", "Strength-Drug", "T3", "T1"),  # two reasons: the first of DROP_REASONS counts
                 Relation("R5", "Other", "T4", "T4")]
    _, report = tag_documents([Document("d", text, entities, relations=relations)])
    table = report.as_dict()["relations"]
    assert list(table["per_type"]) == ["Strength-Drug", "Dosage-Drug", "Frequency-Drug", "Other"]
    assert table["per_type"]["Strength-Drug"] == {"gold": 2, "kept": 0, "dropped_overlap": 2,
                                                  "dropped_boundary_inside_token": 0, "dropped_boundary_crosses_sentence": 0}
    assert table["per_type"]["Dosage-Drug"]["dropped_boundary_inside_token"] == 1
    assert table["per_type"]["Frequency-Drug"]["dropped_boundary_crosses_sentence"] == 1
    assert table["per_type"]["Other"]["kept"] == 1
    for row in [*table["per_type"].values(), table["total"]]:
        assert row["gold"] == row["kept"] + sum(v for k, v in row.items() if k.startswith("dropped_"))
    assert [d.detail for d in report.relations_dropped][:1] == ["R1 Strength-Drug T2->T1: argument T2 dropped (overlap)"]


def test_documents_without_relations_report_as_before_and_a_dangling_relation_is_refused():
    from medner.corpus.document import Relation

    doc = Document("d", TEXT, [ent("T1", "Drug", (8, 18))])
    assert set(tag_documents([doc])[1].as_dict()) == {"scheme", "per_label", "total"}
    doc.relations = [Relation("R1", "Strength-Drug", "T9", "T1")]
    with pytest.raises(ValueError, match="document d: relation R1 names 'T9', which is no entity of the document"):
        tag_documents([doc])
