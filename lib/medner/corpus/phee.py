"""PHEE's event structure as n2c2-2018 relations, and the event rule for its ``Effect`` labels.

PHEE (Sun et al., EMNLP 2022) annotates each sentence twice: brat files (``train/``,
``dev/``, ``test/``: the entities the study reads) and ``json/<split>.json``, one JSON
object per line and sentence, ``{"id", "context", "annotations": [{"events": [...]}]}``.
Each event has an ``event_type`` (``Adverse_event`` or ``Potential_therapeutic_event``),
a ``Treatment`` with the sub-arguments ``Drug``, ``Dosage``, ``Route``, ``Freq``,
``Duration``, ``Disorder`` (and others), and an ``Effect``. An argument lists its
mentions, each mention its fragments: ``"text": [["500 mg"]], "start": [[51]]``.

Relations (:func:`event_relations`)
-----------------------------------
Each mention is matched to the brat entity of the same document with the expected type
and exactly the same fragments (``start``, ``start + len(text)``). Relations link the
attribute (``arg1``) to the drug (``arg2``), as n2c2-2018 writes them:

======================================  ==============  ==================================
event argument                          brat type       relation
======================================  ==============  ==================================
``Treatment.Dosage``                    Dosage          ``Dosage-Drug`` (PHEE folds Strength into Dosage)
``Treatment.Route``                     Route           ``Route-Drug``
``Treatment.Freq``                      Freq            ``Frequency-Drug``
``Treatment.Duration``                  Duration        ``Duration-Drug``
``Treatment.Disorder``                  Treat-Disorder  ``Reason-Drug``
``Effect`` of an ``Adverse_event``      Effect          ``ADE-Drug``
``Effect`` of a therapeutic event       Effect          none: counted as ``therapeutic_effects``
======================================  ==============  ==================================

* **Which drug.** A ``Disorder`` or an adverse ``Effect`` belongs to the treatment as a
  whole: it links to every drug of the event's ``Treatment``. A ``Dosage``, ``Route``,
  ``Freq`` or ``Duration`` says how one drug was given: it links to the *nearest* drug of
  the event (fewest characters between the two extents; a tie goes to the earlier drug).
  PHEE does not say which drug of a combination ("FU 400 mg/m2/day plus LV 20 mg/m2/day")
  a dosage belongs to; the nearest one is right far more often than all of them.
* **A potential therapeutic event's Effect** is the outcome the drug was given for
  ("remission", "improvement"), which n2c2-2018 has no label or relation for: it gives no
  relation and is counted.
* The same link found by two events of a sentence is one relation. PHEE's own brat ``R``
  lines (``has``, ``has_child``, ``has_cue``, ...: links between a treatment and its parts,
  not attribute-to-drug links) are replaced and counted by type.
* Every event argument is accounted for in the record: per role ``mentions == matched +
  unmatched`` (no brat entity of that type at those offsets: links nothing), ``no_drug``
  (matched, but the event has no matched drug), and the mentions of roles outside the
  table (``Trigger``, ``Treatment`` itself, ``Treatment.Time_elapsed``, ``Subject``,
  ``Severity``, ...) per role in ``outside_mapping``.

Effect labels (``effects``)
---------------------------
PHEE's label map (:data:`medner.corpus.labelmap.PHEE_LABEL_MAP`) makes every ``Effect``
an ADE, although some are the Effect of a potential therapeutic event only. ``effects``
chooses, and the corpus records the choice:

* ``"ade"`` (the default, the study's labels so far): every ``Effect`` stays ``Effect``;
* ``"events"``: an ``Effect`` entity that is the Effect of therapeutic events only is
  relabelled ``Therapeutic-Effect``, which the PHEE map ignores (counted in
  ``Corpus.ignored``); one that is the Effect of an adverse event, or of no event, stays.

The record always says how many ``Effect`` entities the ``"events"`` rule relabels, so the
corpus report shows it under either choice.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medner.corpus.document import Document, Entity, Relation
from medner.corpus.textfile import excerpt, read_utf8, split_lines

#: The choices of ``effects`` (see the module docstring); the first is the default.
EFFECT_RULES: tuple[str, ...] = ("ade", "events")
#: The brat label the ``"events"`` rule gives an Effect of therapeutic events only.
THERAPEUTIC_EFFECT_LABEL = "Therapeutic-Effect"

ADVERSE_EVENT = "Adverse_event"
THERAPEUTIC_EVENT = "Potential_therapeutic_event"
#: Treatment sub-arguments that give a relation: role -> (brat type, relation type).
TREATMENT_ROLES: dict[str, tuple[str, str]] = {
    "Dosage": ("Dosage", "Dosage-Drug"),
    "Route": ("Route", "Route-Drug"),
    "Freq": ("Freq", "Frequency-Drug"),
    "Duration": ("Duration", "Duration-Drug"),
    "Disorder": ("Treat-Disorder", "Reason-Drug"),
}
#: Roles whose attribute links to the nearest drug only; the others link to every drug of the event.
NEAREST_DRUG_ROLES: frozenset[str] = frozenset({"Dosage", "Route", "Freq", "Duration"})
#: Every role the record counts matches for, in report order.
LINKED_ROLES: tuple[str, ...] = ("Drug", *TREATMENT_ROLES, "Effect")
_MENTION_KEYS = {"text", "start", "entity_id", "value"}
_LINKED_NAMES = {"Effect", *(f"Treatment.{role}" for role in ("Drug", *TREATMENT_ROLES))}


class PheeEventError(ValueError):
    """A PHEE json file that does not hold the event structure (message: ``file:line: expected ..., found ...``)."""


def read_event_records(path: str | Path) -> list[tuple[int, dict]]:
    """``(line number, record)`` of each non-blank line of a PHEE ``json/<split>.json`` file.

    Raises :class:`PheeEventError` naming the file and line for a line that is not a JSON object with a string
    ``id``, a string ``context`` and a list of ``annotations`` each holding a list of ``events``.
    """
    path = Path(path)
    records = []
    for number, line in enumerate(split_lines(read_utf8(path, PheeEventError).removeprefix("\ufeff")), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise PheeEventError(f"{path}:{number}: expected one JSON object per line, found invalid JSON "
                                 f"({error.msg} at character {error.pos + 1})") from error
        shape_ok = (isinstance(record, dict) and isinstance(record.get("id"), str) and isinstance(record.get("context"), str)
                    and isinstance(record.get("annotations"), list)
                    and all(isinstance(a, dict) and isinstance(a.get("events"), list) and all(isinstance(e, dict) for e in a["events"])
                            for a in record["annotations"]))
        if not shape_ok:
            raise PheeEventError(f"{path}:{number}: expected an object with a string id and context and "
                                 f"annotations [{{events: [...]}}], found {excerpt(line)}")
        records.append((number, record))
    return records


def _mentions(argument: Any, where: str) -> list[tuple[tuple[int, int], ...]]:
    """The sorted fragments of each mention of an event argument (``{"text": [[...]], "start": [[...]]}``)."""
    texts, starts = (argument.get("text"), argument.get("start")) if isinstance(argument, dict) else (None, None)
    valid = (isinstance(texts, list) and isinstance(starts, list) and len(texts) == len(starts)
             and all(isinstance(t, list) and isinstance(s, list) and len(t) == len(s) and t
                     and all(isinstance(x, str) for x in t) and all(isinstance(x, int) and not isinstance(x, bool) for x in s)
                     for t, s in zip(texts, starts)))
    if not valid:
        raise PheeEventError(f"{where}: expected mentions as text [[fragment, ...], ...] and start [[offset, ...], ...] "
                             f"of the same shape, found {excerpt(json.dumps(argument))}")
    return [tuple(sorted((start, start + len(text)) for text, start in zip(mention_texts, mention_starts)))
            for mention_texts, mention_starts in zip(texts, starts)]


def _outside_roles(event: dict, prefix: str = "") -> Counter:
    """Mentions of the roles of ``event`` (or of one argument) that give no relation, by dotted role name."""
    counts: Counter = Counter()
    for role, argument in event.items():
        if role in ("event_id", "event_type") or role in _MENTION_KEYS or not isinstance(argument, dict):
            continue
        name = f"{prefix}{role}"
        if name not in _LINKED_NAMES:
            counts[name] += len(argument.get("text") or [])
        counts.update(_outside_roles(argument, f"{name}."))
    return counts


def _gap(a: Entity, b: Entity) -> int:
    """Characters between the outer extents of two entities (0 when they touch or overlap)."""
    return max(a.start - b.end, b.start - a.end, 0)


class _EventLinker:
    """Matches the arguments of one document's events to its entities and collects relations and counts."""

    def __init__(self, doc: Document, record: dict) -> None:
        self.doc = doc
        self.by_key: dict[tuple[str, tuple], list[Entity]] = defaultdict(list)
        for entity in doc.entities:
            self.by_key[(entity.label, entity.fragments)].append(entity)
        self.record = record
        self.links: dict[tuple[str, str, str], None] = {}  # (type, arg1, arg2) in order found
        self.effect_events: dict[str, set[str]] = defaultdict(set)  # Effect entity id -> event types

    def match(self, role: str, label: str, argument: Any, where: str) -> list[Entity]:
        """The entities of an argument's mentions (counted matched or unmatched under ``role``)."""
        row = self.record["arguments"][role]
        found = []
        for fragments in _mentions(argument, where):
            row["mentions"] += 1
            candidates = self.by_key.get((label, fragments))
            if candidates:
                row["matched"] += 1
                found.append(candidates[0])
            else:
                row["unmatched"] += 1
        return found

    def event(self, event: dict, where: str) -> None:
        """Count one event's arguments and add its links."""
        event_type = event.get("event_type")
        self.record["events"][str(event_type)] += 1
        self.record["outside_mapping"].update(_outside_roles(event))
        treatment = event.get("Treatment") if isinstance(event.get("Treatment"), dict) else {}
        drugs = self.match("Drug", "Drug", treatment["Drug"], where) if "Drug" in treatment else []
        for role, (label, relation_type) in TREATMENT_ROLES.items():
            if role in treatment:
                for attribute in self.match(role, label, treatment[role], where):
                    self.link(role, relation_type, attribute, drugs)
        if "Effect" in event:
            for effect in self.match("Effect", "Effect", event["Effect"], where):
                self.effect_events[effect.id].add(str(event_type))
                if event_type == ADVERSE_EVENT:
                    self.link("Effect", "ADE-Drug", effect, drugs)
                else:
                    self.record["therapeutic_effects"] += 1

    def link(self, role: str, relation_type: str, attribute: Entity, drugs: list[Entity]) -> None:
        if not drugs:
            self.record["arguments"][role]["no_drug"] += 1
            return
        if role in NEAREST_DRUG_ROLES:
            drugs = [min(drugs, key=lambda drug: (_gap(attribute, drug), drug.start))]
        for drug in drugs:
            self.links[(relation_type, attribute.id, drug.id)] = None

    def relations(self) -> list[Relation]:
        return [Relation(id=f"R{number}", type=relation_type, arg1=arg1, arg2=arg2)
                for number, (relation_type, arg1, arg2) in enumerate(self.links, start=1)]


