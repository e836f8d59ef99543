"""CoNLL column files: one token per line, a blank line between sentences, ``-DOCSTART-`` between documents.

Format written by :func:`write_conll` (columns separated by a tab)::

    -DOCSTART-	<document id>
    <blank line>
    Metoprolol	B-Drug
    25	B-Strength
    ...
    <blank line>

With ``offsets=True`` two columns with the token's character offsets in the
document text come between the token and the tag (``Metoprolol	3	13	B-Drug``),
so predictions can be turned back into character-offset entities. The token is
always the first column and the tag the last, as conlleval and flair's
``ColumnCorpus`` expect.

:func:`read_conll` reads those files and the usual variants: the tag is the
last column when there are two or more (so four-column CoNLL-2003 files read
too), columns 2 and 3 are offsets when both are integers, a ``-DOCSTART-`` line
may carry the document id after a tab or space (or ``-X- -X- O``), and the blank
line after it is optional. When no offsets are stored, tokens get offsets into
the document's tokens joined by single spaces (sentences too). Lines end at
``\\r\\n``, ``\\r`` or ``\\n``. A file that is not UTF-8, a row whose columns differ from
the first row's, an empty token or tag, offsets that do not span their token or go
backwards, or a document id given twice raise :class:`ConllFormatError` with one line
``file:line: expected ..., found ...`` quoting at most 80 characters.
"""

from __future__ import annotations

import re
from pathlib import Path

from medner.corpus.document import Sentence, Token
from medner.corpus.textfile import excerpt, read_utf8, split_lines

DOCSTART = "-DOCSTART-"
BOM = "\ufeff"
_OFFSET = re.compile(r"[0-9]{1,15}")  # ASCII digits, short enough for any text


class ConllFormatError(ValueError):
    """A CoNLL file that does not follow the column format (message: ``file:line: expected ..., found ...``)."""


