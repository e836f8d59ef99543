"""Entity spans to token tags (BIO, BIOES) and back, with every gold entity accounted for.

Encoding policy (:func:`tag_documents`)
---------------------------------------
A token tag sequence holds one flat layer of contiguous entities, so each gold
entity goes through three steps and ends in exactly one of four outcomes,
counted per label in :class:`TaggingReport`:

1. **Extent.** An entity is tagged by its *outer extent*, from the start of its
   first fragment to the end of its last. A discontinuous entity
   (``Drug 10 19;25 30``) therefore becomes one contiguous tagged span covering
   the gap; this is how the n2c2-2018 scorer matches discontinuous entities, and
   decoding gives back that outer extent.
2. **Boundaries.** The extent must start at a token start and end at a token end
   of the same sentence. Otherwise the entity is ``dropped_boundary``, with the
   reason ``boundary_inside_token`` (a boundary falls inside a token or in
   whitespace) or ``boundary_crosses_sentence`` (its tokens lie in two sentences).
3. **Overlap.** Among the entities that passed step 2, nested or overlapping
   entities of a document are resolved greedily: the entity with the *longest*
   outer extent (in characters) is kept first; ties go to the label that comes
   first in ``label_priority`` (the n2c2 order ``Drug, Strength, Dosage, Form,
   Frequency, Route, Duration, Reason, ADE``; labels not listed come after, in
   alphabetical order), then to the earlier start. An entity sharing a token with
   an entity already kept is ``dropped_overlap``; so is an exact duplicate (same
   label, same extent), which one tag sequence cannot hold twice.

Everything else is ``kept`` and tagged. ``gold == kept + dropped_overlap + dropped_boundary``
holds for every label.

Relations follow their arguments: a gold relation one of whose entities is dropped is
counted as dropped, per relation type, with that entity's reason (the first of
:data:`DROP_REASONS` when both are dropped for different reasons); the others are kept,
and ``gold == kept + dropped`` holds for every relation type too. Tags carry no relation:
this only says which gold relations an end-to-end system could still find from the tags.

Decoding policy (:func:`decode_sentences`)
------------------------------------------
Tags become entities whose single fragment runs from the start of the first
token to the end of the last token. Invalid sequences are read as conlleval
reads them: an ``I-X`` that does not continue an ``X`` entity (after ``O``, after
another label, or after an ``E-``/``S-``) starts a new ``X`` entity; in BIOES an
``E-X`` that does not close an ``X`` entity is a one-token entity, and an entity
still open at the end of a sentence (``B-X`` without ``E-X``) is kept. Entities
never cross sentences.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from medner import N2C2_LABELS, N2C2_RELATION_TYPES
from medner.corpus.document import Document, Entity, Relation, Sentence
from medner.corpus.gc_pause import collector_paused
from medner.corpus.tokenize import sentences_of, tokenize

SCHEMES: tuple[str, ...] = ("BIO", "BIOES")
_PREFIXES = {"BIO": ("B", "I"), "BIOES": ("B", "I", "E", "S")}

#: Reasons an entity is not tagged, as used in :class:`DroppedEntity` and :meth:`TaggingReport.as_dict`.
DROP_REASONS: tuple[str, ...] = ("overlap", "boundary_inside_token", "boundary_crosses_sentence")


@dataclass(frozen=True)
class DroppedEntity:
    """A gold entity the tag sequence cannot represent, with the reason and a readable detail."""

    doc_id: str
    entity: Entity
    reason: str
    detail: str


@dataclass(frozen=True)
class DroppedRelation:
    """A gold relation one of whose arguments the tag sequence cannot represent, with that argument's reason."""

    doc_id: str
    relation: Relation
    reason: str
    detail: str


