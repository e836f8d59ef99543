"""The synthetic demo corpus: short clinical notes with all nine n2c2-2018 Track 2 labels.

THE DEMO CORPUS IS SYNTHETIC. Every note is generated from the word lists in
``medner.corpus.demo_lexicon`` and a handful of sentence templates; no text
comes from a real patient or a real clinical record, and scores on it say
nothing about clinical performance. It exists so that the whole study
(``make all``) runs anywhere without data to fetch, and it is shaped so that the
choice of embedding can matter:

* medication lists ("2. Metoprolol tartrate 25 mg PO BID", discharge-summary
  "Sig: One (1) Tablet PO BID (2 times a day)") and narrative sentences
  ("Started vancomycin 1 g IV q12h for MRSA bacteremia.");
* the nine labels with n2c2 semantics and a realistic imbalance: Drug,
  Strength, Frequency and Route common, Duration and ADE rare;
* Reason versus ADE decided by context only: the same condition words
  ("rash", "hypotension", "hyperkalemia", ...) are the indication in some
  sentences ("for", "to treat") and the adverse event in others ("developed
  ... on", "secondary to", "discontinued due to"), and they also occur
  unannotated in history and review-of-systems sentences;
* abbreviations and spelling variants (PO, p.o., IV, SL, BID, q.d., q6h prn,
  x7 days, 1/2 tab) and typos (character swaps, drops, doublings) in a small
  share of tokens; a typo inside an entity is annotated as written;
* held-out drug names (see ``DrugName.held_out``) that appear only in dev and
  test, so that a sizeable share of test Drug mentions is never seen in train.

Each line of a note is one sentence as :func:`medner.corpus.tokenize.sentences_of` cuts it (a
list item, a ``Sig:`` line, a header, a narrative sentence ending in ``.``); ``n_sentences``
counts lines, with and without entities. Files are brat standoff, ``\\n`` newlines, UTF-8:
``T`` lines (continuous spans, no overlaps), then ``R`` lines linking each attribute to its
drug with the eight n2c2-2018 relation types (``Strength-Drug``, ``Dosage-Drug``,
``Duration-Drug``, ``Frequency-Drug``, ``Form-Drug``, ``Route-Drug``, ``Reason-Drug``,
``ADE-Drug``; see :func:`relations_of_group`).

Links across a line break, as real notes have them: a share of the drug mentions
(:data:`CROSS_BREAK_SHARE` of list items and of Reason/ADE narrative lines) is written as a
*group* of two lines, the drug on one and some of its attributes on the other:

* a discharge-summary item whose ``Sig:`` goes on its own line
  (``1. Metoprolol tartrate 25 mg Tablet`` / ``Sig: One (1) Tablet PO BID (2 times a day).``);
* a short list item ended by ``.`` and followed by an unnumbered line about it
  (``2. Lasix 40 mg PO daily.`` / ``Held during admission because of acute kidney injury.``);
* two narrative sentences (``Course complicated by hyperkalemia.`` / ``This was attributed to
  lisinopril, which was stopped.``).

The second line starts a new sentence (a field label such as ``Sig:``, or a ``.`` before the
line break), so these links cross exactly one sentence boundary: within the relation
candidates' window (:data:`medner.corpus.candidates.DEFAULT_WINDOW`). When the first line
ends in a dotted abbreviation (``p.o.``) the splitter joins the two lines, and the link
crosses the line break inside one sentence. No link spans more than one line break.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from medner.corpus import demo_lexicon as lex

#: Bumped whenever the generated files change for a given seed (recorded in demo.json and in the name of
#: the folder the registry materialises, so an older corpus is never reused). Version 2 added the R lines
#: (texts and T lines those of version 1); version 3 writes some attributes on the line after their drug
#: (new texts, so every NER number on the demo moves; tests/corpus/test_demo.py pins its files).
GENERATOR_VERSION = 3

#: Share of list items and of Reason/ADE narrative lines written as two lines, some attributes on the
#: line after or before their drug's and linked to it across the break (see the module docstring). Where a note has only one line
#: left, the mention stays on one line.
CROSS_BREAK_SHARE = 0.15

#: Share of sentences (and so, roughly, documents) per split.
SPLIT_SHARES: tuple[tuple[str, float], ...] = (("train", 0.70), ("dev", 0.15), ("test", 0.15))

#: In dev and test, the share of drug mentions drawn from the held-out names.
HELD_OUT_DRUG_SHARE = 0.30

#: Typo probabilities per eligible word (alphabetic, at least 4 letters, not an all-caps abbreviation).
TYPO_RATE_DRUG = 0.10
TYPO_RATE_WORD = 0.055

#: Fewest sentences accepted: enough for every split to get a few lines.
MIN_SENTENCES = 20

DOC_LINES = (5, 15)

_DOC_ID_PREFIX = "demo-"

Chunk = tuple[str, "str | None"]  # (text, label or None for plain text)
Line = list[Chunk]
#: One line, or a drug's line and the line after it that carries some of its attributes (relations are
#: drawn per group, :func:`relations_of_group`).
Group = list[Line]

_LINE_BREAK = "\n"  # the template token that ends the first line of a two-line template


@dataclass
class _Mention:
    """One drug mention and the attribute surfaces drawn for it (all drawn lazily from one RNG)."""

    drug: lex.DrugName
    drug_class: lex.DrugClass
    route_kind: str
    surface: str


class _NoteWriter:
    """Draws drugs, attributes, sentences and whole notes from one ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.classes = {c.name: c for c in lex.DRUG_CLASSES}
        self.shared = [d for d in lex.DRUGS if not d.held_out]
        self.held_out = [d for d in lex.DRUGS if d.held_out]

    # ----- drugs and attributes -------------------------------------------------

    def mention(self, split: str, *, at_line_start: bool = False, drug_class: str | None = None) -> _Mention:
        """A drug mention for ``split`` (held-out names only outside train), optionally of one class."""
        rng = self.rng
        use_held_out = split != "train" and rng.random() < HELD_OUT_DRUG_SHARE
        pool = self.held_out if use_held_out else self.shared
        if drug_class is not None:
            # Every class has shared names, so the train pool is never empty here.
            pool = [d for d in pool if d.drug_class == drug_class] or [
                d for d in self.shared if d.drug_class == drug_class
            ]
        drug = rng.choice(pool)
        drug_class = self.classes[drug.drug_class]
        route_kind = rng.choice(drug.routes or drug_class.routes)
        if drug.brands and rng.random() < 0.12:
            surface = rng.choice(drug.brands)
        else:
            surface = self.cased(drug.name, at_line_start)
        return _Mention(drug, drug_class, route_kind, surface)

    def cased(self, name: str, at_line_start: bool) -> str:
        if any(c.isupper() for c in name):  # brand-like names keep their spelling
            return name
        r = self.rng.random()
        if at_line_start:
            return name.upper() if r < 0.12 else (name if r < 0.30 else name[0].upper() + name[1:])
        return name.upper() if r < 0.04 else (name[0].upper() + name[1:] if r < 0.12 else name)

    def strength(self, m: _Mention) -> str:
        value = self.rng.choice(m.drug.strengths)
        if self.rng.random() < 0.15:
            value = re.sub(r"^([\d.,]+) (mg|g|mcg|mEq)$", r"\1\2", value)  # "40 mg" -> "40mg"
        return value

    def route(self, m: _Mention) -> str:
        return self.rng.choice(lex.ROUTES[m.route_kind])

    def form(self, m: _Mention) -> str:
        return self.rng.choice(lex.FORMS[m.route_kind])

    def dosage(self, m: _Mention) -> str | None:
        options = lex.DOSAGES[m.route_kind]
        return self.rng.choice(options) if options else None

    def frequency(self, m: _Mention) -> str:
        prn = m.drug_class.prn and self.rng.random() < 0.7
        return self.rng.choice(lex.FREQUENCIES_PRN if prn else lex.FREQUENCIES_REGULAR)

    def duration(self) -> str:
        return self.rng.choice(lex.DURATIONS)

    def reason(self, m: _Mention) -> str:
        return self.rng.choice(m.drug.reasons or m.drug_class.reasons)

    def adverse_event(self, m: _Mention, *, not_equal: str | None = None) -> str:
        options = [a for a in m.drug_class.adverse_events if a != not_equal]
        return self.rng.choice(options)

    # ----- sentences ------------------------------------------------------------

    def list_item(self, split: str, number: str, *, room: int = 1) -> Group:
        """A medication-list item: short style or discharge-summary "Sig:" style; with ``room`` for two lines,
        a :data:`CROSS_BREAK_SHARE` of items put some attributes on a second line (see the module docstring)."""
        rng = self.rng
        chunks: Line = [(number, None)] if number else []
        m = self.mention(split, at_line_start=True)
        chunks.append((m.surface, "Drug"))
        across = room >= 2 and rng.random() < CROSS_BREAK_SHARE
        if m.route_kind in lex.SIG_FORMS and rng.random() < 0.3:
            sig_form = rng.choice(lex.SIG_FORMS[m.route_kind])
            chunks += [(self.strength(m), "Strength"), (sig_form, "Form")]
            sig: Line = [("Sig", None), (":", None), (rng.choice(lex.SIG_DOSAGES), "Dosage"), (sig_form, "Form"),
                         (rng.choice(lex.SIG_ROUTES[m.route_kind]), "Route"), (rng.choice(lex.SIG_FREQUENCIES), "Frequency")]
            if m.drug_class.course and rng.random() < 0.5:
                sig.append((self.duration(), "Duration"))
            if rng.random() < 0.2:
                sig += [("for", None), (self.reason(m), "Reason")]
            sig.append((".", None))
            return [chunks, sig] if across else [chunks + sig]
        if rng.random() < 0.9:
            chunks.append((self.strength(m), "Strength"))
        if rng.random() < 0.4:
            chunks.append((self.form(m), "Form"))
        dosage = self.dosage(m) if rng.random() < 0.3 else None
        if dosage:
            if chunks[-1][1] == "Form" and rng.random() < 0.5:
                chunks.append((",", None))
            chunks.append((dosage, "Dosage"))
        if rng.random() < 0.85:
            chunks.append((self.route(m), "Route"))
        frequency = self.frequency(m) if rng.random() < 0.92 else None
        if frequency:
            chunks.append((frequency, "Frequency"))
        if across:  # the Duration and Reason, or an ADE, go on the next line
            return [chunks + [(".", None)], *self.fill(rng.choice(_LIST_FOLLOW_UP_TEMPLATES), split, m)]
        if rng.random() < (0.45 if m.drug_class.course else 0.03):
            chunks.append((self.duration(), "Duration"))
        if frequency and re.search(r"(?i)prn|needed", frequency) and rng.random() < 0.7:
            if rng.random() < 0.5:
                chunks.append(("for", None))
            chunks.append((self.reason(m), "Reason"))
        elif rng.random() < 0.22:
            chunks += [("for", None), (self.reason(m), "Reason")]
        if rng.random() < 0.08:
            chunks += [(",", None), ("hold for SBP < 100", None)]
        return [chunks]

    def narrative(self, templates: tuple[str, ...], split: str) -> Group:
        return self.fill(self.rng.choice(templates), split)

    def fill(self, template: str, split: str, m: _Mention | None = None) -> Group:
        """Fill a space-separated template: ``{Label}`` slots, ``{Label?}`` optional slots, literal words, and
        a ``\\n`` token where a two-line template breaks its line. Attributes are drawn for ``m`` (a new mention
        when None, which ``{Drug}`` writes)."""
        rng = self.rng
        if m is None:
            at_line_start = any(line.strip().startswith("{Drug}") for line in template.split(_LINE_BREAK))
            m = self.mention(split, at_line_start=at_line_start)
        # The second drug shares the first one's class ("managed with X and Y", "switched from X to Y").
        others = [self.mention(split, drug_class=m.drug.drug_class), self.mention(split)]
        reason = self.reason(m)
        lines: Group = [[]]
        chunks = lines[0]
        for token in template.split(" "):
            if token == _LINE_BREAK:
                chunks = []
                lines.append(chunks)
                continue
            if not (token.startswith("{") and token.endswith("}")):
                chunks.append((token, None))
                continue
            slot = token[1:-1]
            if slot.endswith("?"):
                slot = slot[:-1]
                if rng.random() >= _OPTIONAL_SLOT_RATE[slot]:
                    continue
            if slot == "Drug":
                chunks.append((m.surface, "Drug"))
            elif slot in ("Drug2", "Drug3"):
                chunks.append((others[int(slot[-1]) - 2].surface, "Drug"))
            elif slot == "Strength":
                chunks.append((self.strength(m), "Strength"))
            elif slot == "Route":
                chunks.append((self.route(m), "Route"))
            elif slot == "Frequency":
                chunks.append((self.frequency(m), "Frequency"))
            elif slot == "Form":
                chunks.append((self.form(m), "Form"))
            elif slot == "Duration":
                chunks.append((self.duration(), "Duration"))
            elif slot == "Dosage":
                dosage = self.dosage(m)
                chunks.append((dosage, "Dosage") if dosage else (self.strength(m), "Strength"))
            elif slot == "Reason":
                chunks.append((reason, "Reason"))
            elif slot == "ADE":
                chunks.append((self.adverse_event(m, not_equal=reason), "ADE"))
            else:  # a template bug, not a data problem
                raise ValueError(f"demo template {template!r}: unknown slot {{{slot}}}")
        return lines

    def filler(self) -> Line:
        """A sentence with no entity; condition words in it are deliberately left unannotated."""
        rng = self.rng
        template = rng.choice(_FILLER_TEMPLATES)
        conditions = rng.sample(lex.HISTORY_CONDITIONS, 3)
        symptoms = rng.sample(lex.SYMPTOMS_DENIED, 3)
        text = template.format(
            age=rng.randint(19, 94), sex=rng.choice(("male", "female", "man", "woman")),
            c1=conditions[0], c2=conditions[1], c3=conditions[2],
            s1=symptoms[0], s2=symptoms[1], s3=symptoms[2],
            lab=rng.choice(("creatinine 1.4", "potassium 5.8", "sodium 131", "INR 2.3", "WBC 13.2", "glucose 212")),
            weeks=rng.randint(1, 4),
        )
        return [(text, None)]

    # ----- notes ----------------------------------------------------------------

    def note(self, split: str, n_lines: int) -> list[Group]:
        """One note of exactly ``n_lines`` lines, in groups: a discharge medication list, a hospital course or a
        clinic note.

        List items are always numbered or bulleted and come in blocks after a header
        ending in ":", so that the sentence splitter sees one sentence per line.
        """
        rng = self.rng
        kind = rng.choices(("discharge", "course", "clinic"), weights=(0.40, 0.35, 0.25))[0]
        groups: list[Group] = []
        if kind == "discharge":
            if n_lines >= 4 and rng.random() < 0.3:
                groups.append([self.filler()])
            groups += self.medication_block(split, n_lines - len(groups), rng.choice(_LIST_HEADERS))
            return groups
        header = rng.choice(_COURSE_HEADERS if kind == "course" else _CLINIC_HEADERS)
        groups.append([[(header, None)]])
        n_narrative = n_lines - 1
        if kind == "course":
            weights = {"reason": 0.34, "ade": 0.20, "drugs": 0.08, "filler": 0.38}
        else:
            weights = {"reason": 0.30, "ade": 0.20, "drugs": 0.08, "filler": 0.42}
            if n_narrative >= 4 and rng.random() < 0.7:
                n_narrative -= rng.randint(3, min(7, n_narrative))
        written = 1
        while written < 1 + n_narrative:
            what = rng.choices(list(weights), weights=list(weights.values()))[0]
            across = what in ("reason", "ade") and 1 + n_narrative - written >= 2 and rng.random() < CROSS_BREAK_SHARE
            if what == "reason":
                group = self.narrative(_REASON_PAIR_TEMPLATES if across else _REASON_TEMPLATES, split)
            elif what == "ade":
                group = self.narrative(_ADE_PAIR_TEMPLATES if across else _ADE_TEMPLATES, split)
            elif what == "drugs":
                group = self.narrative(_DRUG_ONLY_TEMPLATES, split)
            else:
                group = [self.filler()]
            groups.append(group)
            written += len(group)
        if written < n_lines:
            groups += self.medication_block(split, n_lines - written, rng.choice(_CLINIC_LIST_HEADERS))
        return groups

    def medication_block(self, split: str, n_lines: int, header: str) -> list[Group]:
        """A header line and list items (one or two lines each) filling ``n_lines - 1`` lines."""
        numbering = self.rng.choice(("dot", "dot", "dash", "paren"))
        groups: list[Group] = [[[(header, None)]]]
        written, k = 1, 0
        while written < n_lines:
            k += 1
            number = {"dot": f"{k}.", "dash": "-", "paren": f"{k})"}[numbering]
            groups.append(self.list_item(split, number, room=n_lines - written))
            written += len(groups[-1])
        return groups

    # ----- typos ----------------------------------------------------------------

    def with_typos(self, chunks: list[Chunk]) -> list[Chunk]:
        """Misspell a few words: drug names more often, other plain words sometimes."""
        out: list[Chunk] = []
        for text, label in chunks:
            if label in (None, "Drug", "Reason", "ADE", "Form"):
                rate = TYPO_RATE_DRUG if label == "Drug" else TYPO_RATE_WORD
                text = re.sub(r"[A-Za-z]{4,}", lambda w: self.typo(w.group(0), rate), text)
            out.append((text, label))
        return out

    def typo(self, word: str, rate: float) -> str:
        if word.isupper() or self.rng.random() >= rate:
            return word
        i = self.rng.randrange(1, len(word) - 1)  # keep the first letter, as most real typos do
        kind = self.rng.choice(("swap", "drop", "double"))
        if kind == "swap" and word[i] != word[i + 1]:
            return word[:i] + word[i + 1] + word[i] + word[i + 2:]
        if kind == "double":
            return word[: i + 1] + word[i] + word[i + 1:]
        return word[:i] + word[i + 1:]


