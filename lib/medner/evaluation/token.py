"""Token-level scoring of BIO tag sequences: the "BIO-strict" entity score.

This is the score Belkadi et al. report and what ``seqeval`` computes with
``mode="strict", scheme=IOB2``: entities are read from each tag sequence and
compared as ``(sentence, start token, end token, label)`` tuples; an entity counts
as found only when its tuple is predicted exactly.

Reading entities (IOB2, strict): an entity starts at ``B-X`` and continues over
the ``I-X`` tokens that follow it directly; it ends before ``O``, ``B-...``, an
``I-`` of another label, or the end of the sentence. An ``I-X`` that does not
continue a ``B-X``/``I-X`` run starts no entity and belongs to none (seqeval's
strict mode ignores it; its default mode would read it as an entity start).

Unlike the span scorer this works on tokens, so a tokenisation error is invisible
here; the study's main numbers come from :mod:`medner.evaluation.span`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medner.evaluation.span import Span, ordered_labels, prf


def _split_tag(tag: str, where: str) -> tuple[str, str]:
    if tag == "O":
        return "O", ""
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BI":
        return tag[0], tag[2:]
    raise ValueError(f"{where}: expected a tag 'O', 'B-<label>' or 'I-<label>', found {tag!r}")


def bio_entities(tags: Sequence[str], *, where: str = "sequence") -> list[Span]:
    """Entities of one IOB2 tag sequence, strict reading, as half-open token spans.

    ``where`` names the sequence in error messages (a tag that is not ``O``, ``B-X`` or
    ``I-X`` raises ValueError).
    """
    parsed = [_split_tag(tag, f"{where}, token {i}") for i, tag in enumerate(tags)]
    spans: list[Span] = []
    i = 0
    while i < len(parsed):
        prefix, label = parsed[i]
        if prefix != "B":
            i += 1
            continue
        end = i + 1
        while end < len(parsed) and parsed[end] == ("I", label):
            end += 1
        spans.append(Span(label, i, end))
        i = end
    return spans


def _check_pairs(gold_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> None:
    if len(gold_tags) != len(pred_tags):
        raise ValueError(f"expected as many predicted as gold tag sequences, found {len(pred_tags)} and {len(gold_tags)}")
    for i, (g, p) in enumerate(zip(gold_tags, pred_tags)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: expected {len(g)} predicted tags (one per gold tag), found {len(p)}")


def score_bio_strict(
    gold_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]], *, labels: Sequence[str] | None = None
) -> dict:
    """Entity-level P/R/F1 on IOB2 tag sequences, seqeval strict mode semantics.

    ``labels`` (default: every label in gold or predictions, n2c2 order) chooses the labels
    scored; entities of other labels are left out. Returns ``{"micro": {tp, fp, fn, precision,
    recall, f1}, "macro": {precision, recall, f1}, "weighted": {...}, "labels": {label: {tp, fp,
    fn, support, precision, recall, f1}}}``; macro averages the labels given (or found).
    """
    _check_pairs(gold_tags, pred_tags)
    gold = [{(i, s) for s in bio_entities(seq, where=f"gold sentence {i}")} for i, seq in enumerate(gold_tags)]
    pred = [{(i, s) for s in bio_entities(seq, where=f"predicted sentence {i}")} for i, seq in enumerate(pred_tags)]
    gold_all = set().union(*gold) if gold else set()
    pred_all = set().union(*pred) if pred else set()
    if labels is None:
        labels = ordered_labels(s.label for _, s in gold_all | pred_all)
    per_label = {}
    for label in labels:
        g = {e for e in gold_all if e[1].label == label}
        p = {e for e in pred_all if e[1].label == label}
        tp = len(g & p)
        fp, fn = len(p) - tp, len(g) - tp
        precision, recall, f1 = prf(tp, fp, fn)
        per_label[label] = {"tp": tp, "fp": fp, "fn": fn, "support": len(g), "precision": precision, "recall": recall, "f1": f1}
    return _averaged(per_label)


def _averaged(per_label: dict[str, dict]) -> dict:
    """Micro (from the summed counts), macro and support-weighted averages of per-label scores, and the labels."""
    tp = sum(s["tp"] for s in per_label.values())
    fp = sum(s["fp"] for s in per_label.values())
    fn = sum(s["fn"] for s in per_label.values())
    precision, recall, f1 = prf(tp, fp, fn)
    keys = ("precision", "recall", "f1")
    support = np.array([s["support"] for s in per_label.values()], dtype=float)
    macro = {k: float(np.mean([s[k] for s in per_label.values()])) if per_label else 0.0 for k in keys}
    weighted = {
        k: float(np.dot(support, [s[k] for s in per_label.values()]) / support.sum()) if support.sum() > 0 else 0.0
        for k in keys
    }
    return {
        "micro": {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1},
        "macro": macro,
        "weighted": weighted,
        "labels": per_label,
    }


def pool_bio_strict(results: Sequence[dict]) -> dict:
    """:func:`score_bio_strict` results of disjoint sentence sets (the folds of a cross-validation) as one: the
    per-label counts summed, and micro, macro and weighted scores computed again from them."""
    if not results:
        raise ValueError("pool_bio_strict: expected at least one BIO-strict result, given none")
    per_label = {}
    for label in results[0]["labels"]:
        tp, fp, fn, support = (sum(int(r["labels"][label][k]) for r in results) for k in ("tp", "fp", "fn", "support"))
        precision, recall, f1 = prf(tp, fp, fn)
        per_label[label] = {"tp": tp, "fp": fp, "fn": fn, "support": support, "precision": precision, "recall": recall,
                            "f1": f1}
    return _averaged(per_label)
