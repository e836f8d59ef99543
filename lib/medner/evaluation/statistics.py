"""Uncertainty and significance for span scores, and distributions over seeds.

* :func:`bootstrap_ci`: percentile bootstrap over documents (Efron and Tibshirani
  1993) through :func:`scipy.stats.bootstrap`: documents are resampled with
  replacement, their n2c2 counts summed, and micro-F1 and per-label F1
  recomputed; the interval is the ``alpha/2`` and ``1 - alpha/2`` quantiles
  (linear interpolation) of the resampled values.
* :func:`approximate_randomisation`: the paired approximate randomisation test
  (Noreen 1989; Yeh 2000), the test the n2c2-2018 overview reports between
  systems, with the **document** as the unit (our choice: documents are the
  independent units of a clinical corpus), through
  :func:`scipy.stats.permutation_test` with ``permutation_type="samples"``: in
  each shuffle every document's prediction set is swapped between the two
  systems with probability 1/2, and the difference in F1 is recomputed. The
  two-sided p-value is ``(r + 1) / (N + 1)``, with r the shuffles whose absolute
  difference is at least the observed one and N the number of shuffles (the
  add-one estimate never says p = 0 from a finite sample). When N is at least
  the number of distinct swap patterns, ``2 ** n_documents``, scipy enumerates
  them all instead and the p-value is the exact ``r / 2 ** n_documents``.
* :func:`aggregate_seeds`: mean, sample standard deviation, min, max and every
  value per embedding and label, as Reimers and Gurevych (2017) ask: report the
  distribution over seeds, not one run.
* :func:`bootstrap_ci_counts` and :func:`approximate_randomisation_counts`: the first
  two on per-document count arrays already computed, so that relation counts
  (:func:`medner.evaluation.relations.relation_document_counts`) get the same
  intervals and tests as entity counts; the document functions call them.

How scipy is asked (checked against scipy 1.17.1's source)
----------------------------------------------------------
* Both statistics return micro-F1 and every label's F1 at once (scipy accepts
  vector-valued statistics), so all labels share one set of draws, one call.
* The data are not the count arrays but what each resample picks: document
  indices for the bootstrap (what ``paired=True`` does inside scipy) and, for
  the randomisation, whose prediction each document carries (0 for A, 1 for B).
  The statistics turn those into summed counts with one matrix product instead
  of scipy materialising ``(n_resamples, n_documents, n_labels, 4)`` arrays.
* scipy's own two-sided rule is ``2 * min(p_less, p_greater)`` on the signed
  statistic, not the Noreen/Yeh count above; asking for ``alternative="greater"``
  on the absolute difference is that count, add-one included (scipy adds one to
  r and to N in a randomised, not exhaustive, test). Ties are counted within
  scipy's relative tolerance of 100 machine epsilons of the observed value.
* The draws come from ``numpy.random.default_rng(seed)`` and do not depend on
  the batch size, which only bounds memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
from scipy import stats

from medner.corpus.document import Document
from medner.evaluation.span import MODES, document_label_counts, f1_from_counts, resolve_labels

#: Resampled document slots per scipy batch (resamples x documents): bounds memory, not results.
BATCH_CELLS = 2_000_000


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"expected mode to be one of {', '.join(MODES)}, found {mode!r}")


def _f1s(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Micro F1 and per-label F1 from summed counts of shape (..., n_labels, 4): shapes (...) and (..., n_labels)."""
    per_label = f1_from_counts(counts[..., 0], counts[..., 1], counts[..., 2])
    total = counts.sum(axis=-2)
    micro = f1_from_counts(total[..., 0], total[..., 1], total[..., 2])
    return micro, per_label


def _f1_vector(counts: np.ndarray) -> np.ndarray:
    """Micro-F1 then each label's F1, from summed counts of shape (..., n_labels, 4): shape (..., n_labels + 1)."""
    micro, per_label = _f1s(counts)
    return np.concatenate([micro[..., None], per_label], axis=-1)


def _check_counts(counts: np.ndarray, names: Sequence[str]) -> None:
    if counts.ndim != 3 or counts.shape[1:] != (len(names), 4):
        raise ValueError(f"expected counts of shape (n_documents, {len(names)}, 4) for {len(names)} names, "
                         f"found shape {counts.shape}")


