"""What every corpus reader does the same way with a text file: decode it, split it into lines, quote it.

* :func:`read_utf8` decodes a file as UTF-8 exactly as stored (no newline translation). A byte
  that is not UTF-8 (a Windows-1252 or Latin-1 file, a binary file) raises the reader's own
  error class with one line naming the file, the line and the byte, instead of Python's
  ``UnicodeDecodeError``, which names neither file nor line.
* :func:`split_lines` splits on ``\\r\\n``, ``\\r`` and ``\\n``, as Python's universal newlines
  and so brat's own server do: a lone carriage return ends a line; other characters
  (form feed, ``\\u2028``, ...) stay inside their line.
* :func:`excerpt` quotes at most the first 80 characters of a value in a message, with its
  length when longer, so that a malformed 5 MB line gives a one-line message, not a 5 MB one.
"""

from __future__ import annotations

import re
from pathlib import Path

#: Line breaks of a text file: CRLF, a lone CR or a lone LF.
LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINE_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")

#: Characters of a value quoted in an error message.
EXCERPT_LENGTH = 80


def excerpt(value: str, limit: int = EXCERPT_LENGTH) -> str:
    """``repr(value)``, or the repr of its first ``limit`` characters and its length when it is longer."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` without their line breaks (``\\r\\n``, ``\\r`` or ``\\n``); a final break ends the last line."""
    lines = LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def read_utf8(path: str | Path, error: type[Exception]) -> str:
    """The text of ``path`` decoded as UTF-8, line breaks untouched.

    A byte that is not UTF-8 raises ``error`` with ``file:line: expected UTF-8 text, found byte 0x..``.
    """
    path = Path(path)
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = len(_LINE_BREAK_BYTES.findall(data, 0, exc.start)) + 1
        line_start = max(data.rfind(b"\n", 0, exc.start), data.rfind(b"\r", 0, exc.start)) + 1
        raise error(
            f"{path}:{line}: expected UTF-8 text, found byte 0x{data[exc.start]:02x} at byte {exc.start - line_start + 1} "
            "of the line (a Windows-1252 or Latin-1 file? re-encode it as UTF-8, e.g. iconv -f windows-1252 -t utf-8)"
        ) from exc
