"""Bootstrap intervals, approximate randomisation and seed aggregation."""

from __future__ import annotations

import itertools
import random
import statistics
import time

import numpy as np
import pytest

from medner.corpus.document import Document, Entity
from medner.evaluation import statistics as statistics_module
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


def thinned(docs: list[Document], seed: int, keep: float) -> list[Document]:
    """The same documents keeping each entity with probability ``keep``: a second system close to the first."""
    rng = random.Random(seed)
    return [Document(d.id, d.text, [e for e in d.entities if rng.random() < keep]) for d in docs]


def f1_of(counts: np.ndarray) -> float:
    tp, fp, fn = (int(counts[..., k].sum()) for k in range(3))
    return prf(tp, fp, fn)[2]


def test_bootstrap_matches_a_plain_loop_with_the_same_draws():
    gold, pred = corpus(30, seed=1, keep=0.7)
    result = bootstrap_ci(gold, pred, labels=LABELS, n_boot=200, seed=3)
    counts = document_label_counts(gold, pred, LABELS, "strict")
    # The draws scipy.stats.bootstrap makes: each row, the documents one resample picks.
    samples = np.random.default_rng(3).integers(0, 30, size=(200, 30))
    loop = [f1_of(counts[sample]) for sample in samples]
    assert result["micro_f1"]["low"] == pytest.approx(np.quantile(loop, 0.025))
    assert result["micro_f1"]["high"] == pytest.approx(np.quantile(loop, 0.975))
    assert result["micro_f1"]["estimate"] == pytest.approx(f1_of(counts))
    for j, label in enumerate(LABELS):
        per_label = [f1_of(counts[sample, j]) for sample in samples]
        assert result["labels"][label]["low"] == pytest.approx(np.quantile(per_label, 0.025))
        assert result["labels"][label]["high"] == pytest.approx(np.quantile(per_label, 0.975))
        assert result["labels"][label]["estimate"] == pytest.approx(f1_of(counts[:, j]))


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


def plain_randomisation(ca: np.ndarray, cb: np.ndarray, swaps: np.ndarray) -> tuple[float, np.ndarray]:
    """The observed micro-F1 difference and, per swap row, |F1(A') - F1(B')| for micro then each label, one shuffle at a time."""
    observed = f1_of(ca) - f1_of(cb)
    shuffled = []
    for swap in swaps:
        sa = np.where(swap[:, None, None] == 1, cb, ca)
        sb = np.where(swap[:, None, None] == 1, ca, cb)
        shuffled.append([abs(f1_of(sa) - f1_of(sb))] + [abs(f1_of(sa[:, j]) - f1_of(sb[:, j])) for j in range(len(LABELS))])
    return observed, np.array(shuffled)


def observed_differences(ca: np.ndarray, cb: np.ndarray) -> np.ndarray:
    return np.abs([f1_of(ca) - f1_of(cb)] + [f1_of(ca[:, j]) - f1_of(cb[:, j]) for j in range(len(LABELS))])


def test_randomisation_matches_a_plain_loop_with_the_same_swaps():
    gold, pred_a = corpus(25, seed=4, keep=0.8)
    pred_b = thinned(pred_a, seed=5, keep=0.95)
    result = approximate_randomisation(gold, pred_a, pred_b, labels=LABELS, n_shuffles=300, seed=11)
    ca = document_label_counts(gold, pred_a, LABELS, "strict")
    cb = document_label_counts(gold, pred_b, LABELS, "strict")
    # The swaps scipy.stats.permutation_test(permutation_type="samples") draws for two samples:
    # each document's (A, B) pair is permuted; 1 where A's place now holds B's prediction.
    swaps = np.random.default_rng(11).permuted(np.tile([0, 1], (300, 25, 1)), axis=-1)[..., 0]
    observed, shuffled = plain_randomisation(ca, cb, swaps)
    r = np.sum(shuffled >= observed_differences(ca, cb) - 1e-12, axis=0)
    p_values = [result["overall"]["p_value"]] + [result["labels"][label]["p_value"] for label in LABELS]
    assert result["overall"]["delta"] == pytest.approx(observed)
    assert p_values == pytest.approx((r + 1) / 301)
    assert 0.05 < p_values[0] < 0.95  # a p-value away from the ends, or the comparison proves little


def test_randomisation_of_few_documents_enumerates_every_swap():
    gold, pred_a = corpus(6, seed=12, keep=0.8)
    pred_b = thinned(pred_a, seed=13, keep=0.7)
    result = approximate_randomisation(gold, pred_a, pred_b, labels=LABELS, n_shuffles=1000, seed=0)
    ca = document_label_counts(gold, pred_a, LABELS, "strict")
    cb = document_label_counts(gold, pred_b, LABELS, "strict")
    swaps = np.array(list(itertools.product([0, 1], repeat=6)))  # all 2 ** 6 swap patterns
    _, shuffled = plain_randomisation(ca, cb, swaps)
    exact = np.sum(shuffled >= observed_differences(ca, cb) - 1e-12, axis=0) / 64
    p_values = [result["overall"]["p_value"]] + [result["labels"][label]["p_value"] for label in LABELS]
    assert p_values == pytest.approx(exact)


def test_batches_bound_memory_and_change_no_number(monkeypatch):
    gold, pred_a = corpus(40, seed=14, keep=0.8)
    pred_b = thinned(pred_a, seed=15, keep=0.9)
    whole = bootstrap_ci(gold, pred_a, labels=LABELS, n_boot=100, seed=2)
    test = approximate_randomisation(gold, pred_a, pred_b, labels=LABELS, n_shuffles=100, seed=2)
    monkeypatch.setattr(statistics_module, "BATCH_CELLS", 7 * 40)  # 7 resamples per batch
    assert bootstrap_ci(gold, pred_a, labels=LABELS, n_boot=100, seed=2) == whole
    assert approximate_randomisation(gold, pred_a, pred_b, labels=LABELS, n_shuffles=100, seed=2) == test


def test_randomisation_of_1000_documents_1000_times_is_fast():
    gold, pred_a = corpus(1000, seed=3, keep=0.8)
    pred_b = thinned(pred_a, seed=4, keep=0.9)
    start = time.perf_counter()
    approximate_randomisation(gold, pred_a, pred_b, labels=LABELS, n_shuffles=1000, seed=0)
    assert time.perf_counter() - start < 2.0


def test_one_document_is_too_few_to_resample():
    gold, pred = corpus(1, seed=0, keep=0.5)
    with pytest.raises(ValueError, match="expected at least two gold documents to resample, found 1"):
        bootstrap_ci(gold, pred, labels=LABELS)
    with pytest.raises(ValueError, match="expected at least two gold documents to resample, found 1"):
        approximate_randomisation(gold, pred, pred, labels=LABELS)


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
