"""The on-disk token vector cache: each (embedder, corpus split) is embedded once.

An entry is a folder ``<root>/<corpus>/<split>/<embedder name>-<key>/`` where
``key`` is a sha256 of (embedder fingerprint, corpus name, split, sha256 of the
token lists), holding:

- ``vectors.npy``: every token vector of the split concatenated, float32,
  shape ``(n_tokens, dim)``, read back memory-mapped (``np.load(mmap_mode="r")``);
- ``offsets.npy``: int64, shape ``(n_sentences + 1,)``; sentence ``i`` is rows
  ``offsets[i]:offsets[i + 1]``;
- ``manifest.json``, written last: the key's parts, shapes, file sizes, the
  sha256 of both files and of the manifest itself.

A changed spec, weights file or tokenisation changes the key, so it misses.
On load the manifest checksum, file sizes, the ``.npy`` headers and the
offsets checksum are verified (the vectors' own sha256 is checked only with
``verify="full"``, as hashing gigabytes would defeat the cache); a partial or
corrupted entry is logged and rebuilt. Entries are written into a temporary
folder beside the final one and renamed into place, so two processes filling
the same entry at once never leave a mixed entry: the loser of the race
discards its copy and reads the winner's. They do not race: one fills an entry
at a time, under its lock (:mod:`medner.locks`), and the other waits and reads it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medner import files, locks, paths
from medner.embeddings.base import TokenEmbedder, canonical_json, check_vectors, progress_bar

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
VECTORS = "vectors.npy"
OFFSETS = "offsets.npy"
CACHE_FORMAT = 1


class CorruptEntryError(Exception):
    """A cache entry failed verification; the message says which check."""


def tokens_sha256(sentences: list[list[str]]) -> str:
    """sha256 of the token lists as canonical JSON: any change of a token or a sentence boundary changes it."""
    return hashlib.sha256(canonical_json(sentences).encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest_checksum(manifest: dict[str, Any]) -> str:
    body = {key: value for key, value in manifest.items() if key != "manifest_sha256"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


@dataclass
class CachedVectors:
    """The token vectors of one split: ``len(cached)`` sentences, ``cached[i]`` an ``(n_i, dim)`` float32 array.

    ``vectors`` is memory-mapped when read from the cache. ``hit`` says whether
    it was read (True) or computed (False); ``seconds`` how long loading or
    computing took; ``nbytes`` the size of the vectors; ``rebuilt`` whether a
    corrupted entry was replaced.
    """

    vectors: np.ndarray
    offsets: np.ndarray
    hit: bool
    seconds: float
    path: Path
    rebuilt: bool = False
    manifest: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> np.ndarray:
        if not -len(self) <= index < len(self):
            raise IndexError(f"sentence {index} out of range for {len(self)} sentences")
        index %= len(self)
        return self.vectors[self.offsets[index]:self.offsets[index + 1]]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def n_tokens(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.vectors.nbytes)


class EmbeddingCache:
    """Token vectors on disk under ``root`` (default :func:`medner.paths.cache_dir`).

    ``stats`` counts over this object's life: hits, misses, rebuilt entries,
    seconds spent loading or computing, and megabytes of vectors served.
    """

    def __init__(self, root: str | Path | None = None, *, verify: str = "quick", batch_size: int = 256) -> None:
        if verify not in ("quick", "full"):
            raise ValueError(f"verify must be 'quick' or 'full', got {verify!r}")
        self.root = Path(root) if root is not None else paths.cache_dir()
        self.verify = verify
        self.batch_size = batch_size
        self.stats: dict[str, float] = {"hits": 0, "misses": 0, "rebuilt": 0, "seconds": 0.0, "mb": 0.0}

    def entry_path(self, embedder: TokenEmbedder, corpus_name: str, split: str, sentences: list[list[str]]) -> Path:
        """The folder of the entry for these inputs (whether or not it exists)."""
        key = hashlib.sha256(canonical_json({
            "fingerprint": embedder.fingerprint, "corpus": corpus_name, "split": split,
            "tokens": tokens_sha256(sentences), "format": CACHE_FORMAT,
        }).encode("utf-8")).hexdigest()
        safe_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", embedder.name)[:60] or "embedder"
        return self.root / _safe(corpus_name) / _safe(split) / f"{safe_name}-{key[:24]}"

    def load_or_compute(self, embedder: TokenEmbedder, corpus_name: str, split: str,
                        sentences: list[list[str]], *, progress: bool = True) -> CachedVectors:
        """Read the entry for these inputs, or embed ``sentences`` and store them first."""
        started = time.perf_counter()
        entry = self.entry_path(embedder, corpus_name, split, sentences)
        rebuilt = False
        if entry.exists():
            try:
                vectors, offsets, manifest = self._read(entry, len(sentences), embedder.fingerprint)
            except CorruptEntryError as exc:
                log.warning("embedding cache entry %s is corrupted (%s): rebuilding it", entry, exc)
                rebuilt = True
            else:
                return self._record(CachedVectors(vectors, offsets, True, time.perf_counter() - started, entry,
                                                  manifest=manifest))
        # One process fills an entry at a time (medner.locks): another one waits, then reads what it wrote.
        with locks.building(entry, f"the {embedder.name} vectors of {corpus_name}/{split}"):
            try:
                vectors, offsets, manifest = self._read(entry, len(sentences), embedder.fingerprint)
            except CorruptEntryError:
                self._compute(embedder, corpus_name, split, sentences, entry, progress=progress)
            else:  # filled by the process this one waited for
                return self._record(CachedVectors(vectors, offsets, True, time.perf_counter() - started, entry,
                                                  manifest=manifest))
        vectors, offsets, manifest = self._read(entry, len(sentences), embedder.fingerprint)
        return self._record(CachedVectors(vectors, offsets, False, time.perf_counter() - started, entry,
                                          rebuilt=rebuilt, manifest=manifest))

    def _record(self, cached: CachedVectors) -> CachedVectors:
        self.stats["hits" if cached.hit else "misses"] += 1
        self.stats["rebuilt"] += int(cached.rebuilt)
        self.stats["seconds"] += cached.seconds
        self.stats["mb"] += cached.nbytes / 1e6
        return cached

    def _read(self, entry: Path, n_sentences: int, fingerprint: str) -> tuple[np.ndarray, np.ndarray, dict]:
        """Verify and open an entry; raise CorruptEntryError naming the failed check."""
        try:
            return self._verified(entry, n_sentences, fingerprint)
        except (KeyError, TypeError) as exc:
            raise CorruptEntryError(f"{MANIFEST} lacks an expected field ({exc})") from None

    def _verified(self, entry: Path, n_sentences: int, fingerprint: str) -> tuple[np.ndarray, np.ndarray, dict]:
        manifest_path = entry / MANIFEST
        if not manifest_path.is_file():
            raise CorruptEntryError(f"no {MANIFEST} (an interrupted write)")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CorruptEntryError(f"{MANIFEST} unreadable: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("manifest_sha256") != _manifest_checksum(manifest):
            raise CorruptEntryError(f"{MANIFEST} checksum mismatch")
        if manifest.get("fingerprint") != fingerprint or manifest.get("n_sentences") != n_sentences:
            raise CorruptEntryError("manifest describes other inputs")
        for name in (VECTORS, OFFSETS):
            path = entry / name
            if not path.is_file():
                raise CorruptEntryError(f"{name} missing")
            size = path.stat().st_size
            if size != manifest["files"][name]["bytes"]:
                raise CorruptEntryError(f"{name} has {size} bytes, manifest says {manifest['files'][name]['bytes']}")
        if file_sha256(entry / OFFSETS) != manifest["files"][OFFSETS]["sha256"]:
            raise CorruptEntryError(f"{OFFSETS} checksum mismatch")
        if self.verify == "full" and file_sha256(entry / VECTORS) != manifest["files"][VECTORS]["sha256"]:
            raise CorruptEntryError(f"{VECTORS} checksum mismatch")
        try:
            offsets = np.load(entry / OFFSETS)
            vectors = np.load(entry / VECTORS, mmap_mode="r" if manifest["n_tokens"] else None)
        except (OSError, ValueError) as exc:
            raise CorruptEntryError(f"cannot read arrays: {exc}") from None
        expected_shape = [manifest["n_tokens"], manifest["dim"]]
        if list(vectors.shape) != expected_shape or vectors.dtype != np.float32:
            raise CorruptEntryError(f"{VECTORS} holds {vectors.dtype} {vectors.shape}, expected float32 {expected_shape}")
        if offsets.shape != (n_sentences + 1,) or offsets[0] != 0 or offsets[-1] != vectors.shape[0]:
            raise CorruptEntryError(f"{OFFSETS} does not match the vectors")
        return vectors, offsets, manifest

    def _compute(self, embedder: TokenEmbedder, corpus_name: str, split: str, sentences: list[list[str]],
                 entry: Path, *, progress: bool) -> None:
        """Embed into a temporary folder beside ``entry`` and rename it into place."""
        entry.parent.mkdir(parents=True, exist_ok=True)
        lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
        offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        n_tokens, dim = int(offsets[-1]), int(embedder.dim)
        # Another process may fill the same entry meanwhile: a valid entry it published is kept, a broken one replaced.
        with files.atomic_folder(entry, if_exists=lambda existing: self._valid(existing, len(sentences), embedder.fingerprint)) as folder:
            temporary = folder.path
            if n_tokens:
                vectors = np.lib.format.open_memmap(temporary / VECTORS, mode="w+", dtype=np.float32,
                                                    shape=(n_tokens, dim))
                reserve_blocks(temporary / VECTORS)
            else:  # an empty file cannot be memory-mapped
                vectors = np.zeros((0, dim), dtype=np.float32)
                np.save(temporary / VECTORS, vectors)
            starts = range(0, len(sentences), self.batch_size)
            for start in progress_bar(starts, total=len(starts), desc=f"embedding {corpus_name}/{split} ({embedder.name})",
                                      enabled=progress, unit="batch"):
                batch = sentences[start:start + self.batch_size]
                arrays = embedder.embed(batch)
                check_vectors(embedder.name, batch, arrays, dim)
                if offsets[start + len(batch)] > offsets[start]:
                    vectors[offsets[start]:offsets[start + len(batch)]] = np.concatenate(arrays, axis=0)
            if isinstance(vectors, np.memmap):
                vectors.flush()
            del vectors
            np.save(temporary / OFFSETS, offsets)
            manifest: dict[str, Any] = {
                "format": CACHE_FORMAT, "embedder": embedder.name, "fingerprint": embedder.fingerprint,
                "corpus": corpus_name, "split": split, "tokens_sha256": tokens_sha256(sentences),
                "n_sentences": len(sentences), "n_tokens": n_tokens, "dim": dim, "dtype": "float32",
                "files": {name: {"bytes": (temporary / name).stat().st_size, "sha256": file_sha256(temporary / name)}
                          for name in (VECTORS, OFFSETS)},
            }
            manifest["manifest_sha256"] = _manifest_checksum(manifest)
            (temporary / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")  # last: marks complete
        if not folder.published:
            log.info("embedding cache entry %s was filled by another process; using it", entry)

    def _valid(self, entry: Path, n_sentences: int, fingerprint: str) -> bool:
        """Whether ``entry`` holds a complete, uncorrupted cache entry for these sentences and embedder."""
        try:
            self._read(entry, n_sentences, fingerprint)
            return True
        except CorruptEntryError:
            return False


def reserve_blocks(path: Path) -> None:
    """Allocate every block of the (sparse) file at ``path`` now.

    Writing into a memory map of a sparse file on a full disk kills the process with SIGBUS, leaving
    the temporary folder behind; an allocation that does not fit is an OSError (ENOSPC) here instead,
    which :func:`medner.files.atomic_folder` reports and cleans up. File systems that cannot allocate
    ahead keep the old behaviour.
    """
    with open(path, "r+b") as handle:
        try:
            os.posix_fallocate(handle.fileno(), 0, os.fstat(handle.fileno()).st_size)
        except OSError as error:
            if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise


def _safe(part: str) -> str:
    """``part`` as one harmless path component: other characters become ``_``, and ``.``/``..`` never stay."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", part)
    return "_" if safe.strip(".") == "" else safe