_OPTIONAL_SLOT_RATE: dict[str, float] = {
    "Strength": 0.6, "Route": 0.5, "Frequency": 0.55, "Form": 0.25, "Dosage": 0.3, "Duration": 0.2,
}

_LIST_HEADERS = ("Discharge Medications:", "DISCHARGE MEDICATIONS:", "Medications on Admission:",
                 "Medications at discharge:", "Current medications:", "MEDICATIONS:")
_COURSE_HEADERS = ("Hospital Course:", "Brief Hospital Course:", "HOSPITAL COURSE:", "Events overnight:")
_CLINIC_HEADERS = ("Assessment and Plan:", "A/P:", "Plan:", "Interval history:", "Impression:")
_CLINIC_LIST_HEADERS = ("Medications:", "Medication changes:", "Current medications:", "Meds:")

# Narrative sentences whose condition is the indication of the drug.
_REASON_TEMPLATES: tuple[str, ...] = (
    "Started {Drug} {Strength?} {Route?} {Frequency?} for {Reason} .",
    "She was started on {Drug} {Strength?} {Frequency?} for {Reason} .",
    "He was started on {Drug} {Strength?} {Route?} {Frequency?} {Duration?} for {Reason} .",
    "Continue {Drug} {Strength?} {Frequency?} for {Reason} .",
    "Given {Drug} {Strength?} {Route?} to treat {Reason} .",
    "{Reason} was treated with {Drug} {Strength?} {Route?} {Frequency?} .",
    "{Reason} improved after {Drug} was added .",
    "For {Reason} , we started {Drug} {Strength?} {Route?} {Frequency?} .",
    "Received {Dosage} of {Drug} {Route?} for {Reason} .",
    "Her {Reason} was managed with {Drug} and {Drug2} .",
    "Plan to continue {Drug} {Duration} for {Reason} .",
    "{Drug} {Strength} {Route} {Frequency} was prescribed for {Reason} .",
    "Restarted home {Drug} for {Reason} , {Strength} {Frequency} .",
    "{Drug} was increased to {Strength} {Frequency?} for better control of {Reason} .",
    "Treated with {Drug} {Duration?} for {Reason} .",
    "Discharged on {Drug} {Strength} {Frequency} {Duration?} for {Reason} .",
    "His {Reason} responded well to {Drug} .",
    "Patient was given {Drug} {Strength?} {Route} for {Reason} with good effect .",
)

