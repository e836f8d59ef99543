"""StackedEmbedder: concatenation in order, name and fingerprint from the parts."""

from __future__ import annotations

import numpy as np
import pytest

from medner.embeddings.base import TokenEmbedder, fingerprint_of
from medner.embeddings.stacked import StackedEmbedder


class LengthEmbedder(TokenEmbedder):
    """A deterministic toy embedder: each token's vector is its length times a per-embedder offset."""

    def __init__(self, name: str, dim: int, scale: float, *, broken: bool = False) -> None:
        self.name, self.dim, self.scale, self.broken = name, dim, scale, broken
        self.fingerprint = fingerprint_of({"toy": name, "dim": dim, "scale": scale})

    def embed(self, sentences: list[list[str]]) -> list[np.ndarray]:
        out = [np.outer([len(t) for t in s], np.arange(1, self.dim + 1) * self.scale).reshape(len(s), self.dim)
               .astype(np.float32) for s in sentences]
        return out[:-1] if self.broken else out


def test_concatenates_in_order():
    a, b = LengthEmbedder("a", 2, 1.0), LengthEmbedder("b", 3, 10.0)
    stacked = StackedEmbedder([a, b])
    assert stacked.name == "a+b" and stacked.dim == 5
    sentences = [["aspirin", "5", "mg"], []]
    vectors = stacked.embed(sentences)
    assert [v.shape for v in vectors] == [(3, 5), (0, 5)]
    assert vectors[0].dtype == np.float32
    np.testing.assert_array_equal(vectors[0][:, :2], a.embed(sentences)[0])
    np.testing.assert_array_equal(vectors[0][:, 2:], b.embed(sentences)[0])


def test_fingerprint_depends_on_parts_and_their_order():
    a, b, c = LengthEmbedder("a", 2, 1.0), LengthEmbedder("b", 3, 10.0), LengthEmbedder("b", 3, 11.0)
    assert StackedEmbedder([a, b]).fingerprint == StackedEmbedder([a, b]).fingerprint
    assert StackedEmbedder([a, b]).fingerprint != StackedEmbedder([b, a]).fingerprint
    assert StackedEmbedder([a, b]).fingerprint != StackedEmbedder([a, c]).fingerprint
    assert StackedEmbedder([a]).fingerprint != a.fingerprint


def test_refuses_nothing_and_broken_parts():
    with pytest.raises(ValueError, match="at least one"):
        StackedEmbedder([])
    with pytest.raises(ValueError, match="returned 1 arrays for 2 sentences"):
        StackedEmbedder([LengthEmbedder("a", 2, 1.0), LengthEmbedder("x", 2, 1.0, broken=True)]).embed([["a"], ["b"]])
