"""Uncertainty and significance for span scores, and distributions over seeds.

* :func:`bootstrap_ci`: percentile bootstrap over documents (Efron and Tibshirani
  1993): documents are resampled with replacement, their n2c2 counts summed, and
  micro-F1 and per-label F1 recomputed; the interval is the ``alpha/2`` and
  ``1 - alpha/2`` quantiles of the resampled values.
* :func:`approximate_randomisation`: the paired approximate randomisation test
  (Noreen 1989; Yeh 2000), the test the n2c2-2018 overview reports between
  systems, with the **document** as the unit (our choice: documents are the
  independent units of a clinical corpus): in each shuffle every document's
  prediction set is swapped between the two systems with probability 1/2, and
  the difference in F1 is recomputed. The two-sided p-value is
  ``(r + 1) / (N + 1)``, with r the shuffles whose absolute difference is at
  least the observed one and N the number of shuffles (the add-one estimate
  never says p = 0 from a finite sample).
* :func:`aggregate_seeds`: mean, sample standard deviation, min, max and every
  value per embedding and label, as Reimers and Gurevych (2017) ask: report the
  distribution over seeds, not one run.

Both resampling procedures work on per-document count arrays
(:func:`medner.evaluation.span.document_label_counts`) with numpy, so a thousand
resamples of a thousand documents take well under a second.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from medner.corpus.document import Document
from medner.evaluation.span import MODES, document_label_counts, f1_from_counts, resolve_labels


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"expected mode to be one of {', '.join(MODES)}, found {mode!r}")


def _f1s(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Micro F1 and per-label F1 from summed counts of shape (..., n_labels, 4): shapes (...) and (..., n_labels)."""
    per_label = f1_from_counts(counts[..., 0], counts[..., 1], counts[..., 2])
    total = counts.sum(axis=-2)
    micro = f1_from_counts(total[..., 0], total[..., 1], total[..., 2])
    return micro, per_label


def bootstrap_ci(
    gold_docs: list[Document],
    pred_docs: list[Document],
    *,
    labels: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    mode: str = "strict",
) -> dict:
    """Percentile bootstrap confidence intervals over documents for micro-F1 and per-label F1.

    Returns ``{"micro_f1": {"estimate", "low", "high"}, "labels": {label: {"estimate", "low", "high"}},
    "n_boot", "alpha", "seed", "mode", "n_documents"}``; ``estimate`` is the F1 on all documents.
    """
    _check_mode(mode)
    if n_boot < 1:
        raise ValueError(f"expected n_boot >= 1, found {n_boot}")
    if not 0 < alpha < 1:
        raise ValueError(f"expected 0 < alpha < 1, found {alpha}")
    labels = resolve_labels(gold_docs, pred_docs, labels)
    counts = document_label_counts(gold_docs, pred_docs, labels, mode)  # shape: (n_docs, n_labels, 4)
    n_docs = counts.shape[0]
    if n_docs == 0:
        raise ValueError("expected at least one gold document to resample, found none")
    rng = np.random.default_rng(seed)
    # How often each document is drawn in each resample; shape: (n_boot, n_docs).
    draws = rng.multinomial(n_docs, np.full(n_docs, 1.0 / n_docs), size=n_boot).astype(np.float64)
    flat = counts.reshape(n_docs, -1).astype(np.float64)
    sums = (draws @ flat).reshape(n_boot, len(labels), counts.shape[2])  # shape: (n_boot, n_labels, 4)
    micro_boot, label_boot = _f1s(sums)
    micro_est, label_est = _f1s(counts.sum(axis=0).astype(np.float64))
    q = [alpha / 2, 1 - alpha / 2]

    def interval(estimate: float, values: np.ndarray) -> dict:
        low, high = np.quantile(values, q)
        return {"estimate": float(estimate), "low": float(low), "high": float(high)}

    return {
        "micro_f1": interval(micro_est, micro_boot),
        "labels": {label: interval(label_est[j], label_boot[:, j]) for j, label in enumerate(labels)},
        "n_boot": n_boot,
        "alpha": alpha,
        "seed": seed,
        "mode": mode,
        "n_documents": n_docs,
    }


