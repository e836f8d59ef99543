"""The one way the project writes a file or a folder that someone else may read: atomically.

A reader (another process, ``make``, a colleague's notebook) never sees half a file
or half a folder: everything is written under a temporary name beside the target,
in the same folder and so on the same file system, and renamed over it only when
complete (``os.replace`` and ``os.rename`` are atomic there). A write that fails
half-way leaves the old target as it was and removes its temporary.

Permissions follow the user's umask, as a plain ``open`` would give them:
``tempfile`` creates its files with mode 0600 and its folders with 0700, which
would make a run folder on a shared group disk unreadable to colleagues, so both
are given ``0666 & ~umask`` and ``0777 & ~umask`` before they are renamed into place.

A write the storage refuses (a full disk, a quota, a read-only or failing file system) is a
:class:`WriteError`: one line naming the file or folder, the cause ("no space left on device")
and that the previous version is unchanged. :func:`write_files` writes several files that belong
together (a figure's PDF and PNG) so that a failure replaces none of them.

A process killed part-way (SIGKILL, the out-of-memory killer, the end of a Slurm job) cannot remove its
temporary, and one can be large: a cache entry's vectors are allocated whole before they are filled. So a
temporary's name says who writes it (``.<name>.<host>-<pid>.<random>.part``), and the next write of the
same target removes the temporaries of processes of this host that no longer run. A temporary of another
host (a shared file system) or of an older medner, whose name says no pid, is left alone: its writer may
still run.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import math
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np

#: What :func:`atomic_folder` does when the target exists once the new folder is complete: ``"replace"`` it,
#: ``"keep"`` it, or ask a function of the existing folder whether to keep it.
IfExists = Union[Literal["replace", "keep"], Callable[[Path], bool]]
#: What a file-writing function may be given: text (UTF-8), bytes, or a function writing the temporary path.
Content = Union[str, bytes, Callable[[Path], Any]]

#: The errors by which storage refuses a write, each with what to do: they become a :class:`WriteError`.
STORAGE_ERRORS: dict[int, str] = {
    errno.ENOSPC: "free some space",
    errno.EDQUOT: "free some space within your quota",
    errno.EFBIG: "write to a file system that takes larger files",
    errno.EIO: "check the disk",
    errno.EROFS: "make the file system writable",
}


class WriteError(OSError):
    """Storage refused a write (``errno`` says how: ``errno.ENOSPC`` for a full disk); the message names the
    file or folder and says that its previous version, if any, is unchanged."""


def _storage_failure(target: Path, error: OSError, *, existed: bool, folder: bool) -> WriteError:
    """The :class:`WriteError` for ``error`` raised while writing ``target``."""
    cause = os.strerror(error.errno).lower()
    kind = "folder " if folder else ""
    kept = f"the previous {target.name} is unchanged" if existed else f"no {target.name} was written"
    failure = WriteError(f"could not write {kind}{target}: {cause} ({kept}; "
                         f"{STORAGE_ERRORS.get(error.errno, 'fix the cause')}, then run again)")
    failure.errno = error.errno
    return failure


@contextmanager
def _reporting_storage_failures(target: Path, *, folder: bool = False) -> Iterator[None]:
    """Turn an OSError of :data:`STORAGE_ERRORS` in the block into a :class:`WriteError` naming ``target``."""
    existed = target.exists()
    try:
        yield
    except OSError as error:
        if error.errno not in STORAGE_ERRORS:
            raise
        raise _storage_failure(target, error, existed=existed, folder=folder) from error


def umask() -> int:
    """The process's umask (read from ``/proc`` where it can be, so no thread ever sees it changed)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_file(path: str | os.PathLike[str], content: Content) -> Path:
    """Write ``content`` to ``path`` atomically; returns the path.

    ``content`` is text (written as UTF-8), bytes, or a function that writes the file at
    the temporary path it is given (a CSV writer, ...). A refused write is a :class:`WriteError`.
    """
    return write_files({path: content})[0]


def write_files(contents: Mapping[str | os.PathLike[str], Content]) -> list[Path]:
    """Write several files that belong together: each to a temporary first, then all renamed into place.

    A write that fails (a full disk) replaces none of them, so a figure's PDF and PNG, or a table's
    LaTeX and Markdown, never come from two different versions. Returns the paths, in order.
    """
    temporaries: dict[Path, Path] = {}
    try:
        for path, content in contents.items():
            target = Path(path)
            with _reporting_storage_failures(target):
                temporaries[target] = _written_temporary(target, content)
        for target, temporary in temporaries.items():
            with _reporting_storage_failures(target):
                os.replace(temporary, target)
    finally:
        for temporary in temporaries.values():
            temporary.unlink(missing_ok=True)
    return list(temporaries)


