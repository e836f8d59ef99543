"""A disk that fills up while a run folder, an embedding cache entry or a figure is written: every file and
folder written before stays byte for byte, no temporary is left behind, and the error is one line naming
what could not be written and that the disk is full.

Each writer meets a disk that fills part-way through a write twice: simulated (:mod:`filling_disk`, the
cache's block reservation failing), and for real on a 2 MB tmpfs mounted for the test. Mounting needs root:
elsewhere that test skips with one line, and under CI (``CI=true``) it fails instead.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from filling_disk import FillingDisk
from medner import files
from medner.corpus.document import Document, Entity
from medner.embeddings.base import TokenEmbedder, fingerprint_of
from medner.embeddings.cache import EmbeddingCache
from medner.figures import styled_figure
from medner.run_folder import HISTORY_COLUMNS, METRICS_SCHEMA, RunFolder

#: Sentences small enough for any disk, and enough tokens to fill a small one (64-dimensional float32 vectors).
FEW = [["Take", "aspirin"], ["daily"]]
MANY = [["token"] * 100 for _ in range(100)]


class OnesEmbedder(TokenEmbedder):
    """Vectors of ones: what the cache stores is all this test needs."""

    def __init__(self, dim: int) -> None:
        self.name, self.dim = f"ones-{dim}", dim
        self.fingerprint = fingerprint_of({"family": "test-ones", "dim": dim})

    def embed(self, sentences: list[list[str]]) -> list[np.ndarray]:
        return [np.ones((len(sentence), self.dim), dtype=np.float32) for sentence in sentences]


def metrics_of_size(padding: int) -> dict:
    """A metrics dict valid under METRICS_SCHEMA, made about ``padding`` bytes longer by its model settings."""
    def skeleton(schema: dict) -> dict:
        values = {int: 1, float: 1.0, str: "x", bool: True, dict: {}, list: []}
        return {key: skeleton(rule) if isinstance(rule, dict) else values[rule[0][0] if isinstance(rule[0], tuple) else rule[0]]
                for key, rule in schema.items()}

    metrics = skeleton(METRICS_SCHEMA)
    metrics["scores"] = {split: {"strict": {"micro": {"f1": 0.5}}} for split in ("test", "dev")}
    metrics["config"]["model"] = {"padding": "x" * padding}
    return metrics


def history(epochs: int) -> list[dict]:
    return [dict(zip(HISTORY_COLUMNS, (epoch, 1.0 / epoch, 0.5, 0.1, 2.0))) for epoch in range(1, epochs + 1)]


def document(text: str) -> Document:
    return Document("d1", text, [Entity("T1", "Drug", ((5, 12),), text[5:12])])


def write_previous_state(root: Path) -> None:
    """A finished run folder, a cache entry and a figure: the state a full disk must leave as it was."""
    folder = RunFolder(root / "results" / "demo" / "glove" / "seed-1")
    folder.begin()
    folder.write_predictions([document("Take aspirin daily.")], [])
    folder.write_history(history(2))
    folder.save_checkpoint({"weights": torch.zeros(4)})
    folder.write_metrics(metrics_of_size(10))
    EmbeddingCache(root / "cache").load_or_compute(OnesEmbedder(64), "demo", "train", FEW, progress=False)
    with styled_figure(root / "figures" / "curve", 2, 2) as figure:
        figure.subplots().plot([0, 1], [0, 1])


def larger_writes(root: Path) -> dict[str, Callable[[], object]]:
    """Writes of new versions, each larger than 64 KB, by name of what they write."""
    folder = RunFolder(root / "results" / "demo" / "glove" / "seed-1")
    pixels = np.random.default_rng(0).random((200, 200))  # about 300 KB of PDF and PNG

    def figure() -> None:
        with styled_figure(root / "figures" / "curve", 4, 4) as drawn:
            drawn.subplots().imshow(pixels)

    return {
        "brat": lambda: folder.write_predictions([document("Take aspirin daily. " * 20_000)], []),
        "history.csv": lambda: folder.write_history(history(20_000)),
        "model.pt": lambda: folder.save_checkpoint({"weights": torch.ones(300_000)}),
        "metrics.json": lambda: folder.write_metrics(metrics_of_size(500_000)),
        "ones-64-": lambda: EmbeddingCache(root / "cache").load_or_compute(OnesEmbedder(64), "demo", "test", MANY,
                                                                          progress=False),
        "curve.pdf": figure,
    }


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> bytes), a filler file aside."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.name != "filler"}


def check_every_write_fails_and_changes_nothing(root: Path, leave_out: tuple[str, ...] = ()) -> None:
    """Each of :func:`larger_writes` (but ``leave_out``) is a one-line WriteError (ENOSPC) naming its target; the
    files are unchanged."""
    before = snapshot(root)
    for name, write in larger_writes(root).items():
        if name in leave_out:
            continue
        with pytest.raises(files.WriteError) as raised:
            write()
        message = str(raised.value)
        assert raised.value.errno == errno.ENOSPC and "\n" not in message
        assert message.startswith("could not write ") and f"/{name}" in message, message
        assert ": no space left on device (the previous " in message or ": no space left on device (no " in message
    assert snapshot(root) == before  # the old files byte for byte, and nothing else: no temporaries
    assert not [p for p in root.rglob("*") if p.name.endswith(".part")]


def test_a_disk_that_fills_part_way_leaves_every_previous_file(tmp_path, monkeypatch):
    write_previous_state(tmp_path)
    FillingDisk(64 * 1024).patch(monkeypatch)

    def no_room_for_the_vectors(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", no_room_for_the_vectors)
    # the brat files are written with open(), not through the patched writer: the real disk below fills under them
    check_every_write_fails_and_changes_nothing(tmp_path, leave_out=("brat",))


def test_medner_says_in_one_line_that_the_disk_is_full(tmp_path, monkeypatch, capsys):
    from medner.cli import main as medner_main
    from resources.comparison.fake_study import write_fake_study

    study = write_fake_study(tmp_path / "results", embeddings=("glove",), seeds=(1,))
    out = tmp_path / "figures" / "comparison.json"
    FillingDisk(100).patch(monkeypatch)
    status = medner_main(["compare", "fake", "--path", str(study.corpus_path), "--results", str(study.results_root),
                          "--out", str(out), "--n-boot", "10", "--n-shuffles", "10", "--progress", "none"])
    assert status == 2 and not out.exists()
    assert capsys.readouterr().err == (f"medner: error: could not write {out}: no space left on device (no "
                                       "comparison.json was written; free some space, then run again)\n")


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the full-disk test must run, not skip)")
    pytest.skip(reason)


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 2 MB tmpfs mounted for the test (unmounted after); skipped (failed under CI=true) where none can be."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        skip_or_fail("not root: the full-disk test mounts a 2 MB tmpfs (mount -t tmpfs), which needs root")
    if shutil.which("mount") is None:
        skip_or_fail("no mount command: the full-disk test mounts a 2 MB tmpfs")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        skip_or_fail(f"mount -t tmpfs failed ({mounted.stderr.strip() or mounted.returncode})")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "--lazy", str(disk)], check=True)  # lazy: a memory map may still be open


def fill(disk: Path, leave: int) -> None:
    """Fill ``disk`` with a file named filler until ``leave`` bytes are free."""
    stats = os.statvfs(disk)
    with open(disk / "filler", "wb") as handle:
        handle.write(b"\0" * (stats.f_bavail * stats.f_frsize - leave))


@pytest.mark.tmpfs
def test_a_real_full_disk_leaves_every_previous_file(small_disk):
    write_previous_state(small_disk)
    fill(small_disk, leave=64 * 1024)
    check_every_write_fails_and_changes_nothing(small_disk)
    (small_disk / "filler").unlink()
    cached = EmbeddingCache(small_disk / "cache").load_or_compute(OnesEmbedder(64), "demo", "train", FEW, progress=False)
    assert cached.hit and RunFolder(small_disk / "results" / "demo" / "glove" / "seed-1").read_metrics()
    larger_writes(small_disk)["curve.pdf"]()  # with room again, the same write succeeds
