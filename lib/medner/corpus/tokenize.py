"""Tokeniser and sentence splitter for clinical notes and medication lists, keeping character offsets.

Tokens are cut so that entity boundaries of clinical annotations fall between
tokens (the boundary alignment rate, measured by
:func:`medner.corpus.tagging.boundary_alignment`), while the units that carry
one meaning stay whole:

* ``40mg`` -> ``40`` ``mg``: a number glued to a unit is split (Strength and Dose
  annotations start or end at the number as often as at the unit);
* ``b.i.d.``, ``p.o.``, ``q.d.``, ``e.g.``, ``i.v.`` stay one token (single letters joined by periods);
* ``q6h``, ``q4-6h``, ``q12hrs`` stay one token (frequency codes);
* ``1/2``, ``2.5``, ``1,000``, ``5/325`` stay one token (numbers, fractions, ratios of numbers);
* ``azithromycin-induced`` -> ``azithromycin`` ``-`` ``induced``: every other punctuation
  mark is its own token, so hyphenated and slashed compounds split where annotations split them;
* ``x7`` -> ``x`` ``7`` (``x7 days``: Duration may or may not include the ``x``);
* letters followed by digits stay together (``B12``, ``HER2``, ``CD20``), digits followed
  by letters are split (``5FU`` -> ``5`` ``FU``).

Sentences (:func:`split_sentences`) end at

* a blank line;
* a line break before a list item (``2. Metoprolol``, ``- aspirin``, ``* ...``), before a
  field or section label of up to three words (``Sig:``, ``Discharge Diagnosis:``) or after
  a line ending in ``:``;
* ``.``, ``!`` or ``?`` (with any closing quotes or brackets glued to it) followed by
  whitespace and then an upper-case letter, a digit or an opening bracket or quote,
  except after an abbreviation (``Dr.``, ``mg.``, ``tab.``, ``approx.``, ... see
  :data:`NON_FINAL_ABBREVIATIONS`) or a single capital initial (``J. Smith``) on the
  same line, and except after the number of a list item at the start of a sentence
  (``2. Metoprolol``).

A line break alone does not end a sentence: clinical notes wrap lines inside
sentences. Dotted abbreviations (``b.i.d.``, ``p.o.``) never end a sentence, so
``Take 1 tab p.o. b.i.d. Return ...`` stays one sentence: a sentence too long is
harmless to tagging, a sentence boundary inside an entity costs the entity.

The splitter looks only at the text, never at the gold entities, so that test
documents are cut exactly as unseen text would be; an entity that crosses a
sentence boundary is counted by the tagging layer as a boundary drop.
"""

from __future__ import annotations

import re

from medner.corpus.document import Document, Sentence, Token

# Order matters: the first alternative that matches at a position wins.
_TOKEN = re.compile(
    r"""
    (?P<freq>(?<![^\W_])[qQ]\d+(?:-\d+)?(?:hrs|hr|h|HRS|HR|H)(?![^\W_]))      # q6h, q4-6h, q12hrs
  | (?P<dotted>(?<![^\W_])[^\W\d_](?:\.[^\W\d_])+\.?)                         # b.i.d., p.o., e.g., q.d.
  | (?P<number>\d+(?:[.,]\d+)*(?:/\d+(?:[.,]\d+)*)*)                          # 40, 2.5, 1,000, 1/2, 5/325
  | (?P<times>(?<![^\W_])[xX](?=\d))                                          # the x of x7 (days)
  | (?P<word>[^\W\d_]+(?:\d+[^\W\d_]*)*)                                      # aspirin, B12, HER2, IL2R
  | (?P<other>[^\s\u200b\u200c\u200d\u2060\ufeff])                            # any other single character
    """,
    re.VERBOSE,
)

#: Words after which a period does not end a sentence (compared in lower case).
NON_FINAL_ABBREVIATIONS: frozenset[str] = frozenset(
    """
    dr mr mrs ms prof jr sr st vs etc al approx fig figs no nos dept univ ref refs
    mg mcg ug g gm kg ml l dl meq mmol iu u cc oz tbsp tsp
    tab tabs cap caps inj susp sol soln amp supp
    hr hrs h min mins sec wk wks mo mos yr yrs
    pt pts sig disp qty ca
    """.split()
)