def _batch(n_docs: int) -> int:
    return max(1, BATCH_CELLS // n_docs)


def _check_documents(n_docs: int) -> None:
    # scipy needs two observations to resample; one document has no spread to measure anyway.
    if n_docs < 2:
        raise ValueError(f"expected at least two gold documents to resample, found {n_docs}")


def _resampled_f1s(counts: np.ndarray) -> Callable[..., np.ndarray]:
    """The bootstrap statistic over arrays of document indices, for :func:`scipy.stats.bootstrap`.

    ``counts``: shape (n_docs, n_labels, 4). The statistic takes ``index`` of shape
    (n_resamples, n_docs), each row the documents one resample drew, and returns the F1s of
    the summed counts with the resamples last, as scipy wants: shape (n_labels + 1, n_resamples).
    """
    n_docs, n_labels, n_fields = counts.shape
    flat = counts.reshape(n_docs, -1).astype(np.float64)

    def statistic(index: np.ndarray, axis: int = -1) -> np.ndarray:
        # scipy moves the resampled axis last before calling, so ``axis`` is always -1.
        rows = index.reshape(-1, n_docs)
        # How often each document is drawn in each resample; shape: (n_resamples, n_docs).
        offsets = n_docs * np.arange(rows.shape[0])[:, None]
        draws = np.bincount((rows + offsets).ravel(), minlength=rows.size).reshape(rows.shape)
        sums = (draws @ flat).reshape(*index.shape[:-1], n_labels, n_fields)
        return np.moveaxis(_f1_vector(sums), -1, 0)

    return statistic


def _swapped_f1_differences(a: np.ndarray, b: np.ndarray) -> Callable[..., np.ndarray]:
    """The randomisation statistic for :func:`scipy.stats.permutation_test`: |F1(A) - F1(B)| after swaps.

    ``a``, ``b``: each system's counts, shape (n_docs, n_labels, 4). The statistic takes
    ``origin_a`` and ``origin_b`` of shape (..., n_docs), whose prediction each shuffled system
    carries for each document (0.0 for A's, 1.0 for B's), and returns the absolute micro and
    per-label differences with the shuffles first, as scipy wants: shape (..., n_labels + 1).
    """
    n_docs = a.shape[0]
    total_a, total_b = a.sum(axis=0), b.sum(axis=0)
    diff = (b - a).reshape(n_docs, -1)

    def statistic(origin_a: np.ndarray, origin_b: np.ndarray, axis: int = -1) -> np.ndarray:
        # origin_b is 1 - origin_a (scipy passes both samples); axis is always -1, as above.
        # Shuffled A gains B's counts where it carries B's document; shuffled B loses them.
        moved = (origin_a @ diff).reshape(*origin_a.shape[:-1], *total_a.shape)
        return np.abs(_f1_vector(total_a + moved) - _f1_vector(total_b - moved))

    return statistic


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
    labels = resolve_labels(gold_docs, pred_docs, labels)
    counts = document_label_counts(gold_docs, pred_docs, labels, mode)  # shape: (n_docs, n_labels, 4)
    result = bootstrap_ci_counts(counts, labels, n_boot=n_boot, seed=seed, alpha=alpha)
    n_documents = result.pop("n_documents")  # keys in the order this function always gave them
    return {**result, "mode": mode, "n_documents": n_documents}


def bootstrap_ci_counts(
    counts: np.ndarray, names: Sequence[str], *, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> dict:
    """:func:`bootstrap_ci` on per-document counts already computed (entity labels or relation types alike).

    ``counts``: shape (n_docs, len(names), 4), the last axis tp, fp, fn, dropped (as
    :func:`medner.evaluation.span.document_label_counts` and
    :func:`medner.evaluation.relations.relation_document_counts` return). Returns
    ``{"micro_f1", "labels": {name: ...}, "n_boot", "alpha", "seed", "n_documents"}``.
    """
    if n_boot < 1:
        raise ValueError(f"expected n_boot >= 1, found {n_boot}")
    if not 0 < alpha < 1:
        raise ValueError(f"expected 0 < alpha < 1, found {alpha}")
    _check_counts(counts, names)
    n_docs = counts.shape[0]
    _check_documents(n_docs)
    result = stats.bootstrap(
        (np.arange(n_docs),),
        _resampled_f1s(counts),
        n_resamples=n_boot,
        batch=_batch(n_docs),
        vectorized=True,
        confidence_level=1 - alpha,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    estimate = _f1_vector(counts.sum(axis=0).astype(np.float64))  # shape: (n_names + 1,)
    low, high = result.confidence_interval

    def interval(j: int) -> dict:
        return {"estimate": float(estimate[j]), "low": float(low[j]), "high": float(high[j])}

    return {
        "micro_f1": interval(0),
        "labels": {name: interval(j) for j, name in enumerate(names, 1)},
        "n_boot": n_boot,
        "alpha": alpha,
        "seed": seed,
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
    labels = resolve_labels(gold_docs, [*pred_a, *pred_b], labels)
    a = document_label_counts(gold_docs, pred_a, labels, mode)  # shape: (n_docs, n_labels, 4)
    b = document_label_counts(gold_docs, pred_b, labels, mode)
    return {**approximate_randomisation_counts(a, b, labels, n_shuffles=n_shuffles, seed=seed), "mode": mode}


def approximate_randomisation_counts(
    a: np.ndarray, b: np.ndarray, names: Sequence[str], *, n_shuffles: int = 1000, seed: int = 0
) -> dict:
    """:func:`approximate_randomisation` on the per-document counts of systems A and B already computed.

    ``a``, ``b``: shape (n_docs, len(names), 4), the same documents in the same order (see
    :func:`bootstrap_ci_counts`). Returns ``{"overall", "labels": {name: ...}, "n_shuffles", "seed"}``.
    """
    if n_shuffles < 1:
        raise ValueError(f"expected n_shuffles >= 1, found {n_shuffles}")
    _check_counts(a, names)
    _check_counts(b, names)
    if a.shape != b.shape:
        raise ValueError(f"expected the counts of A and B on the same documents, found shapes {a.shape} and {b.shape}")
    a, b = a.astype(np.float64), b.astype(np.float64)
    n_docs = a.shape[0]
    _check_documents(n_docs)
    delta = _f1_vector(a.sum(axis=0)) - _f1_vector(b.sum(axis=0))  # shape: (n_names + 1,)
    result = stats.permutation_test(
        (np.zeros(n_docs), np.ones(n_docs)),
        _swapped_f1_differences(a, b),
        permutation_type="samples",
        vectorized=True,
        n_resamples=n_shuffles,
        batch=_batch(n_docs),
        alternative="greater",
        rng=np.random.default_rng(seed),
    )
    p_values = result.pvalue  # shape: (n_names + 1,)

    def test(j: int) -> dict:
        return {"delta": float(delta[j]), "p_value": float(p_values[j])}

    return {
        "overall": test(0),
        "labels": {name: test(j) for j, name in enumerate(names, 1)},
        "n_shuffles": n_shuffles,
        "seed": seed,
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