# Narrative sentences whose condition was caused by the drug (n2c2 ADE).
_ADE_TEMPLATES: tuple[str, ...] = (
    "Developed {ADE} on {Drug} , which was stopped .",
    "{Drug} was discontinued due to {ADE} .",
    "{ADE} secondary to {Drug} .",
    "Course complicated by {ADE} attributed to {Drug} .",
    "{Drug} was held given {ADE} .",
    "She reports {ADE} since starting {Drug} .",
    "{Drug} was stopped after he developed {ADE} .",
    "Noted to have {ADE} , likely from {Drug} .",
    "{ADE} thought to be due to {Drug} , now resolved .",
    "Switched from {Drug} to {Drug2} because of {ADE} .",
    "Started {Drug} {Strength?} for {Reason} , complicated by {ADE} .",
    "Likely {Drug} -induced {ADE} .",
    "{Drug} {Strength?} was stopped because of {ADE} .",
    "Patient developed {ADE} after receiving {Drug} {Route?} .",
    "Dose of {Drug} reduced to {Strength} for {ADE} .",
    "{Drug} was held for {ADE} .",
)

_DRUG_ONLY_TEMPLATES: tuple[str, ...] = (
    "Home medications include {Drug} , {Drug2} and {Drug3} .",
    "Continue {Drug} and {Drug2} .",
    "Patient takes {Drug} {Strength?} {Frequency?} at home .",
    "{Drug} level was checked and is therapeutic .",
    "Resume {Drug} {Strength?} {Frequency?} at discharge .",
    "No changes were made to {Drug} or {Drug2} .",
)

