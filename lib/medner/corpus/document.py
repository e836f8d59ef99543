"""The data model every layer of the study shares.

A :class:`Document` is the gold truth: its text, its entities with character
offsets and the relations between them (n2c2-2018 Track 2 links each attribute to
its drug: ``Strength-Drug``, ``ADE-Drug``, ...). Tokens, sentences and tags are derived from documents (see
``medner.corpus.tokenize`` and ``medner.corpus.tagging``); predictions are turned
back into documents and scored on character offsets, as the n2c2-2018 scorer does.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Entity:
    """One annotated mention.

    ``fragments`` are half-open ``(start, end)`` character offsets into the
    document text, sorted; more than one fragment means a discontinuous brat
    entity (``Drug 10 19;25 30``). ``text`` is the annotated text as brat stores
    it: the fragment texts joined by a single space.
    """

    id: str
    label: str
    fragments: tuple[tuple[int, int], ...]
    text: str

    @property
    def start(self) -> int:
        """Start of the first fragment (the n2c2 scorer's outer extent)."""
        return self.fragments[0][0]

    @property
    def end(self) -> int:
        """End of the last fragment (the n2c2 scorer's outer extent)."""
        return self.fragments[-1][1]

    @property
    def is_discontinuous(self) -> bool:
        return len(self.fragments) > 1

    def key(self) -> tuple[str, tuple[tuple[int, int], ...]]:
        """Identity of the mention regardless of its id: label and fragments."""
        return (self.label, self.fragments)


@dataclass(frozen=True)
class Relation:
    """A typed link between two entities of one document, named by their ids.

    As in n2c2-2018 Track 2 (``R1<TAB>Strength-Drug Arg1:T3 Arg2:T2``), ``arg1`` is the
    attribute and ``arg2`` the drug; the type is the pair of labels, attribute first.
    """

    id: str
    type: str
    arg1: str
    arg2: str


@dataclass
class Document:
    """A text with its entities and the relations between them. ``source`` is the file it was read from, if any."""

    id: str
    text: str
    entities: list[Entity] = field(default_factory=list)
    source: str | None = None
    relations: list[Relation] = field(default_factory=list)

    def entities_by_id(self) -> dict[str, Entity]:
        """The entities by id (the ids relations name)."""
        return {entity.id: entity for entity in self.entities}

    def entity_text(self, fragments: tuple[tuple[int, int], ...]) -> str:
        """The text at ``fragments``, joined by a space as brat writes it."""
        return " ".join(self.text[s:e] for s, e in fragments)


@dataclass(frozen=True)
class Token:
    """A token with its half-open character offsets in the document text."""

    text: str
    start: int
    end: int


@dataclass
class Sentence:
    """A sentence of one document: its tokens (offsets into the document) and, once tagged, one tag per token."""

    doc_id: str
    index: int
    tokens: list[Token]
    tags: list[str] | None = None

    @property
    def words(self) -> list[str]:
        return [t.text for t in self.tokens]

    def __len__(self) -> int:
        return len(self.tokens)
