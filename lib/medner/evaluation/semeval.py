"""The four SemEval-2013 Task 9.1 matching schemas, on character offsets.

Segura-Bedmar, Martínez and Herrero-Zazo (2013), "SemEval-2013 Task 9: Extraction
of drug-drug interactions from biomedical texts", define five outcomes for a gold
entity and the predictions:

* COR (correct), INC (incorrect), PAR (partial), MIS (missed: a gold entity no
  prediction accounts for), SPU (spurious: a prediction that accounts for no gold);
* POS = COR + INC + PAR + MIS (the number of gold entities),
  ACT = COR + INC + PAR + SPU (the number of predictions);

and four schemas that read a matched pair differently:

==============================  ======  =====  =======  ====
pair                            strict  exact  partial  type
==============================  ======  =====  =======  ====
same bounds, same label          COR     COR    COR     COR
same bounds, other label         INC     COR    COR     INC
overlap, same label              INC     INC    PAR     COR
overlap, other label             INC     INC    PAR     INC
==============================  ======  =====  =======  ====

strict and exact: P = COR / ACT, R = COR / POS; partial and type:
P = (COR + 0.5 PAR) / ACT, R = (COR + 0.5 PAR) / POS; F1 = 2PR / (P + R); each 0.0
where undefined. "type" is the schema MedMine calls type matching. Entities count
by their outer extent, as in :mod:`medner.evaluation.span`.

Matching
--------
Each schema matches one-to-one, separately, with :func:`medner.evaluation.span.greedy_match`
(predictions and gold ordered by ``(start, end, label, position)``; each prediction
takes the leftmost acceptable gold entity not yet taken), in passes that try the
pairs the schema rewards first:

* strict: same bounds and label (COR), then any overlap (INC);
* exact and partial: same bounds with the same label, same bounds with any label
  (COR), then any overlap (INC resp. PAR);
* type: same bounds and label, overlap with the same label (COR), then overlap
  with another label (INC).

A prediction left over is SPU (also when it overlaps a gold entity that another
prediction took: every prediction is in ACT); a gold entity left over is MIS.
Per label, COR, INC, PAR and MIS are counted for the gold entity's label and SPU
for the prediction's label, so the per-label counts add up to the overall ones.

Differences from nervaluate 1.2.1 (checked in tests/evaluation/test_semeval.py)
-------------------------------------------------------------------------------
nervaluate's ``Evaluator`` gives the same overall counts when neither the gold nor
the predictions contain overlapping entities and no entity on one side overlaps
two on the other. Otherwise it can differ, because:

1. **Per-label results.** nervaluate scores each label on its own, keeping only
   the gold and predicted entities of that label; a type mismatch (gold Drug,
   predicted Route, same span) is then a Drug MIS and a Route SPU in its
   per-label table, while its overall table says one INC. Here it is one Drug INC
   in both, so per-label counts add up to the overall ones.
2. **First come, first served.** nervaluate treats predictions one at a time and
   a prediction takes the first overlapping gold entity still free even when a
   later prediction matches that entity exactly (or, in its type schema, with the
   right label). Here every prediction's best kind of pair is tried before any
   worse kind: a split entity predicted as a wrongly-labelled first half and a
   correctly-labelled second half is one COR + one SPU in our type schema, one
   INC + one SPU in nervaluate's.
3. **Which same-label gold entity** a prediction overlapping several takes in the
   type schema: nervaluate takes the one with the closest boundaries, we take the
   leftmost.
4. nervaluate's offsets are inclusive (``end`` is the last position); ours are
   half-open, so spans are passed to it as ``end - 1``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from medner.corpus.document import Document
from medner.evaluation.span import (
    Span,
    greedy_match,
    overlaps,
    pair_documents,
    resolve_labels,
    same_bounds,
    spans_of,
)

#: The four schemas, in the order of Segura-Bedmar et al.
SCHEMAS: tuple[str, ...] = ("strict", "exact", "partial", "type")

#: The five outcomes.
OUTCOMES: tuple[str, ...] = ("correct", "incorrect", "partial", "missed", "spurious")


def _exact_same(g: Span, p: Span) -> bool:
    return g.label == p.label and same_bounds(g, p)


def _overlap_same(g: Span, p: Span) -> bool:
    return g.label == p.label and overlaps(g, p)


def _overlap_other(g: Span, p: Span) -> bool:
    return g.label != p.label and overlaps(g, p)


#: Per schema: (accepts, outcome) passes, in the order they are tried.
SCHEMA_PASSES: dict[str, tuple[tuple[Callable[[Span, Span], bool], str], ...]] = {
    "strict": ((_exact_same, "correct"), (overlaps, "incorrect")),
    "exact": ((_exact_same, "correct"), (same_bounds, "correct"), (overlaps, "incorrect")),
    "partial": ((_exact_same, "correct"), (same_bounds, "correct"), (overlaps, "partial")),
    "type": ((_exact_same, "correct"), (_overlap_same, "correct"), (_overlap_other, "incorrect")),
}


def semeval_outcomes(gold: Sequence[Span], pred: Sequence[Span], schema: str) -> Counter:
    """Outcome counts of one document under one schema, keyed by ``(label, outcome)``.

    COR/INC/PAR/MIS are keyed by the gold entity's label, SPU by the prediction's label.
    """
    if schema not in SCHEMA_PASSES:
        raise ValueError(f"expected schema to be one of {', '.join(SCHEMAS)}, found {schema!r}")
    passes = SCHEMA_PASSES[schema]
    gold_taken: set[int] = set()
    pred_taken: set[int] = set()
    pairs = greedy_match(gold, pred, [accepts for accepts, _ in passes], gold_taken=gold_taken, pred_taken=pred_taken)
    out: Counter = Counter()
    for pass_index, g, _ in pairs:
        out[(gold[g].label, passes[pass_index][1])] += 1
    for g, span in enumerate(gold):
        if g not in gold_taken:
            out[(span.label, "missed")] += 1
    for p, span in enumerate(pred):
        if p not in pred_taken:
            out[(span.label, "spurious")] += 1
    return out


def semeval_metrics(counts: dict[str, int], schema: str) -> dict:
    """Add possible, actual, precision, recall and F1 to the five outcome counts of ``schema``."""
    cor, inc, par, mis, spu = (int(counts.get(k, 0)) for k in OUTCOMES)
    possible = cor + inc + par + mis
    actual = cor + inc + par + spu
    credit = cor + 0.5 * par if schema in ("partial", "type") else float(cor)
    precision = credit / actual if actual > 0 else 0.0
    recall = credit / possible if possible > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {
        "correct": cor, "incorrect": inc, "partial": par, "missed": mis, "spurious": spu,
        "possible": possible, "actual": actual,
        "precision": float(precision), "recall": float(recall), "f1": float(f1),
    }


def semeval_span_scores(gold_docs: Sequence[Sequence[Span]], pred_docs: Sequence[Sequence[Span]], labels: Sequence[str]) -> dict:
    """The four schemas over paired span lists (one list per document or sentence).

    Returns ``{"overall": {schema: metrics}, "labels": {label: {schema: metrics}}}``
    (metrics as :func:`semeval_metrics`).
    """
    if len(gold_docs) != len(pred_docs):
        raise ValueError(f"expected as many predicted as gold span lists, found {len(pred_docs)} and {len(gold_docs)}")
    totals = {schema: Counter() for schema in SCHEMAS}
    for gold, pred in zip(gold_docs, pred_docs):
        for schema in SCHEMAS:
            totals[schema].update(semeval_outcomes(gold, pred, schema))
    overall = {}
    per_label: dict[str, dict] = {label: {} for label in labels}
    for schema in SCHEMAS:
        summed = Counter()
        for (label, outcome), n in totals[schema].items():
            summed[outcome] += n
        overall[schema] = semeval_metrics(summed, schema)
        for label in labels:
            per_label[label][schema] = semeval_metrics({o: totals[schema][(label, o)] for o in OUTCOMES}, schema)
    return {"overall": overall, "labels": per_label}


def score_semeval(gold: list[Document], pred: list[Document], *, labels: Sequence[str] | None = None) -> dict:
    """The four SemEval-2013 schemas on documents (paired by id like :func:`medner.evaluation.span.score_documents`).

    Returns ``{"overall": {schema: {correct, incorrect, partial, missed, spurious, possible, actual,
    precision, recall, f1}}, "labels": {label: {schema: {...}}}, "documents": {"scored",
    "missing_predictions"}}``. Entities whose label is not in ``labels`` are left out.
    """
    labels = resolve_labels(gold, pred, labels)
    pairs, missing = pair_documents(gold, pred)
    result = semeval_span_scores(
        [spans_of(g, labels) for g, _ in pairs], [spans_of(p, labels) for _, p in pairs], labels
    )
    result["documents"] = {"scored": len(pairs), "missing_predictions": missing}
    return result


def pool_semeval(results: Sequence[dict]) -> dict:
    """:func:`score_semeval` results of disjoint document sets (the folds of a cross-validation) as one:
    the outcome counts summed per schema, overall and per label, and the scores computed again from them."""
    if not results:
        raise ValueError("pool_semeval: expected at least one SemEval result, given none")

    def summed(blocks: list[dict], schema: str) -> dict:
        return semeval_metrics({o: sum(int(b[schema][o]) for b in blocks) for o in OUTCOMES}, schema)

    labels = list(results[0]["labels"])
    return {
        "overall": {schema: summed([r["overall"] for r in results], schema) for schema in SCHEMAS},
        "labels": {label: {schema: summed([r["labels"][label] for r in results], schema) for schema in SCHEMAS}
                   for label in labels},
    }
