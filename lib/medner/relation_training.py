"""Training and running the relation models (:mod:`medner.model.relations`) on cached token vectors.

Inputs
------
A split's sentences and vectors are those of the NER run (:func:`medner.runs.prepare_inputs`).
Relations link entities of one document, possibly in neighbouring sentences, so a batch here
is a group of **whole documents**: the documents are shuffled each epoch and taken in that
order until a batch holds at least ``batch_size`` sentences (a longer document is a batch of
its own). :func:`document_pairs` lays out, for each document, its sentences and its candidate
pairs (:func:`medner.corpus.candidates.candidate_pairs`) as token indices; :class:`PairBatch`
holds those of one batch.

An argument's tokens are the tokens its outer extent overlaps (a discontinuous entity covers
its gap, as in tagging). An entity that overlaps no token (only whitespace) cannot be an
argument; it is counted in :attr:`Layout.unrepresented`, and so is every gold relation it
takes with it.

Schedule
--------
The NER training schedule (:mod:`medner.training`: SGD 0.1, gradient norm 5, the learning rate
halved after more than 3 epochs without dev improvement, best dev epoch kept), with the dev
score the run gives: relation F1 with gold entities for the pipeline's relation model, the mean
of that and NER strict micro-F1 for the shared model (one epoch has to serve both heads).
"""

from __future__ import annotations

import bisect
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from medner.corpus.candidates import Candidate, candidate_pairs
from medner.corpus.document import Document, Relation, Sentence
from medner.model.relations import MAX_SENTENCE_DISTANCE, PairBatch, distance_bucket
from medner.training import (EpochRecord, PackedVectors, TrainingConfig, TrainingResult, _epoch_bar, _PlateauSchedule,
                             _report_epoch, loops_of, optimise, set_seeds, step_products_of)

#: The columns of :attr:`DocumentPairs.arrays`, in order (the fields of :class:`PairBatch`).
PAIR_FIELDS: tuple[str, ...] = ("attribute_first", "attribute_last", "drug_first", "drug_last", "attribute_label",
                                "distance", "sentences_apart", "gold")


@dataclass
class DocumentPairs:
    """One document's sentences and candidate pairs.

    ``sentences``: indices of its sentences in the split's sentence list, in order; ``n_tokens``: their tokens;
    ``candidates``: the pairs scored; ``arrays``: (pairs, len(PAIR_FIELDS)) int64, token indices counted from
    the document's first token.
    """

    doc: Document
    sentences: list[int]
    n_tokens: int
    candidates: list[Candidate]
    arrays: np.ndarray


@dataclass
class Layout:
    """The :class:`DocumentPairs` of every document of a split, and what could not be laid out."""

    documents: list[DocumentPairs]
    unrepresented: Counter = field(default_factory=Counter)  # "entities" / "relations" per label or type


def relation_types(docs: Sequence[Document]) -> list[str]:
    """The relation types of ``docs`` in the n2c2 order (others after, alphabetically): the classes 1..n."""
    from medner.corpus.tagging import relation_type_key

    return sorted({relation.type for doc in docs for relation in doc.relations}, key=relation_type_key)


def allowed_classes(labels: Sequence[str], types: Sequence[str]) -> torch.Tensor:
    """(labels, types + 1) bool: "none" always, and for an attribute label ``X`` the type ``X-Drug`` when the
    corpus has it; a label with no such type may take every type (a corpus that names its types otherwise)."""
    allowed = torch.zeros(len(labels), len(types) + 1, dtype=torch.bool)
    allowed[:, 0] = True
    for i, label in enumerate(labels):
        own = [j + 1 for j, relation_type in enumerate(types) if relation_type == f"{label}-Drug"]
        allowed[i, own if own else slice(1, None)] = True
    return allowed


def _token_span(starts: list[int], ends: list[int], start: int, end: int) -> tuple[int, int] | None:
    """First and last token (indices into the document's tokens) that ``[start, end)`` overlaps; None if none."""
    first = bisect.bisect_right(ends, start)
    last = bisect.bisect_left(starts, end) - 1
    return (first, last) if first <= last else None


