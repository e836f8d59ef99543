"""Static word vectors (GloVe, word2vec, fastText-as-text, gensim) through gensim ``KeyedVectors``.

Sources: a GloVe ``.txt`` without header, a word2vec ``.txt``/``.vec`` (header
line ``<count> <dim>``, also gzipped) or ``.bin``, a gensim ``.kv`` file, or a
gensim-data name (``glove-wiki-gigaword-100``), which must already sit in
gensim's data folder: offline, gensim's downloader cannot fetch it.

Out-of-vocabulary lookup, in this order, the first hit wins:

1. ``exact``: the token as it is;
2. ``lowercase``: the token lowercased (GloVe 6B is lowercased; in-domain
   vectors keep case);
3. ``digits``: every digit replaced by ``0``, first on the token as it is,
   then lowercased — as Lample et al. (2016) and many NER systems normalise
   numbers, so an unseen dose "35mg" can meet "00mg" (in-domain GloVe is
   trained on digit-normalised text for this reason, see ``embeddings/glove.yaml``);
4. ``unknown``: one vector for every remaining token: zeros by default (as
   flair's ``WordEmbeddings`` does), or a fixed random vector drawn from a
   seeded normal with the vocabulary's per-dimension spread (``unknown="random"``).

:meth:`StaticEmbedder.oov_report` counts tokens per stage; the OOV rate is the
share that got the unknown vector.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np

from medner.embeddings.base import EmbeddingUnavailableError, OOVReport, TokenEmbedder, file_identity, fingerprint_of

log = logging.getLogger(__name__)

_DIGIT = re.compile(r"\d")

#: Lookup stages in order; ``oov_report`` counts tokens per stage.
LOOKUP_STAGES: tuple[str, ...] = ("exact", "lowercase", "digits", "unknown")

FORMATS = ("auto", "glove", "word2vec", "word2vec-bin", "kv", "gensim-data")


def normalise_digits(token: str) -> str:
    """Every digit of ``token`` replaced by ``0`` ("q6h" -> "q0h", "12.5mg" -> "00.0mg")."""
    return _DIGIT.sub("0", token)


def gensim_data_dir() -> Path:
    """gensim-data's download folder (``GENSIM_DATA_DIR`` or ``~/gensim-data``)."""
    return Path(os.environ.get("GENSIM_DATA_DIR", Path.home() / "gensim-data"))


def looks_like_path(source: str | Path) -> bool:
    """Whether ``source`` names a file rather than a gensim-data model name."""
    text = str(source)
    return isinstance(source, Path) or "/" in text or os.sep in text or bool(
        re.search(r"\.(txt|vec|bin|kv|gz|model)$", text))


def _has_word2vec_header(path: Path) -> bool:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        first = handle.readline().split()
    return len(first) == 2 and all(part.isdigit() for part in first)


def detect_format(path: Path) -> str:
    """The format of a vector file from its name and (for text) its first line."""
    name = path.name.lower()
    if name.endswith(".kv") or name.endswith(".model"):
        return "kv"
    if name.endswith(".bin") or name.endswith(".bin.gz"):
        return "word2vec-bin"
    return "word2vec" if _has_word2vec_header(path) else "glove"


