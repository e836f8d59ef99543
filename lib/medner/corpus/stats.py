"""Corpus statistics: sizes, entities per label and split, what tagging drops and why, boundary alignment.

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

from medner.corpus.registry import SPLITS, Corpus
from medner.corpus.tagging import BoundaryAlignment, boundary_alignment, tag_documents


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


def corpus_statistics(corpus: Corpus, *, scheme: str = "BIO", progress: bool = True, examples: int = 10) -> dict:
    """Statistics of ``corpus`` as one JSON-ready dict.

    Keys: ``corpus``, ``source``, ``scheme``, ``labels``, ``ignored`` (source label -> count),
    ``split_record``, ``annotation_lines`` (brat reader counts), ``splits`` ({split: {documents,
    sentences, tokens, entities {label: n}, entities_total, discontinuous, drops {label: {reason: n}},
    tagging (TaggingReport.as_dict()), boundary_alignment {boundaries, aligned, rate, per_label}}}),
    ``overall`` (the same summed over splits) and ``examples`` (up to ``examples`` dropped entities
    and misaligned boundaries, to see what the numbers are made of).
    """
    splits: dict[str, dict] = {}
    alignments: list[BoundaryAlignment] = []
    dropped_examples: list[str] = []
    for split in tqdm(SPLITS, desc=f"statistics {corpus.name}", unit="split", disable=None if progress else True):
        docs = corpus.splits.get(split, [])
        sentences, report = tag_documents(docs, scheme=scheme)
        alignment = boundary_alignment(docs)
        alignments.append(alignment)
        tagging = report.as_dict()
        entities = Counter(entity.label for doc in docs for entity in doc.entities)
        splits[split] = {
            "documents": len(docs),
            "sentences": len(sentences),
            "tokens": sum(len(s) for s in sentences),
            "entities": {label: entities[label] for label in corpus.labels if entities[label]},
            "entities_total": sum(entities.values()),
            "discontinuous": sum(entity.is_discontinuous for doc in docs for entity in doc.entities),
            "drops": _drops(tagging),
            "tagging": tagging,
            "boundary_alignment": alignment.as_dict(),
        }
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
        },
        "examples": {
            "dropped": dropped_examples[:examples],
            "misaligned_boundaries": [
                f"{doc_id} {entity_id} {label} {kind} at {offset}: {context!r}"
                for doc_id, entity_id, label, kind, offset, context in overall_alignment.misaligned[:examples]
            ],
        },
    }


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
    return "\n\n".join(parts)


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