# Two-line templates (a \n token breaks the line): some attributes in the sentence after their drug's, or before.
_REASON_PAIR_TEMPLATES: tuple[str, ...] = (
    "Started {Drug} {Strength?} {Route?} {Frequency?} on hospital day 2 . \n This was for {Reason} .",
    "He was started on {Drug} {Strength?} {Route?} . \n It was given {Frequency} for {Reason} .",
    "{Reason} was noted on admission . \n Treated with {Drug} {Strength?} {Route?} {Frequency?} .",
    "Continued home {Drug} . \n Dose is {Strength} {Route?} {Frequency} , for {Reason} .",
    "{Drug} was started for {Reason} . \n Plan to continue {Duration} .",
    "She received {Drug} {Strength?} {Route} in the ED . \n This was given for {Reason} .",
    "Her {Reason} was difficult to control . \n {Drug} {Strength} {Frequency} was added .",
)

_ADE_PAIR_TEMPLATES: tuple[str, ...] = (
    "Course complicated by {ADE} . \n This was attributed to {Drug} , which was stopped .",
    "{Drug} {Strength?} was started on admission . \n She then developed {ADE} , and it was held .",
    "Developed {ADE} on hospital day 3 . \n {Drug} was felt to be the cause and was discontinued .",
    "Started {Drug} {Strength?} {Frequency?} for {Reason} . \n Complicated by {ADE} , so the dose was reduced .",
    "He was given {Drug} {Route?} overnight . \n This morning he has {ADE} , likely from it .",
)

