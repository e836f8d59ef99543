"""Browse a run's predictions against the gold documents: what went wrong, where.

Every gold and every predicted entity of a document gets one outcome:

* ``correct``: a prediction with the same label and the same outer extent (a strict true positive);
* ``wrong_boundary``: a prediction with the same label that overlaps but has another extent;
* ``wrong_label``: a prediction with another label that overlaps (exactly or partly);
* ``missed``: a gold entity no prediction overlaps;
* ``spurious``: a prediction that overlaps no gold entity left to pair with.

Pairing is one to one and greedy in that order (exact same-label matches first,
then same-label overlaps, then other-label overlaps, the largest overlap first),
on the outer extent of each entity as the n2c2-2018 scorer counts discontinuous
mentions. So the number of ``correct`` outcomes is the strict true positive count
of the span scorer, and every other outcome is an error of one of the four kinds.

The HTML shows the text twice, side by side: gold entities on the left,
predicted entities on the right, coloured by label, with errors outlined and a
tooltip saying what happened. :func:`write_error_page` writes a static page of the
worst documents (with label and error-kind filters that work in any browser)
into a run folder; in JupyterLab :func:`render_document` is shown with
``IPython.display.HTML``.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from medner import N2C2_LABELS, files
from medner.corpus.document import Document, Entity
from medner.run_folder import RunFolder

#: The four kinds of error, in the order the browser lists them.
ERROR_KINDS: tuple[str, ...] = ("missed", "spurious", "wrong_label", "wrong_boundary")
#: Every outcome an entity can have.
OUTCOMES: tuple[str, ...] = ("correct",) + ERROR_KINDS

# One colour per label (Okabe-Ito and Tol light: colour-blind safe), pale enough to read text on.
LABEL_COLOURS: dict[str, str] = {
    "Drug": "#9ecae1",
    "Strength": "#fdd0a2",
    "Dosage": "#c7e9c0",
    "Form": "#dadaeb",
    "Frequency": "#fcbba1",
    "Route": "#d9d9d9",
    "Duration": "#fff5a0",
    "Reason": "#a6dbd5",
    "ADE": "#f4b6d2",
}
_OTHER_COLOUR = "#e0e0e0"
_OUTCOME_BORDERS: dict[str, str] = {
    "correct": "1px solid transparent",
    "wrong_boundary": "2px dashed #e69f00",
    "wrong_label": "2px solid #0072b2",
    "missed": "2px solid #d55e00",
    "spurious": "2px dotted #cc79a7",
}


@dataclass(frozen=True)
class EntityOutcome:
    """What happened to one gold entity, one prediction, or a pair of them."""

    kind: str
    gold: Entity | None
    pred: Entity | None

    @property
    def label(self) -> str:
        """The gold label, or the predicted one for a spurious prediction."""
        return self.gold.label if self.gold is not None else self.pred.label  # type: ignore[union-attr]

    def describe(self) -> str:
        """One line: the kind, the labels and the texts involved."""
        gold = f"gold {self.gold.label} '{self.gold.text}'" if self.gold else ""
        pred = f"predicted {self.pred.label} '{self.pred.text}'" if self.pred else ""
        return f"{self.kind.replace('_', ' ')}: " + " / ".join(part for part in (gold, pred) if part)


@dataclass(frozen=True)
class DocumentErrors:
    """The outcomes of one document and its strict counts."""

    doc_id: str
    outcomes: tuple[EntityOutcome, ...]

    @property
    def counts(self) -> dict[str, int]:
        """Number of outcomes of each kind (every kind present, zero when none)."""
        found = Counter(o.kind for o in self.outcomes)
        return {kind: found.get(kind, 0) for kind in OUTCOMES}

    @property
    def n_errors(self) -> int:
        return sum(1 for o in self.outcomes if o.kind != "correct")

    @property
    def strict_f1(self) -> float:
        """Strict F1 of this document (1.0 when it has neither gold nor predicted entities)."""
        tp = sum(1 for o in self.outcomes if o.kind == "correct")
        n_gold = sum(1 for o in self.outcomes if o.gold is not None)
        n_pred = sum(1 for o in self.outcomes if o.pred is not None)
        if n_gold == 0 and n_pred == 0:
            return 1.0
        return 2 * tp / (n_gold + n_pred)


def _overlap(a: Entity, b: Entity) -> int:
    """Characters shared by the outer extents of two entities."""
    return max(0, min(a.end, b.end) - max(a.start, b.start))


def classify_entities(gold: Document, pred: Document) -> DocumentErrors:
    """Give every gold and predicted entity of one document its outcome (see the module docstring).

    Outcomes come in document order of the gold (or, for spurious ones, predicted) entity.
    """
    if gold.id != pred.id:
        raise ValueError(f"classify_entities: expected documents with the same id, got gold '{gold.id}' and predicted '{pred.id}'")
    gold_left = list(gold.entities)
    pred_left = list(pred.entities)
    outcomes: list[EntityOutcome] = []

    def pair(kind: str, accept) -> None:  # noqa: ANN001 - a local predicate
        for g in list(gold_left):
            candidates = [p for p in pred_left if accept(g, p)]
            if not candidates:
                continue
            # The largest overlap first, then the earliest start: deterministic whatever the file order.
            best = max(candidates, key=lambda p: (_overlap(g, p), -p.start, -p.end, p.label))
            outcomes.append(EntityOutcome(kind, g, best))
            gold_left.remove(g)
            pred_left.remove(best)

    pair("correct", lambda g, p: g.label == p.label and (g.start, g.end) == (p.start, p.end))
    pair("wrong_boundary", lambda g, p: g.label == p.label and _overlap(g, p) > 0)
    pair("wrong_label", lambda g, p: g.label != p.label and _overlap(g, p) > 0)
    outcomes.extend(EntityOutcome("missed", g, None) for g in gold_left)
    outcomes.extend(EntityOutcome("spurious", None, p) for p in pred_left)

    def position(o: EntityOutcome) -> tuple[int, int, str]:
        anchor = o.gold if o.gold is not None else o.pred
        return (anchor.start, anchor.end, anchor.label)  # type: ignore[union-attr]

    return DocumentErrors(gold.id, tuple(sorted(outcomes, key=position)))


def pair_documents(gold_docs: Sequence[Document], pred_docs: Sequence[Document]) -> list[tuple[Document, Document]]:
    """Pair predicted documents with gold ones by id.

    A gold document without a prediction is paired with an empty prediction (everything
    missed), as the scorer counts it; a prediction without gold is an error naming it.
    """
    gold_by_id = {d.id: d for d in gold_docs}
    unknown = sorted(d.id for d in pred_docs if d.id not in gold_by_id)
    if unknown:
        raise ValueError(f"predictions for documents that have no gold counterpart: {', '.join(unknown[:5])}"
                         + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""))
    pred_by_id = {d.id: d for d in pred_docs}
    return [(g, pred_by_id.get(g.id, Document(g.id, g.text, []))) for g in gold_docs]


def classify_documents(gold_docs: Sequence[Document], pred_docs: Sequence[Document]) -> list[DocumentErrors]:
    """:func:`classify_entities` for every gold document, in gold order."""
    return [classify_entities(g, p) for g, p in pair_documents(gold_docs, pred_docs)]


def _keep(outcome: EntityOutcome, labels: Iterable[str] | None, kinds: Iterable[str] | None) -> bool:
    if kinds is not None and outcome.kind not in set(kinds):
        return False
    if labels is None:
        return True
    wanted = set(labels)
    return any(e is not None and e.label in wanted for e in (outcome.gold, outcome.pred))


def check_filters(labels: Iterable[str] | None, kinds: Iterable[str] | None) -> None:
    """Raise ValueError naming what is allowed when a filter names an unknown error kind."""
    if kinds is None:
        return
    unknown = sorted(set(kinds) - set(OUTCOMES))
    if unknown:
        raise ValueError(f"unknown error kind(s) {unknown}: expected some of {list(OUTCOMES)}")


def error_rows(
    errors: Sequence[DocumentErrors],
    *,
    labels: Iterable[str] | None = None,
    kinds: Iterable[str] | None = ERROR_KINDS,
) -> list[dict[str, object]]:
    """One flat row per outcome that passes the filters (a label of either side, an outcome kind).

    Rows hold doc_id, kind, gold_label, gold_text, pred_label, pred_text, start, end: ready for a
    table in the notebook or a CSV file.
    """
    labels = list(labels) if labels is not None else None
    kinds = list(kinds) if kinds is not None else None
    check_filters(labels, kinds)
    rows: list[dict[str, object]] = []
    for doc in errors:
        for o in doc.outcomes:
            if not _keep(o, labels, kinds):
                continue
            anchor = o.gold if o.gold is not None else o.pred
            rows.append({
                "doc_id": doc.doc_id,
                "kind": o.kind,
                "gold_label": o.gold.label if o.gold else "",
                "gold_text": o.gold.text if o.gold else "",
                "pred_label": o.pred.label if o.pred else "",
                "pred_text": o.pred.text if o.pred else "",
                "start": anchor.start,  # type: ignore[union-attr]
                "end": anchor.end,  # type: ignore[union-attr]
            })
    return rows


def error_summary(errors: Sequence[DocumentErrors]) -> dict[str, dict[str, int]]:
    """Outcome counts per label (the gold label; the predicted one for spurious predictions)."""
    table: dict[str, Counter] = {}
    for doc in errors:
        for o in doc.outcomes:
            table.setdefault(o.label, Counter())[o.kind] += 1
    order = [label for label in N2C2_LABELS if label in table] + sorted(set(table) - set(N2C2_LABELS))
    return {label: {kind: table[label].get(kind, 0) for kind in OUTCOMES} for label in order}


def worst_documents(errors: Sequence[DocumentErrors], n: int = 10) -> list[DocumentErrors]:
    """The ``n`` documents with the most errors (ties: the lower strict F1, then the id)."""
    if n < 0:
        raise ValueError(f"worst_documents: expected n >= 0, got {n}")
    ranked = sorted(errors, key=lambda d: (-d.n_errors, d.strict_f1, d.doc_id))
    return [d for d in ranked if d.n_errors > 0][:n]


def ranking_rows(errors: Sequence[DocumentErrors]) -> list[dict[str, object]]:
    """One row per document: id, number of errors, strict F1 and the count of each outcome."""
    return [{"doc_id": d.doc_id, "errors": d.n_errors, "strict_f1": d.strict_f1, **d.counts} for d in errors]


def document_pair(
    gold_docs: Sequence[Document], pred_docs: Sequence[Document], doc_id: str = ""
) -> tuple[Document, Document]:
    """The gold and predicted document ``doc_id``; an empty id picks the worst document (the first if none has errors)."""
    pairs = pair_documents(gold_docs, pred_docs)
    if not pairs:
        raise ValueError("no gold documents to show")
    if not doc_id:
        worst = worst_documents(classify_documents(gold_docs, pred_docs), 1)
        doc_id = worst[0].doc_id if worst else pairs[0][0].id
    for gold, pred in pairs:
        if gold.id == doc_id:
            return gold, pred
    known = [g.id for g, _ in pairs]
    raise ValueError(f"document: expected one of the {len(known)} test document ids ({', '.join(known[:5])}, ...); given {doc_id!r}")


def run_documents(run_folder: str | Path | RunFolder, test_docs: Sequence[Document]) -> tuple[list[Document], list[Document]]:
    """The gold test documents and a run's predicted ones (:meth:`medner.run_folder.RunFolder.read_predictions`).

    ``test_docs`` are the gold test documents of the corpus the run was trained on. A gold
    document without a prediction file has no predictions, as the scorer counts it; a
    prediction without a gold document (the wrong corpus) is an error naming it.
    """
    folder = run_folder if isinstance(run_folder, RunFolder) else RunFolder(run_folder)
    gold = list(test_docs)
    return gold, folder.read_predictions(gold)


# --------------------------------------------------------------------------- HTML

_STYLE = """
.medner-doc { font-family: system-ui, sans-serif; margin: 0 0 1.5em 0; }
.medner-doc h3 { font-size: 1.05em; margin: 0.3em 0; }
.medner-cols { display: flex; gap: 1em; }
.medner-col { flex: 1 1 0; min-width: 0; }
.medner-col h4 { margin: 0.2em 0; font-size: 0.9em; color: #444; }
.medner-text { white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 0.85em;
  line-height: 1.9; border: 1px solid #ccc; padding: 0.5em; background: #fff; color: #000; }
.medner-ent { border-radius: 3px; padding: 0 1px; }
.medner-tag { font-size: 0.7em; font-family: system-ui, sans-serif; vertical-align: super; color: #333; }
.medner-dim { opacity: 0.35; }
.medner-legend span { display: inline-block; margin: 0 0.6em 0.3em 0; padding: 0 0.3em; font-size: 0.8em; }
.medner-counts { font-size: 0.85em; color: #333; }
"""


def _segments(text: str, entities: Sequence[tuple[Entity, str, bool]]) -> str:
    """The text as HTML with each fragment of each entity wrapped in a coloured span.

    ``entities`` holds (entity, outcome kind, shown) triples; overlapping entities cut the
    text into segments and a segment covered by several shows the first and lists all in its tooltip.
    """
    cuts = {0, len(text)}
    for entity, _, _ in entities:
        for start, end in entity.fragments:
            cuts.update((start, end))
    points = sorted(c for c in cuts if 0 <= c <= len(text))
    ends_here: dict[int, list[tuple[Entity, str, bool]]] = {}
    for item in entities:
        ends_here.setdefault(item[0].end, []).append(item)
    parts: list[str] = []
    for left, right in zip(points, points[1:]):
        chunk = html.escape(text[left:right])
        covering = [item for item in entities if any(s <= left and right <= e for s, e in item[0].fragments)]
        if covering:
            entity, kind, shown = covering[0]
            tip = "; ".join(f"{e.label} ({k.replace('_', ' ')}) '{e.text}'" for e, k, _ in covering)
            colour = LABEL_COLOURS.get(entity.label, _OTHER_COLOUR)
            css = f"background:{colour};border:{_OUTCOME_BORDERS[kind]}"
            dim = "" if shown else " medner-dim"
            parts.append(f'<span class="medner-ent{dim}" style="{css}" title="{html.escape(tip, quote=True)}">{chunk}</span>')
        else:
            parts.append(chunk)
        for entity, kind, shown in ends_here.get(right, []):
            dim = "" if shown else " medner-dim"
            parts.append(f'<span class="medner-tag{dim}">{html.escape(entity.label)}</span>')
    return "".join(parts)


def _legend() -> str:
    labels = "".join(f'<span style="background:{c}">{html.escape(label)}</span>' for label, c in LABEL_COLOURS.items())
    kinds = "".join(f'<span style="border:{_OUTCOME_BORDERS[k]}">{k.replace("_", " ")}</span>' for k in OUTCOMES)
    return f'<div class="medner-legend">{labels}<br>{kinds}</div>'


def render_document(
    gold: Document,
    pred: Document,
    *,
    labels: Iterable[str] | None = None,
    kinds: Iterable[str] | None = None,
    with_style: bool = True,
) -> str:
    """HTML of one document: gold entities on the left, predictions on the right.

    Entities whose outcome passes the filters (labels of either side; outcome kinds, e.g.
    ``["missed", "wrong_label"]``) are shown in full colour, the others dimmed, so the
    context of an error stays visible. ``with_style=False`` leaves out the ``<style>`` block
    (for pages that include it once).
    """
    labels = list(labels) if labels is not None else None
    kinds = list(kinds) if kinds is not None else None
    check_filters(labels, kinds)
    doc_errors = classify_entities(gold, pred)
    gold_items = [(o.gold, o.kind, _keep(o, labels, kinds)) for o in doc_errors.outcomes if o.gold is not None]
    pred_items = [(o.pred, o.kind, _keep(o, labels, kinds)) for o in doc_errors.outcomes if o.pred is not None]
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in doc_errors.counts.items())
    # JSON lists, not space-separated words: a label may hold spaces, quotes or markup
    kinds_attr = json.dumps(sorted({o.kind for o in doc_errors.outcomes}))
    labels_attr = json.dumps(sorted({e.label for e in gold.entities} | {e.label for e in pred.entities}))
    body = (
        f'<div class="medner-doc" data-kinds="{html.escape(kinds_attr)}" data-labels="{html.escape(labels_attr)}">'
        f"<h3>{html.escape(gold.id)}</h3>"
        f'<div class="medner-counts">strict F1 {doc_errors.strict_f1:.3f}; {counts}</div>'
        '<div class="medner-cols">'
        f'<div class="medner-col"><h4>gold ({len(gold.entities)} entities)</h4>'
        f'<div class="medner-text">{_segments(gold.text, gold_items)}</div></div>'
        f'<div class="medner-col"><h4>predicted ({len(pred.entities)} entities)</h4>'
        f'<div class="medner-text">{_segments(gold.text, pred_items)}</div></div>'
        "</div></div>"
    )
    return (f"<style>{_STYLE}</style>{_legend()}" if with_style else "") + body


def render_summary_table(summary: dict[str, dict[str, int]]) -> str:
    """An HTML table of :func:`error_summary`: one row per label, one column per outcome."""
    head = "".join(f"<th>{k.replace('_', ' ')}</th>" for k in OUTCOMES)
    rows = "".join(
        f"<tr><th>{html.escape(label)}</th>" + "".join(f"<td>{counts[k]}</td>" for k in OUTCOMES) + "</tr>"
        for label, counts in summary.items()
    )
    return f'<table class="medner-summary"><tr><th>label</th>{head}</tr>{rows}</table>'


def script_json(value: object) -> str:
    """``value`` as JSON that is safe inside a ``<script>`` element: ``<``, ``>`` and ``&`` as JSON escapes
    (``\\u003c``, ...), so that a document id holding ``</script>`` cannot end the element and start markup."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_FILTER_SCRIPT = """
function mednerFilter() {
  const kinds = [...document.querySelectorAll('input[name=kind]:checked')].map(e => e.value);
  const labels = [...document.querySelectorAll('input[name=label]:checked')].map(e => e.value);
  document.querySelectorAll('.medner-doc').forEach(doc => {
    const k = JSON.parse(doc.dataset.kinds), l = JSON.parse(doc.dataset.labels);
    const show = kinds.some(x => k.includes(x)) && labels.some(x => l.includes(x));
    doc.style.display = show ? '' : 'none';
  });
}
"""


def write_error_page(
    gold_docs: Sequence[Document],
    pred_docs: Sequence[Document],
    path: str | Path,
    *,
    n: int = 20,
    title: str = "Errors",
) -> Path:
    """Write a static HTML page of the ``n`` worst documents to ``path``; return the path.

    The page has the per-label outcome table and check boxes that show only documents
    with a chosen error kind and label (plain JavaScript, no server). Written to a
    temporary file and renamed, so an interrupted write never leaves half a page.
    """
    path = Path(path)
    errors = classify_documents(gold_docs, pred_docs)
    worst = worst_documents(errors, n)
    pairs = dict((g.id, (g, p)) for g, p in pair_documents(gold_docs, pred_docs))
    present_labels = list(error_summary(errors))
    kind_boxes = "".join(
        f'<label><input type="checkbox" name="kind" value="{k}" checked onchange="mednerFilter()"> {k.replace("_", " ")}</label> '
        for k in ERROR_KINDS
    )
    label_boxes = "".join(
        f'<label><input type="checkbox" name="label" value="{html.escape(label)}" checked onchange="mednerFilter()"> {html.escape(label)}</label> '
        for label in present_labels
    )
    docs_html = "".join(render_document(*pairs[d.doc_id], with_style=False) for d in worst)
    page = (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE} table {{border-collapse: collapse}} "
        "td, th {padding: 0 0.5em; text-align: right}</style>"
        f"<script>{_FILTER_SCRIPT}</script></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>{len(worst)} worst of {len(errors)} documents, ranked by number of errors.</p>"
        f"{render_summary_table(error_summary(errors))}"
        f"<p>error kind: {kind_boxes}</p><p>label: {label_boxes}</p>{_legend()}{docs_html}"
        f'<script type="application/json" id="medner-worst">{script_json([d.doc_id for d in worst])}</script>'
        "</body></html>"
    )
    return files.write_file(path, page)
