"""brat standoff reader and writer, faithful to the n2c2-2018 Track 2 files.

Reading
-------
A document is a ``NAME.txt`` with an optional ``NAME.ann`` beside it (no
``.ann`` means a document with no entities).

* The ``.txt`` is decoded as UTF-8 and kept exactly as in the file: newlines are
  not translated (it is opened with ``newline=""``), so a CRLF counts as two
  characters, as brat's own server counts them. A leading UTF-8 byte order mark
  is removed from the text. Offsets are then read as counting from the first
  character after the mark; should every entity of the file only match when the
  mark is counted as a character (a tool that counted it), the offsets of that
  file are shifted by one instead. Either way ``Document.text`` never holds the
  mark and every entity offset points into it.
* ``T`` lines (text-bound annotations) become :class:`~medner.corpus.document.Entity`,
  with discontinuous fragments (``Drug 10 19;25 30``) sorted by start. The text
  field of the line is checked against the ``.txt`` at the offsets: it must
  equal the fragment texts joined by one space (in the order the line lists the
  fragments, which PHEE does not always sort), allowing stray trailing tabs or
  spaces on the line and runs of whitespace written as one space (brat and some
  export tools write a fragment that spans a line break with a space).
* ``R`` (relations), ``E`` (events), ``A``/``M`` (attributes), ``N``
  (normalisations), ``*`` (equivalences) and ``#`` (annotator notes) lines are
  checked for their shape and counted in :class:`AnnotationCounts`; their
  content is not kept, the study only needs the entities.
* A malformed line or an offset mismatch raises :class:`BratFormatError` with a
  one-line message ``file:line: expected ..., found ...``. With
  ``strict=False`` the same message is issued with :func:`warnings.warn`, the
  line is skipped and counted in ``AnnotationCounts.skipped``.

Writing
-------
:func:`write_brat_document` writes ``NAME.txt`` (byte for byte the document
text, UTF-8, no BOM) and ``NAME.ann`` with ``\\n`` line endings, one ``T`` line
per entity. Tabs and line breaks inside an entity's text are written as spaces
so that every annotation stays on one line; the reader accepts that form, so
reading what was written gives back the same entities.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from medner.corpus.document import Document, Entity

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

_FRAGMENT = re.compile(r"^(\d+) (\d+)$")
_ID = re.compile(r"^[TREAMN#]\w*$|^\*$")
_WHITESPACE_RUN = re.compile(r"\s+")


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
    under ``strict=False``; ``documents`` and ``documents_without_ann`` count files.
    """

    lines: Counter = field(default_factory=Counter)
    discontinuous: int = 0
    whitespace_normalised: int = 0
    bom_offsets_shifted: int = 0
    skipped: int = 0
    documents: int = 0
    documents_without_ann: int = 0

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
        }


def _read_text_file(path: Path) -> tuple[str, bool]:
    """The file's text exactly as stored (no newline translation) and whether it started with a BOM."""
    with open(path, encoding="utf-8", newline="") as handle:
        text = handle.read()
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