# The unnumbered line under a short list item (ended by "."), about that item's drug: the Duration and
# Reason it did not get, or an adverse event.
_LIST_FOLLOW_UP_TEMPLATES: tuple[str, ...] = (
    "For {Reason} .",
    "Started this admission for {Reason} .",
    "Continue {Duration} for {Reason} .",
    "Continue {Duration} , then stop .",
    "Held during admission because of {ADE} .",
    "Dose was reduced this admission for {ADE} .",
    "Restarted at discharge ; it had been held for {ADE} .",
)

_FILLER_TEMPLATES: tuple[str, ...] = (
    "Patient is a {age} year old {sex} with a history of {c1}, {c2} and {c3}.",
    "Past medical history: {c1}, {c2}, {c3}.",
    "Denies {s1}, {s2} or {s3}.",
    "No {s1} on exam.",
    "Vital signs stable, afebrile.",
    "Follow up with PCP in {weeks} weeks.",
    "Labs notable for {lab}.",
    "Tolerating a regular diet and ambulating independently.",
    "Discussed the plan with the patient and family, who agree.",
    "Will monitor for {s1} closely.",
    "Allergies: NKDA.",
    "Family history of {c1}.",
    "Admitted with {c1} and {c2}.",
    "Discharge disposition: home with services.",
    "Seen and examined at bedside this morning.",
    "Social work consulted for discharge planning.",
)