def load_keyed_vectors(source: str | Path, *, fmt: str = "auto", limit: int | None = None,
                       download_hint: str | None = None):
    """Load ``source`` into gensim ``KeyedVectors``; returns ``(vectors, identity)``.

    ``identity`` names the source for the fingerprint: the file's content hash,
    or the gensim-data name with its file's hash. A missing file or an absent
    gensim-data model raises :class:`EmbeddingUnavailableError` with
    ``download_hint`` (or a generic one) as its message.
    """
    from gensim.models import KeyedVectors

    if fmt not in FORMATS:
        raise ValueError(f"unknown static vector format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt == "gensim-data" or (fmt == "auto" and not looks_like_path(source)):
        name = str(source)
        folder = gensim_data_dir() / name
        files = sorted(folder.glob(f"{name}*.gz")) if folder.is_dir() else []
        if not files:
            raise EmbeddingUnavailableError(download_hint or (
                f"gensim-data model {name!r} is not in {gensim_data_dir()}: on a machine with a network run "
                f"`python -m gensim.downloader --download {name}` and copy {Path.home() / 'gensim-data' / name} "
                f"to {folder}."))
        path = files[0]
        vectors = KeyedVectors.load_word2vec_format(str(path), binary=False, limit=limit)
        return vectors, {"gensim_data": name, "file": file_identity(path)}
    path = Path(source)
    if not path.is_file():
        raise EmbeddingUnavailableError(download_hint or (
            f"static vector file {path} does not exist: download the vectors and put the file there."))
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "kv":
        vectors = KeyedVectors.load(str(path), mmap="r")
        sidecars = sorted(p for p in path.parent.glob(path.name + ".*") if p.is_file())
        identity = {"file": file_identity(path), "sidecars": [file_identity(p) for p in sidecars]}
    else:
        vectors = KeyedVectors.load_word2vec_format(
            str(path), binary=fmt == "word2vec-bin", no_header=fmt == "glove", limit=limit)
        identity = {"file": file_identity(path)}
    return vectors, {"format": fmt, "limit": limit, **identity}


class StaticEmbedder(TokenEmbedder):
    """One fixed vector per word type, looked up exact -> lowercase -> digits -> unknown (module docstring).

    ``source`` is a vector file or a gensim-data name (see :func:`load_keyed_vectors`);
    ``unknown`` is ``"zeros"`` or ``"random"`` (seeded by ``seed``); ``limit``
    keeps only the first ``limit`` vectors of a word2vec/GloVe file (they are
    sorted by frequency), to bound memory for 840B.
    """

    def __init__(self, source: str | Path, *, name: str | None = None, fmt: str = "auto",
                 unknown: str = "zeros", seed: int = 0, limit: int | None = None,
                 download_hint: str | None = None) -> None:
        if unknown not in ("zeros", "random"):
            raise ValueError(f"unknown vector policy must be 'zeros' or 'random', got {unknown!r}")
        keyed, identity = load_keyed_vectors(source, fmt=fmt, limit=limit, download_hint=download_hint)
        self.name = name or Path(str(source)).stem
        self.dim = int(keyed.vector_size)
        self.key_to_index: dict[str, int] = dict(keyed.key_to_index)
        table = np.asarray(keyed.vectors, dtype=np.float32)
        # The unknown vector is the table's last row, so a lookup is one fancy index.
        if unknown == "zeros":
            unknown_vector = np.zeros(self.dim, dtype=np.float32)
        else:
            spread = table.std(axis=0) if len(table) else np.ones(self.dim, dtype=np.float32)
            unknown_vector = (np.random.default_rng(seed).standard_normal(self.dim) * spread).astype(np.float32)
        self.table = np.vstack([table, unknown_vector[None, :]])
        self.unknown_index = len(table)
        self.unknown = unknown
        self.fingerprint = fingerprint_of({
            "family": "static", "source": identity, "unknown": unknown,
            "seed": seed if unknown == "random" else None, "lookup": list(LOOKUP_STAGES),
        })
        self._memo: dict[str, tuple[int, str]] = {}

    @property
    def vocabulary_size(self) -> int:
        return self.unknown_index

    def lookup(self, token: str) -> tuple[int, str]:
        """The row of ``token``'s vector and the stage that found it (one of :data:`LOOKUP_STAGES`)."""
        found = self._memo.get(token)
        if found is not None:
            return found
        index = self.key_to_index
        lower = token.lower()
        if token in index:
            found = (index[token], "exact")
        elif lower in index:
            found = (index[lower], "lowercase")
        else:
            found = (self.unknown_index, "unknown")
            for candidate in (normalise_digits(token), normalise_digits(lower)):
                if candidate in index:
                    found = (index[candidate], "digits")
                    break
        self._memo[token] = found
        return found

    def embed(self, sentences: list[list[str]]) -> list[np.ndarray]:
        """One ``(n_tokens, dim)`` float32 array per sentence (copies, safe to modify)."""
        return [self.table[[self.lookup(token)[0] for token in sentence]].reshape(len(sentence), self.dim)
                for sentence in sentences]

    def oov_report(self, sentences: list[list[str]], *, top: int = 20) -> OOVReport:
        """Tokens per lookup stage over ``sentences``, the OOV rate and the ``top`` most frequent unknown words."""
        stages = Counter({stage: 0 for stage in LOOKUP_STAGES})
        unknown_words: Counter[str] = Counter()
        tokens = 0
        for sentence in sentences:
            for token in sentence:
                stage = self.lookup(token)[1]
                stages[stage] += 1
                tokens += 1
                if stage == "unknown":
                    unknown_words[token] += 1
        return OOVReport(tokens=tokens, stages={stage: stages[stage] for stage in LOOKUP_STAGES},
                         unknown_types=unknown_words.most_common(top))