def write_conll(sentences: list[Sentence], path: str | Path, *, tag_column: bool = True, offsets: bool = False) -> Path:
    """Write ``sentences`` (grouped by ``doc_id`` in the order given) to ``path``; returns the path.

    ``tag_column`` writes each sentence's tags (ValueError when a sentence has none);
    ``offsets`` writes the token offsets as two extra columns.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    current_doc: str | None = None
    for sentence in sentences:
        if sentence.doc_id != current_doc:
            if re.search(r"[\r\n]", sentence.doc_id):
                raise ValueError(f"document id {sentence.doc_id!r} holds a line break; it cannot go on a -DOCSTART- line")
            lines.extend([f"{DOCSTART}\t{sentence.doc_id}", ""])
            current_doc = sentence.doc_id
        if tag_column and (sentence.tags is None or len(sentence.tags) != len(sentence.tokens)):
            found = "no tags" if sentence.tags is None else f"{len(sentence.tags)} tags"
            raise ValueError(
                f"document {sentence.doc_id} sentence {sentence.index}: expected one tag per token ({len(sentence.tokens)}), found {found}"
            )
        for k, token in enumerate(sentence.tokens):
            if not token.text or re.search(r"\s", token.text):
                raise ValueError(
                    f"document {sentence.doc_id} sentence {sentence.index}: token {token.text!r} is empty or holds whitespace; "
                    "a CoNLL column cannot hold it"
                )
            columns = [token.text]
            if offsets:
                columns += [str(token.start), str(token.end)]
            if tag_column:
                columns.append(sentence.tags[k])
            lines.append("\t".join(columns))
        lines.append("")
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("\n".join(lines) + ("\n" if lines else ""))
    return path


def _describe_layout(layout: tuple[bool, bool]) -> str:
    has_offsets, has_tag = layout
    return ("token, start, end" if has_offsets else "token") + (", tag" if has_tag else "")


def _row_layout(columns: list[str]) -> tuple[bool, bool]:
    """(has_offsets, has_tag) of a token row: offsets are columns 2 and 3 when both are whole numbers."""
    has_offsets = len(columns) >= 3 and bool(_OFFSET.fullmatch(columns[1])) and bool(_OFFSET.fullmatch(columns[2]))
    has_tag = len(columns) == 2 or len(columns) > 3 or (len(columns) == 3 and not has_offsets)
    return has_offsets, has_tag


class _ConllReader:
    """The state of :func:`read_conll` while it reads one file line by line."""

    def __init__(self, path: Path):
        self.path = path
        self.sentences: list[Sentence] = []
        self.doc_id: str | None = None
        self.doc_lines: dict[str, int] = {}  # document id -> its -DOCSTART- line
        self.doc_index = 0
        self.unnamed = 0
        self.cursor = 0  # next free offset in the space-joined document text when none are stored
        self.rows: list[tuple[int, list[str]]] = []
        self.layout: tuple[bool, bool] | None = None  # (has_offsets, has_tag), fixed by the first token row

    def fail(self, line_number: int, message: str) -> None:
        raise ConllFormatError(f"{self.path}:{line_number}: {message}")

    def line(self, line_number: int, line: str) -> None:
        """Read one line: a blank ends a sentence, ``-DOCSTART-`` starts a document, anything else is a token row."""
        if not line.strip():
            self.flush()
        elif line.startswith(DOCSTART):
            self.flush()
            rest = line[len(DOCSTART) :].strip()
            self.new_doc(line_number, rest if rest and rest not in ("-X- -X- O", "O") else None)
        else:
            self.row(line_number, line)

    def row(self, line_number: int, line: str) -> None:
        columns = line.split("\t") if "\t" in line else line.split()
        layout = _row_layout(columns)
        if self.layout is None:
            self.layout = layout
        elif layout != self.layout:
            self.fail(line_number, f"expected columns ({_describe_layout(self.layout)}) like the first token line, found {excerpt(line)}")
        if not columns[0].strip():
            self.fail(line_number, f"expected a token in the first column, found {excerpt(columns[0])} in {excerpt(line)}")
        if layout[1] and (not columns[-1] or re.search(r"\s", columns[-1])):
            self.fail(line_number, f"expected a tag without whitespace in the last column, found {excerpt(columns[-1])}")
        self.rows.append((line_number, columns))

    def new_doc(self, line_number: int | None, name: str | None) -> None:
        if name is None:
            self.unnamed += 1
            name = self.path.stem if self.unnamed == 1 else f"{self.path.stem}-{self.unnamed}"
        if name in self.doc_lines:
            self.fail(line_number or 1, f"expected each document id once, found {excerpt(name)} again "
                                        f"(first on line {self.doc_lines[name]})")
        self.doc_lines[name] = line_number or 1
        self.doc_id, self.doc_index, self.cursor = name, 0, 0

    def flush(self) -> None:
        """End the sentence of the rows read since the last blank line, if any."""
        if not self.rows:
            return
        if self.doc_id is None:
            self.new_doc(self.rows[0][0], None)
        has_offsets, has_tag = self.layout
        tokens = [self.token(line_number, columns[0], columns, has_offsets) for line_number, columns in self.rows]
        tags = [columns[-1] for _, columns in self.rows] if has_tag else None
        self.sentences.append(Sentence(doc_id=self.doc_id, index=self.doc_index, tokens=tokens, tags=tags))
        self.doc_index += 1
        self.rows = []

    def token(self, line_number: int, text: str, columns: list[str], has_offsets: bool) -> Token:
        """The token of one row: its stored offsets, or the next place in the space-joined text of the document."""
        if not has_offsets:
            start = self.cursor + (1 if self.cursor else 0)
            self.cursor = start + len(text)
            return Token(text, start, self.cursor)
        start, end = int(columns[1]), int(columns[2])
        if end - start != len(text):
            self.fail(line_number, f"expected offsets {start}-{end} to span the {len(text)} characters of {excerpt(text)}")
        if start < self.cursor:
            self.fail(line_number, f"expected a token starting at or after {self.cursor} (where the one before it ends), found {start}")
        self.cursor = end
        return Token(text, start, end)


def read_conll(path: str | Path) -> list[Sentence]:
    """Sentences of a CoNLL file, with tags when the file has a tag column (see the module docstring).

    Documents without a ``-DOCSTART-`` line are named after the file (``<stem>``, then
    ``<stem>-2``, ... for each further unnamed document). Raises :class:`ConllFormatError`
    (``file:line: expected ..., found ...``) when rows of one file disagree on their columns, a
    row has an empty token or tag, stored offsets do not span the token or go backwards, a
    document id comes twice, or the file is not UTF-8.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: expected a CoNLL file, found nothing there")
    reader = _ConllReader(path)
    for line_number, line in enumerate(split_lines(read_utf8(path, ConllFormatError).removeprefix(BOM)), start=1):
        reader.line(line_number, line)
    reader.flush()
    return reader.sentences