def _render(chunks: list[Chunk]) -> tuple[str, list[tuple[str, int, int, str]]]:
    """Join chunks with single spaces (no space before ``.,:)`` or ``-``) and return text and entity spans."""
    parts: list[str] = []
    spans: list[tuple[str, int, int, str]] = []
    pos = 0
    for i, (text, label) in enumerate(chunks):
        if not text or (text == "." and parts and parts[-1].endswith(".")):
            continue  # no "q.d.." when a sentence ends in a dotted abbreviation
        if parts and text[0] not in ".,:;)-":
            parts.append(" ")
            pos += 1
        if i == 0 or not parts:
            text = text[0].upper() + text[1:] if label not in ("Drug",) else text
        if label is not None:
            spans.append((label, pos, pos + len(text), text))
        parts.append(text)
        pos += len(text)
    return "".join(parts), spans


def relations_of_group(spans: list[tuple[str, int, int, str]]) -> list[tuple[str, int, int]]:
    """``(relation type, attribute index, drug index)`` for the entity spans of one rendered group, in order
    (indices into ``spans``): one line, or a drug's line and the line after it.

    Every group names its main drug first: a list item has one drug, and every template writes ``{Drug}``
    (whose attributes it draws) before ``{Drug2}``/``{Drug3}`` (a test checks it). Each attribute belongs to
    that main drug and gets ``<Label>-Drug``, wherever it stands in the group (a ``Sig:`` line, a Reason in
    the sentence before), except a Reason, which belongs to every drug of its group ("Her {Reason} was
    managed with {Drug} and {Drug2}"). A group without a drug links nothing.
    """
    drugs = [k for k, (label, *_) in enumerate(spans) if label == "Drug"]
    links = []
    for k, (label, *_) in enumerate(spans):
        if label == "Drug" or not drugs:
            continue
        for drug in drugs if label == "Reason" else drugs[:1]:
            links.append((f"{label}-Drug", k, drug))
    return links


