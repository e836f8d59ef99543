"""A real single-node Slurm cluster in a temporary folder: what the Slurm tests run ``make RUNNER=slurm`` on.

Debian's ``slurm-wlm`` and ``munge`` packages, started by root, nothing of the system's touched:

- ``munged`` as the ``munge`` user, with a random key of its own and its own socket (``AuthInfo=socket=``),
  so a munged the machine may already run is left alone;
- ``slurmctld`` and ``slurmd`` as root (``SlurmUser=root``, ``SlurmdUser=root``; jobs run as the user who
  submits them, root here, which Slurm allows by default), on two free ports, with one node (this machine's
  name, CPUs and memory, as ``slurmd -C`` prints them) in one partition, ``debug``;
- ``ProctrackType=proctrack/linuxproc`` and ``TaskPlugin=task/none``: no cgroups needed;
- no accounting database: ``JobCompType=jobcomp/filetxt`` writes one line per ended job to ``jobcomp.log``
  (:meth:`SingleNodeSlurm.ended_jobs`), which is how the tests see a job's final state after the fact.

Config, state, spool and logs all live in the cluster's folder (under the system's temporary folder: the
munge user must reach its key and socket there). Each daemon runs in the foreground as a child of this
process and :meth:`SingleNodeSlurm.stop` ends it by its process id, after cancelling what still runs.

``python tests/slurm_cluster.py`` starts one and keeps it until Ctrl-C, printing the ``SLURM_CONF`` to
export: a way to try ``make all RUNNER=slurm`` on one machine.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The programs a cluster needs: the daemons and the client commands make's RUNNER=slurm uses.
PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "scontrol", "scancel", "squeue", "sinfo")
PARTITION = "debug"


def unavailable_reason() -> str | None:
    """Why a cluster cannot start on this machine, in one line; None when it can."""
    missing = [name for name in PROGRAMS if shutil.which(name) is None]
    if missing:
        return f"Slurm is not installed ({', '.join(missing)} not on PATH): apt-get install slurm-wlm munge"
    if os.geteuid() != 0:
        return "a single-node Slurm needs root (munged runs as the munge user, slurmd as root)"
    try:
        import pwd

        pwd.getpwnam("munge")
    except KeyError:
        return "no munge user (the munge package creates it)"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _fields(line: str) -> dict[str, str]:
    """``Key=value`` words of a Slurm line (scontrol -o, jobcomp/filetxt)."""
    return dict(re.findall(r"(?:^|\s)([A-Za-z/:]+)=(\S*)", line))


class SingleNodeSlurm:
    """munged, slurmctld and slurmd for one node, in a folder of their own; a context manager."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="medner-slurm-"))
        self.owns_folder = folder is None
        self.conf = self.folder / "slurm.conf"
        self.processes: list[subprocess.Popen] = []

    @property
    def env(self) -> dict[str, str]:
        """What a client (sbatch, make RUNNER=slurm) needs in its environment to use this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    # ------------------------------------------------------------------ starting

    def start(self, timeout: float = 30) -> SingleNodeSlurm:
        """Start the three daemons and wait until the node takes jobs; on any failure stop what started."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.folder.chmod(0o711)  # the munge user passes through to its own folders
            socket_path = self._start_munge()
            self._write_config(socket_path)
            for daemon in ("slurmctld", "slurmd"):
                self._spawn(daemon, [daemon, "-D"], env={**os.environ, **self.env})
            self._wait_until_idle(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, command: list[str], **options) -> subprocess.Popen:
        """A daemon in the foreground, in a session of its own (a Ctrl-C in the test's terminal is ours to handle),
        its output in ``<name>.out``."""
        with (self.folder / f"{name}.out").open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True, **options)
        self.processes.append(process)
        return process

    def _start_munge(self) -> Path:
        """munged as the munge user with a fresh random key; returns its socket."""
        keys, run = self.folder / "munge", self.folder / "munge-run"
        keys.mkdir(mode=0o700)
        run.mkdir(mode=0o755)  # munged wants its socket's folder open to every user it serves
        key = keys / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        for path in (keys, run, key):
            shutil.chown(path, "munge", "munge")
        socket_path = run / "munge.socket"
        self._spawn("munged", ["munged", "--foreground", f"--socket={socket_path}", f"--key-file={key}",
                               f"--log-file={keys / 'munged.log'}", f"--pid-file={run / 'munged.pid'}",
                               f"--seed-file={keys / 'munged.seed'}"], user="munge", group="munge", extra_groups=[])
        self._wait_for(lambda: socket_path.exists(), 10, "munged to open its socket")
        return socket_path

    def _write_config(self, munge_socket: Path) -> None:
        node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
        host = socket.gethostname().split(".")[0]
        state = self.folder / "state"
        spool = self.folder / "spool"
        state.mkdir(exist_ok=True)
        spool.mkdir(exist_ok=True)
        settings = {
            "ClusterName": "medner-test", "SlurmctldHost": f"{host}(127.0.0.1)",
            "SlurmctldPort": _free_port(), "SlurmdPort": _free_port(),
            "AuthType": "auth/munge", "CredType": "cred/munge", "AuthInfo": f"socket={munge_socket}",
            "SlurmUser": "root", "SlurmdUser": "root",
            "StateSaveLocation": state, "SlurmdSpoolDir": spool,
            "SlurmctldPidFile": self.folder / "slurmctld.pid", "SlurmdPidFile": self.folder / "slurmd.pid",
            "SlurmctldLogFile": self.folder / "slurmctld.log", "SlurmdLogFile": self.folder / "slurmd.log",
            "ProctrackType": "proctrack/linuxproc", "TaskPlugin": "task/none", "MpiDefault": "none",
            "SelectType": "select/cons_tres", "SelectTypeParameters": "CR_CPU_Memory", "ReturnToService": 2,
            "JobAcctGatherType": "jobacct_gather/none", "AccountingStorageType": "accounting_storage/none",
            "JobCompType": "jobcomp/filetxt", "JobCompLoc": self.jobcomp_log,
        }
        lines = [f"{key}={value}" for key, value in settings.items()]
        lines += [f"{node} NodeAddr=127.0.0.1 State=UNKNOWN",
                  f"PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP"]
        self.conf.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _wait_until_idle(self, timeout: float) -> None:
        def idle() -> bool:
            result = self.client("sinfo", "-h", "-o", "%T", check=False)
            return result.returncode == 0 and result.stdout.strip() == "idle"

        self._wait_for(idle, timeout, "the node to be idle (sinfo)")

    def _wait_for(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            ended = [p.args[0] for p in self.processes if p.poll() is not None]
            if ended or time.monotonic() > deadline:
                raise RuntimeError(f"single-node Slurm: waited {timeout:.0f} s for {what}; "
                                   f"{'ended: ' + ', '.join(ended) if ended else 'still waiting'}\n{self.logs()}")
            time.sleep(0.2)

    # ------------------------------------------------------------------ using

    @property
    def jobcomp_log(self) -> Path:
        return self.folder / "jobcomp.log"

    def client(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        """A Slurm client command (squeue, scancel, ...) against this cluster."""
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=60,
                              env={**os.environ, **self.env})

    def queue(self) -> dict[str, tuple[str, str]]:
        """Jobs slurmctld still runs or waits to run: job id -> (name, state)."""
        rows = self.client("squeue", "-h", "-o", "%i|%j|%T").stdout.splitlines()
        return {job: (name, state) for job, name, state in (row.split("|") for row in rows if row.count("|") == 2)}

    def ended_jobs(self) -> dict[str, dict[str, str]]:
        """Every job that ended, from the job completion log: job id -> its fields (Name, JobState, ExitCode, ...)."""
        if not self.jobcomp_log.exists():
            return {}
        records = (_fields(line) for line in self.jobcomp_log.read_text(encoding="utf-8").splitlines())
        return {record["JobId"]: record for record in records if "JobId" in record}

    def logs(self, lines: int = 15) -> str:
        """The last lines of every daemon's log, for a failure message."""
        parts = []
        for path in sorted(self.folder.glob("*.out")) + sorted(self.folder.glob("*.log")):
            tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    # ------------------------------------------------------------------ stopping

    def stop(self) -> None:
        """Cancel every job, wait (a little) until they ended, then end each daemon by its pid, last started first."""
        if self.conf.exists() and self.processes and all(p.poll() is None for p in self.processes):
            try:
                jobs = list(self.queue())
                if jobs:
                    self.client("scancel", *jobs, check=False)
                    deadline = time.monotonic() + 30
                    while self.queue() and time.monotonic() < deadline:
                        time.sleep(0.5)
            except (subprocess.SubprocessError, OSError):
                pass  # a cluster that does not answer is stopped all the same
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=15)
        self.processes.clear()
        if self.owns_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> SingleNodeSlurm:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def main() -> int:
    """Start a cluster, print how to use it, keep it until Ctrl-C (or SIGTERM), then stop it."""
    reason = unavailable_reason()
    if reason:
        print(f"cannot start a single-node Slurm: {reason}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    with SingleNodeSlurm(sys.argv[1] if len(sys.argv) > 1 else None) as cluster:
        print(f"export SLURM_CONF={cluster.conf}\n(daemons' pids: {', '.join(str(p.pid) for p in cluster.processes)}; "
              "Ctrl-C stops them)", flush=True)
        try:
            while all(p.poll() is None for p in cluster.processes):
                time.sleep(1)
            print(f"a daemon ended:\n{cluster.logs()}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
