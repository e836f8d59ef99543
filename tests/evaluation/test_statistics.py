"""Bootstrap intervals, approximate randomisation and seed aggregation."""

from __future__ import annotations

import random
import statistics
import time

import numpy as np
import pytest

from medner.corpus.document import Document, Entity
from medner.evaluation.span import document_label_counts, prf
from medner.evaluation.statistics import aggregate_seeds, approximate_randomisation, bootstrap_ci

TEXT = "z" * 100
LABELS = ["Drug", "ADE"]


def doc(doc_id: str, spans) -> Document:
    return Document(doc_id, TEXT, [Entity(f"T{i}", lab, ((s, e),), TEXT[s:e]) for i, (lab, s, e) in enumerate(spans, 1)])


def corpus(n_docs: int, seed: int, keep: float) -> tuple[list[Document], list[Document]]:
    """Gold documents and predictions that keep each gold entity with probability ``keep`` (plus some noise)."""
    rng = random.Random(seed)
    gold, pred = [], []
    for d in range(n_docs):
        spans = [(rng.choice(LABELS), 10 * k, 10 * k + 5) for k in range(rng.randrange(1, 6))]
        gold.append(doc(f"d{d}", spans))
        kept = [s for s in spans if rng.random() < keep]
        if rng.random() < 0.3:
            kept.append((rng.choice(LABELS), 91, 95))
        pred.append(doc(f"d{d}", kept))
    return gold, pred


def f1_of(counts: np.ndarray) -> float:
    tp, fp, fn = (int(counts[..., k].sum()) for k in range(3))
    return prf(tp, fp, fn)[2]


def test_bootstrap_matches_a_plain_loop_with_the_same_draws():
    gold, pred = corpus(30, seed=1, keep=0.7)
    result = bootstrap_ci(gold, pred, labels=LABELS, n_boot=200, seed=3)
    counts = document_label_counts(gold, pred, LABELS, "strict")
    rng = np.random.default_rng(3)
    draws = rng.multinomial(30, np.full(30, 1 / 30), size=200)
    loop = []
    for row in draws:
        sample = np.repeat(np.arange(30), row)  # the resampled documents, with repeats
        loop.append(f1_of(counts[sample]))
    low, high = np.quantile(loop, [0.025, 0.975])
    assert result["micro_f1"]["low"] == pytest.approx(low)
    assert result["micro_f1"]["high"] == pytest.approx(high)
    assert result["micro_f1"]["estimate"] == pytest.approx(f1_of(counts))
    drug = [prf(*(int(v) for v in counts[np.repeat(np.arange(30), row), 0, :3].sum(axis=0)))[2] for row in draws]
    assert result["labels"]["Drug"]["low"] == pytest.approx(np.quantile(drug, 0.025))


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    gold, pred = corpus(60, seed=2, keep=0.7)
    a = bootstrap_ci(gold, pred, labels=LABELS, n_boot=300, seed=9)
    b = bootstrap_ci(gold, pred, labels=LABELS, n_boot=300, seed=9)
    c = bootstrap_ci(gold, pred, labels=LABELS, n_boot=300, seed=10)
    assert a == b and a != c
    m = a["micro_f1"]
    assert m["low"] < m["estimate"] < m["high"]
    narrow = bootstrap_ci(gold, pred, labels=LABELS, n_boot=300, seed=9, alpha=0.5)["micro_f1"]
    assert m["low"] <= narrow["low"] <= narrow["high"] <= m["high"]


def test_bootstrap_of_1000_documents_1000_times_is_fast():
    gold, pred = corpus(1000, seed=3, keep=0.8)
    start = time.perf_counter()
    bootstrap_ci(gold, pred, labels=LABELS, n_boot=1000, seed=0)
    assert time.perf_counter() - start < 2.0


def test_randomisation_matches_a_plain_loop_with_the_same_swaps():
    gold, pred_a = corpus(25, seed=4, keep=0.9)
    _, pred_b = corpus(25, seed=5, keep=0.6)
    result = approximate_randomisation(gold, pred_a, pred_b, labels=LABELS, n_shuffles=300, seed=11)
    ca = document_label_counts(gold, pred_a, LABELS, "strict")
    cb = document_label_counts(gold, pred_b, LABELS, "strict")
    observed = f1_of(ca) - f1_of(cb)
    swaps = np.random.default_rng(11).integers(0, 2, size=(300, 25))
    r = 0
    for swap in swaps:
        sa = np.where(swap[:, None, None] == 1, cb, ca)
        sb = np.where(swap[:, None, None] == 1, ca, cb)
        r += abs(f1_of(sa) - f1_of(sb)) >= abs(observed) - 1e-12
    assert result["overall"]["delta"] == pytest.approx(observed)
    assert result["overall"]["p_value"] == pytest.approx((r + 1) / 301)


def test_randomisation_p_values_for_identical_and_very_different_systems():
    gold, pred_a = corpus(80, seed=6, keep=0.95)
    same = approximate_randomisation(gold, pred_a, pred_a, labels=LABELS, n_shuffles=200, seed=0)
    assert same["overall"] == {"delta": 0.0, "p_value": 1.0}
    empty = [Document(d.id, d.text, []) for d in gold]
    far = approximate_randomisation(gold, pred_a, empty, labels=LABELS, n_shuffles=200, seed=0)
    assert far["overall"]["delta"] > 0.8
    assert far["overall"]["p_value"] == pytest.approx(1 / 201)
    assert far["labels"]["Drug"]["p_value"] == pytest.approx(1 / 201)


def test_aggregate_seeds():
    records = [
        {"embedding": "glove", "seed": 2, "label": "micro", "f1": 0.80, "epochs": 9},
        {"embedding": "glove", "seed": 1, "label": "micro", "f1": 0.70},
        {"embedding": "glove", "seed": 3, "label": "micro", "f1": 0.90},
        {"embedding": "glove", "seed": 1, "label": "Drug", "f1": 0.95},
        {"embedding": "bert", "seed": 1, "label": "micro", "f1": 0.85},
    ]
    out = aggregate_seeds(records)
    glove = out["glove"]["micro"]
    assert glove["values"] == [0.70, 0.80, 0.90] and glove["seeds"] == [1, 2, 3] and glove["n"] == 3
    assert glove["mean"] == pytest.approx(0.8)
    assert glove["sd"] == pytest.approx(statistics.stdev([0.7, 0.8, 0.9]))
    assert (glove["min"], glove["max"]) == (0.70, 0.90)
    assert out["glove"]["Drug"]["sd"] == 0.0 and out["bert"]["micro"]["n"] == 1
    with pytest.raises(ValueError, match="glove/seed 1/micro again"):
        aggregate_seeds([*records, {"embedding": "glove", "seed": 1, "label": "micro", "f1": 0.1}])
    with pytest.raises(ValueError, match="record 0: .*found no f1"):
        aggregate_seeds([{"embedding": "glove", "seed": 1, "label": "micro"}])
