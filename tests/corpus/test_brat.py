"""brat reader and writer on the quirks of real n2c2-2018 / PHEE files."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from medner.corpus.brat import (
    AnnotationCounts,
    BratFormatError,
    read_brat_document,
    read_brat_folder,
    write_brat_document,
    write_brat_folder,
)
from medner.corpus.document import Document, Entity, Relation


def write_pair(folder: Path, name: str, text: str | bytes, ann: str | bytes | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    txt = folder / f"{name}.txt"
    txt.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    if ann is not None:
        (folder / f"{name}.ann").write_bytes(ann if isinstance(ann, bytes) else ann.encode("utf-8"))
    return txt


TEXT = "Patient on aspirin 81 mg daily; stopped due to rash."
#       0123456789012345678901234567890123456789012345678901


def test_text_bound_lines_with_every_other_kind_counted(tmp_path):
    ann = (
        "T1\tDrug 11 18\taspirin\n"
        "T2\tStrength 19 24\t81 mg\n"
        "T3\tFrequency 25 30\tdaily\n"
        "T4\tADE 47 51\trash\n"
        "R1\tStrength-Drug Arg1:T2 Arg2:T1\t\n"
        "E1\tStop:T3 Theme:T1\n"
        "A1\tNegated E1\n"
        "M2\tSeverity E1 High\n"
        "N1\tReference T1 RxNorm:1191\taspirin\n"
        "#1\tAnnotatorNotes T1\tlow dose\n"
        "*\tEquiv T1 T3\n"
    )
    counts = AnnotationCounts()
    doc = read_brat_document(write_pair(tmp_path, "note", TEXT, ann), counts=counts)
    assert doc.id == "note"
    assert [(e.id, e.label, e.fragments, e.text) for e in doc.entities] == [
        ("T1", "Drug", ((11, 18),), "aspirin"),
        ("T2", "Strength", ((19, 24),), "81 mg"),
        ("T3", "Frequency", ((25, 30),), "daily"),
        ("T4", "ADE", ((47, 51),), "rash"),
    ]
    assert dict(counts.lines) == {"T": 4, "R": 1, "E": 1, "A": 1, "M": 1, "N": 1, "#": 1, "*": 1}
    assert counts.as_dict()["documents"] == 1


def test_discontinuous_fragments_joined_by_a_space_and_sorted(tmp_path):
    text = "aspirin was not tolerated, nor 81 mg of it"
    # fragments listed out of order, as PHEE sometimes writes them
    ann = "T1\tDrug 31 36;0 7\t81 mg aspirin\nT2\tDrug 0 7;31 36\taspirin 81 mg\n"
    counts = AnnotationCounts()
    doc = read_brat_document(write_pair(tmp_path, "d", text, ann), counts=counts)
    for entity in doc.entities:
        assert entity.fragments == ((0, 7), (31, 36))
        assert entity.text == "aspirin 81 mg"
        assert (entity.start, entity.end) == (0, 36)
    assert counts.discontinuous == 2


def test_stray_trailing_tab_and_space_crlf_and_bom(tmp_path):
    text = "Line one\r\nTake aspirin.\r\n"
    # CRLF counts two characters: "aspirin" starts at 15
    ann = "\ufeffT1\tDrug 15 22\taspirin\t\r\nT2\tDrug 15 22\taspirin \r\n"
    doc = read_brat_document(write_pair(tmp_path, "crlf", text, ann))
    assert doc.text == text  # newlines kept as in the file
    assert [e.fragments for e in doc.entities] == [((15, 22),), ((15, 22),)]
    assert all(e.text == "aspirin" for e in doc.entities)


def test_bom_in_text_excluded_from_offsets(tmp_path):
    doc = read_brat_document(write_pair(tmp_path, "bom", "\ufeffTake aspirin.", "T1\tDrug 5 12\taspirin\n"))
    assert doc.text == "Take aspirin."
    assert doc.entities[0].fragments == ((5, 12),)


def test_bom_counted_by_the_annotation_tool_is_detected(tmp_path):
    counts = AnnotationCounts()
    doc = read_brat_document(write_pair(tmp_path, "bom1", "\ufeffTake aspirin.", "T1\tDrug 6 13\taspirin\n"), counts=counts)
    assert doc.text == "Take aspirin."
    assert doc.entities[0].fragments == ((5, 12),)
    assert doc.entities[0].text == "aspirin"
    assert counts.bom_offsets_shifted == 1


def test_text_without_ann_is_a_document_without_entities(tmp_path):
    counts = AnnotationCounts()
    doc = read_brat_document(write_pair(tmp_path, "lonely", "No annotations here.", None), counts=counts)
    assert doc.entities == [] and doc.text == "No annotations here."
    assert counts.documents_without_ann == 1


def test_offset_mismatch_names_file_line_expected_and_found(tmp_path):
    txt = write_pair(tmp_path, "bad", TEXT, "T1\tDrug 11 18\taspirin\nT2\tDrug 12 19\taspirin\n")
    with pytest.raises(BratFormatError) as info:
        read_brat_document(txt)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'bad.ann'}:2: ")
    assert "'spirin '" in message and "found 'aspirin'" in message


@pytest.mark.parametrize(
    "line, expected",
    [
        ("T1 Drug 11 18 aspirin", "expected an annotation id, a tab"),
        ("T1\tDrug 11 x\taspirin", "expected a fragment 'start end'"),
        ("T1\tDrug 18 11\taspirin", "expected fragment start < end"),
        ("T1\tDrug 11 18", "no text field"),
        ("X1\tDrug 11 18\taspirin", "expected an annotation id starting with"),
        ("T1\tDrug 11 100\taspirin", "expected offsets within the 52 characters"),
        ("R1\tHas Arg1:T1\t", "expected 'R<id>"),
        ("E1\tStop\t", "expected 'E<id>"),
        ("A1\tNegated\t", "expected 'A<id>"),
        ("N1\tReference T1\tx", "expected 'N<id>"),
    ],
)
def test_malformed_lines_raise_one_line_errors(tmp_path, line, expected):
    txt = write_pair(tmp_path, "m", TEXT, "T9\tDrug 11 18\taspirin\n" + line + "\n")
    with pytest.raises(BratFormatError, match=expected) as info:
        read_brat_document(txt)
    assert ":2: " in str(info.value) and "\n" not in str(info.value)


def test_duplicate_ids_are_an_error(tmp_path):
    txt = write_pair(tmp_path, "dup", TEXT, "T1\tDrug 11 18\taspirin\nT1\tADE 47 51\trash\n")
    with pytest.raises(BratFormatError, match="unique annotation id"):
        read_brat_document(txt)


def test_non_strict_warns_counts_and_keeps_the_good_lines(tmp_path):
    txt = write_pair(tmp_path, "lax", TEXT, "T1\tDrug 11 18\taspirin\nT2\tDrug 12 19\taspirin\nbroken line\nT3\tADE 47 51\trash\n")
    counts = AnnotationCounts()
    with pytest.warns(UserWarning) as caught:
        doc = read_brat_document(txt, strict=False, counts=counts)
    assert [e.id for e in doc.entities] == ["T1", "T3"]
    assert counts.skipped == 2 and counts.lines["T"] == 2
    assert {str(w.message).split(": ")[0] for w in caught} == {f"{tmp_path / 'lax.ann'}:2", f"{tmp_path / 'lax.ann'}:3"}


def test_whitespace_in_annotation_text_may_be_normalised(tmp_path):
    text = "Reason: chest\npain today"
    counts = AnnotationCounts()
    doc = read_brat_document(write_pair(tmp_path, "ws", text, "T1\tReason 8 18\tchest pain\n"), counts=counts)
    assert doc.entities[0].text == "chest\npain"
    assert counts.whitespace_normalised == 1


def test_folder_reading_sorted_and_orphan_ann_rejected(tmp_path):
    write_pair(tmp_path, "b", "bee", None)
    write_pair(tmp_path, "a", "Take aspirin.", "T1\tDrug 5 12\taspirin\n")
    assert [d.id for d in read_brat_folder(tmp_path)] == ["a", "b"]
    (tmp_path / "c.ann").write_text("T1\tDrug 0 1\tx\n", encoding="utf-8")
    with pytest.raises(BratFormatError, match="c.txt beside it"):
        read_brat_folder(tmp_path)
    with pytest.warns(UserWarning, match="c.txt beside it"):
        assert len(read_brat_folder(tmp_path, strict=False)) == 2
    with pytest.raises(FileNotFoundError, match="no such folder"):
        read_brat_folder(tmp_path / "missing")


def test_writer_round_trip_keeps_entities_text_and_newlines(tmp_path):
    text = "Started vancomycin 1 g\r\nIV q12h for MRSA\nbacteremia.\n"
    doc = Document(
        id="w1",
        text=text,
        entities=[
            Entity("T1", "Drug", ((8, 18),), "vancomycin"),
            Entity("T7", "Strength", ((19, 22),), "1 g"),
            Entity("T3", "Reason", ((36, 51),), "MRSA\nbacteremia"),  # spans a line break
            Entity("T4", "Route", ((19, 22), (24, 26)), "1 g IV"),  # discontinuous across CRLF
        ],
    )
    ann_path = write_brat_document(doc, tmp_path)
    raw = ann_path.read_bytes()
    assert b"\r" not in raw and raw.count(b"\n") == 4
    assert b"MRSA bacteremia" in raw
    back = read_brat_document(tmp_path / "w1.txt")
    assert back.text == text
    assert sorted(e.key() for e in back.entities) == sorted(e.key() for e in doc.entities)
    assert {e.id for e in back.entities} == {"T1", "T7", "T3", "T4"}


def test_writer_renumbers_non_brat_ids_and_rejects_bad_entities(tmp_path):
    doc = Document("w2", "aspirin", [Entity("x", "Drug", ((0, 7),), "aspirin"), Entity("x", "Drug", ((0, 3),), "asp")])
    write_brat_folder([doc], tmp_path / "out", write_text=True)
    lines = (tmp_path / "out" / "w2.ann").read_text(encoding="utf-8").splitlines()
    assert [line.split("\t")[0] for line in lines] == ["T1", "T2"]
    with pytest.raises(ValueError, match="outside its 7 characters"):
        write_brat_document(Document("w3", "aspirin", [Entity("T1", "Drug", ((0, 9),), "")]), tmp_path)
    with pytest.raises(ValueError, match="share the id"):
        write_brat_folder([doc, doc], tmp_path / "twice")


def test_writer_without_text_writes_only_ann(tmp_path):
    doc = Document("p", "aspirin", [Entity("T1", "Drug", ((0, 7),), "aspirin")])
    write_brat_document(doc, tmp_path, write_text=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.ann"]


def test_phee_reads_strictly_with_its_quirks(phee_path):
    counts = AnnotationCounts()
    docs = read_brat_folder(phee_path / "dev", counts=counts)
    assert len(docs) == 961
    stray = next(d for d in docs if d.id == "19047493_2")
    assert any(e.text == "dysphagia" for e in stray.entities)  # its T line ends with a stray tab
    assert counts.discontinuous > 0 and counts.lines["E"] > 0 and counts.skipped == 0
    for doc in docs:
        for entity in doc.entities:
            assert entity.text == doc.entity_text(entity.fragments)


# -- bad input (issue 16) ---------------------------------------------------------------------------------


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("which", ["txt", "ann"])
def test_bytes_that_are_not_utf8_name_the_file_line_and_byte(tmp_path, which, strict):
    text = "Line one\nTake caf\xe9 aspirin.\n"
    ann = "T1\tDrug 20 27\taspirin\n#1\tAnnotatorNotes T1\tcaf\xe9\n"
    txt = write_pair(tmp_path, "cp", text.encode("cp1252") if which == "txt" else text,
                     ann.encode("cp1252") if which == "ann" else ann)
    with pytest.raises(BratFormatError) as info:
        read_brat_document(txt, strict=strict)
    assert str(info.value).startswith(f"{tmp_path / f'cp.{which}'}:2: expected UTF-8 text, found byte 0xe9")
    assert "\n" not in str(info.value)


def test_a_lone_carriage_return_ends_a_line_instead_of_hiding_the_next(tmp_path):
    text = "Patient on aspirin 81 mg daily."
    ann = "T1\tDrug 11 18\taspirin\n#1\tAnnotatorNotes T1\tok\rT2\tStrength 19 24\t81 mg\n"
    counts = AnnotationCounts()
    doc = read_brat_document(write_pair(tmp_path, "cr", text, ann), counts=counts)
    assert [(e.id, e.text) for e in doc.entities] == [("T1", "aspirin"), ("T2", "81 mg")]
    assert dict(counts.lines) == {"T": 2, "#": 1}


def test_messages_quote_an_excerpt_of_a_huge_line(tmp_path):
    huge = "T1\tDrug 0 7\t" + "x" * 5_000_000
    txt = write_pair(tmp_path, "huge", "aspirin", f"{huge}\n")
    with pytest.raises(BratFormatError) as info:
        read_brat_document(txt)
    message = str(info.value)
    assert len(message) < 400 and "(5000000 characters)" in message and message.startswith(f"{tmp_path / 'huge.ann'}:1: ")


@pytest.mark.parametrize("offsets", ["0 " + "9" * 5000, "\u0663 7", "0 \uff17", "0 7.0", "-1 7"])
def test_offsets_that_are_not_short_ascii_numbers_are_a_format_error(tmp_path, offsets):
    txt = write_pair(tmp_path, "num", "aspirin", f"T1\tDrug {offsets}\taspirin\n")
    with pytest.raises(BratFormatError, match=r"num.ann:1: expected a fragment 'start end' of two integers"):
        read_brat_document(txt)


@pytest.mark.parametrize("line", ["R1\tStrength-Drug Arg1:T2 Arg2:T9", "E1\tStop:T9", "A1\tNegated T9",
                                  "#1\tAnnotatorNotes T9\tnote", "*\tEquiv T1 T9", "N1\tReference T9 RxNorm:1\tx"])
def test_a_line_naming_a_missing_id_is_an_error_or_a_counted_skip(tmp_path, line):
    txt = write_pair(tmp_path, "ref", TEXT, f"T1\tDrug 11 18\taspirin\nT2\tStrength 19 24\t81 mg\n{line}\n")
    with pytest.raises(BratFormatError, match=r"ref.ann:3: expected the ids .* found 'T9', which no line defines"):
        read_brat_document(txt)
    counts = AnnotationCounts()
    with pytest.warns(UserWarning, match="ref.ann:3: "):
        doc = read_brat_document(txt, strict=False, counts=counts)
    assert len(doc.entities) == 2 and counts.skipped == 1 and dict(counts.lines) == {"T": 2}


@pytest.mark.parametrize("label", ["Dr\x00ug", "Drug\x0b", "Drug\u2028x", "Drug\x85"])
def test_labels_with_control_characters_or_whitespace_are_refused(tmp_path, label):
    txt = write_pair(tmp_path, "lab", "aspirin", f"T1\t{label} 0 7\taspirin\n")
    with pytest.raises(BratFormatError, match="lab.ann:1: expected a label without whitespace or control characters"):
        read_brat_document(txt)


def test_a_five_megabyte_one_line_document_is_read_in_linear_time(tmp_path):
    text = "y" * 5_000_000 + " aspirin"
    txt = write_pair(tmp_path, "long", text, f"T1\tDrug 5000001 5000008\taspirin\nT2\tDrug 0 5000000\t{'y' * 5_000_000}\n")
    start = time.perf_counter()
    doc = read_brat_document(txt)
    assert time.perf_counter() - start < 5.0
    assert [e.text for e in doc.entities] == ["y" * 5_000_000, "aspirin"]


# -- relations (issue 15) ---------------------------------------------------------------------------------


def test_relation_lines_become_relations_sorted_by_id(tmp_path):
    ann = ("T1\tDrug 11 18\taspirin\nT2\tStrength 19 24\t81 mg\nT3\tFrequency 25 30\tdaily\nT4\tADE 47 51\trash\n"
           "R10\tADE-Drug Arg1:T4 Arg2:T1\n"
           "R2\tFrequency-Drug Arg2:T1 Arg1:T3\n"  # roles in the other order
           "R1\tStrength-Drug Arg1:T2 Arg2:T1\t\n")
    counts = AnnotationCounts()
    doc = read_brat_document(write_pair(tmp_path, "rel", TEXT, ann), counts=counts)
    assert doc.relations == [
        Relation("R1", "Strength-Drug", "T2", "T1"),
        Relation("R2", "Frequency-Drug", "T3", "T1"),
        Relation("R10", "ADE-Drug", "T4", "T1"),
    ]
    assert counts.lines["R"] == 3 and counts.relations_set_aside == 0
    by_id = doc.entities_by_id()
    assert [(by_id[r.arg1].label, by_id[r.arg2].label) for r in doc.relations] == [
        ("Strength", "Drug"), ("Frequency", "Drug"), ("ADE", "Drug")]


def test_a_relation_linking_an_event_is_counted_and_set_aside(tmp_path):
    # PHEE writes such lines: "R2<TAB>has_cue Arg1:E2 Arg2:T11"
    ann = "T1\tDrug 11 18\taspirin\nT2\tFrequency 25 30\tdaily\nE1\tStop:T2 Theme:T1\nR1\thas_cue Arg1:E1 Arg2:T1\n"
    counts = AnnotationCounts()
    doc = read_brat_document(write_pair(tmp_path, "ev", TEXT, ann), counts=counts)
    assert doc.relations == [] and counts.lines["R"] == 1 and counts.relations_set_aside == 1
    assert counts.as_dict()["relations_set_aside"] == 1


@pytest.mark.parametrize("line, expected", [
    ("R1\tStrength-Drug Arg1:T2 Arg2:T9", "rel.ann:3: expected the ids a relation names to be annotations of this "
                                          "file, found 'T9', which no line defines"),
    ("R1\tStrength\x00Drug Arg1:T2 Arg2:T1", "rel.ann:3: expected a relation type without whitespace or control "
                                             "characters, found 'Strength\\\\x00Drug'"),
    ("R1\tStrength-Drug Arg1:T2", "rel.ann:3: expected 'R<id>"),
])
def test_a_bad_relation_line_is_one_line_error_or_a_counted_skip(tmp_path, line, expected):
    txt = write_pair(tmp_path, "rel", TEXT, f"T1\tDrug 11 18\taspirin\nT2\tStrength 19 24\t81 mg\n{line}\n")
    with pytest.raises(BratFormatError, match=expected) as info:
        read_brat_document(txt)
    assert "\n" not in str(info.value)
    counts = AnnotationCounts()
    with pytest.warns(UserWarning, match="rel.ann:3: "):
        doc = read_brat_document(txt, strict=False, counts=counts)
    assert doc.relations == [] and counts.skipped == 1 and counts.lines["R"] == 0


def test_a_relation_whose_entity_was_skipped_is_skipped_with_its_own_message(tmp_path):
    ann = "T1\tDrug 11 18\taspirin\nT2\tStrength 19 24\t81 mgX\nR1\tStrength-Drug Arg1:T2 Arg2:T1\n"
    txt = write_pair(tmp_path, "skip", TEXT, ann)
    with pytest.raises(BratFormatError, match="skip.ann:2: "):  # strictly, the entity's line stops the reading
        read_brat_document(txt)
    counts = AnnotationCounts()
    with pytest.warns(UserWarning) as caught:
        doc = read_brat_document(txt, strict=False, counts=counts)
    messages = [str(w.message) for w in caught]
    assert messages[1] == (f"{tmp_path / 'skip.ann'}:3: expected the arguments of 'R1' to be entities of this file, "
                           "found 'T2', whose line 2 was skipped")
    assert doc.relations == [] and counts.skipped == 2 and counts.lines["R"] == 0


def test_writer_round_trip_gives_the_same_relations(tmp_path):
    doc = Document("w", TEXT, [Entity("T1", "Drug", ((11, 18),), "aspirin"), Entity("T2", "Strength", ((19, 24),), "81 mg"),
                               Entity("T4", "ADE", ((47, 51),), "rash")],
                   relations=[Relation("R1", "Strength-Drug", "T2", "T1"), Relation("R3", "ADE-Drug", "T4", "T1")])
    write_brat_document(doc, tmp_path)
    assert (tmp_path / "w.ann").read_text(encoding="utf-8").splitlines()[3:] == [
        "R1\tStrength-Drug Arg1:T2 Arg2:T1", "R3\tADE-Drug Arg1:T4 Arg2:T1"]
    back = read_brat_document(tmp_path / "w.txt")
    assert back.relations == doc.relations and back.entities == doc.entities


def test_writer_renumbers_relations_with_their_entities_and_rejects_dangling_ones(tmp_path):
    entities = [Entity("drug", "Drug", ((11, 18),), "aspirin"), Entity("dose", "Strength", ((19, 24),), "81 mg")]
    doc = Document("n", TEXT, entities, relations=[Relation("link", "Strength-Drug", "dose", "drug")])
    write_brat_document(doc, tmp_path)
    back = read_brat_document(tmp_path / "n.txt")
    assert back.relations == [Relation("R1", "Strength-Drug", "T2", "T1")]
    by_id = back.entities_by_id()
    assert (by_id["T2"].text, by_id["T1"].text) == ("81 mg", "aspirin")
    with pytest.raises(ValueError, match="relation link names 'gone', but no entity of the document has that id"):
        write_brat_document(Document("d", TEXT, entities, relations=[Relation("link", "Strength-Drug", "gone", "drug")]),
                            tmp_path)
    twice = [entities[0], Entity("drug", "Drug", ((0, 7),), "Patient")]
    with pytest.raises(ValueError, match="names 'drug', but two entities share that id"):
        write_brat_document(Document("d", TEXT, twice, relations=[Relation("R1", "X-Drug", "drug", "drug")]), tmp_path)
    with pytest.raises(ValueError, match="brat types hold no whitespace"):
        write_brat_document(Document("d", TEXT, entities, relations=[Relation("R1", "Strength Drug", "dose", "drug")]),
                            tmp_path)


def test_phee_relation_lines_naming_events_are_set_aside(phee_path):
    counts = AnnotationCounts()
    docs = read_brat_folder(phee_path / "dev", counts=counts)
    kept = sum(len(doc.relations) for doc in docs)
    assert counts.relations_set_aside > 0 and kept + counts.relations_set_aside == counts.lines["R"]
