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
the document's tokens joined by single spaces (sentences too).
"""

from __future__ import annotations

import re
from pathlib import Path

from medner.corpus.document import Sentence, Token

DOCSTART = "-DOCSTART-"


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


def read_conll(path: str | Path) -> list[Sentence]:
    """Sentences of a CoNLL file, with tags when the file has a tag column (see the module docstring).

    Documents without a ``-DOCSTART-`` line are named after the file (``<stem>``, then
    ``<stem>-2``, ... for each further unnamed document). Raises :class:`ConllFormatError`
    when rows of one file disagree on their columns.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: expected a CoNLL file, found nothing there")
    sentences: list[Sentence] = []
    doc_id: str | None = None
    doc_index = 0
    unnamed = 0
    cursor = 0  # next free offset in the space-joined document text when none are stored
    rows: list[tuple[int, list[str]]] = []
    layout: tuple[bool, bool] | None = None  # (has_offsets, has_tag), fixed by the first token row

    def new_doc(name: str | None) -> None:
        nonlocal doc_id, doc_index, cursor, unnamed
        if name is None:
            unnamed += 1
            name = path.stem if unnamed == 1 else f"{path.stem}-{unnamed}"
        doc_id, doc_index, cursor = name, 0, 0

    def flush() -> None:
        nonlocal doc_index, cursor, rows
        if not rows:
            return
        if doc_id is None:
            new_doc(None)
        has_offsets, has_tag = layout
        tokens, tags = [], []
        for line_number, columns in rows:
            text = columns[0]
            if has_offsets:
                start, end = int(columns[1]), int(columns[2])
                if end - start != len(text):
                    raise ConllFormatError(
                        f"{path}:{line_number}: expected offsets {start}-{end} to span the {len(text)} characters of {text!r}"
                    )
            else:
                start = cursor + (1 if cursor else 0)
                end = start + len(text)
                cursor = end
            tokens.append(Token(text, start, end))
            if has_tag:
                tags.append(columns[-1])
        sentences.append(Sentence(doc_id=doc_id, index=doc_index, tokens=tokens, tags=tags if has_tag else None))
        doc_index += 1
        rows = []

    with open(path, encoding="utf-8-sig") as handle:
        for line_number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                flush()
                continue
            if line.startswith(DOCSTART):
                flush()
                rest = line[len(DOCSTART) :].strip()
                new_doc(rest if rest and rest != "-X- -X- O" and rest != "O" else None)
                continue
            columns = line.split("\t") if "\t" in line else line.split()
            has_offsets = len(columns) >= 3 and columns[1].isdigit() and columns[2].isdigit()
            row_layout = (has_offsets, len(columns) == 2 or len(columns) > 3 or (len(columns) == 3 and not has_offsets))
            if layout is None:
                layout = row_layout
            elif row_layout != layout:
                raise ConllFormatError(
                    f"{path}:{line_number}: expected columns ({_describe_layout(layout)}) like the first token line, found {line!r}"
                )
            rows.append((line_number, columns))
        flush()
    return sentences