def document_pairs(docs: Sequence[Document], sentences: Sequence[Sentence], labels: Sequence[str],
                   types: Sequence[str], window: int) -> Layout:
    """The layout of every document of ``docs`` (entities and relations as the documents carry them: gold,
    or predicted end to end) over ``sentences`` (the split's tagged sentences, grouped by document)."""
    by_doc: dict[str, list[int]] = {}
    for i, sentence in enumerate(sentences):
        by_doc.setdefault(sentence.doc_id, []).append(i)
    label_index = {label: i for i, label in enumerate(labels)}
    type_index = {relation_type: i + 1 for i, relation_type in enumerate(types)}
    layout = Layout(documents=[])
    for doc in docs:
        indices = by_doc.get(doc.id, [])
        tokens = [token for i in indices for token in sentences[i].tokens]
        spans = {entity.id: _token_span([t.start for t in tokens], [t.end for t in tokens], entity.start, entity.end)
                 for entity in doc.entities}
        for entity in doc.entities:
            if spans[entity.id] is None:
                layout.unrepresented[f"entity {entity.label}"] += 1
        for relation in doc.relations:
            if spans.get(relation.arg1) is None or spans.get(relation.arg2) is None:
                layout.unrepresented[f"relation {relation.type}"] += 1
        gold = {(r.arg1, r.arg2): type_index.get(r.type, 0) for r in doc.relations}
        kept = [c for c in candidate_pairs(doc, window=window)
                if spans[c.attribute.id] is not None and spans[c.drug.id] is not None]
        rows = [_pair_row(c, spans[c.attribute.id], spans[c.drug.id], label_index, gold) for c in kept]
        arrays = np.array(rows, dtype=np.int64).reshape(len(rows), len(PAIR_FIELDS))
        layout.documents.append(DocumentPairs(doc, indices, len(tokens), kept, arrays))
    return layout


def _pair_row(candidate: Candidate, attribute: tuple[int, int], drug: tuple[int, int], label_index: dict[str, int],
              gold: dict[tuple[str, str], int]) -> list[int]:
    drug_before = drug[1] < attribute[0]
    gap = attribute[0] - drug[1] - 1 if drug_before else max(drug[0] - attribute[1] - 1, 0)
    if candidate.attribute.label not in label_index:
        raise ValueError(f"entity {candidate.attribute.id}: label {candidate.attribute.label!r} is not one of the "
                         f"model's labels {list(label_index)}")
    return [attribute[0], attribute[1], drug[0], drug[1], label_index[candidate.attribute.label],
            distance_bucket(gap, drug_before), min(candidate.distance, MAX_SENTENCE_DISTANCE),
            gold.get((candidate.attribute.id, candidate.drug.id), 0)]


def pair_batch(layout: Layout, batch: Sequence[int]) -> tuple[list[int], PairBatch]:
    """The sentence indices of the documents ``batch`` (indices into ``layout.documents``), in order, and their
    pairs with token indices counted from the first token of the batch."""
    sentences: list[int] = []
    parts = []
    offset = 0
    for d in batch:
        document = layout.documents[d]
        sentences.extend(document.sentences)
        shifted = document.arrays.copy()
        shifted[:, :4] += offset
        parts.append(shifted)
        offset += document.n_tokens
    arrays = np.concatenate(parts) if parts else np.zeros((0, len(PAIR_FIELDS)), dtype=np.int64)
    columns = torch.from_numpy(np.ascontiguousarray(arrays.T))
    return sentences, PairBatch(*columns)


def document_batches(layout: Layout, batch_size: int, order: Sequence[int]) -> list[list[int]]:
    """Documents in ``order`` grouped into batches of at least ``batch_size`` sentences (the last may hold fewer);
    documents without sentences are left out (they have nothing to encode and no pair)."""
    batches, current, sentences = [], [], 0
    for d in order:
        n = len(layout.documents[d].sentences)
        if n == 0:
            continue
        current.append(int(d))
        sentences += n
        if sentences >= batch_size:
            batches.append(current)
            current, sentences = [], 0
    if current:
        batches.append(current)
    return batches


@dataclass
class RelationPredictions:
    """What a model predicts on a split: tags per sentence (shared model only) and a class per candidate, per document."""

    tags: list[list[int]] | None
    classes: list[list[int]]


def predict_split(model, vectors: PackedVectors, layout: Layout, *, batch_size: int = 64,
                  allowed: torch.Tensor | None = None) -> RelationPredictions:
    """Classes of every candidate of ``layout`` (and, for the shared model, the tags of every sentence)."""
    model.eval()
    tags: list[list[int] | None] = [None] * len(vectors)
    classes: list[list[int]] = [[] for _ in layout.documents]
    with torch.no_grad():
        for batch in document_batches(layout, batch_size, range(len(layout.documents))):
            sentences, pairs = pair_batch(layout, batch)
            x, lengths, mask, _ = vectors.batch(sentences)
            predicted_tags, predicted = model.predict(x, lengths, mask, pairs, allowed)
            if predicted_tags is not None:
                for i, row in zip(sentences, predicted_tags):
                    tags[i] = row
            start = 0
            for d in batch:
                n = len(layout.documents[d].candidates)
                classes[d] = predicted[start:start + n]
                start += n
    joint = any(row is not None for row in tags)
    return RelationPredictions(tags=[row or [] for row in tags] if joint else None, classes=classes)


def relations_of(layout: Layout, classes: list[list[int]], types: Sequence[str]) -> list[Document]:
    """The documents of ``layout`` with the relations their candidates' classes give (ids ``R1``, ``R2``, ...)."""
    out = []
    for document, doc_classes in zip(layout.documents, classes):
        relations = [Relation(f"R{k}", types[c - 1], candidate.attribute.id, candidate.drug.id)
                     for k, (candidate, c) in enumerate(((cand, c) for cand, c in zip(document.candidates, doc_classes)
                                                          if c > 0), start=1)]
        doc = document.doc
        out.append(Document(id=doc.id, text=doc.text, entities=list(doc.entities), source=None, relations=relations))
    return out


