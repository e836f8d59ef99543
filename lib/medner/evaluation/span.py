"""Span-level scoring on character offsets, with the n2c2-2018 Track 2 semantics.

The organisers of n2c2-2018 Track 2 scored entities with their Track 2
evaluation script (``track2_eval.py`` in the copies in circulation). This module
gives the numbers that script gives and says where, and why, it departs from it.

What the organisers' script does (and we do)
-------------------------------------------
* An entity is its label and its **outer extent**: a discontinuous brat entity
  ``Drug 10 19;25 30`` counts as ``(10, 30)`` (the script reads the first and the
  last offset of the ``T`` line). :attr:`medner.corpus.document.Entity.start` and
  ``.end`` are exactly that extent.
* **strict**: same label, same start and same end.
  **lenient**: same label and at least one character in common
  (``pred.start < gold.end and gold.start < pred.end`` on half-open offsets).
* When several predictions match the same gold entity only one of them counts;
  the others are **dropped**: neither true nor false positives (the script "pares
  down" the system list before counting).
* TP is counted over predictions, FP = the remaining (not dropped) predictions,
  FN = gold entities minus TP.
* **micro**: tp/fp/fn summed over all documents (per label, or over all labels),
  then P = tp/(tp+fp), R = tp/(tp+fn), F1 = 2PR/(P+R); every ratio is 0.0 where
  its denominator is 0 (the script catches ``ZeroDivisionError`` and returns 0.0).
* **overall_macro** is what the script prints as "Overall (macro)": P, R and F1
  computed per *document* from that document's counts over all labels, then the
  plain mean over all scored documents. A document with no gold and no predicted
  entity therefore contributes P = R = F1 = 0.0, as in the script (so this number
  is below 1.0 for a perfect system whenever empty documents exist).

What we add
-----------
* **macro** is the usual mean of the per-label P, R and F1, over the labels that
  occur in the gold or the predictions (a requested label that occurs in neither
  is reported with zeros but is not averaged); **weighted** averages the
  per-label P, R and F1 weighted by gold support.
* ``dropped`` is reported beside tp/fp/fn, so the pared-down predictions are
  visible.

Where we depart from the script, on purpose
-------------------------------------------
* **One prediction matches at most one gold entity.** In the script a prediction
  marks *every* gold entity it matches as matched, so with two identical gold
  entities (PHEE has such duplicates) and the same two predictions, the second
  prediction is dropped and one gold entity is a false negative: a system
  identical to the gold would not score 1.0. Here matching is one-to-one, so
  scoring any gold set against itself gives P = R = F1 = 1.0.
* Files: the script silently skipped gold files without a prediction file and
  prediction files without a gold file. Here a missing prediction file is a
  document with no predictions (counted in ``documents.missing_predictions``)
  and a prediction without a gold document is an error naming it.

Matching order (deterministic)
------------------------------
Matching is done per document and per label (labels never match each other, so
per-label counts sum to the all-label counts). Gold entities and predictions are
each ordered by ``(start, end, label, position in the input)``. First pass: each
prediction in that order takes the first gold entity in that order with the same
start and end that no earlier prediction took. Lenient mode then runs a second
pass over the predictions still unmatched: each takes the first (leftmost) still
unmatched gold entity it overlaps. A prediction left unmatched that matches an
already taken gold entity is dropped; any other is a false positive. Exact
boundaries are thus preferred over mere overlap, and taking the leftmost
candidate is the best possible choice whenever neither side has overlapping
entities (the case of BIO-decoded predictions).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from medner import N2C2_LABELS
from medner.corpus.document import Document

#: The two n2c2 matching modes.
MODES: tuple[str, ...] = ("strict", "lenient")

#: Column order of :func:`document_label_counts` arrays.
COUNT_FIELDS: tuple[str, ...] = ("tp", "fp", "fn", "dropped")


class Span(NamedTuple):
    """A labelled half-open ``[start, end)`` interval: an entity by its outer extent, or a token span."""

    label: str
    start: int
    end: int


def overlaps(a: Span, b: Span) -> bool:
    """Whether two half-open spans share at least one character."""
    return a.start < b.end and b.start < a.end


def same_bounds(a: Span, b: Span) -> bool:
    return a.start == b.start and a.end == b.end


def _order(spans: Sequence[Span]) -> list[int]:
    return sorted(range(len(spans)), key=lambda i: (spans[i].start, spans[i].end, spans[i].label, i))


def greedy_match(
    gold: Sequence[Span],
    pred: Sequence[Span],
    passes: Sequence[Callable[[Span, Span], bool]],
    *,
    gold_taken: set[int] | None = None,
    pred_taken: set[int] | None = None,
) -> list[tuple[int, int, int]]:
    """One-to-one greedy matching of predictions to gold spans, in passes of decreasing strictness.

    ``passes[k](gold_span, pred_span)`` says whether the pair may be matched in pass ``k``; every
    pass must accept only overlapping or identical spans (the scan stops at the first gold span
    that starts after the prediction ends).
    In each pass, every prediction not yet matched (in ``(start, end, label, index)`` order)
    takes the first gold span in the same order that is not yet matched and that the pass
    accepts. ``gold_taken`` / ``pred_taken`` (updated in place) hold indices already matched.
    Returns ``(pass_index, gold_index, pred_index)`` for every pair, in matching order.
    """
    gold_taken = gold_taken if gold_taken is not None else set()
    pred_taken = pred_taken if pred_taken is not None else set()
    gold_order = _order(gold)
    pred_order = _order(pred)
    pairs: list[tuple[int, int, int]] = []
    for pass_index, accepts in enumerate(passes):
        for p in pred_order:
            if p in pred_taken:
                continue
            ps = pred[p]
            for g in gold_order:
                gs = gold[g]
                if gs.start >= ps.end and gs.start > ps.start:
                    break  # sorted by start: no later gold span can overlap or coincide
                if g in gold_taken or not accepts(gs, ps):
                    continue
                gold_taken.add(g)
                pred_taken.add(p)
                pairs.append((pass_index, g, p))
                break
    return pairs


def _strict_pair(g: Span, p: Span) -> bool:
    return g.label == p.label and same_bounds(g, p)


def _lenient_pair(g: Span, p: Span) -> bool:
    return g.label == p.label and overlaps(g, p)


#: Matching passes per n2c2 mode (exact boundaries first, then overlap).
N2C2_PASSES: dict[str, tuple[Callable[[Span, Span], bool], ...]] = {
    "strict": (_strict_pair,),
    "lenient": (_strict_pair, _lenient_pair),
}


def _check_mode(mode: str) -> None:
    if mode not in N2C2_PASSES:
        raise ValueError(f"expected mode to be one of {', '.join(MODES)}, found {mode!r}")


def n2c2_counts(gold: Sequence[Span], pred: Sequence[Span], mode: str = "strict") -> tuple[int, int, int, int]:
    """``(tp, fp, fn, dropped)`` for one document (any labels; only equal labels match)."""
    _check_mode(mode)
    gold_taken: set[int] = set()
    pred_taken: set[int] = set()
    pairs = greedy_match(gold, pred, N2C2_PASSES[mode], gold_taken=gold_taken, pred_taken=pred_taken)
    tp = len(pairs)
    final = N2C2_PASSES[mode][-1]
    dropped = sum(
        1 for p, ps in enumerate(pred) if p not in pred_taken and any(final(gs, ps) for gs in gold)
    )
    return tp, len(pred) - tp - dropped, len(gold) - tp, dropped


def spans_of(doc: Document | None, labels: Iterable[str] | None = None) -> list[Span]:
    """The entities of ``doc`` as outer-extent spans (only those with a label in ``labels`` when given)."""
    if doc is None:
        return []
    keep = None if labels is None else set(labels)
    return [Span(e.label, e.start, e.end) for e in doc.entities if keep is None or e.label in keep]


def ordered_labels(labels: Iterable[str]) -> list[str]:
    """Labels in the canonical n2c2 order first, any others after them alphabetically."""
    found = set(labels)
    known = [lab for lab in N2C2_LABELS if lab in found]
    return known + sorted(found - set(N2C2_LABELS))


def resolve_labels(gold: Sequence[Document], pred: Sequence[Document], labels: Sequence[str] | None) -> list[str]:
    """``labels`` checked (non-empty, no repeats), or every label found in gold or predictions, in n2c2 order."""
    if labels is None:
        return ordered_labels(e.label for doc in [*gold, *pred] for e in doc.entities)
    labels = list(labels)
    if not labels:
        raise ValueError("expected at least one label to score, found an empty label list")
    repeated = sorted(lab for lab, n in Counter(labels).items() if n > 1)
    if repeated:
        raise ValueError(f"expected each label once, found {', '.join(repeated)} more than once")
    return labels


def pair_documents(gold: Sequence[Document], pred: Sequence[Document]) -> tuple[list[tuple[Document, Document | None]], int]:
    """Each gold document with its prediction (None when absent), and how many had none.

    Raises ValueError naming predicted documents that have no gold counterpart, and repeated ids.
    """
    for name, docs in (("gold", gold), ("predicted", pred)):
        repeated = sorted(i for i, n in Counter(d.id for d in docs).items() if n > 1)
        if repeated:
            raise ValueError(f"expected unique {name} document ids, found {', '.join(repeated[:10])} more than once")
    gold_ids = {d.id for d in gold}
    extra = sorted(d.id for d in pred if d.id not in gold_ids)
    if extra:
        shown = ", ".join(extra[:10]) + (f" and {len(extra) - 10} more" if len(extra) > 10 else "")
        raise ValueError(f"expected every predicted document to have a gold document, found {len(extra)} without: {shown}")
    by_id = {d.id: d for d in pred}
    pairs = [(g, by_id.get(g.id)) for g in gold]
    return pairs, sum(1 for _, p in pairs if p is None)


def document_label_counts(
    gold: Sequence[Document], pred: Sequence[Document], labels: Sequence[str], mode: str = "strict"
) -> np.ndarray:
    """Per-document, per-label n2c2 counts, for scoring and resampling.

    Returns an int64 array of shape ``(n_gold_documents, len(labels), 4)`` whose last axis is
    :data:`COUNT_FIELDS` (tp, fp, fn, dropped); documents in the order of ``gold``.
    """
    _check_mode(mode)
    pairs, _ = pair_documents(gold, pred)
    counts = np.zeros((len(pairs), len(labels), len(COUNT_FIELDS)), dtype=np.int64)
    for d, (g_doc, p_doc) in enumerate(pairs):
        g_spans = spans_of(g_doc, labels)
        p_spans = spans_of(p_doc, labels)
        for j, label in enumerate(labels):
            g_label = [s for s in g_spans if s.label == label]
            p_label = [s for s in p_spans if s.label == label]
            if g_label and p_label:
                counts[d, j] = n2c2_counts(g_label, p_label, mode)
            else:  # nothing to match: every prediction is a false positive, every gold span a miss
                counts[d, j] = (0, len(p_label), len(g_label), 0)
    return counts


def prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    """Precision, recall and F1 (2PR/(P+R)), each 0.0 where its denominator is 0."""
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    recall = tp / (tp + fn) if tp + fn > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return float(precision), float(recall), float(f1)


def f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """Vectorised :func:`prf` F1 (0.0 where undefined) over arrays of counts of the same shape."""
    tp, fp, fn = (np.asarray(a, dtype=np.float64) for a in (tp, fp, fn))
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return f1


def _metrics(tp: int, fp: int, fn: int) -> dict:
    precision, recall, f1 = prf(tp, fp, fn)
    return {"precision": precision, "recall": recall, "f1": f1}


def summarise_counts(counts: np.ndarray, labels: Sequence[str]) -> dict:
    """The score dict of one mode from a :func:`document_label_counts` array.

    Keys: ``micro`` (tp, fp, fn, dropped, P, R, F1), ``macro`` (mean over labels seen in gold or
    predictions, with ``n_labels``), ``weighted`` (by gold support), ``overall_macro`` (mean of
    per-document P/R/F1, as the organisers' script) and ``labels``.
    """
    per_label = counts.sum(axis=0)  # shape: (n_labels, 4)
    label_scores = {}
    for j, label in enumerate(labels):
        tp, fp, fn, dropped = (int(v) for v in per_label[j])
        label_scores[label] = {"tp": tp, "fp": fp, "fn": fn, "dropped": dropped, "support": tp + fn, **_metrics(tp, fp, fn)}
    tp, fp, fn, dropped = (int(v) for v in per_label.sum(axis=0)) if len(labels) else (0, 0, 0, 0)
    micro = {"tp": tp, "fp": fp, "fn": fn, "dropped": dropped, **_metrics(tp, fp, fn)}

    seen = [s for s in label_scores.values() if s["support"] > 0 or s["tp"] + s["fp"] + s["dropped"] > 0]
    macro = {key: float(np.mean([s[key] for s in seen])) if seen else 0.0 for key in ("precision", "recall", "f1")}
    macro["n_labels"] = len(seen)
    total_support = sum(s["support"] for s in label_scores.values())
    weighted = {
        key: (sum(s[key] * s["support"] for s in label_scores.values()) / total_support if total_support else 0.0)
        for key in ("precision", "recall", "f1")
    }
    per_doc = counts.sum(axis=1)  # shape: (n_documents, 4)
    doc_scores = [prf(*(int(v) for v in row[:3])) for row in per_doc]
    overall_macro = {
        key: float(np.mean([s[k] for s in doc_scores])) if doc_scores else 0.0
        for k, key in enumerate(("precision", "recall", "f1"))
    }
    overall_macro["n_documents"] = len(doc_scores)
    return {"micro": micro, "macro": macro, "weighted": weighted, "overall_macro": overall_macro, "labels": label_scores}


def score_documents(gold: list[Document], pred: list[Document], *, labels: Sequence[str] | None = None) -> dict:
    """Score predicted documents against gold ones, strict and lenient, n2c2-2018 style.

    Predicted documents are paired with gold ones by id; a gold document without a prediction
    counts as one with no predictions (``documents.missing_predictions``); a predicted document
    without gold raises ValueError. ``labels`` (default: every label in gold or predictions)
    chooses the labels scored; entities with other labels are counted in ``ignored``.
    Returns ``{"strict": {...}, "lenient": {...}, "documents": {"scored", "missing_predictions"},
    "ignored": {"gold": {label: n}, "pred": {label: n}}}`` (see :func:`summarise_counts`).
    """
    labels = resolve_labels(gold, pred, labels)
    pairs, missing = pair_documents(gold, pred)
    keep = set(labels)
    ignored = {
        "gold": dict(sorted(Counter(e.label for d in gold for e in d.entities if e.label not in keep).items())),
        "pred": dict(sorted(Counter(e.label for d in pred for e in d.entities if e.label not in keep).items())),
    }
    result: dict = {}
    for mode in MODES:
        result[mode] = summarise_counts(document_label_counts(gold, pred, labels, mode), labels)
    result["documents"] = {"scored": len(pairs), "missing_predictions": missing}
    result["ignored"] = ignored
    return result


def pool_scores(parts: Sequence[dict]) -> dict:
    """The :func:`score_documents` dict of the union of disjoint document sets, from each set's own dict.

    The folds of a cross-validation test disjoint documents, so their counts add up: per label and mode
    the tp, fp, fn and dropped counts are summed and every average is recomputed from the sums exactly
    as :func:`summarise_counts` computes it; ``overall_macro`` (a mean over documents) is the mean of the
    parts' means weighted by their documents. The result equals scoring the union at once (tested).
    Every part must have been scored on the same labels.
    """
    if not parts:
        raise ValueError("pool_scores: expected the score dicts of one or more document sets, given none")
    labels = list(parts[0]["strict"]["labels"])
    for part in parts:
        if list(part["strict"]["labels"]) != labels:
            raise ValueError(f"pool_scores: expected every part scored on the labels {labels}, "
                             f"found {list(part['strict']['labels'])}")
    pooled: dict = {}
    for mode in MODES:
        # shape: (parts, labels, 4): each part's per-label totals, summarised like one document each
        counts = np.array([[[part[mode]["labels"][label][key] for key in ("tp", "fp", "fn", "dropped")]
                            for label in labels] for part in parts], dtype=np.int64).reshape(len(parts), len(labels), 4)
        pooled[mode] = summarise_counts(counts, labels)
        n_documents = [part[mode]["overall_macro"]["n_documents"] for part in parts]
        total = sum(n_documents)
        pooled[mode]["overall_macro"] = {
            key: (sum(part[mode]["overall_macro"][key] * n for part, n in zip(parts, n_documents)) / total if total else 0.0)
            for key in ("precision", "recall", "f1")
        }
        pooled[mode]["overall_macro"]["n_documents"] = total
    pooled["documents"] = {key: sum(part["documents"][key] for part in parts) for key in ("scored", "missing_predictions")}
    pooled["ignored"] = {side: dict(sorted(sum((Counter(part["ignored"][side]) for part in parts), Counter()).items()))
                         for side in ("gold", "pred")}
    return pooled


def strict_micro_f1(gold: list[Document], pred: list[Document], *, labels: Sequence[str] | None = None) -> float:
    """``score_documents(gold, pred, labels=labels)["strict"]["micro"]["f1"]``, computed alone.

    The number training picks its best epoch by, every epoch: the same pairing of documents, the same
    labels and the same counts, without the lenient pass and the summaries. In strict mode the matching
    reduces to counting: for each (document, label, start, end), ``min(gold, predicted)`` predictions
    are true positives, the other predictions are dropped where that span is in the gold (they match
    an entity another prediction took) and false positives where it is not.
    """
    labels = resolve_labels(gold, pred, labels)
    pairs, _ = pair_documents(gold, pred)
    tp = fp = gold_total = 0
    for g_doc, p_doc in pairs:
        g_spans = Counter(spans_of(g_doc, labels))
        gold_total += sum(g_spans.values())
        for span, n in Counter(spans_of(p_doc, labels)).items():
            in_gold = g_spans.get(span, 0)
            tp += min(in_gold, n)
            if in_gold == 0:
                fp += n
    return prf(tp, fp, gold_total - tp)[2]


def read_prediction_folder(gold: list[Document], pred_dir: str | Path) -> list[Document]:
    """Predicted documents of ``pred_dir``: one per ``<id>.ann`` whose ``<id>`` is a gold document.

    Each ``.ann`` is read against the gold text (so an entity whose text does not match the gold
    text at its offsets is an error naming file and line); a ``<id>.txt`` beside it must equal the
    gold text. A ``.ann`` or ``.txt`` with no gold document is an error naming the files; a gold
    document with no ``.ann`` is left out (the scorer counts it as missing predictions).
    """
    from medner.corpus.brat import read_brat_document

    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise FileNotFoundError(f"{pred_dir}: expected a folder of predicted brat .ann files, found no such folder")
    gold_by_id = {d.id: d for d in gold}
    files = sorted(p for p in pred_dir.iterdir() if p.suffix in (".ann", ".txt") and p.is_file())
    orphans = [p.name for p in files if p.stem not in gold_by_id]
    if orphans:
        shown = ", ".join(orphans[:10]) + (f" and {len(orphans) - 10} more" if len(orphans) > 10 else "")
        raise ValueError(f"{pred_dir}: expected every prediction file to have a gold document, found {len(orphans)} without: {shown}")
    docs = []
    for ann in (p for p in files if p.suffix == ".ann"):
        gold_doc = gold_by_id[ann.stem]
        if gold_doc.source is None:
            raise ValueError(f"{ann}: expected the gold document {ann.stem} to have been read from a file")
        txt = ann.with_suffix(".txt")
        if txt.is_file():
            with open(txt, encoding="utf-8-sig", newline="") as handle:
                if handle.read() != gold_doc.text:
                    raise ValueError(f"{txt}: expected the same text as the gold document {gold_doc.source}, found a different text")
        doc = read_brat_document(gold_doc.source, ann)
        docs.append(doc)
    return docs


def read_scored_folders(gold_dir: str | Path, pred_dir: str | Path) -> tuple[list[Document], list[Document]]:
    """The gold documents of ``gold_dir`` (``.txt`` + ``.ann``) and the predictions of ``pred_dir`` read against them."""
    from medner.corpus.brat import read_brat_folder

    gold = read_brat_folder(gold_dir)
    if not gold:
        raise ValueError(f"{gold_dir}: expected gold brat documents (.txt files), found none")
    return gold, read_prediction_folder(gold, pred_dir)


def score_folders(gold_dir: str | Path, pred_dir: str | Path, *, labels: Sequence[str] | None = None) -> dict:
    """:func:`score_documents` on two brat folders (gold: ``.txt`` + ``.ann``; predictions: ``.ann``, ``.txt`` optional).

    Entities only; :func:`medner.evaluation.relations.evaluate_folders` adds the relations (``medner evaluate``).
    """
    gold, pred = read_scored_folders(gold_dir, pred_dir)
    return score_documents(gold, pred, labels=labels)