def corpus_sentences(corpus, split: str) -> list[list[str]]:
    """The token strings of every sentence of ``corpus.splits[split]``, as the tagger sees them."""
    from medner.corpus.tokenize import sentences_of

    if split not in corpus.splits:
        raise ValueError(f"corpus {corpus.name!r} has no split {split!r}; it has {', '.join(corpus.splits)}")
    return [sentence.words for doc in corpus.splits[split] for sentence in sentences_of(doc)]


def embed_corpus(embedder: TokenEmbedder, corpus, splits: tuple[str, ...] = ("train", "dev", "test"), *,
                 cache: EmbeddingCache | None = None, progress: bool = True) -> dict[str, Any]:
    """Fill the cache for ``splits`` of ``corpus``; returns a report per split and the cache totals.

    Per split: sentences, tokens, hit, seconds, MB, the entry path and, for
    static vectors, the OOV report (tokens per lookup stage, OOV rate).
    """
    cache = cache or EmbeddingCache()
    report: dict[str, Any] = {"embedder": embedder.describe(), "corpus": corpus.name, "splits": {}}
    for split in splits:
        sentences = corpus_sentences(corpus, split)
        cached = cache.load_or_compute(embedder, corpus.name, split, sentences, progress=progress)
        entry: dict[str, Any] = {
            "sentences": len(cached), "tokens": cached.n_tokens, "hit": cached.hit, "rebuilt": cached.rebuilt,
            "seconds": cached.seconds, "mb": cached.nbytes / 1e6, "path": str(cached.path),
        }
        oov = embedder.oov_report(sentences)
        if oov is not None:
            entry["oov"] = oov.as_dict()
        report["splits"][split] = entry
    report["cache"] = dict(cache.stats)
    return report