@dataclass
class TaggingReport:
    """Per label: how many gold entities there were, how many were tagged and why the others were not;
    per relation type the same for the relations between them."""

    scheme: str
    label_priority: tuple[str, ...] = N2C2_LABELS
    gold: Counter = field(default_factory=Counter)
    kept: Counter = field(default_factory=Counter)
    dropped: list[DroppedEntity] = field(default_factory=list)
    relations_gold: Counter = field(default_factory=Counter)
    relations_kept: Counter = field(default_factory=Counter)
    relations_dropped: list[DroppedRelation] = field(default_factory=list)

    def labels(self) -> list[str]:
        """Labels seen, in priority order then alphabetical."""
        return sorted(self.gold, key=lambda label: _priority_key(label, self.label_priority))

    def drop_counts(self) -> dict[str, Counter]:
        """``{reason: Counter(label -> n)}`` for every reason in :data:`DROP_REASONS`."""
        counts = {reason: Counter() for reason in DROP_REASONS}
        for dropped in self.dropped:
            counts[dropped.reason][dropped.entity.label] += 1
        return counts

    def as_dict(self) -> dict:
        """``{"scheme", "per_label": {label: {gold, kept, dropped_overlap, dropped_boundary,
        dropped_boundary_inside_token, dropped_boundary_crosses_sentence}}, "total": {same keys}}``."""
        drops = self.drop_counts()
        per_label = {}
        for label in self.labels():
            inside = drops["boundary_inside_token"][label]
            crossing = drops["boundary_crosses_sentence"][label]
            per_label[label] = {
                "gold": self.gold[label],
                "kept": self.kept[label],
                "dropped_overlap": drops["overlap"][label],
                "dropped_boundary": inside + crossing,
                "dropped_boundary_inside_token": inside,
                "dropped_boundary_crosses_sentence": crossing,
            }
        keys = ("gold", "kept", "dropped_overlap", "dropped_boundary", "dropped_boundary_inside_token", "dropped_boundary_crosses_sentence")
        total = {key: sum(row[key] for row in per_label.values()) for key in keys}
        out = {"scheme": self.scheme, "per_label": per_label, "total": total}
        if self.relations_gold:
            out["relations"] = self.relations_as_dict()
        return out

    def relations_as_dict(self) -> dict:
        """``{"per_type": {type: {gold, kept, dropped_<reason> for each of DROP_REASONS}}, "total": {same keys}}``
        (in :meth:`as_dict` under ``"relations"`` when the documents had relations, so that the report of a
        corpus without relations stays as it was)."""
        drops = {reason: Counter() for reason in DROP_REASONS}
        for dropped in self.relations_dropped:
            drops[dropped.reason][dropped.relation.type] += 1
        per_type = {
            relation_type: {"gold": self.relations_gold[relation_type], "kept": self.relations_kept[relation_type],
                            **{f"dropped_{reason}": drops[reason][relation_type] for reason in DROP_REASONS}}
            for relation_type in sorted(self.relations_gold, key=relation_type_key)
        }
        keys = ("gold", "kept", *(f"dropped_{reason}" for reason in DROP_REASONS))
        return {"per_type": per_type, "total": {key: sum(row[key] for row in per_type.values()) for key in keys}}


def relation_type_key(relation_type: str) -> tuple[int, str]:
    """Sort key of relation types: the n2c2 types in the order of their labels, any others after, alphabetically."""
    return _priority_key(relation_type, N2C2_RELATION_TYPES)


def _priority_key(label: str, label_priority: Sequence[str]) -> tuple[int, str]:
    try:
        return (list(label_priority).index(label), "")
    except ValueError:
        return (len(label_priority), label)


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"tagging scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")


def _span_tags(label: str, length: int, scheme: str) -> list[str]:
    if scheme == "BIOES":
        if length == 1:
            return [f"S-{label}"]
        return [f"B-{label}"] + [f"I-{label}"] * (length - 2) + [f"E-{label}"]
    return [f"B-{label}"] + [f"I-{label}"] * (length - 1)


def _describe(entity: Entity) -> str:
    return f"{entity.id} {entity.label} {entity.start}-{entity.end} {entity.text!r}"


