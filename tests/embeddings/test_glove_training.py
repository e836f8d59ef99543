"""In-domain GloVe: co-occurrence counting, the objective against brute force, learning, and the written file."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from medner.embeddings.glove_training import (
    GloveConfig,
    build_vocabulary,
    cooccurrence_matrix,
    glove_objective,
    train_glove,
    train_glove_vectors,
    weighting,
)
from medner.embeddings.static import StaticEmbedder


def synthetic_corpus(seed: int = 0, n: int = 600) -> list[list[str]]:
    """'aspirin' and 'ibuprofen' share every context; 'purple' and 'green' share another, disjoint one."""
    rng = np.random.default_rng(seed)
    drugs, colours = ["aspirin", "ibuprofen"], ["purple", "green"]
    sentences = []
    for _ in range(n):
        if rng.random() < 0.5:
            sentences.append(["take", str(rng.choice(drugs)), "tablet", "daily", "with", "food"])
        else:
            sentences.append(["the", "wall", "was", "painted", str(rng.choice(colours)), "yesterday"])
    return sentences


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_cooccurrence_counts_pairs_by_inverse_distance_within_sentences():
    sentences = [["a", "b", "c"], ["c", "a"]]
    vocab = ["a", "b", "c"]
    dense = cooccurrence_matrix(sentences, vocab, window=2).toarray()
    expected = np.zeros((3, 3))
    for s in sentences:
        for p, left in enumerate(s):
            for q in range(p + 1, min(len(s), p + 3)):
                i, j = vocab.index(left), vocab.index(s[q])
                expected[i, j] += 1 / (q - p)
                expected[j, i] += 1 / (q - p)
    np.testing.assert_allclose(dense, expected)
    assert dense[0, 2] == 0.5 + 1.0  # "a c" at distance 2 in the first sentence, "c a" adjacent in the second
    # window 1 drops the distance-2 pair; no pair crosses the sentence boundary ("c" of s1 and "c" of s2)
    assert cooccurrence_matrix(sentences, vocab, window=1).toarray()[2, 2] == 0


def test_objective_matches_brute_force_dense_sum():
    rng = np.random.default_rng(1)
    size, dim = 5, 3
    dense = rng.random((size, size)) * 150
    dense[dense < 60] = 0  # some zeros (skipped) and some counts above x_max (weight 1)
    w, c = rng.normal(size=(size, dim)), rng.normal(size=(size, dim))
    bw, bc = rng.normal(size=size), rng.normal(size=size)
    brute = 0.0
    for i in range(size):
        for j in range(size):
            x = dense[i, j]
            if x > 0:
                f = (x / 100.0) ** 0.75 if x < 100.0 else 1.0
                brute += f * (w[i] @ c[j] + bw[i] + bc[j] - np.log(x)) ** 2
    assert np.isclose(glove_objective(w, c, bw, bc, sp.csr_matrix(dense)), brute)
    assert weighting(np.array([100.0, 250.0, 50.0])).tolist() == [1.0, 1.0, 0.5**0.75]


def test_training_lowers_the_objective_and_groups_words_with_identical_contexts():
    sentences = synthetic_corpus()
    vocab = build_vocabulary(sentences)
    matrix = cooccurrence_matrix(sentences, vocab, window=5)
    config = GloveConfig(dim=10, epochs=40, batch_size=64, seed=3)
    model = train_glove(matrix, vocab, config, progress=False)
    assert model.losses[-1] < 0.5 * model.losses[0]
    initial = train_glove(matrix, vocab, GloveConfig(dim=10, epochs=0, seed=3), progress=False)
    before = glove_objective(initial.word_vectors, initial.context_vectors, initial.word_bias, initial.context_bias, matrix)
    after = glove_objective(model.word_vectors, model.context_vectors, model.word_bias, model.context_bias, matrix)
    assert after < 0.1 * before
    vec = dict(zip(vocab, model.vectors))
    same = cosine(vec["aspirin"], vec["ibuprofen"])
    assert same > cosine(vec["aspirin"], vec["purple"]) + 0.3
    assert same > cosine(vec["aspirin"], vec["green"]) + 0.3
    assert cosine(vec["purple"], vec["green"]) > cosine(vec["green"], vec["tablet"]) + 0.3


def test_same_seed_same_vectors_and_written_file_loads(tmp_path):
    sentences = synthetic_corpus(n=100)
    config = GloveConfig(dim=8, epochs=5, seed=7, normalise_digits=True)
    first = train_glove_vectors(sentences + [["dose", "25mg"]], tmp_path / "a.txt", config, progress=False)
    train_glove_vectors(sentences + [["dose", "25mg"]], tmp_path / "b.txt", config, progress=False)
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes()
    assert first["vocabulary"] == len(build_vocabulary(sentences)) + 2
    embedder = StaticEmbedder(tmp_path / "a.txt")
    assert embedder.dim == 8 and embedder.vocabulary_size == first["vocabulary"]
    # trained on digit-normalised text: "40mg" is found through the digits stage
    assert embedder.lookup("40mg")[1] == "digits"
    assert embedder.lookup("aspirin")[1] == "exact"
