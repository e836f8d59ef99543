"""Corpus statistics: sizes, entities per label and split, what tagging drops and why, boundary alignment;
relations per type, what the label map and tagging drop of them, and how many the candidate pairs reach.

:func:`corpus_statistics` computes everything from the documents (nothing is
read from a cache or typed in), :func:`format_statistics` prints it as tables and
:func:`label_counts_by_split` takes the entities per label and split back out of it
(or out of the JSON file it was written to), for the label distribution figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from tqdm.auto import tqdm

from medner.corpus.candidates import DEFAULT_WINDOW, UNREACHED_REASONS, CandidateReach, candidate_reach
from medner.corpus.gc_pause import collector_paused
from medner.corpus.registry import SPLITS, Corpus
from medner.corpus.tagging import (
    DROP_REASONS,
    BoundaryAlignment,
    TaggingReport,
    boundary_alignment,
    relation_type_key,
    tag_documents,
)


def _alignment_sum(parts: list[BoundaryAlignment]) -> BoundaryAlignment:
    total = BoundaryAlignment()
    for part in parts:
        total.boundaries += part.boundaries
        total.aligned += part.aligned
        for label, (n, a) in part.per_label.items():
            row = total.per_label.setdefault(label, [0, 0])
            row[0] += n
            row[1] += a
        total.misaligned.extend(part.misaligned)
    return total


def _drops(tagging: dict) -> dict[str, dict[str, int]]:
    return {
        label: {
            "overlap": row["dropped_overlap"],
            "boundary_inside_token": row["dropped_boundary_inside_token"],
            "boundary_crosses_sentence": row["dropped_boundary_crosses_sentence"],
        }
        for label, row in tagging["per_label"].items()
        if row["dropped_overlap"] or row["dropped_boundary"]
    }


def _split_statistics(docs: list, labels: tuple[str, ...], scheme: str, window: int
                      ) -> tuple[dict, TaggingReport, BoundaryAlignment, CandidateReach]:
    """One split's row of :func:`corpus_statistics`, and the tagging report, alignment and reach it was made of."""
    sentences, report = tag_documents(docs, scheme=scheme)
    alignment = boundary_alignment(docs)
    reach = candidate_reach(docs, window=window)
    tagging = report.as_dict()
    entities = Counter(entity.label for doc in docs for entity in doc.entities)
    row = {
        "documents": len(docs),
        "sentences": len(sentences),
        "tokens": sum(len(s) for s in sentences),
        "entities": {label: entities[label] for label in labels if entities[label]},
        "entities_total": sum(entities.values()),
        "discontinuous": sum(entity.is_discontinuous for doc in docs for entity in doc.entities),
        "drops": _drops(tagging),
        "tagging": tagging,
        "boundary_alignment": alignment.as_dict(),
        "relations": _by_type(Counter(relation.type for doc in docs for relation in doc.relations)),
        "candidates": reach.as_dict(),
    }
    return row, report, alignment, reach