class _AnnParser:
    """Parses one ``.ann`` file; raises or warns through :meth:`fail`."""

    def __init__(self, ann_path: Path, strict: bool, counts: AnnotationCounts):
        self.ann_path = ann_path
        self.strict = strict
        self.counts = counts

    def fail(self, line_number: int, message: str) -> None:
        full = f"{self.ann_path}:{line_number}: {message}"
        if self.strict:
            raise BratFormatError(full)
        warnings.warn(full, stacklevel=4)
        self.counts.skipped += 1

    def parse(self, content: str) -> list[_TextBoundLine]:
        text_bound: list[_TextBoundLine] = []
        if content.startswith(BOM):
            content = content[1:]
        seen_ids: dict[str, int] = {}
        for line_number, raw in enumerate(content.split("\n"), start=1):
            line = raw[:-1] if raw.endswith("\r") else raw
            if not line.strip():
                continue
            if "\t" not in line:
                self.fail(line_number, f"expected an annotation id, a tab and an annotation, found {line!r}")
                continue
            ann_id, rest = line.split("\t", 1)
            kind = ann_id[:1]
            if kind not in ANNOTATION_KINDS or not _ID.match(ann_id):
                self.fail(
                    line_number,
                    f"expected an annotation id starting with one of {''.join(ANNOTATION_KINDS)}, found {ann_id!r}",
                )
                continue
            if ann_id != "*" and ann_id in seen_ids:
                self.fail(line_number, f"expected a unique annotation id, found {ann_id!r} again (first on line {seen_ids[ann_id]})")
                continue
            seen_ids[ann_id] = line_number
            parsed_ok = {
                "T": self._text_bound,
                "R": self._relation,
                "E": self._event,
                "A": self._attribute,
                "M": self._attribute,
                "N": self._normalisation,
                "*": self._equivalence,
                "#": self._note,
            }[kind](line_number, ann_id, rest, text_bound)
            if parsed_ok:
                self.counts.lines[kind] += 1
        return text_bound

    def _text_bound(self, line_number: int, ann_id: str, rest: str, out: list[_TextBoundLine]) -> bool:
        if "\t" not in rest:
            self.fail(line_number, f"expected 'T<id>\\tLabel start end[;start end]\\ttext', found no text field in {rest!r}")
            return False
        annotation, text = rest.split("\t", 1)
        annotation = annotation.strip(" ")
        if " " not in annotation:
            self.fail(line_number, f"expected 'Label start end[;start end]', found {annotation!r}")
            return False
        label, spans = annotation.split(" ", 1)
        fragments = []
        for piece in spans.split(";"):
            match = _FRAGMENT.match(piece.strip(" "))
            if not match:
                self.fail(line_number, f"expected a fragment 'start end' of two integers, found {piece!r} in {annotation!r}")
                return False
            start, end = int(match.group(1)), int(match.group(2))
            if start >= end:
                self.fail(line_number, f"expected fragment start < end, found {start} {end}")
                return False
            fragments.append((start, end))
        # The text field follows the order of the line; the entity keeps its fragments sorted.
        file_order = tuple(fragments)
        fragments.sort()
        for (_, prev_end), (next_start, _) in zip(fragments, fragments[1:]):
            if next_start < prev_end:
                self.fail(line_number, f"expected non-overlapping fragments, found {spans!r}")
                return False
        out.append(_TextBoundLine(line_number, ann_id, label, file_order, text))
        return True

    def _relation(self, line_number: int, ann_id: str, rest: str, out: list) -> bool:
        parts = rest.split("\t")[0].split()
        if len(parts) != 3 or not all(":" in p for p in parts[1:]):
            self.fail(line_number, f"expected 'R<id>\\tType Arg1:<id> Arg2:<id>', found {rest.rstrip()!r}")
            return False
        return True

    def _event(self, line_number: int, ann_id: str, rest: str, out: list) -> bool:
        parts = rest.split("\t")[0].split()
        if not parts or not all(":" in p and p.split(":", 1)[1] for p in parts):
            self.fail(line_number, f"expected 'E<id>\\tType:<trigger> [Role:<id> ...]', found {rest.rstrip()!r}")
            return False
        return True

    def _attribute(self, line_number: int, ann_id: str, rest: str, out: list) -> bool:
        parts = rest.split("\t")[0].split()
        if len(parts) not in (2, 3):
            self.fail(line_number, f"expected '{ann_id[0]}<id>\\tName <id> [value]', found {rest.rstrip()!r}")
            return False
        return True

    def _normalisation(self, line_number: int, ann_id: str, rest: str, out: list) -> bool:
        parts = rest.split("\t")[0].split()
        if len(parts) != 3 or ":" not in parts[2]:
            self.fail(line_number, f"expected 'N<id>\\tReference <id> DB:ID\\ttext', found {rest.rstrip()!r}")
            return False
        return True

    def _equivalence(self, line_number: int, ann_id: str, rest: str, out: list) -> bool:
        parts = rest.split("\t")[0].split()
        if len(parts) < 3:
            self.fail(line_number, f"expected '*\\tEquiv <id> <id> ...', found {rest.rstrip()!r}")
            return False
        return True

    def _note(self, line_number: int, ann_id: str, rest: str, out: list) -> bool:
        parts = rest.split("\t")[0].split()
        if len(parts) != 2:
            self.fail(line_number, f"expected '#<id>\\tAnnotatorNotes <id>\\tnote', found {rest.rstrip()!r}")
            return False
        return True


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
    with open(ann_path, encoding="utf-8", newline="") as handle:
        content = handle.read()
    parser = _AnnParser(ann_path, strict, counts)
    lines = parser.parse(content)

    shift = 0
    if had_bom and lines:
        # A tool that kept the BOM as character 0 wrote every offset one too high.
        def all_match(offset: int) -> bool:
            for line in lines:
                frags = tuple((s - offset, e - offset) for s, e in line.fragments)
                if min(frags)[0] < 0 or max(e for _, e in frags) > len(text) or _text_matches(doc.entity_text(frags), line.text) is None:
                    return False
            return True

        if not all_match(0) and all_match(1):
            shift = 1
            counts.bom_offsets_shifted += 1

    for line in lines:
        file_order = tuple((s - shift, e - shift) for s, e in line.fragments)
        fragments = tuple(sorted(file_order))
        if fragments[-1][1] > len(text):
            parser.fail(
                line.line_number,
                f"expected offsets within the {len(text)} characters of {txt_path.name}, found {line.entity_id} ending at {fragments[-1][1]}",
            )
            counts.lines["T"] -= 1
            continue
        expected = doc.entity_text(fragments)
        match = _text_matches(doc.entity_text(file_order), line.text) or _text_matches(expected, line.text)
        if match is None:
            parser.fail(
                line.line_number,
                f"expected the text of {line.entity_id} at {';'.join(f'{s} {e}' for s, e in line.fragments)} "
                f"in {txt_path.name} to be {expected!r}, found {line.text!r}",
            )
            counts.lines["T"] -= 1
            continue
        if match == "normalised":
            counts.whitespace_normalised += 1
        if len(fragments) > 1:
            counts.discontinuous += 1
        doc.entities.append(Entity(id=line.entity_id, label=line.label, fragments=fragments, text=expected))
    doc.entities.sort(key=lambda ent: (ent.start, ent.end, ent.label, ent.id))
    return doc


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
    """The ``.ann`` content for ``doc``: one ``T`` line per entity, ``\\n`` line endings.

    Entity ids are kept when they are unique ``T<n>`` ids, otherwise every entity is numbered ``T1..``.
    Raises ValueError for an entity whose offsets fall outside the text or whose label contains whitespace.
    """
    ids = [ent.id for ent in doc.entities]
    keep_ids = len(set(ids)) == len(ids) and all(re.fullmatch(r"T\d+", i or "") for i in ids)
    out = []
    for number, ent in enumerate(doc.entities, start=1):
        if not ent.fragments or ent.fragments[-1][1] > len(doc.text) or any(s >= e for s, e in ent.fragments):
            raise ValueError(f"document {doc.id}: entity {ent.id} has fragments {ent.fragments} outside its {len(doc.text)} characters")
        if not ent.label or re.search(r"\s", ent.label):
            raise ValueError(f"document {doc.id}: entity {ent.id} has label {ent.label!r}; brat labels hold no whitespace")
        spans = ";".join(f"{s} {e}" for s, e in ent.fragments)
        ann_id = ent.id if keep_ids else f"T{number}"
        out.append(f"{ann_id}\t{ent.label} {spans}\t{_ann_text(doc.entity_text(ent.fragments))}\n")
    return "".join(out)


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
