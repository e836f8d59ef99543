"""The layout of candidate pairs over sentences (medner.relation_training), on hand-built documents: argument tokens,
distance features across a sentence boundary, gold classes, what cannot be laid out, batches of whole documents."""

from __future__ import annotations

import numpy as np
import pytest

from medner.corpus.document import Document, Entity, Relation
from medner.corpus.tokenize import sentences_of
from medner.model.relations import distance_bucket
from medner.relation_training import (PAIR_FIELDS, allowed_classes, document_batches, document_pairs, pair_batch,
                                      relation_f1_by_id, relation_types, relations_of)

LABELS = ["Drug", "Strength", "Frequency", "Route", "Reason"]


def entity(doc_text: str, id_: str, label: str, start: int, end: int) -> Entity:
    return Entity(id_, label, ((start, end),), doc_text[start:end])


def documents() -> list[Document]:
    """Two documents with relations and one without text.

    ``a``: "Aspirin 81 mg daily.\\nTake it for pain." — two sentences; the Reason is in the second; a Route over the
    space after "Aspirin" only (no token). ``b``: "Take 40 mg of Lasix daily." — the drug after its Strength, a
    Frequency linked to nothing."""
    a = "Aspirin 81 mg daily.\nTake it for pain."
    b = "Take 40 mg of Lasix daily."
    doc_a = Document("a", a, [entity(a, "T1", "Drug", 0, 7), entity(a, "T2", "Strength", 8, 13),
                              entity(a, "T3", "Frequency", 14, 19), entity(a, "T4", "Reason", 33, 37),
                              entity(a, "T5", "Route", 7, 8)],
                     relations=[Relation("R1", "Strength-Drug", "T2", "T1"), Relation("R2", "Frequency-Drug", "T3", "T1"),
                                Relation("R3", "Reason-Drug", "T4", "T1"), Relation("R4", "Route-Drug", "T5", "T1")])
    doc_b = Document("b", b, [entity(b, "T1", "Strength", 5, 10), entity(b, "T2", "Drug", 14, 19),
                              entity(b, "T3", "Frequency", 20, 25)],
                     relations=[Relation("R1", "Strength-Drug", "T1", "T2")])
    return [doc_a, doc_b, Document("c", "")]


@pytest.fixture
def laid_out():
    docs = documents()
    # the split's sentences in another order than the documents: b's first, then a's two
    sentences = sentences_of(docs[1]) + sentences_of(docs[0])
    assert [len(s.tokens) for s in sentences] == [7, 5, 5]
    types = relation_types(docs)
    return docs, sentences, types, document_pairs(docs, sentences, LABELS, types, window=1)


def rows_of(document) -> list[dict[str, int]]:
    return [dict(zip(PAIR_FIELDS, row)) for row in document.arrays.tolist()]


def test_relation_types_in_the_n2c2_order():
    assert relation_types(documents()) == ["Strength-Drug", "Frequency-Drug", "Route-Drug", "Reason-Drug"]


def test_argument_tokens_distances_and_gold_classes_of_a_two_sentence_document(laid_out):
    _, _, types, layout = laid_out
    a = layout.documents[0]
    assert a.sentences == [1, 2] and a.n_tokens == 10
    assert [(c.attribute.id, c.drug.id) for c in a.candidates] == [("T2", "T1"), ("T3", "T1"), ("T4", "T1")]
    # tokens of a: Aspirin 81 mg daily . | Take it for pain .
    assert rows_of(a) == [
        {"attribute_first": 1, "attribute_last": 2, "drug_first": 0, "drug_last": 0, "attribute_label": 1,
         "distance": distance_bucket(0, True), "sentences_apart": 0, "gold": 1 + types.index("Strength-Drug")},
        {"attribute_first": 3, "attribute_last": 3, "drug_first": 0, "drug_last": 0, "attribute_label": 2,
         "distance": distance_bucket(2, True), "sentences_apart": 0, "gold": 1 + types.index("Frequency-Drug")},
        # across the sentence boundary: "pain" is token 8, 7 tokens after the drug's last
        {"attribute_first": 8, "attribute_last": 8, "drug_first": 0, "drug_last": 0, "attribute_label": 4,
         "distance": distance_bucket(7, True), "sentences_apart": 1, "gold": 1 + types.index("Reason-Drug")},
    ]
    assert distance_bucket(7, True) == 15


def test_a_drug_after_its_attribute_and_a_pair_without_a_relation(laid_out):
    _, _, _, layout = laid_out
    b = layout.documents[1]
    assert b.sentences == [0] and b.n_tokens == 7
    # tokens of b: Take 40 mg of Lasix daily .
    assert rows_of(b) == [
        {"attribute_first": 1, "attribute_last": 2, "drug_first": 4, "drug_last": 4, "attribute_label": 1,
         "distance": distance_bucket(1, False), "sentences_apart": 0, "gold": 1},
        {"attribute_first": 5, "attribute_last": 5, "drug_first": 4, "drug_last": 4, "attribute_label": 2,
         "distance": distance_bucket(0, True), "sentences_apart": 0, "gold": 0},
    ]


