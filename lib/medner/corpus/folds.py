"""k-fold cross-validation over a corpus's documents, for corpora too small for one fixed test split.

Every document of the corpus is pooled, whatever split it came from: for a corpus with its
own ``train/`` and ``test/`` folders (n2c2-2018, PHEE, the demo) that means train, dev and
test together, so the folds replace the corpus's own split. The documents are dealt to ``k``
folds once, from the corpus seed (not the run seed), so the assignment is the same for every
embedding and every seed and comparisons between them stay paired. In fold ``i`` the test
set is fold ``i``, dev a seeded 10% of the other folds' documents (as for a corpus without a
dev set), and train the rest: over the k folds every document is tested exactly once.

Stratified (the default): each fold gets a share of every label's documents. The documents
are shuffled with the seed, ordered by their rarest label (the label found in the fewest
documents of the corpus; documents without entities last), and dealt one by one to the fold
holding the fewest documents of that label so far, then the fewest documents, then the
lowest number. Rare labels are spread first, while every fold can still take them.
Unstratified: the shuffled documents are dealt round-robin.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Sequence

from medner.corpus.document import Document

#: The share of a fold's training documents held out as its dev set.
DEV_FRACTION = 0.1


def check_folds(folds: int | None, fold: int | None) -> None:
    """Both None (no cross-validation), or ``folds`` >= 2 and ``fold`` in 1..folds; else a ValueError saying so."""
    if folds is None and fold is None:
        return
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds: expected an integer >= 2 (or none for the corpus's own split); given {folds!r}")
    if isinstance(fold, bool) or not isinstance(fold, int) or not 1 <= fold <= folds:
        raise ValueError(f"fold: expected an integer from 1 to {folds}; given {fold!r}")


def _shuffled(ids: Sequence[str], seed: int) -> list[str]:
    order = sorted(ids)
    random.Random(seed).shuffle(order)
    return order


def fold_assignment(documents: Sequence[Document], k: int, seed: int, *, stratified: bool = True) -> list[list[str]]:
    """The document ids of each of ``k`` folds (sorted within a fold); see the module docstring."""
    if len(documents) < k:
        raise ValueError(f"{k} folds need at least {k} documents; the corpus has {len(documents)}")
    by_id = {doc.id: doc for doc in documents}
    if len(by_id) != len(documents):
        raise ValueError("fold_assignment: document ids must be unique across the corpus's splits")
    order = _shuffled(list(by_id), seed)
    folds: list[list[str]] = [[] for _ in range(k)]
    if not stratified:
        for position, doc_id in enumerate(order):
            folds[position % k].append(doc_id)
        return [sorted(fold) for fold in folds]
    labels_of = {doc_id: {e.label for e in by_id[doc_id].entities} for doc_id in order}
    frequency = Counter(label for labels in labels_of.values() for label in labels)

    def rarest(doc_id: str) -> tuple[int, str]:
        labels = labels_of[doc_id]
        if not labels:
            return (len(order) + 1, "")
        return min((frequency[label], label) for label in labels)

    held: list[Counter] = [Counter() for _ in range(k)]
    for doc_id in sorted(order, key=rarest):  # stable: the shuffled order within each rarest label
        label = rarest(doc_id)[1]
        target = min(range(k), key=lambda f: (held[f][label], len(folds[f]), f))
        folds[target].append(doc_id)
        held[target].update(labels_of[doc_id])
    return [sorted(fold) for fold in folds]


def assignment_sha256(folds: Sequence[Sequence[str]]) -> str:
    """A short fingerprint of a fold assignment: runs of one study must share it to be compared."""
    text = "\n".join(",".join(fold) for fold in folds)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fold_splits(documents: Sequence[Document], folds: list[list[str]], fold: int, seed: int
                ) -> tuple[dict[str, list[Document]], list[str]]:
    """The train, dev and test documents of fold ``fold`` (1-based), in corpus order, and the dev ids."""
    test_ids = set(folds[fold - 1])
    rest = [doc for doc in documents if doc.id not in test_ids]
    n_dev = round(DEV_FRACTION * len(rest))
    if n_dev == 0 and len(rest) >= 2:
        n_dev = 1
    dev_ids = set(_shuffled([doc.id for doc in rest], seed)[:n_dev])
    splits = {
        "train": [doc for doc in rest if doc.id not in dev_ids],
        "dev": [doc for doc in rest if doc.id in dev_ids],
        "test": [doc for doc in documents if doc.id in test_ids],
    }
    return splits, sorted(dev_ids)
