"""CoNLL writer and reader: columns, sentence and document separators, offsets."""

from __future__ import annotations

import pytest

from medner.corpus.conll import ConllFormatError, read_conll, write_conll
from medner.corpus.document import Document, Entity
from medner.corpus.tagging import tag_documents


def tagged_sentences():
    docs = [
        Document("note-1", "Take aspirin 81 mg daily. Stop it.", [Entity("T1", "Drug", ((5, 12),), "aspirin")]),
        Document("note 2", "Metoprolol BID", [Entity("T1", "Frequency", ((11, 14),), "BID")]),
    ]
    sentences, _ = tag_documents(docs)
    return sentences


def test_written_layout(tmp_path):
    path = write_conll(tagged_sentences(), tmp_path / "out" / "train.conll")
    assert path.read_text(encoding="utf-8") == (
        "-DOCSTART-\tnote-1\n\n"
        "Take\tO\naspirin\tB-Drug\n81\tO\nmg\tO\ndaily\tO\n.\tO\n\n"
        "Stop\tO\nit\tO\n.\tO\n\n"
        "-DOCSTART-\tnote 2\n\n"
        "Metoprolol\tO\nBID\tB-Frequency\n\n"
    )


@pytest.mark.parametrize("offsets", [True, False])
def test_round_trip(tmp_path, offsets):
    sentences = tagged_sentences()
    back = read_conll(write_conll(sentences, tmp_path / "a.conll", offsets=offsets))
    assert [(s.doc_id, s.index, s.words, s.tags) for s in back] == [(s.doc_id, s.index, s.words, s.tags) for s in sentences]
    if offsets:
        assert [s.tokens for s in back] == [s.tokens for s in sentences]
    else:
        # offsets into the document's tokens joined by single spaces
        first = back[0].tokens + back[1].tokens
        joined = " ".join(t.text for t in first)
        assert all(joined[t.start : t.end] == t.text for t in first)
        assert (back[1].tokens[0].start, back[2].tokens[0].start) == (len("Take aspirin 81 mg daily . "), 0)


def test_without_tag_column(tmp_path):
    sentences = tagged_sentences()
    back = read_conll(write_conll(sentences, tmp_path / "words.conll", tag_column=False))
    assert all(s.tags is None for s in back)
    assert [s.words for s in back] == [s.words for s in sentences]


def test_reads_conll2003_style_files(tmp_path):
    path = tmp_path / "eng.conll"
    path.write_text(
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n"
        "-DOCSTART- -X- -X- O\n\nBlackburn NNP B-NP B-PER\n",
        encoding="utf-8",
    )
    sentences = read_conll(path)
    assert [(s.doc_id, s.index, s.words, s.tags) for s in sentences] == [
        ("eng", 0, ["EU", "rejects"], ["B-ORG", "O"]),
        ("eng", 1, ["Peter"], ["B-PER"]),
        ("eng-2", 0, ["Blackburn"], ["B-PER"]),
    ]


def test_errors(tmp_path):
    path = tmp_path / "mixed.conll"
    path.write_text("aspirin\tB-Drug\n81\n", encoding="utf-8")
    with pytest.raises(ConllFormatError, match=r"mixed.conll:2: expected columns \(token, tag\)"):
        read_conll(path)
    bad_offsets = tmp_path / "off.conll"
    bad_offsets.write_text("aspirin\t0\t3\tB-Drug\n", encoding="utf-8")
    with pytest.raises(ConllFormatError, match="off.conll:1: expected offsets 0-3 to span the 7 characters"):
        read_conll(bad_offsets)
    with pytest.raises(FileNotFoundError, match="expected a CoNLL file"):
        read_conll(tmp_path / "none.conll")
    untagged = tagged_sentences()
    untagged[0].tags = None
    with pytest.raises(ValueError, match="found no tags"):
        write_conll(untagged, tmp_path / "x.conll")


# -- bad input (issue 16) ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        ("aspirin\tB-Drug\ncaf\xe9\tO\n".encode("cp1252"), r"bad.conll:2: expected UTF-8 text, found byte 0xe9"),
        ("aspirin\t0\t7\tB-Drug\nmg\t8\t\u00b2\tO\n".encode(), r"bad.conll:2: expected columns \(token, start, end, tag\)"),
        (b"aspirin\tB-Drug\n\tO\n", r"bad.conll:2: expected a token in the first column"),
        (b"aspirin\tB-Drug\nmg\t\n", r"bad.conll:2: expected a tag without whitespace in the last column"),
        (b"aspirin\t5\t12\tB-Drug\nmg\t0\t2\tO\n", r"bad.conll:2: expected a token starting at or after 12"),
        (b"-DOCSTART-\tnote\n\nx\tO\n\n-DOCSTART-\tnote\n\ny\tO\n",
         r"bad.conll:5: expected each document id once, found 'note' again \(first on line 1\)"),
        (("aspirin\t0\t7\tB-Drug\nx\t" + "9" * 5000 + "\t5007\tO\n").encode(),
         r"bad.conll:2: expected columns \(token, start, end, tag\) like the first token line, found .*\.\.\. \(5009 characters\)"),
    ],
)
def test_bad_rows_are_a_conll_format_error_naming_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.conll"
    path.write_bytes(content)
    with pytest.raises(ConllFormatError, match=message) as info:
        read_conll(path)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400


def test_a_huge_row_gives_a_short_message(tmp_path):
    path = tmp_path / "huge.conll"
    path.write_text("aspirin\tB-Drug\n" + "x" * 5_000_000 + "\n", encoding="utf-8")
    with pytest.raises(ConllFormatError, match=r"huge.conll:2: expected columns \(token, tag\)") as info:
        read_conll(path)
    assert len(str(info.value)) < 400 and "(5000000 characters)" in str(info.value)


def test_a_lone_carriage_return_ends_a_row(tmp_path):
    path = tmp_path / "cr.conll"
    path.write_bytes(b"aspirin\tB-Drug\rdaily\tB-Frequency\r\rStop\tO\r")
    assert [(s.words, s.tags) for s in read_conll(path)] == [(["aspirin", "daily"], ["B-Drug", "B-Frequency"]), (["Stop"], ["O"])]
