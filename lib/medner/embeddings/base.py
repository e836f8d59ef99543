"""The one interface every embedding family implements, and what they share.

A :class:`TokenEmbedder` turns sentences (lists of token strings) into one
float32 vector per token. Its ``fingerprint`` is the identity of the vectors it
produces: the sha256 of a canonical JSON of everything that changes them (the
family, the source's identity — a file's content hash, a model's config and
weights hash —, the tokenizer, layers, pooling, and :data:`EMBEDDING_CODE_VERSION`).
The disk cache (:mod:`medner.embeddings.cache`) is keyed by it, so two
embedders with the same fingerprint must give the same vectors, and anything
that could change a vector must change the fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

#: Bump whenever medner's own code changes the vectors an unchanged source gives
#: (lookup rules, pooling, windowing): every cached entry then misses.
EMBEDDING_CODE_VERSION = "1"

T = TypeVar("T")


class EmbeddingUnavailableError(RuntimeError):
    """An embedding's source cannot be had here (offline, missing file).

    The message is one sentence saying what to download and where to put it;
    the CLI prints it as it is.
    """


@dataclass
class OOVReport:
    """How the tokens of one split were found in a static vocabulary.

    ``stages`` counts tokens per lookup stage, in lookup order: ``exact``,
    ``lowercase``, ``digits`` (every digit replaced by 0) and ``unknown``
    (no stage matched: the one unknown vector). ``oov_rate`` is the share of
    tokens that got the unknown vector; ``unknown_types`` the most frequent of
    those token strings, for a look at what is missing.
    """

    tokens: int
    stages: dict[str, int]
    unknown_types: list[tuple[str, int]] = field(default_factory=list)

    @property
    def oov_rate(self) -> float:
        return self.stages.get("unknown", 0) / self.tokens if self.tokens else 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "tokens": self.tokens,
            "stages": dict(self.stages),
            "oov_rate": self.oov_rate,
            "unknown_types": [[word, count] for word, count in self.unknown_types],
        }


class TokenEmbedder(ABC):
    """Sentences of token strings in, one float32 vector per token out.

    Subclasses set ``name`` (a short label for reports), ``dim`` (vector size)
    and ``fingerprint`` (see the module docstring; build it with
    :func:`fingerprint_of`), as attributes or properties, and implement
    :meth:`embed`.
    """

    name: str
    dim: int
    fingerprint: str

    @abstractmethod
    def embed(self, sentences: list[list[str]]) -> list[np.ndarray]:
        """One array per sentence, float32, shape ``(n_tokens_i, dim)``, row k the vector of token k."""

    def oov_report(self, sentences: list[list[str]]) -> OOVReport | None:
        """How the tokens would be looked up; ``None`` for families without a vocabulary (contextual models)."""
        return None

    def describe(self) -> dict[str, Any]:
        """Name, class, dimension and fingerprint, for logs and metrics files."""
        return {"name": self.name, "class": type(self).__name__, "dim": self.dim, "fingerprint": self.fingerprint}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, fingerprint={self.fingerprint[:12]}...)"


def canonical_json(payload: Any) -> str:
    """JSON with sorted keys and no whitespace: the same payload always gives the same string."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def fingerprint_of(payload: dict[str, Any]) -> str:
    """sha256 hex of ``payload`` plus the medner embedding code version, as canonical JSON."""
    full = {"medner_embedding_code": EMBEDDING_CODE_VERSION, **payload}
    return hashlib.sha256(canonical_json(full).encode("utf-8")).hexdigest()


_FILE_HASHES: dict[tuple[str, int, int], str] = {}

#: Files up to this size are hashed whole; larger ones (GloVe 840B is 5.6 GB) by
#: their size and their first and last 16 MiB, which changes when a file is
#: replaced by another download or truncated, at a fraction of a second.
FULL_HASH_LIMIT = 512 * 1024 * 1024
_EDGE_BYTES = 16 * 1024 * 1024


def file_identity(path: str | Path) -> str:
    """A content hash of the file at ``path`` (memoised per size and mtime within the process).

    Independent of where the file lies, so a copied file keeps its identity.
    """
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _FILE_HASHES:
        return _FILE_HASHES[key]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        if stat.st_size <= FULL_HASH_LIMIT:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
            identity = f"sha256:{digest.hexdigest()}"
        else:
            digest.update(handle.read(_EDGE_BYTES))
            handle.seek(stat.st_size - _EDGE_BYTES)
            digest.update(handle.read(_EDGE_BYTES))
            identity = f"size={stat.st_size};sha256-edges:{digest.hexdigest()}"
    _FILE_HASHES[key] = identity
    return identity


def check_vectors(embedder_name: str, sentences: list[list[str]], vectors: list[np.ndarray], dim: int) -> None:
    """Raise ValueError unless ``vectors`` has one finite ``(len(sentence), dim)`` array per sentence."""
    if len(vectors) != len(sentences):
        raise ValueError(f"embedder {embedder_name!r} returned {len(vectors)} arrays for {len(sentences)} sentences")
    for index, (sentence, array) in enumerate(zip(sentences, vectors)):
        if array.shape != (len(sentence), dim):
            raise ValueError(
                f"embedder {embedder_name!r}: sentence {index} has {len(sentence)} tokens, expected an array of shape "
                f"({len(sentence)}, {dim}), got {array.shape}"
            )
        if not np.isfinite(array).all():
            raise ValueError(f"embedder {embedder_name!r}: sentence {index} has non-finite vector values")


def progress_bar(iterable: Iterable[T], *, total: int | None = None, desc: str = "", enabled: bool = True,
                 unit: str = "it") -> Iterator[T]:
    """A tqdm bar that redraws often in a terminal or JupyterLab and rarely in logs.

    In batch runs (stderr not a terminal, e.g. make or papermill writing a log)
    a bar is drawn at most every 30 seconds, so logs hold a few lines, not a
    flood of carriage returns.
    """
    if not enabled:
        yield from iterable
        return
    from tqdm.auto import tqdm

    interactive = sys.stderr.isatty() or "ipykernel" in sys.modules
    yield from tqdm(iterable, total=total, desc=desc, unit=unit, mininterval=0.1 if interactive else 30.0,
                    dynamic_ncols=True)