def approximate_randomisation(
    gold_docs: list[Document],
    pred_a: list[Document],
    pred_b: list[Document],
    *,
    labels: Sequence[str] | None = None,
    n_shuffles: int = 1000,
    seed: int = 0,
    mode: str = "strict",
) -> dict:
    """Paired approximate randomisation test of system A against system B on the same gold documents.

    Document-level swapping (see the module docstring); two-sided, add-one p-value.
    Returns ``{"overall": {"delta", "p_value"}, "labels": {label: {"delta", "p_value"}}, "n_shuffles",
    "seed", "mode"}``, where ``delta`` = F1(A) - F1(B) (micro-F1 for ``overall``).
    """
    _check_mode(mode)
    if n_shuffles < 1:
        raise ValueError(f"expected n_shuffles >= 1, found {n_shuffles}")
    labels = resolve_labels(gold_docs, [*pred_a, *pred_b], labels)
    a = document_label_counts(gold_docs, pred_a, labels, mode).astype(np.float64)  # shape: (n_docs, n_labels, 4)
    b = document_label_counts(gold_docs, pred_b, labels, mode).astype(np.float64)
    n_docs = a.shape[0]
    total_a, total_b = a.sum(axis=0), b.sum(axis=0)
    micro_a, label_a = _f1s(total_a)
    micro_b, label_b = _f1s(total_b)
    observed_micro = micro_a - micro_b
    observed_label = label_a - label_b

    rng = np.random.default_rng(seed)
    swap = rng.integers(0, 2, size=(n_shuffles, n_docs)).astype(np.float64)  # 1 = swap this document's predictions
    diff = (b - a).reshape(n_docs, -1)
    moved = (swap @ diff).reshape(n_shuffles, *total_a.shape)  # shape: (n_shuffles, n_labels, 4)
    shuffled_a = total_a + moved
    shuffled_b = total_b - moved
    micro_sa, label_sa = _f1s(shuffled_a)
    micro_sb, label_sb = _f1s(shuffled_b)
    # A small tolerance so that float noise in equal differences does not decide the count.
    eps = 1e-12
    r_micro = int(np.sum(np.abs(micro_sa - micro_sb) >= abs(observed_micro) - eps))
    r_label = np.sum(np.abs(label_sa - label_sb) >= np.abs(observed_label) - eps, axis=0)

    def p_value(r: int) -> float:
        return (int(r) + 1) / (n_shuffles + 1)

    return {
        "overall": {"delta": float(observed_micro), "p_value": p_value(r_micro)},
        "labels": {
            label: {"delta": float(observed_label[j]), "p_value": p_value(r_label[j])} for j, label in enumerate(labels)
        },
        "n_shuffles": n_shuffles,
        "seed": seed,
        "mode": mode,
    }


def aggregate_seeds(records: Iterable[Mapping], *, value_key: str = "f1") -> dict:
    """Distribution of a score over seeds, per embedding and label.

    ``records``: mappings with ``embedding`` (str), ``seed`` (int), ``label`` (a label or ``"micro"``)
    and ``value_key`` (default ``f1``); other keys are ignored. Returns ``{embedding: {label: {"mean",
    "sd", "min", "max", "values", "seeds", "n"}}}``, values ordered by seed, ``sd`` the sample standard
    deviation (ddof=1; 0.0 for a single seed). A repeated (embedding, seed, label) raises ValueError.
    """
    grouped: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for i, record in enumerate(records):
        missing = [k for k in ("embedding", "seed", "label", value_key) if k not in record]
        if missing:
            raise ValueError(f"record {i}: expected keys embedding, seed, label and {value_key}, found no {', '.join(missing)}")
        embedding, seed, label = str(record["embedding"]), int(record["seed"]), str(record["label"])
        if seed in grouped[embedding][label]:
            raise ValueError(f"record {i}: expected one {value_key} per embedding, seed and label, found {embedding}/seed {seed}/{label} again")
        grouped[embedding][label][seed] = float(record[value_key])
    out: dict[str, dict[str, dict]] = {}
    for embedding in sorted(grouped):
        out[embedding] = {}
        for label, by_seed in grouped[embedding].items():
            seeds = sorted(by_seed)
            values = np.array([by_seed[s] for s in seeds])
            out[embedding][label] = {
                "mean": float(values.mean()),
                "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                "min": float(values.min()),
                "max": float(values.max()),
                "values": [float(v) for v in values],
                "seeds": seeds,
                "n": len(values),
            }
    return out
