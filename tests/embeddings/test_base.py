"""The embedder interface: fingerprints, file identity, vector checks."""

from __future__ import annotations

import numpy as np
import pytest

from medner.embeddings.base import (
    EMBEDDING_CODE_VERSION,
    EmbeddingUnavailableError,
    TokenEmbedder,
    check_vectors,
    file_identity,
    fingerprint_of,
)


def test_fingerprint_is_canonical_and_sensitive():
    a = fingerprint_of({"family": "bert", "layers": "last4", "pooling": "first"})
    assert a == fingerprint_of({"pooling": "first", "layers": "last4", "family": "bert"})  # key order is irrelevant
    assert a != fingerprint_of({"family": "bert", "layers": "last", "pooling": "first"})
    assert len(a) == 64 and int(a, 16) >= 0
    assert EMBEDDING_CODE_VERSION  # part of every fingerprint


def test_file_identity_follows_content_not_location(tmp_path):
    first, copy, other = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt"
    first.write_text("the 0.1 0.2\n")
    copy.write_text("the 0.1 0.2\n")
    other.write_text("the 0.1 0.3\n")
    assert file_identity(first) == file_identity(copy) != file_identity(other)


def test_check_vectors_rejects_wrong_shapes_and_nan():
    sentences = [["a", "b"], ["c"]]
    good = [np.zeros((2, 3), np.float32), np.ones((1, 3), np.float32)]
    check_vectors("x", sentences, good, 3)
    with pytest.raises(ValueError, match="sentence 1 has 1 tokens"):
        check_vectors("x", sentences, [good[0], np.ones((2, 3), np.float32)], 3)
    with pytest.raises(ValueError, match="returned 1 arrays for 2 sentences"):
        check_vectors("x", sentences, good[:1], 3)
    bad = good[0].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        check_vectors("x", sentences, [bad, good[1]], 3)


def test_interface_needs_embed_and_unavailable_error_is_runtime_error():
    class Incomplete(TokenEmbedder):
        pass

    with pytest.raises(TypeError):
        Incomplete()
    assert issubclass(EmbeddingUnavailableError, RuntimeError)
