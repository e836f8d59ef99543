"""In-domain GloVe: word vectors trained on the corpus's own training text.

Implements the GloVe objective of Pennington, Socher and Manning (2014),
"GloVe: Global Vectors for Word Representation", EMNLP:

    J = sum over nonzero X_ij of f(X_ij) * (w_i . c_j + b_i + b~_j - log X_ij)^2,
    f(x) = (x / x_max)^alpha if x < x_max else 1,   x_max = 100, alpha = 0.75,

where X is the co-occurrence matrix counted over a symmetric window (10 words
each side by default) with each pair weighted 1/distance, as in the paper and
its reference code. Optimised with AdaGrad (initial rate 0.05, squared-gradient
accumulators starting at 1, as the reference ``glove.c``); the written vector
of a word is w_i + c_i, the paper's sum of word and context vectors.

Why our own implementation, and not a library: ``bicleaner-ai-glove`` 0.2.1 (a
maintained fork of glove-python with cp311 wheels) installs here, and
``tools/compare_glove.py`` trains both on the same tokens with the study's
hyperparameters. They fit equally well (J per off-diagonal co-occurrence 0.0112
both on PHEE's training text; 0.0138 ours, 0.0140 library on 640k tokens of
Vim's help text; 0.0211 ours, 0.0183 library on PHEE's text repeated 10 times),
the library on one thread is 5-25% faster (PHEE: 12.4-13.9 s against
12.8-17.9 s; Vim text: 41-44 s against 47 s; on two threads not reliably
faster on these 2 shared cores), and the 5 nearest neighbours of 12
frequent PHEE words share 3.5 of 5 between the two (two seeds of ours share
4.4). We keep ours because the library gives the same vectors for a seed only
on one thread (its lock-free threads change them from run to run, and the study
requires a seed to give the same numbers), ties word and context vectors and
skips a word's co-occurrences with itself (not the paper's model, whose
w_i + c_i we write), stores one word pair in several entries of its
co-occurrence matrix (33k of its 233k on PHEE, so it fits logs of partial counts
unless they are summed first) and reports no loss per epoch; ours is the
paper's model, deterministic for any thread count, pure numpy + scipy, and
tested against a brute-force evaluation of the objective.

The reference code updates one entry at a time with lock-free threads; here the
shuffled nonzero entries are processed in vectorised mini-batches (gradients of
repeated rows within a batch are summed before the AdaGrad step), which keeps
it deterministic for a seed and fast in numpy: the demo corpus trains in
seconds, PHEE's training text in well under a minute on 2 cores.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from medner.embeddings.base import progress_bar
from medner.embeddings.static import normalise_digits

log = logging.getLogger(__name__)


@dataclass
class GloveConfig:
    """Hyperparameters of in-domain GloVe (paper values unless noted)."""

    dim: int = 100  # vector size
    window: int = 10  # words each side counted as context (paper: 10)
    x_max: float = 100.0  # weighting cut-off (paper: 100)
    alpha: float = 0.75  # weighting exponent (paper: 3/4)
    epochs: int = 50  # passes over the nonzero entries (paper: 50 below 300 dimensions)
    learning_rate: float = 0.05  # AdaGrad initial rate (reference glove.c: 0.05)
    min_count: int = 1  # words seen fewer times are left out (the lookup gives them the unknown vector)
    batch_size: int = 2048  # nonzero entries per vectorised AdaGrad step
    normalise_digits: bool = False  # train on text with every digit replaced by 0
    lowercase: bool = False  # train on lowercased text
    seed: int = 0  # initialisation and shuffling


@dataclass
class GloveModel:
    """Trained parameters. ``vectors`` (V, dim) = word + context vectors; ``losses`` the mean J per entry per epoch."""

    words: list[str]
    word_vectors: np.ndarray
    context_vectors: np.ndarray
    word_bias: np.ndarray
    context_bias: np.ndarray
    losses: list[float] = field(default_factory=list)

    @property
    def vectors(self) -> np.ndarray:
        return (self.word_vectors + self.context_vectors).astype(np.float32)


def prepare_tokens(sentences: list[list[str]], config: GloveConfig) -> list[list[str]]:
    """Apply the config's text normalisation (digits, case) to every token."""
    if not (config.normalise_digits or config.lowercase):
        return sentences
    out = []
    for sentence in sentences:
        tokens = [token.lower() for token in sentence] if config.lowercase else list(sentence)
        out.append([normalise_digits(token) for token in tokens] if config.normalise_digits else tokens)
    return out


