"""Clinical tokeniser and sentence splitter: offsets, medication-list units, sentence ends."""

from __future__ import annotations

import pytest

from medner.corpus.document import Document
from medner.corpus.tokenize import sentences_of, split_sentences, tokenize


def words(text: str) -> list[str]:
    return [t.text for t in tokenize(text)]


def sentence_words(text: str) -> list[list[str]]:
    return [[t.text for t in s] for s in split_sentences(text, tokenize(text))]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("40mg", ["40", "mg"]),
        ("0.5mg/kg", ["0.5", "mg", "/", "kg"]),
        ("b.i.d.", ["b.i.d."]),
        ("p.o. q.d.", ["p.o.", "q.d."]),
        ("q6h prn", ["q6h", "prn"]),
        ("Q4-6H", ["Q4-6H"]),
        ("azithromycin-induced", ["azithromycin", "-", "induced"]),
        ("1/2 tab", ["1/2", "tab"]),
        ("Percocet 5/325", ["Percocet", "5/325"]),
        ("1,000 units", ["1,000", "units"]),
        ("x7 days", ["x", "7", "days"]),
        ("vitamin B12", ["vitamin", "B12"]),
        ("5FU", ["5", "FU"]),
        ("(e.g., rash)", ["(", "e.g.", ",", "rash", ")"]),
        ("Dr. Smith", ["Dr", ".", "Smith"]),
        ("Crohn's", ["Crohn", "'", "s"]),
        ("2. Metoprolol", ["2", ".", "Metoprolol"]),
        ("10-20 mg", ["10", "-", "20", "mg"]),
        ("5\u00a0mg\u200b", ["5", "mg"]),
    ],
)
def test_tokens(text, expected):
    assert words(text) == expected


def test_offsets_point_into_the_text():
    text = "Metoprolol 25mg PO\r\nBID x7d; azithromycin-induced rash.\n"
    tokens = tokenize(text)
    assert all(text[t.start : t.end] == t.text for t in tokens)
    assert all(a.end <= b.start for a, b in zip(tokens, tokens[1:]))
    assert "".join(t.text for t in tokens) == "".join(text.split())


def test_numbered_list_items_are_sentences_and_their_number_does_not_end_one():
    text = "Discharge Medications:\n1. Metoprolol 25 mg PO BID\n2. Lisinopril 10 mg daily\n3. Aspirin 81 mg"
    assert sentence_words(text) == [
        ["Discharge", "Medications", ":"],
        ["1", ".", "Metoprolol", "25", "mg", "PO", "BID"],
        ["2", ".", "Lisinopril", "10", "mg", "daily"],
        ["3", ".", "Aspirin", "81", "mg"],
    ]


def test_inline_numbered_list():
    assert sentence_words("Meds: 1. Aspirin daily. 2. Metoprolol BID.") == [
        ["Meds", ":", "1", ".", "Aspirin", "daily", "."],
        ["2", ".", "Metoprolol", "BID", "."],
    ]


def test_line_breaks_inside_a_sentence_do_not_split_it():
    text = "He was started on vancomycin 1 g IV\nq12h for MRSA bacteremia and\nimproved."
    assert len(sentence_words(text)) == 1


def test_blank_line_bullets_and_punctuation_end_sentences():
    text = "Allergies: none.\n\nPlan\n- aspirin 81 mg daily\n- stop lisinopril! Follow up? Yes."
    assert sentence_words(text) == [
        ["Allergies", ":", "none", "."],
        ["Plan"],
        ["-", "aspirin", "81", "mg", "daily"],
        ["-", "stop", "lisinopril", "!"],
        ["Follow", "up", "?"],
        ["Yes", "."],
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Seen by Dr. Smith today.",
        "Give 1 tab p.o. Take with food.",
        "Antibiotics, e.g. Augmentin, were given.",
        "He took 40 mg. Twice.",
        "Reviewed by J. Doe in clinic.",
        "Dose i.e. 5 mg was given.",
        "Dose was 2.5 mg b.i.d. Continue.",
    ],
)
def test_abbreviations_do_not_end_sentences(text):
    assert len(sentence_words(text)) == 1


def test_abbreviation_at_the_end_of_a_line_ends_the_sentence():
    assert sentence_words("Aspirin 81 mg.\nLisinopril 10 mg.") == [["Aspirin", "81", "mg", "."], ["Lisinopril", "10", "mg", "."]]


def test_closing_quote_stays_with_its_sentence():
    assert sentence_words('He said "stop." Then left.') == [["He", "said", '"', "stop", ".", '"'], ["Then", "left", "."]]


def test_sentences_of_indexes_sentences_without_tags():
    doc = Document("d1", "Take aspirin. Stop it.\n")
    sentences = sentences_of(doc)
    assert [(s.doc_id, s.index, s.tags, s.words) for s in sentences] == [
        ("d1", 0, None, ["Take", "aspirin", "."]),
        ("d1", 1, None, ["Stop", "it", "."]),
    ]
    assert sentences_of(Document("empty", " \n ")) == []


def test_field_labels_on_a_new_line_start_a_sentence():
    text = "Sig: One (1) Tablet PO BID (2 times a day)\nDisp:*30 Tablet(s)*\nRefills:*2*\nthen continued"
    assert [s[0] for s in sentence_words(text)] == ["Sig", "Disp", "Refills"]
