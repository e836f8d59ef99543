"""One heavy step of the study as a Slurm job: submit it, wait for it, and end as the job ended.

``make all RUNNER=slurm`` puts ``python -m medner.slurm run ... -- <command>`` in front of the
papermill command of each heavy step (an embedding's preparation, each run), so the job runs
exactly the command the step runs locally, in the same folder and with the same environment
(``--export=ALL``), and make sees it as one recipe line that succeeds or fails:

- **submit**: ``sbatch --parsable`` with a batch script that ``exec``\\ s the command; the job's
  name, its log (``--output``; ``%j`` is the job id), its CPUs and memory, then the user's own
  sbatch options (``SLURM_ARGS``: partition, account, time limit, GPUs), which come last and so win;
- **wait**: ``scontrol show job`` after 1 s, then less often, at most every :data:`MAX_POLL_SECONDS`;
- **end**: a job that ``COMPLETED`` exits 0 with one line. Any other end (FAILED, CANCELLED by
  ``scancel``, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, ...) prints one line with the job id, its state,
  exit code, node and log, then the log's last lines, and exits non-zero: make fails the target
  and, with ``.DELETE_ON_ERROR``, removes a target the job may have written before it died;
- **interrupted**: SIGINT (Ctrl-C), SIGTERM (make passes it on to its recipes) or SIGHUP cancel
  the job and wait until Slurm has ended it, so nothing writes into the results after make has
  stopped; a second signal stops the waiting.

sbatch, scontrol and scancel run in sessions of their own: a Ctrl-C reaches this process only,
which never loses a job between its submission and its id.

The Makefile runs this as ``python -m medner.slurm`` (also ``medner slurm run``): it imports the
standard library only, so the processes of ``make -j32`` waiting on a login node cost a few MiB
each, not a torch import each.
"""

from __future__ import annotations

import argparse
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

#: The first wait for a job's state, in seconds; each later one is 1.5 times longer, up to MAX_POLL_SECONDS.
FIRST_POLL_SECONDS = 1.0
#: The longest wait between two questions to slurmctld about one job: what a finished job may wait before make
#: goes on (the demo study's jobs waited 0-15 s at 15), against slurmctld's load (make -j32: 3 questions a second).
MAX_POLL_SECONDS = 10.0
#: How long an interrupted step waits for its cancelled job to end (Slurm's KillWait is 30 s by default).
CANCEL_WAIT_SECONDS = 60.0
#: Lines of a failed job's log shown under the one-line verdict.
LOG_TAIL_LINES = 20
#: Job states in which a job is over; in every other state (PENDING, RUNNING, COMPLETING, REQUEUED,
#: SUSPENDED, ...) it may still run. A requeued job runs its command again, from the start.
ENDED_STATES = frozenset({"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL",
                          "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT"})
#: What a line of the command's output starts with, so it stands out among the steps' own output.
PREFIX = "slurm:"


class SlurmError(Exception):
    """Slurm refused the job or is not there to ask: printed as one line, exit status 2."""


@dataclass(frozen=True)
class JobState:
    """What Slurm says of a job: its state, exit code (``"3:0"``: status 3, no signal), node and run time."""

    state: str  # PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, ...
    exit_code: str = "0:0"  # <exit status>:<signal>
    node: str = ""  # the node it ran (or runs) on
    run_time: str = ""  # elapsed, [D-]HH:MM:SS
    reason: str = ""  # why it waits or why it ended (None when there is nothing to say)

    @property
    def ended(self) -> bool:
        return self.state in ENDED_STATES

    @property
    def exit_status(self) -> int:
        """The command's exit status (0 when it was killed by a signal or never ran)."""
        status = self.exit_code.split(":")[0]
        return int(status) if status.isdigit() else 0


@dataclass(frozen=True)
class Job:
    """A submitted job: its id, the name it was given and its log file."""

    job_id: str
    name: str
    log: Path


class Signals:
    """The signals that end a step (SIGINT, SIGTERM, SIGHUP), noted instead of obeyed at once. One this process
    was started ignoring stays ignored: ``nohup make`` must outlive its terminal, and so must its jobs."""

    HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.received: list[int] = []

    def install(self) -> None:
        for signum in self.HANDLED:
            if signal.getsignal(signum) is not signal.SIG_IGN:
                signal.signal(signum, self._note)

    def _note(self, signum: int, frame) -> None:  # noqa: ARG002 - signal handler signature
        self.received.append(signum)

    def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds``, or less when a signal comes; returns whether one has come."""
        deadline = time.monotonic() + seconds
        while not self.received and time.monotonic() < deadline:
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        return bool(self.received)


def say(line: str, *, error: bool = False) -> None:
    print(f"{PREFIX} {line}", file=sys.stderr if error else sys.stdout, flush=True)


def _slurm_command(arguments: list[str], *, stdin: str | None = None,
                   timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a Slurm client command in its own session (a Ctrl-C meant for make does not kill it half-way);
    one that does not answer within ``timeout`` seconds ends with status 124."""
    try:
        return subprocess.run(arguments, input=stdin, capture_output=True, text=True, timeout=timeout,
                              start_new_session=True)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(arguments, 124, "", f"{arguments[0]} did not answer in {timeout:.0f} s")
    except FileNotFoundError:
        raise SlurmError(f"{arguments[0]} not found on PATH: RUNNER=slurm needs the Slurm client commands "
                         "(sbatch, scontrol, scancel); run make on a machine that submits to your cluster") from None