def _empty_record(effects: str) -> dict:
    return {
        "from": "PHEE json/ event structure (medner.corpus.phee)",
        "effect_rule": effects,
        "events": Counter(),
        "arguments": {role: {"mentions": 0, "matched": 0, "unmatched": 0, "no_drug": 0} for role in LINKED_ROLES},
        "therapeutic_effects": 0,
        "outside_mapping": Counter(),
        "relations": Counter(),
        "brat_relations_replaced": Counter(),
        "records_without_document": 0,
        "documents_without_record": 0,
        "records_with_other_text": 0,
        "effects": {"adverse": 0, "therapeutic_only": 0, "both": 0, "in_no_event": 0},
        "effects_the_event_rule_relabels": 0,
        "effects_relabelled": 0,
    }


def _effect_kind(event_types: set[str]) -> str:
    adverse, therapeutic = ADVERSE_EVENT in event_types, THERAPEUTIC_EVENT in event_types
    return "both" if adverse and therapeutic else "adverse" if adverse else "therapeutic_only" if therapeutic else "in_no_event"


def _relabelled(doc: Document, effect_events: Mapping[str, set[str]], effects: str, record: dict) -> Document:
    """``doc`` with its relations set and, under the ``"events"`` rule, its therapeutic-only Effects relabelled."""
    entities = []
    for entity in doc.entities:
        if entity.label == "Effect":
            kind = _effect_kind(effect_events.get(entity.id, set()))
            record["effects"][kind] += 1
            if kind == "therapeutic_only":
                record["effects_the_event_rule_relabels"] += 1
                if effects == "events":
                    record["effects_relabelled"] += 1
                    entity = Entity(id=entity.id, label=THERAPEUTIC_EFFECT_LABEL, fragments=entity.fragments, text=entity.text)
        entities.append(entity)
    return Document(id=doc.id, text=doc.text, entities=entities, source=doc.source, relations=doc.relations)


