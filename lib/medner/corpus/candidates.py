"""Candidate pairs: every (attribute, drug) pair a relation model scores, and how many gold relations they reach.

Policy
------
* **Pairs.** A candidate pairs an *attribute* (any entity whose label is not ``Drug``) with a
  *drug* (an entity labelled ``Drug``) of the same document, in the direction n2c2-2018
  writes its relations (``R1<TAB>Strength-Drug Arg1:<the Strength> Arg2:<the Drug>``). The
  only type a model may give it is ``<attribute label>-Drug``, or none.
* **Sentences.** Sentences are those the tagger and the encoder see
  (:func:`medner.corpus.tokenize.sentences_of`). An entity occupies the sentences from the
  one holding its first character to the one holding its last; two entities are ``d``
  sentences apart when ``d`` sentence boundaries separate the nearer ends of those ranges
  (0 when they share a sentence).
* **Window.** A pair is a candidate when its entities are at most ``window`` sentences apart
  (default :data:`DEFAULT_WINDOW`, 1): the relation model encodes a sentence together with
  its neighbours, so a link across one sentence boundary (a ``Sig:`` line under its drug, a
  reason in the next sentence, as n2c2 notes have them) is still scored; ``window=0`` keeps
  links inside one sentence only.
* **Entities** are those the documents carry: the gold ones for relation extraction with gold
  entities, the predicted ones end to end.

Reach (:func:`candidate_reach`): a gold relation is *reached* when its ``(arg1, arg2)`` pair is a
candidate; one that is not is counted as ``outside_window`` (an attribute-drug pair too many
sentences apart) or ``not_attribute_drug`` (its second argument is not a drug, or its first is).
``gold == reached + outside_window + not_attribute_drug`` for every relation type.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from medner.corpus.document import Document, Entity
from medner.corpus.tagging import relation_type_key
from medner.corpus.tokenize import sentences_of

#: Sentences on each side of an attribute's sentence in which its drug may be.
DEFAULT_WINDOW = 1
#: The label of the second argument of every candidate.
DRUG_LABEL = "Drug"
#: Why a gold relation is not reached, in report order.
UNREACHED_REASONS: tuple[str, ...] = ("outside_window", "not_attribute_drug")


@dataclass(frozen=True)
class Candidate:
    """One (attribute, drug) pair of a document, ``distance`` sentences apart."""

    attribute: Entity
    drug: Entity
    distance: int

    @property
    def relation_type(self) -> str:
        """The one relation type the pair may have: ``<attribute label>-Drug``."""
        return f"{self.attribute.label}-{DRUG_LABEL}"


class _SentenceIndex:
    """The sentence of any character offset of one document (an offset between sentences: the next one)."""

    def __init__(self, doc: Document) -> None:
        self.ends = [sentence.tokens[-1].end for sentence in sentences_of(doc) if sentence.tokens]

    def range_of(self, entity: Entity) -> tuple[int, int]:
        """First and last sentence the entity occupies."""
        return self._at(entity.start), self._at(entity.end - 1)

    def _at(self, offset: int) -> int:
        return min(bisect.bisect_right(self.ends, offset), max(len(self.ends) - 1, 0))


def _distance(a: tuple[int, int], b: tuple[int, int]) -> int:
    """Sentence boundaries between two sentence ranges (0 when they overlap)."""
    return max(a[0] - b[1], b[0] - a[1], 0)


def candidate_pairs(doc: Document, *, window: int = DEFAULT_WINDOW) -> list[Candidate]:
    """Every candidate pair of ``doc`` under the policy of the module docstring, drugs in document order, then
    attributes in document order."""
    _check_window(window)
    index = _SentenceIndex(doc)
    ranges = {entity: index.range_of(entity) for entity in doc.entities}
    drugs = [entity for entity in doc.entities if entity.label == DRUG_LABEL]
    attributes = [entity for entity in doc.entities if entity.label != DRUG_LABEL]
    pairs = []
    for drug in drugs:
        for attribute in attributes:
            distance = _distance(ranges[attribute], ranges[drug])
            if distance <= window:
                pairs.append(Candidate(attribute, drug, distance))
    return pairs


def _check_window(window: int) -> None:
    if isinstance(window, bool) or not isinstance(window, int) or window < 0:
        raise ValueError(f"candidate window: expected a number of sentences >= 0, given {window!r}")


@dataclass
class CandidateReach:
    """Per relation type: gold relations, how many the candidates reach, and why the others are not reached;
    ``pairs``: how many candidates there are (what a relation model scores)."""

    window: int
    pairs: int = 0
    gold: Counter = field(default_factory=Counter)
    reached: Counter = field(default_factory=Counter)
    unreached: dict[str, Counter] = field(default_factory=lambda: {reason: Counter() for reason in UNREACHED_REASONS})

    def add(self, other: CandidateReach) -> None:
        """Add the counts of ``other`` (same window) to these."""
        if other.window != self.window:
            raise ValueError(f"candidate reach: cannot add counts of window {other.window} to window {self.window}")
        self.pairs += other.pairs
        self.gold.update(other.gold)
        self.reached.update(other.reached)
        for reason in UNREACHED_REASONS:
            self.unreached[reason].update(other.unreached[reason])

    def as_dict(self) -> dict:
        """``{"window", "pairs", "per_type": {type: {gold, reached, outside_window, not_attribute_drug, share}},
        "total": {same keys}}``; ``share`` is reached / gold (None without gold relations)."""
        def row(gold: int, reached: int, unreached: dict[str, int]) -> dict:
            return {"gold": gold, "reached": reached, **unreached, "share": reached / gold if gold else None}

        per_type = {relation_type: row(self.gold[relation_type], self.reached[relation_type],
                                       {reason: self.unreached[reason][relation_type] for reason in UNREACHED_REASONS})
                    for relation_type in sorted(self.gold, key=relation_type_key)}
        total = row(sum(self.gold.values()), sum(self.reached.values()),
                    {reason: sum(self.unreached[reason].values()) for reason in UNREACHED_REASONS})
        return {"window": self.window, "pairs": self.pairs, "per_type": per_type, "total": total}


def candidate_reach(docs: Iterable[Document], *, window: int = DEFAULT_WINDOW) -> CandidateReach:
    """How many gold relations of ``docs`` the candidate pairs of :func:`candidate_pairs` reach, per type."""
    _check_window(window)
    reach = CandidateReach(window=window)
    for doc in docs:
        pairs = candidate_pairs(doc, window=window)
        reach.pairs += len(pairs)
        keys = {(pair.attribute.id, pair.drug.id) for pair in pairs}
        by_id = doc.entities_by_id()
        for relation in doc.relations:
            reach.gold[relation.type] += 1
            attribute, drug = by_id.get(relation.arg1), by_id.get(relation.arg2)
            if (relation.arg1, relation.arg2) in keys:
                reach.reached[relation.type] += 1
            elif attribute is None or drug is None or drug.label != DRUG_LABEL or attribute.label == DRUG_LABEL:
                reach.unreached["not_attribute_drug"][relation.type] += 1
            else:
                reach.unreached["outside_window"][relation.type] += 1
    return reach