# ----------------------------------------------------------------------------------------------- submit


def batch_script(command: list[str]) -> str:
    """The job's script: the command itself, quoted for the shell, in place of the shell."""
    return f"#!/bin/bash\nexec {shlex.join(command)}\n"


def sbatch_arguments(name: str, log: Path, workdir: Path, cpus: int, mem: str, extra: list[str]) -> list[str]:
    """sbatch's command line: ours first, the user's ``extra`` options last (sbatch takes the last of each)."""
    return ["sbatch", "--parsable", f"--job-name={name}", f"--output={log}", f"--chdir={workdir}", "--ntasks=1",
            f"--cpus-per-task={cpus}", f"--mem={mem}", "--export=ALL", *extra]


def submit(command: list[str], name: str, log: str | Path, *, cpus: int = 1, mem: str = "4G",
           extra: list[str] | None = None, workdir: str | Path | None = None) -> Job:
    """Submit ``command`` as a batch job; returns the job with its log path (``%j`` replaced by its id)."""
    workdir = Path.cwd() if workdir is None else Path(workdir)
    log = Path(log) if Path(log).is_absolute() else workdir / log
    log.parent.mkdir(parents=True, exist_ok=True)  # Slurm fails a job whose log folder is missing, silently
    result = _slurm_command(sbatch_arguments(name, log, workdir, cpus, mem, list(extra or [])),
                            stdin=batch_script(command))
    job_id = result.stdout.strip().split(";")[0]
    if result.returncode != 0 or not job_id.isdigit():
        raise SlurmError(f"sbatch refused the job {name}: {result.stderr.strip() or result.stdout.strip()}")
    return Job(job_id=job_id, name=name, log=Path(str(log).replace("%j", job_id)))


# ----------------------------------------------------------------------------------------------- wait


def parse_scontrol(line: str) -> JobState:
    """A JobState from one line of ``scontrol show job -o``: ``Key=value`` words separated by spaces."""
    fields = dict(re.findall(r"(?:^|\s)([A-Za-z/:]+)=(\S*)", line))
    if "JobState" not in fields:
        raise SlurmError(f"scontrol show job: expected JobState=... in {line[:200]!r}")
    node = fields.get("NodeList", "")
    return JobState(state=fields["JobState"], exit_code=fields.get("ExitCode", "0:0"),
                    node="" if node == "(null)" else node, run_time=fields.get("RunTime", ""),
                    reason="" if fields.get("Reason", "None") == "None" else fields["Reason"])


def query(job_id: str) -> JobState | None:
    """The job's state from slurmctld, or from accounting once slurmctld has forgotten it (MinJobAge);
    None when neither knows it. A slurmctld that does not answer is asked again at the next poll."""
    result = _slurm_command(["scontrol", "show", "job", "-o", job_id])
    if result.returncode == 0 and result.stdout.strip():
        return parse_scontrol(result.stdout.strip().splitlines()[0])
    if "Invalid job id" not in result.stderr:
        said = result.stderr.strip().splitlines()
        return JobState(state="UNREACHABLE", reason=said[-1] if said else f"exit status {result.returncode}")
    try:
        accounting = _slurm_command(["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State,ExitCode,NodeList,Elapsed"])
    except SlurmError:  # no sacct here: nobody to ask
        return None
    rows = [row.split("|") for row in accounting.stdout.splitlines() if row.count("|") == 3]
    if accounting.returncode != 0 or not rows:
        return None
    state, exit_code, node, elapsed = rows[0]
    return JobState(state=state.split()[0], exit_code=exit_code, node=node, run_time=elapsed)


def wait(job: Job, signals: Signals) -> JobState | None:
    """Poll until the job has ended (its last state) or a signal came (the state before it)."""
    interval, warned, state = FIRST_POLL_SECONDS, False, None
    while not signals.sleep(interval):
        state = query(job.job_id)
        if state is None or state.ended:
            return state
        if state.state == "UNREACHABLE" and not warned:
            say(f"job {job.job_id}: slurmctld does not answer ({state.reason}); asking again", error=True)
            warned = True
        interval = min(interval * 1.5, MAX_POLL_SECONDS)
    return state


# ----------------------------------------------------------------------------------------------- end


