"""A lock on what is being built, so that two processes never build the same thing at once.

Two ``make all`` on one results folder (two terminals, or a user who forgot the first one), a
``make all`` and a notebook run in JupyterLab, Slurm jobs of two makes: each step they share (an
embedding's preparation, a run folder, the comparison) and each costly artefact behind them (an
in-domain language model, a cache entry) is built by one process at a time.

The policy, everywhere: **the second builder waits, then does not build again what the first just
built.** While another process holds the lock it prints one line, ``waiting for <what>: another
process (pid N, <program>, since HH:MM:SS) is building it``; once it holds the lock it looks again.
A step whose target was written meanwhile (:meth:`BuildLock.built_meanwhile`) is not built again:
``make`` skips it with one line, the library reads what was built (a cache entry, a trained
language model, a current comparison), and :func:`medner.runs.begin_run` stops with a message
instead of training a run that another process just finished. So both makes finish, each step runs
once, and the results are those of one ``make all``.

The lock of a target ``<folder>/<name>`` is the file ``<folder>/.<name>.lock``, locked with
``flock(2)``. Its existence means nothing: a lock is held exactly while a process holds the file
locked, and the kernel releases it when that process ends, however it ends (a SIGKILL, an
out-of-memory kill, a lost node), so no stale lock is ever left to remove by hand. The holder
writes its pid, host, program and start time into the file, for the waiting line, and removes the
file as it lets go, so folders are left as they were; a process that locked the file just removed
looks again and locks the new one. A killed holder leaves its file behind, unlocked: the next
holder takes it over.

- **make** runs each step through ``python -m medner.locks build <target> -- <command>``
  (:func:`build`), which holds the target's lock while the command runs. After waiting, it skips the
  step when the target was written while it waited or after ``make`` started (the Makefile exports
  that moment as :data:`STARTED_VARIABLE`): ``make`` decided the step was stale before another
  process built it, so ``-p force True`` must not train it again. A command that fails leaves no
  target it wrote (what ``.DELETE_ON_ERROR`` did, done here under the lock, so that a Ctrl-C in
  the second terminal can never delete what the first make just finished).
- **The library** takes the same locks itself (a notebook in JupyterLab, ``medner train``,
  ``medner compare``). A command run under :func:`build` knows its step is locked already through
  :data:`HELD_VARIABLE` (its child processes, Slurm jobs included, inherit it) and does not wait for
  its own parent.
- **Slurm**: the lock file sits on the shared results file system and make's side holds it while the
  job runs, so a second make waits without taking an allocation. ``flock`` works across NFS clients
  on Linux 2.6.12 and later, where the NFS client emulates it with byte-range locks; those are
  per-process and dropped when the process closes *any* descriptor of the file, which is why a
  lock is opened once per process and held by the process that opened it (:data:`_HELD_HERE`). A
  lock file removed while another client waits on it stays as an ``.nfs*`` file until that one
  looks again, a moment later.
  The "written after make started" test compares make's clock with the file server's: keep the
  clocks synchronised (NTP), as make itself needs.

Locks exclude processes, not threads: within one process a lock already held is held again at
once (a notebook cell run twice does not wait for itself).
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: Lock files held by an ancestor of this process (``os.pathsep``-separated real paths): a step's command
#: run by :func:`build` finds its own step's lock here and does not wait for it.
HELD_VARIABLE = "MEDNER_HELD_LOCKS"
#: When the make running a step started (nanoseconds since the epoch): a target written after it was built
#: by another process after make decided to build it.
STARTED_VARIABLE = "MEDNER_MAKE_STARTED_NS"
#: Seconds between two looks at a held lock: the first, then 1.5 times longer each, at most the last.
POLL_SECONDS = (0.05, 2.0)

#: Locks this process holds: real path of the lock file -> the lock.
_HELD_HERE: dict[str, BuildLock] = {}


def _print_line(line: str) -> None:
    print(line, flush=True)  # batch logs want each line at once


def lock_file(target: str | os.PathLike[str]) -> Path:
    """The lock file of ``target``: ``.<name>.lock`` beside it."""
    target = Path(target)
    return target.with_name(f".{target.name}.lock")


def _key(path: Path) -> str:
    return os.path.realpath(path)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes when ``path`` is written again (atomic writers give it a new inode); None when absent."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_mtime_ns, status.st_size, status.st_ino


@dataclass(frozen=True)
class Holder:
    """The process that holds a lock, as it wrote itself into the lock file."""

    pid: int
    host: str
    program: str
    since: float  # time.time() when it took the lock

    def describe(self) -> str:
        """``pid 4242, make, since 14:02:11`` (the host too when it is not this one)."""
        host = "" if self.host == socket.gethostname() else f" on {self.host}"
        return f"pid {self.pid}{host}, {self.program}, since {time.strftime('%H:%M:%S', time.localtime(self.since))}"

    @classmethod
    def parse(cls, text: bytes) -> Holder | None:
        """The holder a lock file names; None for an empty or half-written one."""
        try:
            data = json.loads(text.decode("utf-8"))
            return cls(int(data["pid"]), str(data["host"]), str(data["program"]), float(data["since"]))
        except (ValueError, KeyError, TypeError):
            return None


def _program() -> str:
    """What this process is, in a word or two: ``Jupyter kernel``, ``medner``, ``pytest``, ``python``, ..."""
    name = Path(sys.argv[0]).name.removesuffix(".py") if sys.argv and sys.argv[0] else ""
    if "ipykernel" in name:
        return "Jupyter kernel"
    return "python" if name in ("", "-c", "__main__") else name


class BuildLock:
    """The lock of one target (see the module docstring); :func:`acquire` and :func:`building` take it."""

    def __init__(self, target: str | os.PathLike[str], what: str | None = None, *, program: str | None = None) -> None:
        self.target = Path(target)
        self.path = lock_file(self.target)
        self.what = what or str(self.target)
        self.program = program or _program()  # how the waiting line of another process names this one
        self.waited_for: Holder | None = None  # who held it when this process asked (None: nobody, or unknown)
        self.waited = False  # whether another process held it when this process asked
        self.inherited = False  # held already, by an ancestor (a make step) or by this process: nothing was taken
        self.stamp_before: tuple[int, int, int] | None = None  # the target when this process asked
        self._descriptor: int | None = None

    def __repr__(self) -> str:
        return f"BuildLock({str(self.target)!r}, held={self.held})"

    @property
    def held(self) -> bool:
        """Whether this process holds the lock through this object (False when inherited or released)."""
        return self._descriptor is not None

    def acquire(self, *, log: Callable[[str], None] = _print_line, poll: tuple[float, float] = POLL_SECONDS) -> BuildLock:
        """Hold the lock, waiting while another process holds it (one ``waiting for`` line through ``log``)."""
        key = _key(self.path)
        self.stamp_before = _stamp(self.target)
        if key in _held_by_ancestors() or key in _HELD_HERE:
            self.inherited = True
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        delay, longest = poll
        while True:
            descriptor = _open_lock_file(self.path)
            try:
                while not _try_lock(descriptor):
                    if not self.waited:
                        self.waited = True
                        self.waited_for = Holder.parse(os.pread(descriptor, 4096, 0))
                        who = f" ({self.waited_for.describe()})" if self.waited_for else ""
                        log(f"waiting for {self.what}: another process{who} is building it")
                    time.sleep(delay)
                    delay = min(delay * 1.5, longest)
                if _is_file_at(descriptor, self.path):
                    break
            except BaseException:
                os.close(descriptor)
                raise
            os.close(descriptor)  # its holder removed it as it let go: lock the file there now
        _write_holder(descriptor, self.program)
        self._descriptor = descriptor
        _HELD_HERE[key] = self
        return self

    def release(self) -> None:
        """Let the lock go (nothing when it was inherited or is released already)."""
        if self._descriptor is None:
            return
        _HELD_HERE.pop(_key(self.path), None)
        descriptor, self._descriptor = self._descriptor, None
        try:
            self.path.unlink()  # while still locked: a process waiting on this file will see it gone (acquire)
        except OSError:
            pass  # a colleague's lock file in their folder: left as it is
        os.close(descriptor)  # closing the only descriptor releases the lock, flock or its NFS emulation alike

    def built_meanwhile(self, since_ns: int | None = None) -> bool:
        """Whether another process wrote the target after this one decided to build it: while this one waited
        for the lock, or (``since_ns``) after that moment, in nanoseconds since the epoch."""
        now = _stamp(self.target)
        if now is None:
            return False
        return (self.waited and now != self.stamp_before) or (since_ns is not None and now[0] > since_ns)


def _open_lock_file(path: Path) -> int:
    """A descriptor of the lock file, created with the umask's permissions (a colleague's lock: read-only)."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except PermissionError:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def _is_file_at(descriptor: int, path: Path) -> bool:
    """Whether ``descriptor`` is the file at ``path`` still (not one its last holder removed)."""
    try:
        here, there = os.fstat(descriptor), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _try_lock(descriptor: int) -> bool:
    """Take the exclusive lock without waiting; False while another process holds it."""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError as error:
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise


