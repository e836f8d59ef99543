"""A disk that fills up part-way through a write, for the tests of the atomic writer and of everything written
through it (run folders, figures, tables): :meth:`FillingDisk.patch` puts it under :func:`medner.files.write_file`."""

from __future__ import annotations

import errno
import os

from medner import files


class FillingDisk:
    """The disk the atomic writer writes to, with ``room`` bytes left: files opened on it take bytes from that room,
    then fail as a full disk does (ENOSPC), part-way through a write."""

    def __init__(self, room: int) -> None:
        self.room = room

    def open(self, stream) -> FilledFile:
        return FilledFile(stream, self)

    def patch(self, monkeypatch) -> FillingDisk:
        """Make every file :mod:`medner.files` opens for writing a file on this disk (for one test)."""
        real_fdopen = os.fdopen
        monkeypatch.setattr(files.os, "fdopen", lambda fd, mode: self.open(real_fdopen(fd, mode)))
        return self


class FilledFile:
    """A file on a :class:`FillingDisk`."""

    def __init__(self, stream, disk: FillingDisk) -> None:
        self.stream, self.disk = stream, disk

    def write(self, data: bytes) -> int:
        taken = self.stream.write(data[: self.disk.room])
        self.disk.room -= taken
        if taken < len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return taken

    def __enter__(self) -> FilledFile:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stream.close()