def _split_budgets(n_sentences: int) -> dict[str, int]:
    budgets = {name: round(n_sentences * share) for name, share in SPLIT_SHARES}
    budgets["train"] += n_sentences - sum(budgets.values())
    return budgets


def _prepare_folders(folders: list[Path]) -> None:
    """Create ``folders`` and remove earlier demo files there; refuse (before touching anything) if any
    holds another ``.txt``/``.ann`` file, so that a demo corpus is never mixed with other documents."""
    earlier: list[Path] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix in (".txt", ".ann"):
                if not path.name.startswith(_DOC_ID_PREFIX):
                    raise ValueError(f"{path}: not a demo corpus file; generate the demo corpus into an empty folder")
                earlier.append(path)
    for path in earlier:
        path.unlink()
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)


_README = """\
# medner demo corpus (SYNTHETIC)

Every document here is synthetic: generated by `medner.corpus.demo.generate_demo_corpus`
from invented word lists and sentence templates. No text comes from a real patient or a
real clinical record; scores on this corpus say nothing about clinical performance.

Parameters: seed={seed}, n_sentences={n_sentences}, generator version {version}.
Format: brat standoff (`T` lines, then `R` lines linking each attribute to its drug), one sentence or
list item per line, n2c2-2018 Track 2 labels and relation types. Some attributes stand on the line after
their drug (a `Sig:` line, a note under a list item, the next sentence) and their `R` lines cross that
line break.
Documents per split: {documents}.
"""