def tag_document(
    doc: Document,
    *,
    scheme: str = "BIO",
    label_priority: Sequence[str] = N2C2_LABELS,
    report: TaggingReport | None = None,
) -> list[Sentence]:
    """Tag the sentences of one document by the policy of the module docstring; counts go into ``report``."""
    _check_scheme(scheme)
    report = report if report is not None else TaggingReport(scheme=scheme, label_priority=tuple(label_priority))
    sentences = sentences_of(doc)
    flat = [token for sentence in sentences for token in sentence.tokens]
    sentence_of = [sentence.index for sentence in sentences for _ in sentence.tokens]
    token_at_start = {token.start: k for k, token in enumerate(flat)}
    token_at_end = {token.end: k for k, token in enumerate(flat)}

    already_dropped = len(report.dropped)
    candidates: list[tuple[Entity, int, int]] = []
    for entity in doc.entities:
        report.gold[entity.label] += 1
        first, last = token_at_start.get(entity.start), token_at_end.get(entity.end)
        if first is None or last is None:
            where = "start" if first is None else "end"
            report.dropped.append(
                DroppedEntity(doc.id, entity, "boundary_inside_token", f"{_describe(entity)}: its {where} is not a token boundary")
            )
        elif sentence_of[first] != sentence_of[last]:
            report.dropped.append(
                DroppedEntity(
                    doc.id,
                    entity,
                    "boundary_crosses_sentence",
                    f"{_describe(entity)}: spans sentences {sentence_of[first]} to {sentence_of[last]}",
                )
            )
        else:
            candidates.append((entity, first, last))

    candidates.sort(
        key=lambda c: (-(c[0].end - c[0].start), _priority_key(c[0].label, label_priority), c[0].start, c[0].end, c[0].id)
    )
    owner: dict[int, Entity] = {}
    kept: list[tuple[Entity, int, int]] = []
    for entity, first, last in candidates:
        clash = next((owner[k] for k in range(first, last + 1) if k in owner), None)
        if clash is not None:
            report.dropped.append(DroppedEntity(doc.id, entity, "overlap", f"{_describe(entity)}: overlaps kept {_describe(clash)}"))
            continue
        for k in range(first, last + 1):
            owner[k] = entity
        kept.append((entity, first, last))
        report.kept[entity.label] += 1

    _count_relations(doc, report, report.dropped[already_dropped:])

    flat_tags = ["O"] * len(flat)
    for entity, first, last in kept:
        flat_tags[first : last + 1] = _span_tags(entity.label, last - first + 1, scheme)
    position = 0
    for sentence in sentences:
        sentence.tags = flat_tags[position : position + len(sentence)]
        position += len(sentence)
    return sentences


def _count_relations(doc: Document, report: TaggingReport, dropped_here: Sequence[DroppedEntity]) -> None:
    """Count each relation of ``doc`` kept or dropped (with its argument's reason) given the entities dropped here."""
    if not doc.relations:
        return
    reason_of = {dropped.entity.id: dropped.reason for dropped in dropped_here}
    known = {entity.id for entity in doc.entities}
    for relation in doc.relations:
        report.relations_gold[relation.type] += 1
        missing = [arg for arg in (relation.arg1, relation.arg2) if arg not in known]
        if missing:
            raise ValueError(f"document {doc.id}: relation {relation.id} names {missing[0]!r}, which is no entity of the document")
        reasons = {reason_of[arg] for arg in (relation.arg1, relation.arg2) if arg in reason_of}
        if not reasons:
            report.relations_kept[relation.type] += 1
            continue
        reason = next(r for r in DROP_REASONS if r in reasons)
        argument = next(arg for arg in (relation.arg1, relation.arg2) if reason_of.get(arg) == reason)
        report.relations_dropped.append(DroppedRelation(
            doc.id, relation, reason, f"{relation.id} {relation.type} {relation.arg1}->{relation.arg2}: argument {argument} dropped ({reason})"))


@collector_paused()  # a Token per token, all kept: see medner.corpus.gc_pause
def tag_documents(
    docs: Iterable[Document], *, scheme: str = "BIO", label_priority: Sequence[str] = N2C2_LABELS
) -> tuple[list[Sentence], TaggingReport]:
    """Tokenise, split and tag every document; returns all sentences (document order) and the report."""
    _check_scheme(scheme)
    report = TaggingReport(scheme=scheme, label_priority=tuple(label_priority))
    sentences: list[Sentence] = []
    for doc in docs:
        sentences.extend(tag_document(doc, scheme=scheme, label_priority=label_priority, report=report))
    return sentences, report


def _parse_tag(tag: str, scheme: str, where: str) -> tuple[str, str | None]:
    if tag == "O":
        return "O", None
    prefix, sep, label = tag.partition("-")
    if not sep or not label or prefix not in _PREFIXES[scheme]:
        expected = ", ".join(f"{p}-LABEL" for p in _PREFIXES[scheme])
        raise ValueError(f"{where}: expected O or {expected} ({scheme}), found tag {tag!r}")
    return prefix, label


