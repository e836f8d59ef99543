"""Relation scoring on character offsets, with the n2c2-2018 Track 2 semantics.

n2c2-2018 Track 2 links each attribute to its drug (``R1<TAB>Strength-Drug Arg1:T3
Arg2:T2``). The organisers' ``track2_eval.py`` scores those links with the same
machinery as the entities (:mod:`medner.evaluation.span`); this module gives its
numbers and says where, and why, it departs from it.

What the organisers' script does (and we do)
-------------------------------------------
* A relation is its type and its two argument **entities**, each by label and
  outer extent (the script's ``Relation.equals``): ``Arg1`` is compared with
  ``Arg1`` and ``Arg2`` with ``Arg2``, so swapped arguments never match.
* **strict**: same type, and each argument has the gold argument's label, start
  and end. **lenient**: same type, and each argument has the gold argument's
  label and shares at least one character with it. An argument with the right
  extent but the wrong label does not match (the script compares ``ttype``).
* Entity ids play no part: a predicted relation names entities of its own
  document, whose ids are unrelated to the gold ids. The same function thus
  scores relation extraction with gold entities (the predicted documents carry
  the gold entities) and end to end (they carry the predicted entities).
* When several predictions match the same gold relation only one counts; the
  others are **dropped** (neither TP nor FP), TP is counted over predictions,
  FP = the remaining predictions, FN = gold relations minus TP, and every ratio
  is 0.0 where its denominator is 0. **overall_macro** is the script's "Overall
  (macro)": P/R/F1 per document over all types, averaged over every scored
  document (so a document without relations contributes 0.0).

What we add
-----------
* **micro**, **macro** (mean of the per-type P/R/F1 over the types present in the
  gold or the predictions; ``n_types`` says how many) and **weighted** (by gold
  support), as :func:`medner.evaluation.span.summarise_counts` computes them
  for labels; ``dropped`` beside tp/fp/fn; types left out by ``types`` counted
  in ``ignored``.

Where we depart from the script, on purpose
-------------------------------------------
* **One prediction matches at most one gold relation** (as in ``span``): in the
  script a prediction counts as matched for every gold relation it equals, so a
  gold file with a relation twice (two ``R`` lines between the same entities)
  scored against itself would not give 1.0. Here gold against itself always does.
* **A relation naming an unknown entity id is an error** naming the document and
  the relation; the script raised a bare ``KeyError``.
* Files are paired as in ``span`` (a gold document without a prediction is one
  with no predicted relations; a prediction without gold is an error).

Matching order (deterministic)
------------------------------
Per document and per type (types never match each other, so per-type counts sum
to the totals). Relations on each side are ordered by ``(Arg1 start, Arg1 end,
Arg1 label, Arg2 start, Arg2 end, Arg2 label, position in the document)``. First
pass: each prediction in that order takes the first gold relation in that order,
not yet taken, whose arguments both match strictly. Lenient mode then runs a
second pass over the predictions still unmatched: each takes the first untaken
gold relation whose arguments both overlap. A prediction left unmatched that
matches an already taken gold relation (in the mode's last pass) is dropped; any
other is a false positive. Exact extents are thus preferred over overlap, as for
entities; greedy matching can, with overlapping arguments on both sides, pair
fewer relations than a maximum matching would.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from medner.corpus.document import Document
from medner.corpus.tagging import relation_type_key
from medner.evaluation.span import (
    COUNT_FIELDS,
    MODES,
    Span,
    overlaps,
    pair_documents,
    read_scored_folders,
    same_bounds,
    score_documents,
    summarise_counts,
)


class RelationSpans(NamedTuple):
    """A relation by what the scorer compares: its type and its two arguments as labelled outer extents."""

    type: str
    arg1: Span
    arg2: Span


def _strict_arguments(g: RelationSpans, p: RelationSpans) -> bool:
    return all(a.label == b.label and same_bounds(a, b) for a, b in ((g.arg1, p.arg1), (g.arg2, p.arg2)))


def _lenient_arguments(g: RelationSpans, p: RelationSpans) -> bool:
    return all(a.label == b.label and overlaps(a, b) for a, b in ((g.arg1, p.arg1), (g.arg2, p.arg2)))


#: Matching passes per n2c2 mode (both arguments exact first, then both overlapping); types are compared apart.
RELATION_PASSES: dict[str, tuple[Callable[[RelationSpans, RelationSpans], bool], ...]] = {
    "strict": (_strict_arguments,),
    "lenient": (_strict_arguments, _lenient_arguments),
}


def _check_mode(mode: str) -> None:
    if mode not in RELATION_PASSES:
        raise ValueError(f"expected mode to be one of {', '.join(MODES)}, found {mode!r}")


def _order(relations: Sequence[RelationSpans]) -> list[int]:
    def key(i: int) -> tuple:
        r = relations[i]
        return (r.arg1.start, r.arg1.end, r.arg1.label, r.arg2.start, r.arg2.end, r.arg2.label, i)

    return sorted(range(len(relations)), key=key)


def relation_counts(gold: Sequence[RelationSpans], pred: Sequence[RelationSpans], mode: str = "strict") -> tuple[int, int, int, int]:
    """``(tp, fp, fn, dropped)`` for the relations of one document (any types; only equal types match)."""
    _check_mode(mode)
    passes = RELATION_PASSES[mode]
    gold_order, pred_order = _order(gold), _order(pred)
    gold_taken: set[int] = set()
    pred_taken: set[int] = set()
    for accepts in passes:
        for p in pred_order:
            if p in pred_taken:
                continue
            for g in gold_order:
                if g not in gold_taken and gold[g].type == pred[p].type and accepts(gold[g], pred[p]):
                    gold_taken.add(g)
                    pred_taken.add(p)
                    break
    tp = len(pred_taken)
    final = passes[-1]
    dropped = sum(
        1 for p, ps in enumerate(pred)
        if p not in pred_taken and any(gs.type == ps.type and final(gs, ps) for gs in gold)
    )
    return tp, len(pred) - tp - dropped, len(gold) - tp, dropped


def relation_spans(doc: Document | None, side: str = "gold") -> list[RelationSpans]:
    """The relations of ``doc`` with their arguments resolved to spans, in the document's order.

    Raises ValueError naming the document and the relation when an argument id is no entity of ``doc``.
    """
    if doc is None:
        return []
    entities = doc.entities_by_id()
    out = []
    for relation in doc.relations:
        for role, entity_id in (("Arg1", relation.arg1), ("Arg2", relation.arg2)):
            if entity_id not in entities:
                raise ValueError(f"{side} document {doc.id}: relation {relation.id} names {role}:{entity_id}, "
                                 f"expected an entity id of the document, found none")
        arg1, arg2 = entities[relation.arg1], entities[relation.arg2]
        out.append(RelationSpans(relation.type, Span(arg1.label, arg1.start, arg1.end), Span(arg2.label, arg2.start, arg2.end)))
    return out


def resolve_types(gold: Sequence[Document], pred: Sequence[Document], types: Sequence[str] | None) -> list[str]:
    """``types`` checked (non-empty, no repeats), or every relation type in gold or predictions, n2c2 order first."""
    if types is None:
        return sorted({r.type for doc in [*gold, *pred] for r in doc.relations}, key=relation_type_key)
    types = list(types)
    if not types:
        raise ValueError("expected at least one relation type to score, found an empty type list")
    repeated = sorted(t for t, n in Counter(types).items() if n > 1)
    if repeated:
        raise ValueError(f"expected each relation type once, found {', '.join(repeated)} more than once")
    return types


def relation_document_counts(
    gold_docs: Sequence[Document], pred_docs: Sequence[Document], mode: str, types: Sequence[str]
) -> np.ndarray:
    """Per-document, per-type relation counts, for scoring and resampling.

    Returns an int64 array of shape ``(n_gold_documents, len(types), 4)`` whose last axis is
    :data:`medner.evaluation.span.COUNT_FIELDS` (tp, fp, fn, dropped), documents in the order of
    ``gold_docs``: the shape :func:`medner.evaluation.statistics.bootstrap_ci_counts` and
    :func:`~medner.evaluation.statistics.approximate_randomisation_counts` take.
    """
    _check_mode(mode)
    pairs, _ = pair_documents(gold_docs, pred_docs)
    counts = np.zeros((len(pairs), len(types), len(COUNT_FIELDS)), dtype=np.int64)
    for d, (g_doc, p_doc) in enumerate(pairs):
        gold = relation_spans(g_doc, "gold")
        pred = relation_spans(p_doc, "predicted")
        for j, relation_type in enumerate(types):
            g_type = [r for r in gold if r.type == relation_type]
            p_type = [r for r in pred if r.type == relation_type]
            counts[d, j] = relation_counts(g_type, p_type, mode)
    return counts


def _summary(counts: np.ndarray, types: list[str]) -> dict:
    """:func:`summarise_counts` of relation counts, with ``per_type`` for ``labels`` and ``n_types`` for ``n_labels``."""
    summary = summarise_counts(counts, types)
    macro = {key: value for key, value in summary["macro"].items() if key != "n_labels"}
    macro["n_types"] = summary["macro"]["n_labels"]
    return {"per_type": summary["labels"], "micro": summary["micro"], "macro": macro,
            "weighted": summary["weighted"], "overall_macro": summary["overall_macro"]}


def score_relations(
    gold_docs: Sequence[Document], pred_docs: Sequence[Document], *, types: Sequence[str] | None = None
) -> dict:
    """Score predicted relations against gold ones, strict and lenient, n2c2-2018 style.

    Documents are paired by id as :func:`medner.evaluation.span.score_documents` pairs them.
    ``types`` (default: every type in gold or predictions, n2c2 order first) chooses the types
    scored; relations of other types are counted in ``ignored``. Returns ``{"strict": {...},
    "lenient": {...}, "documents": {"scored", "missing_predictions"}, "ignored": {"gold": {type: n},
    "pred": {type: n}}}``, each mode ``{"per_type": {type: {tp, fp, fn, dropped, support, precision,
    recall, f1}}, "micro", "macro" (with n_types), "weighted", "overall_macro"}``.
    """
    types = resolve_types(gold_docs, pred_docs, types)
    pairs, missing = pair_documents(gold_docs, pred_docs)
    keep = set(types)
    ignored = {
        side: dict(sorted(Counter(r.type for d in docs for r in d.relations if r.type not in keep).items()))
        for side, docs in (("gold", gold_docs), ("pred", pred_docs))
    }
    result: dict = {mode: _summary(relation_document_counts(gold_docs, pred_docs, mode, types), types) for mode in MODES}
    result["documents"] = {"scored": len(pairs), "missing_predictions": missing}
    result["ignored"] = ignored
    return result


def evaluate_folders(gold_dir: str | Path, pred_dir: str | Path, *, labels: Sequence[str] | None = None) -> dict:
    """What ``medner evaluate`` reports: :func:`medner.evaluation.span.score_folders`' entity scores, and under
    ``"relations"`` :func:`score_relations` (every type) whenever a gold document has relations.

    ``labels`` chooses the entity labels only; relations are scored on the full entities of each document.
    """
    gold, pred = read_scored_folders(gold_dir, pred_dir)
    scores = score_documents(gold, pred, labels=labels)
    if any(doc.relations for doc in gold):
        scores["relations"] = score_relations(gold, pred)
    return scores