def relation_f1_by_id(gold: Sequence[Document], predicted: Sequence[Document]) -> float:
    """Micro-F1 of predicted relations over the same entities as the gold (ids compared): the dev score of
    relation extraction with gold entities."""
    tp = fp = fn = 0
    for g, p in zip(gold, predicted):
        gold_set = {(r.arg1, r.arg2, r.type) for r in g.relations}
        pred_set = {(r.arg1, r.arg2, r.type) for r in p.relations}
        tp += len(gold_set & pred_set)
        fp += len(pred_set - gold_set)
        fn += len(gold_set - pred_set)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


#: Receives the dev predictions, returns the dev score to maximise.
RelationDevScorer = Callable[[RelationPredictions], float]


def train_relation_model(model, train_vectors: PackedVectors, train_layout: Layout, dev_vectors: PackedVectors,
                         dev_layout: Layout, dev_scorer: RelationDevScorer, config: TrainingConfig, *,
                         train_tags: torch.Tensor | None = None, allowed: torch.Tensor | None = None,
                         progress: str = "lines", log: Callable[[str], None] = print) -> TrainingResult:
    """Train ``model`` (a relation model of :mod:`medner.model.relations`) in place; the weights of its best dev
    epoch are loaded back. ``train_tags``: the gold tag of every row of ``train_vectors.flat`` (the shared model's
    NER loss; None for the pipeline's relation model). Threads and determinism as :func:`medner.training.train_tagger`."""
    from medner.training import resolve_progress, training_context

    mode = resolve_progress(progress)  # type: ignore[arg-type]
    with training_context(config.num_threads) as threads:
        return _train(model, train_vectors, train_layout, dev_vectors, dev_layout, dev_scorer, config, train_tags,
                      allowed, mode, log, threads)


def _epoch(model, optimiser, vectors: PackedVectors, layout: Layout, batches, train_tags, config, bar) -> float:
    """One pass over ``batches`` of training documents; returns the summed loss."""
    model.train()
    total = 0.0
    for batch in batches:
        sentences, pairs = pair_batch(layout, batch)
        x, lengths, mask, positions = vectors.batch(sentences)
        optimiser.zero_grad(set_to_none=True)
        loss = model.loss(x, lengths, mask, pairs, None if train_tags is None else train_tags[positions])
        total += optimise(model, optimiser, loss, config.max_grad_norm)
        if bar is not None:
            bar.update(1)
    return total


def _train(model, train_vectors, train_layout, dev_vectors, dev_layout, dev_scorer, config, train_tags, allowed, mode,
           log, threads) -> TrainingResult:
    seeds = set_seeds(config.seed)
    rng = np.random.default_rng(config.seed)
    model.set_compute(config.implementation, config.precision)
    loops = loops_of(model)
    optimiser = torch.optim.SGD(model.parameters(), lr=config.learning_rate)
    schedule = _PlateauSchedule(model, optimiser, config)
    n_pairs = sum(len(d.candidates) for d in train_layout.documents)
    n_tokens = int(train_vectors.lengths.sum())
    history, train_seconds, start_all = [], 0.0, time.perf_counter()
    for epoch in range(1, config.max_epochs + 1):
        start = time.perf_counter()
        batches = document_batches(train_layout, config.batch_size, rng.permutation(len(train_layout.documents)))
        bar = _epoch_bar(epoch, len(batches)) if mode == "bar" else None
        total = _epoch(model, optimiser, train_vectors, train_layout, batches, train_tags, config, bar)
        train_seconds += time.perf_counter() - start
        predictions = predict_split(model, dev_vectors, dev_layout, batch_size=config.eval_batch_size, allowed=allowed)
        dev = float(dev_scorer(predictions))
        # the loss per training pair (pipeline) or per training token (shared, as the tagger reports it)
        record = EpochRecord(epoch, total / max(n_tokens if train_tags is not None else n_pairs, 1), dev,
                             schedule.lr, time.perf_counter() - start)
        history.append(record)
        _report_epoch(record, bar, mode, log)
        if not schedule.step(epoch, dev):
            break
    seconds = time.perf_counter() - start_all
    model.load_state_dict(schedule.best_state)
    return TrainingResult(history=history, best_epoch=schedule.best_epoch, best_dev_f1=schedule.best_f1,
                          best_state=schedule.best_state, seconds=seconds, epochs=len(history),
                          seconds_per_epoch=seconds / len(history),
                          tokens_per_second=n_tokens * len(history) / train_seconds if train_seconds > 0 else float("nan"),
                          trainable_parameters=model.trainable_parameters(), num_threads=threads, seeds=seeds,
                          stopped_because=schedule.stopped, kernels=loops, step_products=step_products_of(model, loops))