@collector_paused()  # every split's tokens and sentences at once: see medner.corpus.gc_pause
def corpus_statistics(corpus: Corpus, *, scheme: str = "BIO", progress: bool = True, examples: int = 10,
                      window: int = DEFAULT_WINDOW) -> dict:
    """Statistics of ``corpus`` as one JSON-ready dict.

    Keys: ``corpus``, ``source``, ``scheme``, ``labels``, ``ignored`` (source label -> count),
    ``split_record``, ``annotation_lines`` (brat reader counts), ``splits`` ({split: {documents,
    sentences, tokens, entities {label: n}, entities_total, discontinuous, drops {label: {reason: n}},
    tagging (TaggingReport.as_dict()), boundary_alignment {boundaries, aligned, rate, per_label},
    relations {type: n}, candidates (CandidateReach.as_dict() for ``window``)}}), ``overall`` (the same
    summed over splits, with ``relation_drops`` {type: {reason: n}}: relations whose argument tagging
    drops), ``options``, ``ignored_relations`` (type -> {reason: n}, by the label map),
    ``relation_record`` (where the relations came from; for PHEE what its events gave) and ``examples``
    (up to ``examples`` dropped entities and misaligned boundaries, to see what the numbers are made of).
    """
    splits: dict[str, dict] = {}
    alignments: list[BoundaryAlignment] = []
    dropped_examples: list[str] = []
    reach = CandidateReach(window=window)
    for split in tqdm(SPLITS, desc=f"statistics {corpus.name}", unit="split", disable=None if progress else True):
        splits[split], report, alignment, split_reach = _split_statistics(corpus.splits.get(split, []), corpus.labels,
                                                                          scheme, window)
        alignments.append(alignment)
        reach.add(split_reach)
        dropped_examples.extend(f"{split}/{d.doc_id}: {d.reason}: {d.detail}" for d in report.dropped[:examples])

    overall_entities: Counter = Counter()
    overall_drops: dict[str, Counter] = {}
    for row in splits.values():
        overall_entities.update(row["entities"])
        for label, reasons in row["drops"].items():
            overall_drops.setdefault(label, Counter()).update(reasons)
    overall_alignment = _alignment_sum(alignments)
    kept = sum(row["tagging"]["total"]["kept"] for row in splits.values())
    return {
        "corpus": corpus.name,
        "source": corpus.source,
        "scheme": scheme,
        "labels": list(corpus.labels),
        "ignored": dict(corpus.ignored),
        "split_record": corpus.split_record,
        "annotation_lines": corpus.annotation_lines,
        "splits": splits,
        "overall": {
            "documents": sum(row["documents"] for row in splits.values()),
            "sentences": sum(row["sentences"] for row in splits.values()),
            "tokens": sum(row["tokens"] for row in splits.values()),
            "entities": {label: overall_entities[label] for label in corpus.labels if overall_entities[label]},
            "entities_total": sum(overall_entities.values()),
            "kept": kept,
            "drops": {
                label: {reason: counts[reason] for reason in ("overlap", "boundary_inside_token", "boundary_crosses_sentence")}
                for label, counts in overall_drops.items()
            },
            "boundary_alignment": overall_alignment.as_dict(),
            "relations": _summed(row["relations"] for row in splits.values()),
            "relation_drops": _relation_drops(row["tagging"] for row in splits.values()),
            "candidates": reach.as_dict(),
        },
        "options": dict(corpus.options),
        "ignored_relations": dict(corpus.ignored_relations),
        "relation_record": corpus.relation_record,
        "examples": {
            "dropped": dropped_examples[:examples],
            "misaligned_boundaries": [
                f"{doc_id} {entity_id} {label} {kind} at {offset}: {context!r}"
                for doc_id, entity_id, label, kind, offset, context in overall_alignment.misaligned[:examples]
            ],
        },
    }


def _by_type(counts: Counter) -> dict[str, int]:
    return {relation_type: counts[relation_type] for relation_type in sorted(counts, key=relation_type_key)}


def _summed(counts) -> dict[str, int]:
    total: Counter = Counter()
    for row in counts:
        total.update(row)
    return _by_type(total)


def _relation_drops(taggings) -> dict[str, dict[str, int]]:
    """{type: {reason: n}} of the relations whose argument tagging drops, summed over the splits' tagging reports."""
    drops: dict[str, Counter] = {}
    for tagging in taggings:
        for relation_type, row in tagging.get("relations", {}).get("per_type", {}).items():
            drops.setdefault(relation_type, Counter()).update({reason: row[f"dropped_{reason}"] for reason in DROP_REASONS})
    return {relation_type: {reason: counts[reason] for reason in DROP_REASONS}
            for relation_type, counts in sorted(drops.items(), key=lambda item: relation_type_key(item[0]))
            if sum(counts.values())}


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(cell).rjust(w) if k else str(cell).ljust(w) for k, (cell, w) in enumerate(zip(line, widths))) for line in [header] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _rate(alignment: dict) -> str:
    rate = alignment["rate"]
    return "n/a" if rate is None else f"{100 * rate:.2f}%"


def format_statistics(stats: dict) -> str:
    """The statistics of :func:`corpus_statistics` as readable plain-text tables."""
    split_names = list(stats["splits"])
    columns = split_names + ["overall"]
    row_of = {**stats["splits"], "overall": stats["overall"]}
    parts = [f"corpus {stats['corpus']} ({stats['source']}), tags {stats['scheme']}, split: {stats['split_record'].get('method')}"]
    size_rows = [
        [key] + [str(row_of[c][key]) for c in columns] for key in ("documents", "sentences", "tokens", "entities_total")
    ]
    size_rows.append(["boundary alignment"] + [_rate(row_of[c]["boundary_alignment"]) for c in columns])
    parts.append(_table([""] + columns, size_rows))
    label_rows = [[label] + [str(row_of[c]["entities"].get(label, 0)) for c in columns] for label in stats["labels"]]
    parts.append("entities per label\n" + _table(["label"] + columns, label_rows))
    drop_rows = []
    for label in stats["labels"]:
        drops = stats["overall"]["drops"].get(label)
        if drops:
            drop_rows.append([label] + [str(drops[r]) for r in ("overlap", "boundary_inside_token", "boundary_crosses_sentence")])
    parts.append(
        "entities tagging cannot represent (all splits)\n"
        + (_table(["label", "overlap", "inside token", "crosses sentence"], drop_rows) if drop_rows else "none")
    )
    if stats["ignored"]:
        ignored_rows = [[label, str(n)] for label, n in sorted(stats["ignored"].items(), key=lambda item: -item[1])]
        parts.append("ignored by the label map\n" + _table(["source label", "entities"], ignored_rows))
    lines = stats["annotation_lines"].get("lines", {})
    if lines:
        parts.append("brat lines read: " + ", ".join(f"{kind} {n}" for kind, n in lines.items()))
    parts.extend(_relation_parts(stats, columns, row_of))
    return "\n\n".join(parts)