def _written_temporary(target: Path, content: Content) -> Path:
    """A temporary file beside ``target`` holding ``content``, with the umask's permissions (removed on failure)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_temporaries(target)
    handle, name = tempfile.mkstemp(prefix=_temporary_prefix(target), suffix=".part", dir=target.parent)
    temporary = Path(name)
    try:
        if isinstance(content, (str, bytes)):
            with os.fdopen(handle, "wb") as stream:
                stream.write(content.encode("utf-8") if isinstance(content, str) else content)
        else:
            os.close(handle)
            content(temporary)
        os.chmod(temporary, 0o666 & ~umask())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _temporary_prefix(target: Path) -> str:
    """The start of the name of a temporary for ``target``: the target's name, then this host and process."""
    return f".{target.name}.{socket.gethostname()}-{os.getpid()}."


def remove_abandoned_temporaries(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries of ``target`` (files or folders) whose writers, processes of this host, have ended.

    Returns what was removed. A temporary whose writer still runs, runs on another host, or is not named
    after its writer (an older medner) stays.
    """
    target = Path(target)
    pattern = re.compile(re.escape(f".{target.name}.") + r"(?P<host>.+)-(?P<pid>\d+)\.[^.]*\.part")
    host, removed = socket.gethostname(), []
    try:
        entries = list(os.scandir(target.parent))
    except FileNotFoundError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or match["host"] != host or _running(int(match["pid"])):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _running(pid: int) -> bool:
    """Whether process ``pid`` of this host runs (a process of another user counts as running)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        pass
    return True


def write_json(path: str | os.PathLike[str], payload: Any, *, indent: int | None = 1) -> Path:
    """Write ``payload`` as JSON (UTF-8, a final newline) to ``path`` atomically, through :func:`jsonable`."""
    return write_file(path, json.dumps(jsonable(payload), indent=indent, default=str) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """The JSON document at ``path``; a broken file is a ValueError naming it and the line."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: line {error.lineno}: expected JSON ({error.msg})") from None


def jsonable(value: Any) -> Any:
    """A JSON-ready copy of ``value``: dataclasses as dicts, tuple keys joined with ``/``, tuples as lists,
    numpy arrays and scalars as Python values, paths as strings, NaN and infinity as ``None``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {("/".join(map(str, k)) if isinstance(k, tuple) else str(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return jsonable(value.tolist())
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class FolderWrite:
    """A folder being written by :func:`atomic_folder`: fill ``path``; afterwards ``published`` says whether it
    became ``target`` (False: a folder already there was kept)."""

    path: Path
    target: Path
    published: bool = False


@contextmanager
def atomic_folder(path: str | os.PathLike[str], *, if_exists: IfExists = "replace") -> Iterator[FolderWrite]:
    """Fill a temporary folder beside ``path``; when the block ends without an error, it becomes ``path``.

    ``if_exists`` says what happens when ``path`` exists by then (another process may have finished the
    same work first): ``"replace"`` swaps the new folder in and removes the old one; ``"keep"`` keeps
    the existing folder and discards the new one; a function of the existing folder returns True to keep
    it (a complete one) or False to replace it (a broken one). On an error the temporary folder is
    removed and ``path`` is left as it was; a write the storage refused in the block (a full disk) is a
    :class:`WriteError` naming ``path``.
    """
    target = Path(path)
    with _reporting_storage_failures(target, folder=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned_temporaries(target)
        temporary = tempfile.mkdtemp(prefix=_temporary_prefix(target), suffix=".part", dir=target.parent)
        write = FolderWrite(Path(temporary), target)
        try:
            yield write
            os.chmod(write.path, 0o777 & ~umask())
            write.published = _publish(write.path, target, if_exists)
        finally:
            if write.path.exists():
                shutil.rmtree(write.path, ignore_errors=True)


def _publish(temporary: Path, target: Path, if_exists: IfExists, attempts: int = 3) -> bool:
    """Rename ``temporary`` to ``target``; an existing ``target`` is kept (False) or moved aside and removed."""
    for _ in range(attempts):
        try:
            os.rename(temporary, target)
            return True
        except OSError:
            if not target.exists():
                raise
        if if_exists == "keep" or (callable(if_exists) and if_exists(target)):
            return False
        aside = target.with_name(f".{target.name}.old-{os.getpid()}-{time.time_ns()}")
        try:
            os.rename(target, aside)
        except OSError:
            continue  # another process moved or replaced it meanwhile: look again
        shutil.rmtree(aside, ignore_errors=True)
    raise OSError(f"could not publish {target}: other processes kept replacing it")


def write_file_list(paths: Iterable[str | os.PathLike[str]], path: str | os.PathLike[str]) -> Path:
    """Write the absolute form of ``paths``, one per line, atomically: the list of its outputs that make
    checks for files deleted by hand."""
    return write_file(path, "".join(f"{Path(p).resolve()}\n" for p in paths))
