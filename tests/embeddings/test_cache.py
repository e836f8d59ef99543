"""The embedding cache: hit, miss, invalidation, corruption, and two processes filling one entry."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import time

import numpy as np
import pytest

from medner.embeddings.base import TokenEmbedder, fingerprint_of
from medner.embeddings.cache import EmbeddingCache

SENTENCES = [["Take", "aspirin", "40mg"], ["daily"], [], ["stop", "if", "rash", "develops", "."]]


class HashEmbedder(TokenEmbedder):
    """Deterministic vectors from a hash of (salt, token); counts how many sentences it embedded."""

    def __init__(self, salt: str = "a", dim: int = 4, delay: float = 0.0) -> None:
        self.name, self.dim, self.salt, self.delay = f"hash-{salt}", dim, salt, delay
        self.fingerprint = fingerprint_of({"family": "test-hash", "salt": salt, "dim": dim})
        self.calls = 0

    def embed(self, sentences):
        time.sleep(self.delay)
        self.calls += len(sentences)
        out = []
        for sentence in sentences:
            rows = [np.frombuffer(hashlib.sha256(f"{self.salt}|{t}".encode()).digest()[: 4 * self.dim], np.uint32)
                    .astype(np.float32) / 2**32 for t in sentence]
            out.append(np.array(rows, dtype=np.float32).reshape(len(sentence), self.dim))
        return out


def expected(embedder, sentences):
    return HashEmbedder(embedder.salt, embedder.dim).embed(sentences)


def test_miss_then_hit_gives_the_same_vectors(tmp_path):
    cache = EmbeddingCache(tmp_path)
    embedder = HashEmbedder()
    first = cache.load_or_compute(embedder, "toy", "train", SENTENCES, progress=False)
    assert not first.hit and embedder.calls == len(SENTENCES)
    second = cache.load_or_compute(embedder, "toy", "train", SENTENCES, progress=False)
    assert second.hit and embedder.calls == len(SENTENCES)  # nothing embedded again
    assert isinstance(second.vectors, np.memmap)
    assert len(second) == 4 and second.n_tokens == 9 and second.dim == 4 and second.nbytes == 9 * 4 * 4
    for got, want in zip(second, expected(embedder, SENTENCES)):
        np.testing.assert_array_equal(got, want)
    assert second[2].shape == (0, 4)
    assert cache.stats["hits"] == 1 and cache.stats["misses"] == 1
    assert cache.stats["mb"] == pytest.approx(2 * 9 * 16 / 1e6)
    manifest = json.loads((second.path / "manifest.json").read_text())
    assert manifest["n_tokens"] == 9 and manifest["corpus"] == "toy" and manifest["split"] == "train"


def test_changed_fingerprint_or_tokens_or_split_misses(tmp_path):
    cache = EmbeddingCache(tmp_path)
    base = cache.load_or_compute(HashEmbedder("a"), "toy", "train", SENTENCES, progress=False)
    other_embedder = cache.load_or_compute(HashEmbedder("b"), "toy", "train", SENTENCES, progress=False)
    changed_token = [["Take", "aspirin", "50mg"]] + SENTENCES[1:]
    other_tokens = cache.load_or_compute(HashEmbedder("a"), "toy", "train", changed_token, progress=False)
    # the same tokens with a moved sentence boundary are different inputs too
    resplit = [["Take", "aspirin"], ["40mg", "daily"]] + SENTENCES[2:]
    other_boundary = cache.load_or_compute(HashEmbedder("a"), "toy", "train", resplit, progress=False)
    other_split = cache.load_or_compute(HashEmbedder("a"), "toy", "dev", SENTENCES, progress=False)
    assert not any(c.hit for c in (other_embedder, other_tokens, other_boundary, other_split))
    assert len({c.path for c in (base, other_embedder, other_tokens, other_boundary, other_split)}) == 5
    assert not np.array_equal(base[0], other_embedder[0])
    np.testing.assert_array_equal(other_tokens[0][2], expected(HashEmbedder("a"), [["50mg"]])[0][0])


@pytest.mark.parametrize("corpus", ["..", ".", "../../outside", "/etc", "a/../.."])
def test_entries_stay_inside_the_cache_whatever_the_corpus_name(tmp_path, corpus):
    cache = EmbeddingCache(tmp_path / "cache")
    cached = cache.load_or_compute(HashEmbedder("a"), corpus, "..", SENTENCES, progress=False)
    assert cached.path.resolve().is_relative_to((tmp_path / "cache").resolve())
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]


@pytest.mark.parametrize("damage", ["truncate_vectors", "truncate_offsets", "edit_offsets", "edit_manifest",
                                    "drop_manifest", "garbage_manifest"])
def test_corrupted_entry_is_detected_and_rebuilt(tmp_path, damage, caplog):
    cache = EmbeddingCache(tmp_path)
    embedder = HashEmbedder()
    entry = cache.load_or_compute(embedder, "toy", "train", SENTENCES, progress=False).path
    if damage == "truncate_vectors":
        data = (entry / "vectors.npy").read_bytes()
        (entry / "vectors.npy").write_bytes(data[: len(data) - 20])
    elif damage == "truncate_offsets":
        data = (entry / "offsets.npy").read_bytes()
        (entry / "offsets.npy").write_bytes(data[:-8])
    elif damage == "edit_offsets":
        offsets = np.load(entry / "offsets.npy")
        offsets[2] += 1  # same size, wrong content: caught by the checksum
        np.save(entry / "offsets.npy", offsets)
    elif damage == "edit_manifest":
        manifest = json.loads((entry / "manifest.json").read_text())
        manifest["n_tokens"] = 8
        (entry / "manifest.json").write_text(json.dumps(manifest))
    elif damage == "drop_manifest":
        (entry / "manifest.json").unlink()
    else:
        (entry / "manifest.json").write_text("{not json")
    fresh = EmbeddingCache(tmp_path)
    with caplog.at_level("WARNING", logger="medner.embeddings.cache"):
        rebuilt = fresh.load_or_compute(embedder, "toy", "train", SENTENCES, progress=False)
    assert not rebuilt.hit and rebuilt.rebuilt and rebuilt.path == entry
    assert "corrupted" in caplog.text and "rebuilding" in caplog.text
    assert fresh.stats["rebuilt"] == 1
    for got, want in zip(rebuilt, expected(embedder, SENTENCES)):
        np.testing.assert_array_equal(got, want)
    assert EmbeddingCache(tmp_path).load_or_compute(embedder, "toy", "train", SENTENCES, progress=False).hit


def test_full_verification_catches_changed_vector_bytes(tmp_path):
    embedder = HashEmbedder()
    entry = EmbeddingCache(tmp_path).load_or_compute(embedder, "toy", "train", SENTENCES, progress=False).path
    vectors = np.load(entry / "vectors.npy")
    vectors[0, 0] = 123.0  # same size: only the full checksum sees it
    np.save(entry / "vectors.npy", vectors)
    assert EmbeddingCache(tmp_path).load_or_compute(embedder, "toy", "train", SENTENCES, progress=False).hit
    full = EmbeddingCache(tmp_path, verify="full").load_or_compute(embedder, "toy", "train", SENTENCES, progress=False)
    assert full.rebuilt and full[0][0, 0] != 123.0


def _fill(root: str, queue) -> None:
    cached = EmbeddingCache(root).load_or_compute(HashEmbedder(delay=0.5), "toy", "train", SENTENCES, progress=False)
    queue.put((str(cached.path), cached.hit, [np.asarray(v).tolist() for v in cached]))


@pytest.mark.slow
def test_two_processes_filling_the_same_entry_leave_one_valid_entry(tmp_path, monkeypatch):
    from medner import locks

    # As two processes that take no lock (another medner version): the atomic publication alone keeps the entry
    # whole. With the lock, one fills it and the other waits and reads it (tests/test_locks.py).
    entry = EmbeddingCache(tmp_path).entry_path(HashEmbedder(), "toy", "train", SENTENCES)
    monkeypatch.setenv(locks.HELD_VARIABLE, str(locks.lock_file(entry)))
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_fill, args=(str(tmp_path), queue)) for _ in range(2)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert results[0][0] == results[1][0]
    assert not results[0][1] and not results[1][1]  # both computed: they really raced
    assert results[0][2] == results[1][2]
    entry_parent = tmp_path / "toy" / "train"
    assert [p.name for p in entry_parent.iterdir() if p.name.startswith(".")] == []  # no temporary folders left
    again = EmbeddingCache(tmp_path, verify="full").load_or_compute(HashEmbedder(), "toy", "train", SENTENCES,
                                                                     progress=False)
    assert again.hit and not again.rebuilt