def test_an_entity_over_whitespace_only_is_counted_with_its_relation_and_never_paired(laid_out):
    _, _, _, layout = laid_out
    assert dict(layout.unrepresented) == {"entity Route": 1, "relation Route-Drug": 1}
    assert all(c.attribute.id != "T5" for c in layout.documents[0].candidates)
    c = layout.documents[2]
    assert (c.sentences, c.n_tokens, c.candidates, c.arrays.shape) == ([], 0, [], (0, len(PAIR_FIELDS)))


def test_window_zero_leaves_the_cross_sentence_pair_out(laid_out):
    docs, sentences, types, _ = laid_out
    layout = document_pairs(docs, sentences, LABELS, types, window=0)
    assert [(c.attribute.id, c.drug.id) for c in layout.documents[0].candidates] == [("T2", "T1"), ("T3", "T1")]


def test_an_attribute_label_the_model_does_not_know_is_named(laid_out):
    docs, sentences, types, _ = laid_out
    with pytest.raises(ValueError, match=r"entity T2: label 'Strength' is not one of the model's labels"):
        document_pairs(docs, sentences, ["Drug", "Frequency", "Route", "Reason"], types, window=1)


def test_pair_batch_shifts_each_documents_tokens_by_the_tokens_before_it(laid_out):
    _, sentences, _, layout = laid_out
    order, batch = pair_batch(layout, [1, 0])
    assert order == [0, 1, 2]
    assert len(batch) == 5
    shift = np.array([0, 0, 7, 7, 7])  # b's 7 tokens come first
    columns = np.stack([getattr(batch, name).numpy() for name in PAIR_FIELDS], 1)
    expected = np.concatenate([layout.documents[1].arrays, layout.documents[0].arrays])
    np.testing.assert_array_equal(columns[:, :4], expected[:, :4] + shift[:, None])
    np.testing.assert_array_equal(columns[:, 4:], expected[:, 4:])
    tokens = [token for i in order for token in sentences[i].tokens]
    assert tokens[int(batch.attribute_first[4])].text == "pain" and tokens[int(batch.drug_first[4])].text == "Aspirin"
    assert tokens[int(batch.drug_first[0])].text == "Lasix"
    empty_sentences, empty = pair_batch(layout, [2])
    assert empty_sentences == [] and len(empty) == 0


@pytest.mark.parametrize("batch_size", [1, 2, 3, 10])
def test_document_batches_keep_documents_whole_and_cover_every_one_with_sentences(laid_out, batch_size):
    _, _, _, layout = laid_out
    for order in ([0, 1, 2], [2, 1, 0]):
        batches = document_batches(layout, batch_size, order)
        assert sorted(d for batch in batches for d in batch) == [0, 1]  # c has no sentence; a and b once each
        assert [d for batch in batches for d in batch] == [d for d in order if d != 2]
        sizes = [sum(len(layout.documents[d].sentences) for d in batch) for batch in batches]
        assert all(size >= batch_size for size in sizes[:-1])
        assert all(size - len(layout.documents[batch[-1]].sentences) < batch_size for size, batch in zip(sizes, batches))


def test_relations_of_the_gold_classes_are_the_gold_relations_that_could_be_laid_out(laid_out):
    docs, _, types, layout = laid_out
    gold_classes = [[int(row[-1]) for row in d.arrays] for d in layout.documents]
    predicted = relations_of(layout, gold_classes, types)
    assert [d.id for d in predicted] == ["a", "b", "c"]
    assert [(r.id, r.type, r.arg1, r.arg2) for r in predicted[0].relations] == [
        ("R1", "Strength-Drug", "T2", "T1"), ("R2", "Frequency-Drug", "T3", "T1"), ("R3", "Reason-Drug", "T4", "T1")]
    assert predicted[0].entities == docs[0].entities  # the entities as the documents carry them
    assert relation_f1_by_id(docs, predicted) == pytest.approx(2 * 4 / (2 * 4 + 0 + 1))  # the Route link is missed
    nothing = relations_of(layout, [[0] * len(d.candidates) for d in layout.documents], types)
    assert relation_f1_by_id(docs, nothing) == 0.0


def test_allowed_classes_give_an_attribute_its_own_type_only():
    types = ["Strength-Drug", "Frequency-Drug"]
    allowed = allowed_classes(["Drug", "Strength", "Frequency", "Other"], types)
    assert allowed.tolist() == [
        [True, True, True],  # no "Drug-Drug" type: every type (a drug is never an attribute)
        [True, True, False],
        [True, False, True],
        [True, True, True],  # a label the types do not name: every type
    ]