def build_vocabulary(sentences: list[list[str]], min_count: int = 1) -> list[str]:
    """Words seen at least ``min_count`` times, most frequent first (ties alphabetical, so the order is stable)."""
    counts = Counter(token for sentence in sentences for token in sentence)
    kept = [(word, count) for word, count in counts.items() if count >= min_count]
    return [word for word, _ in sorted(kept, key=lambda item: (-item[1], item[0]))]


def cooccurrence_matrix(sentences: list[list[str]], vocabulary: list[str], window: int = 10) -> sp.csr_matrix:
    """The symmetric co-occurrence matrix X (V, V): X_ij = sum over pairs at distance d <= window of 1/d.

    Context does not cross sentence boundaries; words outside ``vocabulary``
    are dropped before counting (as the reference code does).
    """
    index = {word: i for i, word in enumerate(vocabulary)}
    ids, sentence_ids = [], []
    for number, sentence in enumerate(sentences):
        kept = [index[token] for token in sentence if token in index]
        ids.extend(kept)
        sentence_ids.extend([number] * len(kept))
    ids_arr = np.asarray(ids, dtype=np.int64)
    sent_arr = np.asarray(sentence_ids, dtype=np.int64)
    rows, cols, weights = [], [], []
    for distance in range(1, window + 1):
        same = sent_arr[:-distance] == sent_arr[distance:] if len(ids_arr) > distance else np.zeros(0, bool)
        left, right = ids_arr[:-distance][same], ids_arr[distance:][same]
        weight = np.full(len(left), 1.0 / distance)
        rows += [left, right]
        cols += [right, left]
        weights += [weight, weight]
    size = len(vocabulary)
    if not rows:
        return sp.csr_matrix((size, size))
    matrix = sp.coo_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(size, size))
    return matrix.tocsr()  # sums duplicate (i, j) pairs


def weighting(values: np.ndarray, x_max: float = 100.0, alpha: float = 0.75) -> np.ndarray:
    """f(x) = (x / x_max)^alpha, capped at 1."""
    return np.minimum(1.0, (values / x_max) ** alpha)


def glove_objective(word_vectors: np.ndarray, context_vectors: np.ndarray, word_bias: np.ndarray,
                    context_bias: np.ndarray, cooccurrence: sp.spmatrix, *, x_max: float = 100.0,
                    alpha: float = 0.75) -> float:
    """J = sum over nonzero X_ij of f(X_ij) (w_i . c_j + b_i + b~_j - log X_ij)^2 (no 1/2 factor, as in the paper)."""
    coo = sp.coo_matrix(cooccurrence)
    diff = (np.einsum("nd,nd->n", word_vectors[coo.row], context_vectors[coo.col]) + word_bias[coo.row]
            + context_bias[coo.col] - np.log(coo.data))
    return float(np.sum(weighting(coo.data, x_max, alpha) * diff**2))