_LINE_BREAK = re.compile(r"\r\n|\r|\n|\u2028|\u2029|\x85")
_SENTENCE_FINAL = {".", "!", "?"}
_CLOSING = {'"', "'", ")", "]", "}", "\u201d", "\u2019"}
_LIST_BULLETS = {"-", "*", "\u2022", "\u2023", "\u25aa", "\u2013"}


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens with half-open character offsets; whitespace is never part of a token."""
    return [Token(match.group(), match.start(), match.end()) for match in _TOKEN.finditer(text)]


def _line_breaks(gap: str) -> int:
    return len(_LINE_BREAK.findall(gap))


def _starts_list_item(tokens: list[Token], i: int, text: str) -> bool:
    """Whether ``tokens[i]`` opens a list item: ``2.`` / ``2)`` followed by a space, or a bullet."""
    token = tokens[i]
    if token.text in _LIST_BULLETS:
        return token.end < len(text) and text[token.end].isspace()
    if token.text.isdigit() and i + 1 < len(tokens):
        marker = tokens[i + 1]
        return (
            marker.text in {".", ")"}
            and marker.start == token.end
            and marker.end < len(text)
            and text[marker.end].isspace()
        )
    return False


def _starts_field(tokens: list[Token], i: int) -> bool:
    """Whether ``tokens[i]`` opens a labelled field or section line: ``Sig:``, ``Refills:``, ``Discharge Diagnosis:``."""
    for k in range(i, min(i + 3, len(tokens) - 1)):
        if not tokens[k].text[0].isalpha():
            return False
        if tokens[k + 1].text == ":" and tokens[k + 1].start == tokens[k].end:
            return tokens[i].text[0].isupper()
    return False


def _opens_sentence(token: Token) -> bool:
    first = token.text[0]
    return first.isupper() or first.isdigit() or first in "([{\"'\u201c\u2018"


def _sentence_ends(text: str, tokens: list[Token]) -> set[int]:
    """Indices ``i`` such that a sentence ends after ``tokens[i]``."""
    ends: set[int] = set()
    sentence_start = 0
    for i in range(len(tokens) - 1):
        token = tokens[i]
        breaks = _line_breaks(text[token.end : tokens[i + 1].start])
        if breaks >= 2 or (
            breaks == 1 and (_starts_list_item(tokens, i + 1, text) or token.text == ":" or _starts_field(tokens, i + 1))
        ):
            ends.add(i)
        elif token.text in _SENTENCE_FINAL and _is_final(tokens, i, sentence_start, text, line_break_after=breaks > 0):
            # Closing quotes and brackets glued to the mark belong to the sentence it ends.
            last = i
            while last + 1 < len(tokens) - 1 and tokens[last + 1].text in _CLOSING and tokens[last + 1].start == tokens[last].end:
                last += 1
            after = tokens[last + 1]
            gap = text[tokens[last].end : after.start]
            if gap and (_opens_sentence(after) or _line_breaks(gap)):
                ends.add(last)
        if i in ends:
            sentence_start = i + 1
    return ends


def split_sentences(text: str, tokens: list[Token]) -> list[list[Token]]:
    """Group ``tokens`` of ``text`` into sentences by the rules of the module docstring."""
    ends = _sentence_ends(text, tokens)
    sentences: list[list[Token]] = []
    current: list[Token] = []
    for i, token in enumerate(tokens):
        current.append(token)
        if i in ends:
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return sentences


def _opens_list_item(tokens: list[Token], k: int, sentence_start: int, text: str) -> bool:
    """Whether the number ``tokens[k]`` stands where a list item starts: sentence start, line start, or after ``:``/``;``."""
    if k == sentence_start:
        return True
    before = tokens[k - 1]
    return before.text in {":", ";"} or _line_breaks(text[before.end : tokens[k].start]) > 0


def _is_final(tokens: list[Token], i: int, sentence_start: int, text: str, *, line_break_after: bool) -> bool:
    """Whether the sentence-final mark ``tokens[i]`` may end its sentence, judging by the word before it.

    An abbreviation or initial followed by a line break does end it (``81 mg.`` at the end of a line).
    """
    if tokens[i].text != ".":
        return True
    if i == sentence_start:
        return False
    before = tokens[i - 1]
    if before.end != tokens[i].start:
        return True
    word = before.text
    if word.isdigit() and _opens_list_item(tokens, i - 1, sentence_start, text):
        return False  # the number of a list item: 2. Metoprolol
    if line_break_after:
        return True
    if word.lower() in NON_FINAL_ABBREVIATIONS:
        return False
    if len(word) == 1 and word.isupper():
        return False  # an initial: J. Smith
    return True


def sentences_of(doc: Document) -> list[Sentence]:
    """The sentences of ``doc`` (tokens with document offsets, ``tags`` None), indexed from 0."""
    tokens = tokenize(doc.text)
    return [
        Sentence(doc_id=doc.id, index=index, tokens=group, tags=None)
        for index, group in enumerate(split_sentences(doc.text, tokens))
    ]