def decode_sentences(
    doc_id: str, text: str, sentences: Sequence[Sentence], tags: Sequence[Sequence[str]], *, scheme: str = "BIO"
) -> list[Entity]:
    """Entities (ids ``T1..``, character offsets into ``text``) from one document's sentences and their tags.

    Invalid sequences follow the policy of the module docstring. Raises ValueError when the number
    of tag sequences or tags does not match the sentences, or a tag is not of ``scheme``.
    """
    _check_scheme(scheme)
    if len(tags) != len(sentences):
        raise ValueError(f"document {doc_id}: expected {len(sentences)} tag sequences (one per sentence), found {len(tags)}")
    spans: list[tuple[str, int, int]] = []
    parsed: dict[str, tuple[str, str | None]] = {}  # each distinct tag parsed (and checked) once
    for sentence, sentence_tags in zip(sentences, tags):
        if len(sentence_tags) != len(sentence.tokens):
            raise ValueError(
                f"document {doc_id} sentence {sentence.index}: expected {len(sentence.tokens)} tags, found {len(sentence_tags)}"
            )
        open_label: str | None = None
        open_start = open_end = 0
        for token, tag in zip(sentence.tokens, sentence_tags):
            if tag not in parsed:
                parsed[tag] = _parse_tag(tag, scheme, f"document {doc_id} sentence {sentence.index}")
            prefix, label = parsed[tag]
            continues = open_label is not None and label == open_label and prefix in ("I", "E")
            if not continues and open_label is not None:
                spans.append((open_label, open_start, open_end))
                open_label = None
            if prefix == "O":
                continue
            if continues:
                open_end = token.end
            else:
                open_label, open_start, open_end = label, token.start, token.end
            if prefix in ("E", "S"):
                spans.append((open_label, open_start, open_end))
                open_label = None
        if open_label is not None:
            spans.append((open_label, open_start, open_end))
    return [
        Entity(id=f"T{number}", label=label, fragments=((start, end),), text=text[start:end])
        for number, (label, start, end) in enumerate(spans, start=1)
    ]


def decode_documents(
    docs: Sequence[Document], sentences: Sequence[Sentence], tags: Sequence[Sequence[str]], *, scheme: str = "BIO"
) -> list[Document]:
    """Predicted documents (same ids and texts as ``docs``) from sentences of those documents and one tag list each.

    ``sentences`` and ``tags`` run in parallel; sentences are grouped by ``doc_id``. A document
    with no sentences gets no entities.
    """
    if len(tags) != len(sentences):
        raise ValueError(f"expected one tag sequence per sentence ({len(sentences)}), found {len(tags)}")
    by_doc: dict[str, list[tuple[Sentence, Sequence[str]]]] = defaultdict(list)
    for sentence, sentence_tags in zip(sentences, tags):
        by_doc[sentence.doc_id].append((sentence, sentence_tags))
    known = {doc.id for doc in docs}
    unknown = sorted(set(by_doc) - known)
    if unknown:
        raise ValueError(f"sentences name documents that are not given: {', '.join(unknown[:5])}")
    out = []
    for doc in docs:
        pairs = by_doc.get(doc.id, [])
        entities = decode_sentences(doc.id, doc.text, [s for s, _ in pairs], [t for _, t in pairs], scheme=scheme)
        out.append(Document(id=doc.id, text=doc.text, entities=entities, source=None))
    return out


@dataclass
class BoundaryAlignment:
    """How many gold fragment boundaries (every fragment start and end) fall on token boundaries.

    A start is aligned when a token starts there, an end when a token ends there.
    ``misaligned`` lists ``(doc_id, entity_id, label, "start"|"end", offset, context)``.
    """

    boundaries: int = 0
    aligned: int = 0
    per_label: dict[str, list[int]] = field(default_factory=dict)
    misaligned: list[tuple[str, str, str, str, int, str]] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        """``aligned / boundaries``, None when there are no boundaries."""
        return self.aligned / self.boundaries if self.boundaries else None

    def as_dict(self, label_priority: Sequence[str] = N2C2_LABELS) -> dict:
        """``{"boundaries", "aligned", "rate", "per_label": {label: {"boundaries", "aligned", "rate"}}}``."""
        return {
            "boundaries": self.boundaries,
            "aligned": self.aligned,
            "rate": self.rate,
            "per_label": {
                label: {"boundaries": n, "aligned": a, "rate": a / n if n else None}
                for label, (n, a) in sorted(self.per_label.items(), key=lambda item: _priority_key(item[0], label_priority))
            },
        }


def boundary_alignment(docs: Iterable[Document]) -> BoundaryAlignment:
    """Measure the boundary alignment rate of :func:`medner.corpus.tokenize.tokenize` on ``docs``."""
    result = BoundaryAlignment()
    for doc in docs:
        tokens = tokenize(doc.text)
        starts = {token.start for token in tokens}
        ends = {token.end for token in tokens}
        for entity in doc.entities:
            row = result.per_label.setdefault(entity.label, [0, 0])
            for start, end in entity.fragments:
                for kind, offset, ok in (("start", start, start in starts), ("end", end, end in ends)):
                    result.boundaries += 1
                    row[0] += 1
                    if ok:
                        result.aligned += 1
                        row[1] += 1
                    else:
                        context = doc.text[max(0, offset - 20) : offset] + "|" + doc.text[offset : offset + 20]
                        result.misaligned.append((doc.id, entity.id, entity.label, kind, offset, context))
    return result