def _write_holder(descriptor: int, program: str) -> None:
    """Write who holds the lock into the lock file, through the locked descriptor (never a second one)."""
    record = {"pid": os.getpid(), "host": socket.gethostname(), "program": program, "since": time.time()}
    text = json.dumps(record).encode("utf-8") + b"\n"
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, text, 0)
    except OSError:
        pass  # a read-only lock file or a full disk: the lock holds all the same, the waiting line names nobody


def acquire(target: str | os.PathLike[str], what: str | None = None, *,
            log: Callable[[str], None] = _print_line) -> BuildLock:
    """Hold the lock of ``target`` until :func:`release` (or until this process ends): for work that spans
    several calls, as a notebook's run from ``begin_run`` to ``write_run``. ``what`` names it in the waiting line."""
    return BuildLock(target, what).acquire(log=log)


def release(target: str | os.PathLike[str]) -> None:
    """Let the lock of ``target`` go, if this process holds it."""
    lock = _HELD_HERE.get(_key(lock_file(target)))
    if lock is not None:
        lock.release()


@contextmanager
def building(target: str | os.PathLike[str], what: str | None = None, *,
             log: Callable[[str], None] = _print_line) -> Iterator[BuildLock]:
    """Hold the lock of ``target`` for the block; a lock this process (or its make step) held already stays held."""
    lock = acquire(target, what, log=log)
    try:
        yield lock
    finally:
        lock.release()