def describe(job: Job, state: JobState | None) -> str:
    """One line: the job, how it ended, where it ran, and its log."""
    if state is None:
        return (f"job {job.job_id} ({job.name}) ended in a state Slurm no longer knows (no accounting); "
                f"log: {job.log}")
    details = [f"exit code {state.exit_status}" if state.exit_status else "",
               f"signal {state.exit_code.split(':')[1]}" if state.exit_code.split(":")[-1] not in ("", "0") else "",
               f"on {state.node}" if state.node else "", f"after {state.run_time}" if state.run_time else "",
               state.reason]
    said = ", ".join(d for d in details if d)
    return f"job {job.job_id} ({job.name}) {state.state}{f', {said}' if said else ''}; log: {job.log}"


def log_tail(log: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of a job's log (none when Slurm never wrote it)."""
    try:
        return log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def report_failure(job: Job, state: JobState | None) -> int:
    """Say how the job failed, show its log's end; the exit status make sees (the job's own, else 1)."""
    say(describe(job, state), error=True)
    tail = log_tail(job.log)
    if tail:
        print(f"{PREFIX} last {len(tail)} lines of {job.log}:", file=sys.stderr)
        print("\n".join(f"  | {line}" for line in tail), file=sys.stderr, flush=True)
    return state.exit_status if state is not None and state.exit_status else 1


def cancel(job: Job, signals: Signals) -> int:
    """Cancel the job after a signal and wait (up to CANCEL_WAIT_SECONDS, or a second signal) until it ended."""
    signum = signals.received[0]
    say(f"{signal.Signals(signum).name}: cancelling job {job.job_id} ({job.name})", error=True)
    _slurm_command(["scancel", job.job_id])
    deadline, state = time.monotonic() + CANCEL_WAIT_SECONDS, None
    while time.monotonic() < deadline and len(signals.received) < 2:
        state = query(job.job_id)
        if state is None or state.ended:
            break
        time.sleep(0.5)
    say(describe(job, state) if state is None or state.ended else
        f"job {job.job_id} ({job.name}) still {state.state} after scancel; log: {job.log}", error=True)
    return 128 + signum


def run(command: list[str], name: str, log: str | Path, *, cpus: int = 1, mem: str = "4G",
        extra: list[str] | None = None) -> int:
    """Run ``command`` as a Slurm job and wait for it; the exit status a make recipe should end with."""
    signals = Signals()
    signals.install()
    job = submit(command, name, log, cpus=cpus, mem=mem, extra=extra)
    say(f"job {job.job_id} submitted ({name}, {cpus} CPU{'s' if cpus != 1 else ''}, {mem}); log: {job.log}")
    state = wait(job, signals)
    if signals.received:
        return cancel(job, signals)
    if state is not None and state.state == "COMPLETED":
        say(describe(job, state))
        return 0
    return report_failure(job, state)


# ----------------------------------------------------------------------------------------------- command line


def _run(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        if not command:
            raise SlurmError("no command given: expected run [options] -- COMMAND [ARGS...]")
        return run(command, args.name, args.log, cpus=args.cpus, mem=args.mem, extra=shlex.split(args.sbatch_args))
    except SlurmError as error:
        say(f"error: {error}", error=True)
        return 2


def _add_run(actions) -> None:
    """The ``run`` action: its options and the command after ``--``."""
    job = actions.add_parser(
        "run", help="submit COMMAND with sbatch, wait for it, exit as it ended; a signal cancels the job",
        description="Submit COMMAND as a batch job (this folder, this environment), wait until it ends, and exit 0 "
        "when it COMPLETED; otherwise print the job id, state and log path with the log's last lines and exit "
        "non-zero. SIGINT, SIGTERM or SIGHUP cancel the job (scancel) first.")
    job.add_argument("--name", required=True, help="job name (squeue shows it)")
    job.add_argument("--log", required=True, help="the job's output file; %%j is replaced by the job id")
    job.add_argument("--cpus", type=int, default=1, help="--cpus-per-task (default 1)")
    job.add_argument("--mem", default="4G", help="--mem: memory of the job, e.g. 4G (default 4G)")
    job.add_argument("--sbatch-args", default="", help="more sbatch options as one string, written "
                     "--sbatch-args='--partition=gpu --gres=gpu:1 --time=2:00:00'; they win over the options above")
    job.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command and its arguments")
    job.set_defaults(func=_run)


def register(subparsers) -> None:
    """Add ``slurm run`` to ``medner``."""
    group = subparsers.add_parser("slurm", help="run a command as a Slurm job and wait for it (make's RUNNER=slurm)")
    _add_run(group.add_subparsers(dest="slurm_command", metavar="ACTION"))
    group.set_defaults(func=lambda args: group.print_help() or 0)


def main(argv: list[str] | None = None) -> int:
    """``python -m medner.slurm run ...``: ``medner slurm run`` without the rest of ``medner`` and its imports."""
    parser = argparse.ArgumentParser(prog="python -m medner.slurm", description=__doc__.splitlines()[0])
    _add_run(parser.add_subparsers(dest="action", metavar="ACTION"))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
