"""k-fold cross-validation: every document tested once, folds disjoint, the same assignment for every run,
rare labels spread over the folds when stratified, and clear errors."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from medner.corpus.document import Document, Entity
from medner.corpus.folds import check_folds, fold_assignment, fold_splits


def corpus(n: int, seed: int = 0) -> list[Document]:
    """``n`` documents; a few carry a rare label, most a common one, some none."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        labels = ["Drug"] * rng.randrange(0, 4) + (["ADE"] if rng.random() < 0.15 else [])
        entities = [Entity(f"T{j}", label, ((j, j + 1),), "x") for j, label in enumerate(labels)]
        docs.append(Document(f"doc{i:03d}", "x" * 10, entities))
    return docs


@pytest.mark.parametrize("stratified", [True, False])
def test_every_document_is_tested_exactly_once_and_splits_are_disjoint(stratified):
    docs = corpus(53)
    folds = fold_assignment(docs, 5, seed=13, stratified=stratified)
    assert sorted(i for fold in folds for i in fold) == sorted(d.id for d in docs)
    assert max(map(len, folds)) - min(map(len, folds)) <= (2 if stratified else 1)
    for k in range(1, 6):
        splits, dev_ids = fold_splits(docs, folds, k, seed=13)
        ids = {name: {d.id for d in split} for name, split in splits.items()}
        assert ids["test"] == set(folds[k - 1])
        assert not (ids["train"] & ids["dev"]) and not (ids["train"] | ids["dev"]) & ids["test"]
        assert ids["train"] | ids["dev"] | ids["test"] == {d.id for d in docs}
        assert sorted(ids["dev"]) == dev_ids and len(dev_ids) == round(0.1 * (len(docs) - len(folds[k - 1])))


def test_the_assignment_depends_on_the_documents_and_seed_only():
    docs = corpus(40)
    shuffled = docs[::-1]
    assert fold_assignment(docs, 4, seed=13) == fold_assignment(shuffled, 4, seed=13)
    assert fold_assignment(docs, 4, seed=13) != fold_assignment(docs, 4, seed=14)


def test_stratified_folds_share_out_a_rare_label():
    docs = corpus(200, seed=3)
    rare = {d.id for d in docs if any(e.label == "ADE" for e in d.entities)}
    per_fold = [len(rare & set(fold)) for fold in fold_assignment(docs, 5, seed=13, stratified=True)]
    assert max(per_fold) - min(per_fold) <= 1, per_fold
    plain = [len(rare & set(fold)) for fold in fold_assignment(docs, 5, seed=13, stratified=False)]
    assert sum(plain) == sum(per_fold) == len(rare)


def test_folds_need_two_folds_a_valid_fold_and_enough_documents():
    check_folds(None, None)
    for folds, fold, message in [(1, 1, "folds: expected an integer >= 2"), (5, 0, "fold: expected an integer from 1 to 5"),
                                 (5, 6, "fold: expected an integer from 1 to 5"), (None, 2, "folds: expected"),
                                 (True, 1, "folds: expected")]:
        with pytest.raises(ValueError, match=message):
            check_folds(folds, fold)
    with pytest.raises(ValueError, match="5 folds need at least 5 documents; the corpus has 3"):
        fold_assignment(corpus(3), 5, seed=1)
    with pytest.raises(ValueError, match="document ids must be unique"):
        fold_assignment(corpus(6) + corpus(6)[:1], 2, seed=1)


def test_a_corpus_loaded_by_fold_records_how(medner_root):
    from medner.corpus.registry import load_corpus

    whole = load_corpus("demo", demo_size=120)
    all_ids = {d.id for d in whole.documents()}
    tested = Counter()
    for fold in (1, 2, 3):
        part = load_corpus("demo", demo_size=120, folds=3, fold=fold)
        record = part.split_record
        assert record["method"] == "k-fold" and record["k"] == 3 and record["fold"] == fold and record["stratified"]
        assert record["pooled_from"]["method"] == whole.split_record["method"]
        assert {d.id for d in part.documents()} == all_ids and part.labels == whole.labels
        tested.update(d.id for d in part.splits["test"])
    assert set(tested) == all_ids and set(tested.values()) == {1}