def generate_demo_corpus(out_dir: str | Path, *, n_sentences: int = 3000, seed: int = 0) -> Path:
    """Write the synthetic demo corpus as brat files under ``out_dir/{train,dev,test}``.

    The corpus is SYNTHETIC (see the module docstring). About ``n_sentences``
    lines are written in total (lines with and without entities), split 70/15/15
    between train, dev and test by sentences, so documents split in about the same
    shares. The output depends only on ``seed`` and ``n_sentences``: the same
    arguments give byte-identical files. Earlier demo files in the split folders
    are replaced; a folder holding other ``.txt``/``.ann`` files is refused.
    ``out_dir`` also receives ``README.md`` (saying the corpus is synthetic) and
    ``demo.json`` (parameters and document counts).

    Returns ``out_dir`` as a ``Path``.
    """
    if isinstance(n_sentences, bool) or not isinstance(n_sentences, int) or n_sentences < MIN_SENTENCES:
        raise ValueError(f"n_sentences must be an integer >= {MIN_SENTENCES}, got {n_sentences!r}")
    out = Path(out_dir)
    writer = _NoteWriter(random.Random(seed))
    documents: dict[str, int] = {}
    _prepare_folders([out / split for split, _ in SPLIT_SHARES])
    for split, budget in _split_budgets(n_sentences).items():
        folder = out / split
        written = 0
        index = 0
        while written < budget:
            n_lines = min(writer.rng.randint(*DOC_LINES), budget - written)
            groups = [[_render(writer.with_typos(chunks)) for chunks in group] for group in writer.note(split, n_lines)]
            text_parts: list[str] = []
            ann_lines: list[str] = []
            relation_lines: list[str] = []
            offset = 0
            for group in groups:
                first = len(ann_lines) + 1  # the T number of the group's first entity
                group_spans: list[tuple[str, int, int, str]] = []
                for line_text, spans in group:
                    for label, start, end, surface in spans:
                        ann_lines.append(f"T{len(ann_lines) + 1}\t{label} {offset + start} {offset + end}\t{surface}\n")
                    group_spans += spans
                    text_parts.append(line_text + "\n")
                    offset += len(line_text) + 1
                for relation_type, attribute, drug in relations_of_group(group_spans):
                    relation_lines.append(f"R{len(relation_lines) + 1}\t{relation_type} "
                                          f"Arg1:T{first + attribute} Arg2:T{first + drug}\n")
            index += 1
            doc_id = f"{_DOC_ID_PREFIX}{split}-{index:05d}"
            (folder / f"{doc_id}.txt").write_bytes("".join(text_parts).encode("utf-8"))
            (folder / f"{doc_id}.ann").write_bytes("".join(ann_lines + relation_lines).encode("utf-8"))
            written += n_lines
        documents[split] = index
    manifest = {"generator_version": GENERATOR_VERSION, "seed": seed, "n_sentences": n_sentences,
                "documents": documents, "synthetic": True}
    (out / "demo.json").write_bytes((json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    readme = _README.format(seed=seed, n_sentences=n_sentences, version=GENERATOR_VERSION,
                            documents=", ".join(f"{k} {v}" for k, v in documents.items()))
    (out / "README.md").write_bytes(readme.encode("utf-8"))
    return out