def event_relations(splits: Mapping[str, list[Document]], folder: str | Path, *, effects: str = EFFECT_RULES[0]
                    ) -> tuple[dict[str, list[Document]], dict]:
    """PHEE documents (brat labels) with relations from ``folder/json/*.json`` and the Effect rule ``effects``
    applied, and the record of what was linked, relabelled and set aside (module docstring).

    Without a ``json/`` folder the documents keep no relation (the record says so), unless ``effects`` is
    ``"events"``, which needs the events: FileNotFoundError. Raises :class:`PheeEventError` (``file:line: ...``)
    for a json line that is not the event structure and ValueError for an unknown ``effects``.
    """
    if effects not in EFFECT_RULES:
        raise ValueError(f"PHEE effects rule: expected one of {', '.join(EFFECT_RULES)}, given {effects!r}")
    json_folder = Path(folder) / "json"
    record = _empty_record(effects)
    files = sorted(json_folder.glob("*.json")) if json_folder.is_dir() else []
    if not files:
        if effects == "events":
            raise FileNotFoundError(f"{json_folder}: the PHEE effects rule 'events' needs PHEE's json/ folder "
                                    "(event structure; public: github.com/ZhaoyueSun/PHEE, folder data/json), found none")
        record["from"] = f"none: {json_folder} holds no PHEE event files"
    by_id = {doc.id: doc for docs in splits.values() for doc in docs}
    linked: dict[str, tuple[list[Relation], dict]] = {}
    for path in files:
        for number, item in read_event_records(path):
            doc = by_id.get(item["id"])
            if doc is None:
                record["records_without_document"] += 1
                continue
            if doc.text.rstrip("\r\n") != item["context"]:
                record["records_with_other_text"] += 1
                continue
            linker = _EventLinker(doc, record)
            for annotation in item["annotations"]:
                for event in annotation["events"]:
                    linker.event(event, f"{path}:{number}")
            linked[doc.id] = (linker.relations(), linker.effect_events)
    record["documents_without_record"] = len(by_id) - len(linked)
    out = {}
    for split, docs in splits.items():
        out[split] = []
        for doc in docs:
            relations, effect_events = linked.get(doc.id, ([], {}))
            record["brat_relations_replaced"].update(relation.type for relation in doc.relations)
            record["relations"].update(relation.type for relation in relations)
            with_links = Document(id=doc.id, text=doc.text, entities=doc.entities, source=doc.source, relations=relations)
            out[split].append(_relabelled(with_links, effect_events, effects, record))
    return out, _plain(record)


def _plain(value: Any) -> Any:
    """Counters (counts by name) as plain dicts sorted by name, for JSON."""
    if isinstance(value, Counter):
        return {key: value[key] for key in sorted(value)}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value
