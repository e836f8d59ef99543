"""Stacked embeddings: the concatenation of several embedders' vectors, for ablations.

The main study compares single families; a stack (e.g. GloVe + Flair, as in Akbik et al.
2018) answers whether families complement each other.
"""

from __future__ import annotations

import numpy as np

from medner.embeddings.base import TokenEmbedder, check_vectors, fingerprint_of


class StackedEmbedder(TokenEmbedder):
    """Concatenates the vectors of ``embedders``, in order: dim is the sum, name ``"a+b"``."""

    def __init__(self, embedders: list[TokenEmbedder]) -> None:
        embedders = list(embedders)
        if not embedders:
            raise ValueError("StackedEmbedder needs at least one embedder, got none")
        self.embedders = embedders
        self.name = "+".join(embedder.name for embedder in embedders)
        self.dim = sum(int(embedder.dim) for embedder in embedders)
        self.fingerprint = fingerprint_of(
            {"family": "stacked", "parts": [embedder.fingerprint for embedder in embedders]}
        )

    def embed(self, sentences: list[list[str]]) -> list[np.ndarray]:
        """One float32 array of shape (n_tokens, sum of the parts' dims) per sentence."""
        parts = [embedder.embed(sentences) for embedder in self.embedders]
        for embedder, vectors in zip(self.embedders, parts):
            check_vectors(embedder.name, sentences, vectors, embedder.dim)
        return [
            np.concatenate([vectors[i] for vectors in parts], axis=1).astype(np.float32, copy=False)
            for i in range(len(sentences))
        ]