# ----------------------------------------------------------------------------------------------- make's steps


def build(target: Path, command: list[str], *, publish: tuple[Path, Path] | None = None, since_ns: int | None = None,
          log: Callable[[str], None] = _print_line) -> int:
    """Run one make step: ``command`` builds ``target`` while this process holds its lock; returns the exit status.

    A step built by another process after ``since_ns`` (make's start), or while this one waited, is not run
    again (0). ``publish`` (temporary, destination): after the command succeeds, the temporary it wrote (the
    executed notebook) is moved to the destination, still under the lock. A command that fails or is stopped
    leaves no target it wrote. SIGTERM and SIGHUP are passed on to the command, which is waited for, so the
    lock is held until it ends (a Slurm job is cancelled first); SIGINT (Ctrl-C) reaches it from the terminal.
    """
    lock = BuildLock(target, program="make")
    try:
        lock.acquire(log=log)
    except KeyboardInterrupt:
        log(f"stopped while waiting for {target}; nothing was built")
        return 130
    try:
        if lock.built_meanwhile(since_ns):
            by = f" ({lock.waited_for.describe()})" if lock.waited_for else ""
            log(f"{target}: built meanwhile by another process{by}; not building it again")
            return 0
        before = _stamp(target)
        status = _run_passing_signals(command, {**os.environ, HELD_VARIABLE: _held_with(lock.path)})
        if status != 0:
            if _stamp(target) != before:
                target.unlink(missing_ok=True)  # as .DELETE_ON_ERROR would: a failed step left no finished target
            return status
        if publish is not None:
            shutil.move(publish[0], publish[1])
        return 0
    finally:
        lock.release()


def _held_by_ancestors() -> list[str]:
    """The lock files :data:`HELD_VARIABLE` names (real paths)."""
    return [_key(Path(p)) for p in os.environ.get(HELD_VARIABLE, "").split(os.pathsep) if p]


def _held_with(path: Path) -> str:
    """:data:`HELD_VARIABLE` for a command run while this process holds the lock file ``path``."""
    return os.pathsep.join([*_held_by_ancestors(), _key(path)])


def _run_passing_signals(command: list[str], environment: dict[str, str]) -> int:
    """Run ``command`` to its end, passing SIGTERM and SIGHUP on to it; its exit status (128 + n for signal n)."""
    child = subprocess.Popen(command, env=environment)

    def pass_on(signum, frame) -> None:
        child.send_signal(signum)

    # SIGINT from a terminal reaches the whole process group, the command too: ignoring it here keeps the lock
    # until the command has ended (a Python handler, not SIG_IGN, which the command would inherit).
    previous = {signum: signal.signal(signum, handler) for signum, handler in
                ((signal.SIGTERM, pass_on), (signal.SIGHUP, pass_on), (signal.SIGINT, lambda signum, frame: None))}
    try:
        status = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - status if status < 0 else status


def main(argv: list[str] | None = None) -> int:
    """``python -m medner.locks build TARGET [--publish TEMPORARY DESTINATION] -- COMMAND...`` (:func:`build`)."""
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    options, command = argv[:split], argv[split + 1:]
    parser = argparse.ArgumentParser(
        prog="python -m medner.locks",
        description="Locks on what the study builds (medner.locks). build: run COMMAND while holding TARGET's lock; "
                    "wait while another process holds it, and skip COMMAND when that process built TARGET meanwhile.")
    commands = parser.add_subparsers(dest="action", required=True)
    step = commands.add_parser("build", usage="python -m medner.locks build TARGET [--publish TEMPORARY DESTINATION] "
                                              "-- COMMAND...", help="run one make step under its target's lock")
    step.add_argument("target", type=Path, help="the file the step builds (make's $@)")
    step.add_argument("--publish", nargs=2, type=Path, metavar=("TEMPORARY", "DESTINATION"),
                      help="after COMMAND succeeds, move TEMPORARY (the executed notebook) to DESTINATION")
    args = parser.parse_args(options)
    if not command:
        step.error("expected -- and the command that builds the target")
    started = os.environ.get(STARTED_VARIABLE, "")
    since_ns = int(started) if started.isdigit() else None
    return build(args.target, command, publish=tuple(args.publish) if args.publish else None, since_ns=since_ns)


if __name__ == "__main__":
    sys.exit(main())
