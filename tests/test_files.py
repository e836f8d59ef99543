"""The one atomic writer: whole files or nothing, the old file intact after a failed write, the user's umask."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import stat
import subprocess
import sys

import numpy as np
import pytest

from filling_disk import FillingDisk
from medner import files


@pytest.fixture
def disk_with_room(monkeypatch):
    """``disk_with_room(n)``: from now on the files the atomic writer opens share ``n`` bytes, then fail (ENOSPC)."""
    return lambda room: FillingDisk(room).patch(monkeypatch)


@pytest.fixture
def group_umask():
    before = os.umask(0o002)
    yield 0o002
    os.umask(before)


def test_a_write_that_fails_half_way_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "metrics.json"
    files.write_file(target, "old\n")

    def half_then_fail(temporary):
        temporary.write_text("half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        files.write_file(target, half_then_fail)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_a_full_disk_is_one_line_naming_the_file_and_the_previous_file_stays(tmp_path, disk_with_room):
    target = files.write_file(tmp_path / "metrics.json", "old\n")
    disk_with_room(3)
    with pytest.raises(files.WriteError) as raised:
        files.write_json(target, {"scores": list(range(100))})
    assert raised.value.errno == errno.ENOSPC
    assert str(raised.value) == (f"could not write {target}: no space left on device (the previous metrics.json is "
                                 "unchanged; free some space, then run again)")
    with pytest.raises(files.WriteError, match=r"new.csv: no space left on device \(no new.csv was written; "):
        files.write_file(tmp_path / "new.csv", b"a,b\n1,2\n")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]  # no temporary, no half file


def test_files_that_belong_together_are_all_replaced_or_none(tmp_path, disk_with_room):
    pdf, png = files.write_files({tmp_path / "figure.pdf": b"old pdf", tmp_path / "figure.png": b"old png"})
    disk_with_room(len("new pdf"))  # room for the first file only
    with pytest.raises(files.WriteError, match=r"figure.png: no space left on device \(the previous figure.png is unchanged"):
        files.write_files({pdf: b"new pdf", png: b"new png"})
    assert (pdf.read_bytes(), png.read_bytes()) == (b"old pdf", b"old png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figure.pdf", "figure.png"]


def test_a_full_disk_while_filling_a_folder_keeps_the_old_folder(tmp_path):
    target = tmp_path / "brat"
    with files.atomic_folder(target) as staging:
        (staging.path / "a.ann").write_text("old")

    def half_then_full(path):
        path.write_text("half of the new")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    with pytest.raises(files.WriteError) as raised:
        with files.atomic_folder(target) as staging:
            half_then_full(staging.path / "b.ann")
    assert str(raised.value) == (f"could not write folder {target}: no space left on device (the previous brat is "
                                 "unchanged; free some space, then run again)")
    assert [p.read_text() for p in target.iterdir()] == ["old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["brat"]


def test_files_and_folders_get_the_permissions_of_the_users_umask(tmp_path, group_umask):
    text = files.write_file(tmp_path / "a.txt", "x")
    assert stat.S_IMODE(text.stat().st_mode) == 0o664  # mkstemp alone would give 0600
    with files.atomic_folder(tmp_path / "folder") as staging:
        (staging.path / "inside.txt").write_text("y")
    assert stat.S_IMODE((tmp_path / "folder").stat().st_mode) == 0o775  # mkdtemp alone would give 0700
    assert files.umask() == 0o002


def test_a_folder_is_replaced_whole_or_kept(tmp_path):
    target = tmp_path / "brat"
    with files.atomic_folder(target) as staging:
        (staging.path / "a.ann").write_text("1")
    with files.atomic_folder(target) as staging:
        (staging.path / "b.ann").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b.ann"]  # replaced, not merged
    with files.atomic_folder(target, if_exists="keep") as staging:
        (staging.path / "c.ann").write_text("3")
    assert sorted(p.name for p in target.iterdir()) == ["b.ann"]  # another process's result is kept
    assert not staging.published
    with files.atomic_folder(target, if_exists=lambda existing: (existing / "ok").exists()) as staging:
        (staging.path / "c.ann").write_text("3")
    assert staging.published and sorted(p.name for p in target.iterdir()) == ["c.ann"]  # a broken one is replaced
    with pytest.raises(RuntimeError, match="interrupted"):
        with files.atomic_folder(target) as staging:
            (staging.path / "d.ann").write_text("4")
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in target.iterdir()) == ["c.ann"]  # an interrupted write changes nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["brat"]  # no temporary left behind


#: A writer that stops part-way: it fills a temporary for the target named by argv[1] (a folder, or a file with
#: argv[2] == "file"), says so, and waits to be killed.
WRITER_PART_WAY = """
import sys, time
from pathlib import Path
from medner import files
target = Path(sys.argv[1])
if sys.argv[2] == "file":
    def wait(temporary):
        temporary.write_text("half")
        print("writing", flush=True)
        time.sleep(600)
    files.write_file(target, wait)
else:
    with files.atomic_folder(target) as staging:
        (staging.path / "half.npy").write_bytes(bytes(1000))
        print("writing", flush=True)
        time.sleep(600)
"""


def writer_part_way(target, kind: str) -> subprocess.Popen:
    """A process that has started writing ``target`` (a ``folder`` or a ``file``) and waits."""
    process = subprocess.Popen([sys.executable, "-c", WRITER_PART_WAY, str(target), kind], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout.readline() == "writing\n"
    return process


def temporaries(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_a_killed_writers_temporary_is_removed_by_the_next_write_and_a_running_ones_is_kept(tmp_path, kind):
    """SIGKILL leaves a temporary behind (a cache entry's is as large as its vectors); the next write of the same
    target removes it, and only it: not a running writer's, not another host's, not another target's."""
    target = tmp_path / "vectors"
    killed = writer_part_way(target, kind)
    abandoned = temporaries(tmp_path)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    running = writer_part_way(target, kind)
    try:
        others = [f".vectors.{socket.gethostname()}x-{killed.pid}.abcdefgh.part",  # another host: its pid means nothing here
                  f".other.{socket.gethostname()}-{killed.pid}.abcdefgh.part",  # another target's
                  ".vectors.abcdefgh.part"]  # an older medner's, naming no writer
        for name in others:
            (tmp_path / name).mkdir()
        kept = sorted(set(temporaries(tmp_path)) - set(abandoned))
        assert len(abandoned) == 1 and len(kept) == len(others) + 1
        if kind == "folder":
            with files.atomic_folder(target) as staging:
                (staging.path / "whole.npy").write_bytes(bytes(10))
        else:
            files.write_file(target, "whole")
        assert temporaries(tmp_path) == kept
    finally:
        running.kill()
        running.wait()


def test_json_is_made_plain(tmp_path):
    from dataclasses import dataclass

    @dataclass
    class Point:
        x: float
        where: object

    payload = {("strict", "micro"): np.float64(0.5), "n": np.int64(3), "bad": float("nan"), "array": np.arange(2),
               "point": Point(1.0, tmp_path), "tuple": (1, 2)}
    written = json.loads(files.write_json(tmp_path / "out.json", payload).read_text())
    assert written == {"strict/micro": 0.5, "n": 3, "bad": None, "array": [0, 1],
                       "point": {"x": 1.0, "where": str(tmp_path)}, "tuple": [1, 2]}
    (tmp_path / "broken.json").write_text('{"a": 1,\n')
    with pytest.raises(ValueError, match=r"broken.json: line 2: expected JSON"):
        files.read_json(tmp_path / "broken.json")
