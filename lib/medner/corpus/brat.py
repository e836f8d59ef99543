"""brat standoff reader and writer, faithful to the n2c2-2018 Track 2 files.

Reading
-------
A document is a ``NAME.txt`` with an optional ``NAME.ann`` beside it (no
``.ann`` means a document with no entities).

* The ``.txt`` is decoded as UTF-8 and kept exactly as in the file: newlines are
  not translated, so a CRLF counts as two
  characters, as brat's own server counts them. A leading UTF-8 byte order mark
  is removed from the text. Offsets are then read as counting from the first
  character after the mark; should every entity of the file only match when the
  mark is counted as a character (a tool that counted it), the offsets of that
  file are shifted by one instead. Either way ``Document.text`` never holds the
  mark and every entity offset points into it.
* Both files must be UTF-8: a byte that is not (a Windows-1252 file, a binary one)
  raises :class:`BratFormatError` naming the file, line and byte, even with
  ``strict=False``, since the offsets of such a pair cannot be trusted.
* The ``.ann`` is split into lines at ``\\r\\n``, ``\\r`` and ``\\n``, as brat's server
  reads it (Python's universal newlines): a lone carriage return ends a line
  instead of hiding the annotation after it inside the one before.
* ``T`` lines (text-bound annotations) become :class:`~medner.corpus.document.Entity`,
  with discontinuous fragments (``Drug 10 19;25 30``) sorted by start. The text
  field of the line is checked against the ``.txt`` at the offsets: it must
  equal the fragment texts joined by one space (in the order the line lists the
  fragments, which PHEE does not always sort), allowing stray trailing tabs or
  spaces on the line and runs of whitespace written as one space (brat and some
  export tools write a fragment that spans a line break with a space).
* ``R`` lines (``R1<TAB>Strength-Drug Arg1:T3 Arg2:T2``) become
  :class:`~medner.corpus.document.Relation`: a type (no whitespace or control
  character) and two arguments, each naming a ``T`` line of the file that was read
  as an entity. Roles ``Arg1``/``Arg2`` may come in either order; other role names
  are taken in the order the line gives them. The relations of a document are
  sorted by id. brat also lets a relation link an event (PHEE's ``has_cue
  Arg1:E2 Arg2:T11``): such a line is valid, counted in ``lines`` and in
  ``AnnotationCounts.relations_set_aside``, and not kept, since a relation of the
  study links two entities.
* ``E`` (events), ``A``/``M`` (attributes), ``N`` (normalisations), ``*``
  (equivalences) and ``#`` (annotator notes) lines are checked for their shape
  and for naming only ids that some line of the file defines, and counted in
  :class:`AnnotationCounts`; their content is not kept.
* A malformed line (a label holding whitespace or control characters, offsets that
  are not ASCII numbers, ...), an offset mismatch or a reference to a missing id
  raises :class:`BratFormatError` with a one-line message ``file:line: expected ...,
  found ...`` that quotes at most 80 characters of what it found. With
  ``strict=False`` the same message is issued with :func:`warnings.warn`, the
  line is skipped and counted in ``AnnotationCounts.skipped``: every ``T`` line is
  an entity or a counted skip, every ``R`` line a relation or a counted skip (a
  relation whose argument's ``T`` line was skipped is skipped too, with its own
  message).

Writing
-------
:func:`write_brat_document` writes ``NAME.txt`` (byte for byte the document
text, UTF-8, no BOM) and ``NAME.ann`` with ``\\n`` line endings, one ``T`` line
per entity, then one ``R`` line per relation (``Arg1``/``Arg2``). Tabs and line
breaks inside an entity's text are written as spaces so that every annotation
stays on one line; the reader accepts that form, so reading what was written gives
back the same entities and relations.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from medner.corpus.document import Document, Entity, Relation
from medner.corpus.textfile import excerpt, read_utf8, split_lines

BOM = "\ufeff"

#: Line kinds the reader understands, by the first character of the annotation id.
ANNOTATION_KINDS: dict[str, str] = {
    "T": "text-bound",
    "R": "relation",
    "E": "event",
    "A": "attribute",
    "M": "attribute",
    "N": "normalisation",
    "*": "equivalence",
    "#": "note",
}

_FRAGMENT = re.compile(r"([0-9]{1,15}) ([0-9]{1,15})")  # ASCII digits, short enough for any text
_ID = re.compile(r"[TREAMN#]\w*|\*")
_LABEL = re.compile(r"[^\s\x00-\x1f\x7f-\x9f]+")  # a brat type: no whitespace, no control character
_WHITESPACE_RUN = re.compile(r"\s+")


def _role_ids(parts: list[str]) -> list[str] | None:
    """The ids of ``Role:<id>`` parts, or None when one is not of that form."""
    ids = [part.split(":", 1)[1] for part in parts if ":" in part]
    return ids if len(ids) == len(parts) and all(ids) else None


#: Each kind of line other than ``T``: whether its first field (split at whitespace) has the
#: kind's shape, the annotation ids it names, and the shape in words for the error message.
_SHAPES: dict[str, tuple[Callable[[list[str]], bool], Callable[[list[str]], list[str]], str]] = {
    "R": (lambda p: len(p) == 3 and _role_ids(p[1:]) is not None, lambda p: _role_ids(p[1:]),
          "'R<id>\\tType Arg1:<id> Arg2:<id>'"),
    "E": (lambda p: bool(p) and _role_ids(p) is not None, _role_ids, "'E<id>\\tType:<trigger> [Role:<id> ...]'"),
    "A": (lambda p: len(p) in (2, 3), lambda p: [p[1]], "'A<id>\\tName <id> [value]'"),
    "M": (lambda p: len(p) in (2, 3), lambda p: [p[1]], "'M<id>\\tName <id> [value]'"),
    "N": (lambda p: len(p) == 3 and ":" in p[2], lambda p: [p[1]], "'N<id>\\tReference <id> DB:ID\\ttext'"),
    "*": (lambda p: len(p) >= 3, lambda p: p[1:], "'*\\tEquiv <id> <id> ...'"),
    "#": (lambda p: len(p) == 2, lambda p: [p[1]], "'#<id>\\tAnnotatorNotes <id>\\tnote'"),
}


class BratFormatError(ValueError):
    """A brat file that does not say what brat standoff must say (message: ``file:line: expected ..., found ...``)."""


@dataclass
class AnnotationCounts:
    """How many annotation lines of each kind were read, and what had to be tolerated or skipped.

    ``lines`` counts lines by their kind letter (``T``, ``R``, ``E``, ``A``, ``M``, ``N``,
    ``*``, ``#``); ``discontinuous`` counts ``T`` lines with more than one fragment;
    ``whitespace_normalised`` counts ``T`` lines whose text matched only after
    whitespace was normalised; ``bom_offsets_shifted`` counts files whose offsets
    counted the byte order mark; ``skipped`` counts lines dropped with a warning
    under ``strict=False``; ``relations_set_aside`` counts valid ``R`` lines not kept
    as relations because an argument is not an entity (an event); ``documents`` and
    ``documents_without_ann`` count files. Every ``R`` line is a relation, set aside or skipped.
    """

    lines: Counter = field(default_factory=Counter)
    discontinuous: int = 0
    whitespace_normalised: int = 0
    bom_offsets_shifted: int = 0
    skipped: int = 0
    documents: int = 0
    documents_without_ann: int = 0
    relations_set_aside: int = 0

    def as_dict(self) -> dict:
        """Plain JSON-ready counts."""
        return {
            "documents": self.documents,
            "documents_without_ann": self.documents_without_ann,
            "lines": {kind: self.lines[kind] for kind in sorted(self.lines)},
            "discontinuous": self.discontinuous,
            "whitespace_normalised": self.whitespace_normalised,
            "bom_offsets_shifted": self.bom_offsets_shifted,
            "skipped": self.skipped,
            "relations_set_aside": self.relations_set_aside,
        }


def _read_text_file(path: Path) -> tuple[str, bool]:
    """The file's text exactly as stored (no newline translation) and whether it started with a BOM."""
    text = read_utf8(path, BratFormatError)
    if text.startswith(BOM):
        return text[1:], True
    return text, False


def _normalise_whitespace(text: str) -> str:
    return _WHITESPACE_RUN.sub(" ", text).strip()


@dataclass
class _TextBoundLine:
    line_number: int
    entity_id: str
    label: str
    fragments: tuple[tuple[int, int], ...]  # in the order the line gives them
    text: str


@dataclass
class _RelationLine:
    line_number: int
    relation_id: str
    type: str
    arg1: str
    arg2: str


@dataclass
class _References:
    """A line that names other annotations: where it is, its kind and the ids it names."""

    line_number: int
    kind: str
    ids: list[str]
    relation: _RelationLine | None = None  # an ``R`` line's relation


class _AnnParser:
    """Parses one ``.ann`` file; raises or warns through :meth:`fail`."""

    def __init__(self, ann_path: Path, strict: bool, counts: AnnotationCounts):
        self.ann_path = ann_path
        self.strict = strict
        self.counts = counts
        self.defined: dict[str, int] = {}  # annotation id -> line of its definition, once parsed

    def fail(self, line_number: int, message: str) -> None:
        full = f"{self.ann_path}:{line_number}: {message}"
        if self.strict:
            raise BratFormatError(full)
        warnings.warn(full, stacklevel=4)
        self.counts.skipped += 1

    def parse(self, content: str) -> tuple[list[_TextBoundLine], list[_RelationLine]]:
        """The ``T`` and ``R`` lines of ``content``; every other line checked for its shape and the ids it names, and counted."""
        text_bound: list[_TextBoundLine] = []
        naming: list[_References] = []
        seen_ids: dict[str, int] = {}
        for line_number, line in enumerate(split_lines(content.removeprefix(BOM)), start=1):
            if line.strip():
                self._line(line_number, line, seen_ids, text_bound, naming)
        self.defined = seen_ids
        kept_relations = []
        for line in naming:
            missing = [ann_id for ann_id in line.ids if ann_id not in seen_ids]
            if missing:
                self.fail(line.line_number, f"expected the ids a {ANNOTATION_KINDS[line.kind]} names to be annotations "
                                            f"of this file, found {excerpt(missing[0])}, which no line defines")
                continue
            self.counts.lines[line.kind] += 1
            if line.kind == "R" and all(ann_id.startswith("T") for ann_id in line.ids):
                kept_relations.append(line.relation)
            elif line.kind == "R":
                self.counts.relations_set_aside += 1
        return text_bound, kept_relations

    def _line(self, line_number: int, line: str, seen_ids: dict[str, int], text_bound: list, naming: list) -> None:
        """Parse one non-blank line into ``text_bound`` (a ``T`` line) or ``naming`` (any other kind)."""
        if "\t" not in line:
            self.fail(line_number, f"expected an annotation id, a tab and an annotation, found {excerpt(line)}")
            return
        ann_id, rest = line.split("\t", 1)
        kind = ann_id[:1]
        if kind not in ANNOTATION_KINDS or not _ID.fullmatch(ann_id):
            self.fail(line_number, f"expected an annotation id starting with one of {''.join(ANNOTATION_KINDS)}, "
                                   f"found {excerpt(ann_id)}")
            return
        if ann_id != "*" and ann_id in seen_ids:
            self.fail(line_number, f"expected a unique annotation id, found {excerpt(ann_id)} again (first on line {seen_ids[ann_id]})")
            return
        seen_ids[ann_id] = line_number
        if kind == "T":
            self._text_bound(line_number, ann_id, rest, text_bound)
            return
        ids = self._naming(line_number, kind, rest)
        if ids is None:
            return
        relation = self._relation(line_number, ann_id, rest) if kind == "R" else None
        if kind != "R" or relation is not None:
            naming.append(_References(line_number, kind, ids, relation))

    def _relation(self, line_number: int, ann_id: str, rest: str) -> _RelationLine | None:
        """The relation of an ``R`` line whose shape was checked (``Type Role:<id> Role:<id>``); None after a failure."""
        relation_type, *arguments = rest.split("\t")[0].split()
        if not _LABEL.fullmatch(relation_type):
            self.fail(line_number, f"expected a relation type without whitespace or control characters, "
                                   f"found {excerpt(relation_type)}")
            return None
        roles = dict(argument.split(":", 1) for argument in arguments)
        if set(roles) == {"Arg1", "Arg2"}:
            arg1, arg2 = roles["Arg1"], roles["Arg2"]
        else:
            arg1, arg2 = (argument.split(":", 1)[1] for argument in arguments)
        return _RelationLine(line_number, ann_id, relation_type, arg1, arg2)

    def _text_bound(self, line_number: int, ann_id: str, rest: str, out: list[_TextBoundLine]) -> None:
        """Parse the rest of a ``T`` line (``Label start end[;start end]<TAB>text``) into ``out``."""
        if "\t" not in rest:
            self.fail(line_number, f"expected 'T<id>\\tLabel start end[;start end]\\ttext', found no text field in {excerpt(rest)}")
            return
        annotation, text = rest.split("\t", 1)
        annotation = annotation.strip(" ")
        if " " not in annotation:
            self.fail(line_number, f"expected 'Label start end[;start end]', found {excerpt(annotation)}")
            return
        label, spans = annotation.split(" ", 1)
        if not _LABEL.fullmatch(label):
            self.fail(line_number, f"expected a label without whitespace or control characters, found {excerpt(label)}")
            return
        fragments = self._fragments(line_number, spans)
        if fragments is None:
            return
        self.counts.lines["T"] += 1
        out.append(_TextBoundLine(line_number, ann_id, label, fragments, text))

    def _fragments(self, line_number: int, spans: str) -> tuple[tuple[int, int], ...] | None:
        """The fragments of ``spans`` in the order the line lists them (the entity keeps them sorted); None after a failure."""
        fragments = []
        for piece in spans.split(";"):
            match = _FRAGMENT.fullmatch(piece.strip(" "))
            if not match:
                self.fail(line_number, f"expected a fragment 'start end' of two integers, found {excerpt(piece)} in {excerpt(spans)}")
                return None
            start, end = int(match.group(1)), int(match.group(2))
            if start >= end:
                self.fail(line_number, f"expected fragment start < end, found {start} {end}")
                return None
            fragments.append((start, end))
        ordered = sorted(fragments)
        for (_, prev_end), (next_start, _) in zip(ordered, ordered[1:]):
            if next_start < prev_end:
                self.fail(line_number, f"expected non-overlapping fragments, found {excerpt(spans)}")
                return None
        return tuple(fragments)

    def _naming(self, line_number: int, kind: str, rest: str) -> list[str] | None:
        """The ids a non-``T`` line names when its first field has the shape of its kind, else None after a failure."""
        has_shape, named_ids, expected = _SHAPES[kind]
        parts = rest.split("\t")[0].split()
        if not has_shape(parts):
            self.fail(line_number, f"expected {expected}, found {excerpt(rest.rstrip())}")
            return None
        return named_ids(parts)


def _text_matches(expected: str, found: str) -> str | None:
    """``"exact"``, ``"normalised"`` (equal up to whitespace) or None when the annotation text disagrees."""
    if found == expected or found.rstrip(" \t") == expected:
        return "exact"
    if _normalise_whitespace(found) == _normalise_whitespace(expected):
        return "normalised"
    return None


def read_brat_document(
    txt_path: str | Path,
    ann_path: str | Path | None = None,
    *,
    strict: bool = True,
    counts: AnnotationCounts | None = None,
) -> Document:
    """Read one brat document: ``txt_path`` and its ``.ann`` (default: same name beside it; absent = no entities).

    ``counts``, when given, is updated with the annotation lines read (see :class:`AnnotationCounts`).
    Raises :class:`BratFormatError` (``file:line: expected ..., found ...``) on a malformed line or an
    entity whose text does not match the ``.txt``; with ``strict=False`` warns and skips the line instead.
    """
    txt_path = Path(txt_path)
    counts = counts if counts is not None else AnnotationCounts()
    if not txt_path.is_file():
        raise FileNotFoundError(f"{txt_path}: expected a brat .txt file, found nothing there")
    text, had_bom = _read_text_file(txt_path)
    ann_path = Path(ann_path) if ann_path is not None else txt_path.with_suffix(".ann")
    counts.documents += 1
    doc = Document(id=txt_path.stem, text=text, entities=[], source=str(txt_path))
    if not ann_path.is_file():
        counts.documents_without_ann += 1
        return doc
    parser = _AnnParser(ann_path, strict, counts)
    lines, relation_lines = parser.parse(read_utf8(ann_path, BratFormatError))
    shift = _bom_shift(lines, doc) if had_bom else 0
    counts.bom_offsets_shifted += shift
    for line in lines:
        entity = _entity(line, doc, shift, parser)
        if entity is not None:
            doc.entities.append(entity)
    doc.entities.sort(key=lambda ent: (ent.start, ent.end, ent.label, ent.id))
    doc.relations = _relations(relation_lines, {entity.id for entity in doc.entities}, parser)
    return doc


def _relations(lines: list[_RelationLine], read: set[str], parser: _AnnParser) -> list[Relation]:
    """The relations of ``lines`` whose arguments were both read as entities, sorted by id; a relation naming an
    entity whose ``T`` line was skipped (``strict=False``) is skipped too, with its own message."""
    relations = []
    for line in lines:
        unread = [arg for arg in (line.arg1, line.arg2) if arg not in read]
        if unread:
            parser.fail(line.line_number, f"expected the arguments of {excerpt(line.relation_id)} to be entities of "
                                          f"this file, found {excerpt(unread[0])}, whose line {parser.defined[unread[0]]} "
                                          "was skipped")
            parser.counts.lines["R"] -= 1
            continue
        relations.append(Relation(id=line.relation_id, type=line.type, arg1=line.arg1, arg2=line.arg2))
    return sorted(relations, key=_relation_order)


def _relation_order(relation: Relation) -> tuple:
    """``R2`` before ``R10``: by the number in the id when there is one, then by the id."""
    number = relation.id[1:]
    return (0, int(number), relation.id) if number.isdigit() and len(number) < 16 else (1, 0, relation.id)


def _bom_shift(lines: list[_TextBoundLine], doc: Document) -> int:
    """1 when every entity of a file whose text began with a BOM matches only with the BOM counted, else 0.

    A tool that kept the BOM as character 0 wrote every offset one too high.
    """

    def all_match(offset: int) -> bool:
        for line in lines:
            frags = tuple((s - offset, e - offset) for s, e in line.fragments)
            if min(frags)[0] < 0 or max(e for _, e in frags) > len(doc.text):
                return False
            if _text_matches(doc.entity_text(frags), line.text) is None:
                return False
        return True

    return int(bool(lines) and not all_match(0) and all_match(1))


def _entity(line: _TextBoundLine, doc: Document, shift: int, parser: _AnnParser) -> Entity | None:
    """The entity of a ``T`` line when its offsets fall in the text and its text matches; None after a failure."""
    counts = parser.counts
    file_order = tuple((s - shift, e - shift) for s, e in line.fragments)
    fragments = tuple(sorted(file_order))
    name = Path(doc.source).name
    if fragments[-1][1] > len(doc.text):
        parser.fail(line.line_number, f"expected offsets within the {len(doc.text)} characters of {name}, "
                                      f"found {excerpt(line.entity_id)} ending at {fragments[-1][1]}")
        counts.lines["T"] -= 1
        return None
    expected = doc.entity_text(fragments)
    match = _text_matches(doc.entity_text(file_order), line.text) or _text_matches(expected, line.text)
    if match is None:
        spans = ";".join(f"{s} {e}" for s, e in line.fragments)
        parser.fail(line.line_number, f"expected the text of {excerpt(line.entity_id)} at {excerpt(spans)} in {name} "
                                      f"to be {excerpt(expected)}, found {excerpt(line.text)}")
        counts.lines["T"] -= 1
        return None
    counts.whitespace_normalised += int(match == "normalised")
    counts.discontinuous += int(len(fragments) > 1)
    return Entity(id=line.entity_id, label=line.label, fragments=fragments, text=expected)


def read_brat_folder(
    folder: str | Path, *, strict: bool = True, counts: AnnotationCounts | None = None
) -> list[Document]:
    """Every ``*.txt`` document of ``folder`` (not its subfolders), sorted by id.

    An ``.ann`` without its ``.txt`` is an error (a warning with ``strict=False``): its
    annotations could not be checked or used.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: expected a folder of brat .txt/.ann files, found no such folder")
    counts = counts if counts is not None else AnnotationCounts()
    txt_files = sorted(folder.glob("*.txt"), key=lambda p: p.stem)
    stems = {p.stem for p in txt_files}
    for orphan in sorted(folder.glob("*.ann")):
        if orphan.stem not in stems:
            message = f"{orphan}:1: expected {orphan.with_suffix('.txt').name} beside it, found no text file"
            if strict:
                raise BratFormatError(message)
            warnings.warn(message, stacklevel=2)
            counts.skipped += 1
    return [read_brat_document(path, strict=strict, counts=counts) for path in txt_files]


def _ann_text(text: str) -> str:
    # One annotation per line: tabs and line breaks inside an entity are written as spaces.
    return re.sub(r"[\t\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]", " ", text)


def format_ann(doc: Document) -> str:
    """The ``.ann`` content for ``doc``: one ``T`` line per entity, then one ``R`` line per relation, ``\\n`` line endings.

    Entity ids are kept when they are unique ``T<n>`` ids, otherwise every entity is numbered ``T1..`` (and the
    relations name the new ids); relation ids likewise (``R<n>``, else ``R1..``). Raises ValueError for an entity
    whose offsets fall outside the text or whose label contains whitespace, and for a relation whose type holds
    whitespace or that names no entity of the document (or one of two entities sharing an id).
    """
    ids = [ent.id for ent in doc.entities]
    keep_ids = len(set(ids)) == len(ids) and all(re.fullmatch(r"T\d+", i or "") for i in ids)
    out = []
    written_id: dict[str, str] = {}
    for number, ent in enumerate(doc.entities, start=1):
        if not ent.fragments or ent.fragments[-1][1] > len(doc.text) or any(s >= e for s, e in ent.fragments):
            raise ValueError(f"document {doc.id}: entity {ent.id} has fragments {ent.fragments} outside its {len(doc.text)} characters")
        if not ent.label or re.search(r"\s", ent.label):
            raise ValueError(f"document {doc.id}: entity {ent.id} has label {ent.label!r}; brat labels hold no whitespace")
        spans = ";".join(f"{s} {e}" for s, e in ent.fragments)
        ann_id = ent.id if keep_ids else f"T{number}"
        written_id[ent.id] = ann_id
        out.append(f"{ann_id}\t{ent.label} {spans}\t{_ann_text(doc.entity_text(ent.fragments))}\n")
    out.extend(_relation_lines(doc, written_id, shared_ids={i for i, n in Counter(ids).items() if n > 1}))
    return "".join(out)


def _relation_lines(doc: Document, written_id: dict[str, str], shared_ids: set[str]) -> list[str]:
    """The ``R`` lines of ``doc``'s relations, naming the entity ids as written (``written_id``)."""
    relation_ids = [relation.id for relation in doc.relations]
    keep_ids = len(set(relation_ids)) == len(relation_ids) and all(re.fullmatch(r"R\d+", i or "") for i in relation_ids)
    out = []
    for number, relation in enumerate(doc.relations, start=1):
        if not relation.type or re.search(r"\s", relation.type):
            raise ValueError(f"document {doc.id}: relation {relation.id} has type {relation.type!r}; brat types hold no whitespace")
        for argument in (relation.arg1, relation.arg2):
            if argument not in written_id or argument in shared_ids:
                why = "two entities share that id" if argument in shared_ids else "no entity of the document has that id"
                raise ValueError(f"document {doc.id}: relation {relation.id} names {argument!r}, but {why}")
        ann_id = relation.id if keep_ids else f"R{number}"
        out.append(f"{ann_id}\t{relation.type} Arg1:{written_id[relation.arg1]} Arg2:{written_id[relation.arg2]}\n")
    return out


def write_brat_document(doc: Document, folder: str | Path, *, write_text: bool = True) -> Path:
    """Write ``doc`` as ``folder/<id>.ann`` (and ``<id>.txt`` when ``write_text``); returns the ``.ann`` path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ann_path = folder / f"{doc.id}.ann"
    content = format_ann(doc)
    if write_text:
        with open(folder / f"{doc.id}.txt", "w", encoding="utf-8", newline="") as handle:
            handle.write(doc.text)
    with open(ann_path, "w", encoding="utf-8", newline="") as handle:
        handle.write(content)
    return ann_path


def write_brat_folder(docs: list[Document], folder: str | Path, *, write_text: bool = True) -> Path:
    """Write every document of ``docs`` into ``folder`` (created if needed); returns ``folder``."""
    folder = Path(folder)
    seen: set[str] = set()
    for doc in docs:
        if doc.id in seen:
            raise ValueError(f"two documents share the id {doc.id!r}; brat file names must be unique in {folder}")
        seen.add(doc.id)
        write_brat_document(doc, folder, write_text=write_text)
    return folder