def _percent(share: float | None) -> str:
    return "n/a" if share is None else f"{100 * share:.2f}%"


def _relation_parts(stats: dict, columns: list[str], row_of: dict) -> list[str]:
    """The relation tables of :func:`format_statistics` (none for statistics written before relations)."""
    overall = stats["overall"]
    parts = []
    types = list(overall.get("relations", {}))
    record = stats.get("relation_record", {})
    if types:
        rows = [[t] + [str(row_of[c]["relations"].get(t, 0)) for c in columns] for t in types]
        parts.append(f"relations per type ({record.get('from', 'brat R lines')})\n" + _table(["type"] + columns, rows))
        drops = overall.get("relation_drops", {})
        drop_rows = [[t] + [str(drops[t][r]) for r in DROP_REASONS] for t in drops]
        parts.append("relations with an argument tagging cannot represent (all splits)\n"
                     + (_table(["type", "overlap", "inside token", "crosses sentence"], drop_rows) if drop_rows else "none"))
        candidates = overall["candidates"]
        reach_rows = [[t, str(row["gold"]), str(row["reached"]), _percent(row["share"])] + [str(row[r]) for r in UNREACHED_REASONS]
                      for t, row in [*candidates["per_type"].items(), ("all", candidates["total"])]]
        parts.append(f"gold relations the candidate pairs reach ({candidates['pairs']} (attribute, drug) pairs within "
                     f"{candidates['window']} sentence(s), all splits)\n"
                     + _table(["type", "gold", "reached", "share", "outside window", "not attribute-drug"], reach_rows))
    if stats.get("ignored_relations"):
        ignored_rows = [[t, reason, str(n)] for t, reasons in stats["ignored_relations"].items() for reason, n in reasons.items()]
        parts.append("relations dropped by the label map\n" + _table(["type", "reason", "relations"], ignored_rows))
    set_aside = stats["annotation_lines"].get("relations_set_aside")
    if set_aside:
        parts.append(f"brat R lines set aside (an argument is an event, not an entity): {set_aside}")
    if "arguments" in record:
        parts.append(_phee_events_part(record))
    return parts


def _phee_events_part(record: dict) -> str:
    """What PHEE's events gave: arguments matched per role, what gave no relation, and the Effect rule."""
    rows = [[role, *(str(row[k]) for k in ("mentions", "matched", "unmatched", "no_drug"))]
            for role, row in record["arguments"].items()]
    effects = record["effects"]
    outside = ", ".join(f"{role} {n}" for role, n in record["outside_mapping"].items()) or "none"
    replaced = ", ".join(f"{t} {n}" for t, n in record["brat_relations_replaced"].items()) or "none"
    return "\n".join([
        "PHEE events -> relations (event arguments matched to brat entities by offsets)",
        _table(["role", "mentions", "matched", "unmatched", "no drug"], rows),
        f"Effects of potential therapeutic events (no relation): {record['therapeutic_effects']}",
        f"event arguments outside the mapping (no relation): {outside}",
        f"PHEE's own brat relations replaced: {replaced}",
        f"Effect entities: adverse event {effects['adverse']}, therapeutic event only {effects['therapeutic_only']}, "
        f"both {effects['both']}, no event {effects['in_no_event']}; the event rule (phee_effects='events') relabels "
        f"{record['effects_the_event_rule_relabels']} from ADE to ignored; rule in use {record['effect_rule']!r}, "
        f"relabelled {record['effects_relabelled']}",
    ])


def label_counts_by_split(statistics: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """``{split: {label: entity count}}`` from :func:`corpus_statistics` output (the label distribution's data).

    Accepts either that function's dict (splits under ``"splits"`` each with an
    ``"entities"`` mapping per label) or an already flat ``{split: {label: count}}``.
    """
    splits = statistics.get("splits", statistics)
    counts = {}
    for split, value in splits.items():
        if not isinstance(value, Mapping):
            continue
        per_label = value.get("entities", value)
        if isinstance(per_label, Mapping) and "per_label" in per_label:
            per_label = per_label["per_label"]
        if not all(isinstance(v, (int, float)) for v in per_label.values()):
            raise ValueError(f"split {split!r}: expected entity counts per label, found keys {sorted(per_label)}")
        counts[split] = {label: int(n) for label, n in per_label.items()}
    if not counts:
        raise ValueError("corpus statistics: expected at least one split with entity counts per label, found none")
    return counts
