"""What the system did with each gold entity: confusion between labels, at span and token level.

Span level
----------
Each gold entity gets one outcome, from a one-to-one matching per document
(:func:`medner.evaluation.span.greedy_match`) whose passes try, in order:

1. ``exact``: a prediction with the same label and the same start and end;
2. ``boundary``: a prediction with the same label that overlaps it;
3. ``wrong_label_exact``: a prediction with another label and the same start and end;
4. ``wrong_label_overlap``: a prediction with another label that overlaps it;
5. otherwise ``missed``.

Every prediction not matched is ``spurious`` (also one that overlaps a gold
entity that another prediction took). Passes 1 and 1+2 are the n2c2 strict and
lenient matchings, so per label ``exact`` equals the strict TP and
``exact + boundary`` the lenient TP of :func:`medner.evaluation.span.score_documents`.

The matrix has a row per gold label plus ``SPURIOUS`` and a column per predicted
label plus ``MISSED``: cell (gold X, pred Y) counts gold X entities matched to a
Y prediction (diagonal: exact + boundary), (X, MISSED) the missed X entities,
(SPURIOUS, Y) the spurious Y predictions. ``normalised`` divides each row by its
sum (0.0 for an empty row), so a gold row reads as "where did the X entities go".

Token level
-----------
B- and I- tags are collapsed to their label; the matrix counts (gold, predicted)
tag pairs over tokens, rows and columns the labels plus ``O``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from medner.corpus.document import Document
from medner.evaluation.span import greedy_match, overlaps, pair_documents, same_bounds, spans_of

#: Span-level outcomes of a gold entity (plus ``spurious`` for predictions), in pass order.
SPAN_OUTCOMES: tuple[str, ...] = ("exact", "boundary", "wrong_label_exact", "wrong_label_overlap", "missed", "spurious")

_PASSES = (
    lambda g, p: g.label == p.label and same_bounds(g, p),
    lambda g, p: g.label == p.label and overlaps(g, p),
    lambda g, p: g.label != p.label and same_bounds(g, p),
    lambda g, p: g.label != p.label and overlaps(g, p),
)


def _normalise_rows(counts: np.ndarray) -> np.ndarray:
    sums = counts.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sums > 0, counts / np.where(sums > 0, sums, 1), 0.0)


def span_confusion(gold_docs: list[Document], pred_docs: list[Document], labels: Sequence[str]) -> dict:
    """Span-level confusion of gold against predicted documents (paired by id; missing = no predictions).

    Returns ``{"rows": [*labels, "SPURIOUS"], "columns": [*labels, "MISSED"], "counts": [[int]],
    "normalised": [[float]], "outcomes": {label: {exact, boundary, wrong_label_exact,
    wrong_label_overlap, missed, spurious, gold, predicted}}, "ignored": {"gold": n, "pred": n}}``.
    Entities with a label outside ``labels`` are left out and counted in ``ignored``.
    """
    labels = list(labels)
    index = {label: i for i, label in enumerate(labels)}
    pairs, _ = pair_documents(gold_docs, pred_docs)
    n = len(labels)
    counts = np.zeros((n + 1, n + 1), dtype=np.int64)
    outcomes = {label: Counter() for label in labels}
    ignored = {"gold": 0, "pred": 0}
    for g_doc, p_doc in pairs:
        gold = spans_of(g_doc, labels)
        pred = spans_of(p_doc, labels)
        ignored["gold"] += len(g_doc.entities) - len(gold)
        ignored["pred"] += (len(p_doc.entities) if p_doc else 0) - len(pred)
        gold_taken: set[int] = set()
        pred_taken: set[int] = set()
        for pass_index, g, p in greedy_match(gold, pred, _PASSES, gold_taken=gold_taken, pred_taken=pred_taken):
            counts[index[gold[g].label], index[pred[p].label]] += 1
            outcomes[gold[g].label][SPAN_OUTCOMES[pass_index]] += 1
        for g, span in enumerate(gold):
            if g not in gold_taken:
                counts[index[span.label], n] += 1
                outcomes[span.label]["missed"] += 1
        for p, span in enumerate(pred):
            if p not in pred_taken:
                counts[n, index[span.label]] += 1
                outcomes[span.label]["spurious"] += 1
        for span in gold:
            outcomes[span.label]["gold"] += 1
        for span in pred:
            outcomes[span.label]["predicted"] += 1
    keys = (*SPAN_OUTCOMES, "gold", "predicted")
    return {
        "rows": [*labels, "SPURIOUS"],
        "columns": [*labels, "MISSED"],
        "counts": counts.tolist(),
        "normalised": _normalise_rows(counts).tolist(),
        "outcomes": {label: {k: int(outcomes[label][k]) for k in keys} for label in labels},
        "ignored": ignored,
    }


def _collapse(tag: str, where: str) -> str:
    if tag == "O":
        return "O"
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BIES":
        return tag[2:]
    raise ValueError(f"{where}: expected a tag 'O' or '<B|I|E|S>-<label>', found {tag!r}")


def token_confusion(gold_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]], labels: Sequence[str]) -> dict:
    """Token-level confusion of collapsed labels: ``{"rows": [*labels, "O"], "columns": same, "counts", "normalised"}``.

    Raises ValueError for sequences of different lengths and for a tag whose label is not in ``labels``.
    """
    names = [*labels, "O"]
    index = {name: i for i, name in enumerate(names)}
    if len(gold_tags) != len(pred_tags):
        raise ValueError(f"expected as many predicted as gold tag sequences, found {len(pred_tags)} and {len(gold_tags)}")
    counts = np.zeros((len(names), len(names)), dtype=np.int64)
    for s, (gold, pred) in enumerate(zip(gold_tags, pred_tags)):
        if len(gold) != len(pred):
            raise ValueError(f"sentence {s}: expected {len(gold)} predicted tags (one per gold tag), found {len(pred)}")
        for t, (g, p) in enumerate(zip(gold, pred)):
            cells = []
            for side, tag in (("gold", g), ("predicted", p)):
                name = _collapse(tag, f"{side} sentence {s}, token {t}")
                if name not in index:
                    raise ValueError(f"{side} sentence {s}, token {t}: expected a label among {', '.join(labels)}, found {tag!r}")
                cells.append(index[name])
            counts[cells[0], cells[1]] += 1
    return {"rows": names, "columns": names, "counts": counts.tolist(), "normalised": _normalise_rows(counts).tolist()}