def train_glove(cooccurrence: sp.spmatrix, words: list[str], config: GloveConfig | None = None, *,
                progress: bool = True) -> GloveModel:
    """Fit GloVe to ``cooccurrence`` (V, V) with AdaGrad; returns the parameters and the loss per epoch.

    The loss of an epoch is J / nnz summed over the batches as they are met
    (each before its own update), as the reference code prints it.
    """
    config = config or GloveConfig()
    coo = sp.coo_matrix(cooccurrence)
    rows, cols = coo.row.astype(np.int64), coo.col.astype(np.int64)
    log_x = np.log(coo.data).astype(np.float32)
    f_x = weighting(coo.data, config.x_max, config.alpha).astype(np.float32)
    size, dim = len(words), config.dim
    rng = np.random.default_rng(config.seed)
    # Biases ride along as extra columns so one gather and one scatter serve vector and bias:
    # word row = [w_i, b_i, 1], context row = [c_j, 1, b~_j], so their dot is w_i . c_j + b_i + b~_j.
    # shape: (V, dim + 2) each; reference initialisation uniform in [-0.5, 0.5] / dim.
    word = ((rng.random((size, dim + 2)) - 0.5) / dim).astype(np.float32)
    context = ((rng.random((size, dim + 2)) - 0.5) / dim).astype(np.float32)
    word[:, dim + 1] = 1.0
    context[:, dim] = 1.0
    word_sq = np.ones_like(word)
    context_sq = np.ones_like(context)
    rate = np.float32(config.learning_rate)
    losses: list[float] = []
    nnz = len(rows)
    # Preallocated work buffers: fresh large temporaries per batch cost more in page faults than the arithmetic.
    width, cap = dim + 2, max(1, min(config.batch_size, nnz))
    gathered = {"word": np.empty((cap, width), np.float32), "context": np.empty((cap, width), np.float32)}
    scratch, current = np.empty((cap, width), np.float32), np.empty((cap, width), np.float32)
    ones = np.ones(cap, np.float32)
    residual, weighted = np.empty(cap, np.float32), np.empty(cap, np.float32)
    for epoch in progress_bar(range(config.epochs), total=config.epochs, desc="GloVe epochs", enabled=progress,
                              unit="epoch"):
        order = rng.permutation(nnz)
        total = 0.0
        for start in range(0, nnz, config.batch_size):
            batch = order[start:start + config.batch_size]
            n = len(batch)
            i, j = rows[batch], cols[batch]
            w_i = np.take(word, i, axis=0, out=gathered["word"][:n], mode="clip")  # shape: (n, dim + 2)
            c_j = np.take(context, j, axis=0, out=gathered["context"][:n], mode="clip")
            diff = np.einsum("nd,nd->n", w_i, c_j, out=residual[:n])
            diff -= log_x[batch]
            f_diff = np.multiply(f_x[batch], diff, out=weighted[:n])
            total += float(np.dot(f_diff, diff))
            np.clip(f_diff, -100.0, 100.0, out=f_diff)  # the reference code's gradient clipping
            # Gradients in place: d/dw_i = f_diff * c_j, d/dc_j = f_diff * w_i (both computed from the old values).
            c_j *= f_diff[:, None]
            w_i *= f_diff[:, None]
            for table, squares, index, grad, constant in ((word, word_sq, i, c_j, dim + 1),
                                                          (context, context_sq, j, w_i, dim)):
                by_row = np.argsort(index, kind="stable")
                index_sorted = index[by_row]
                starts = np.flatnonzero(np.r_[True, index_sorted[1:] != index_sorted[:-1]])
                unique, u = index_sorted[starts], len(starts)
                # Summed gradient per row: a (u, n) 0/1 matrix times the (n, dim + 2) gradients, in scipy's C loop.
                summer = sp.csr_matrix((ones[:n], by_row, np.append(starts, n)), shape=(u, n))
                step = summer @ grad
                accumulated = np.take(squares, unique, axis=0, out=current[:u], mode="clip")
                accumulated += np.square(step, out=scratch[:u])
                squares[unique] = accumulated
                step /= np.sqrt(accumulated, out=scratch[:u])
                step *= rate
                values = np.take(table, unique, axis=0, out=current[:u], mode="clip")
                values -= step
                values[:, constant] = 1.0  # the constant column is not a parameter
                table[unique] = values
        losses.append(total / max(nnz, 1))
        log.debug("GloVe epoch %d: mean loss %.5f", epoch + 1, losses[-1])
    return GloveModel(words=list(words), word_vectors=word[:, :dim].copy(), context_vectors=context[:, :dim].copy(),
                      word_bias=word[:, dim].copy(), context_bias=context[:, dim + 1].copy(), losses=losses)


def write_glove_text(words: list[str], vectors: np.ndarray, path: str | Path) -> Path:
    """Write GloVe's text format (``word v1 ... vd`` per line, no header), which :class:`StaticEmbedder` reads."""
    path = Path(path)
    with open(path, "w", encoding="utf-8") as handle:
        for word, vector in zip(words, vectors):
            if not word or any(ch.isspace() for ch in word):
                raise ValueError(f"cannot write word {word!r} to {path}: GloVe text format separates fields by spaces")
            handle.write(word + " " + " ".join(f"{value:.6f}" for value in vector) + "\n")
    return path


def train_glove_vectors(sentences: list[list[str]], out_path: str | Path, config: GloveConfig | None = None, *,
                        progress: bool = True) -> dict:
    """Count co-occurrences in ``sentences``, fit GloVe, write ``out_path``; returns a summary for the record."""
    config = config or GloveConfig()
    started = time.perf_counter()
    tokens = prepare_tokens(sentences, config)
    vocabulary = build_vocabulary(tokens, config.min_count)
    if not vocabulary:
        raise ValueError("cannot train GloVe: the training text has no words")
    matrix = cooccurrence_matrix(tokens, vocabulary, config.window)
    counted = time.perf_counter()
    model = train_glove(matrix, vocabulary, config, progress=progress)
    write_glove_text(vocabulary, model.vectors, out_path)
    seconds = time.perf_counter() - started
    log.info("trained in-domain GloVe: %d words, %d nonzero co-occurrences, %.1f s", len(vocabulary), matrix.nnz, seconds)
    return {
        "config": asdict(config),
        "sentences": len(sentences),
        "tokens": sum(len(s) for s in sentences),
        "vocabulary": len(vocabulary),
        "nonzero_cooccurrences": int(matrix.nnz),
        "losses": model.losses,
        "seconds_counting": counted - started,
        "seconds": seconds,
    }
