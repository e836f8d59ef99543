"""make's RUNNER=slurm: the same study with each heavy step a Slurm job, on a real single-node Slurm.

The cluster (``tests/slurm_cluster.py``: munged, slurmctld and slurmd from Debian's packages, in a
temporary folder) is started once for the module and stopped, daemon by daemon, whatever happens. The
tiny study runs through it with ``make -j2 all RUNNER=slurm`` and is compared with the same study run
locally (the session's ``tiny_study``). Then a run's job is interrupted twice, by a Ctrl-C to make and by
``scancel``, and a second make finishes it.

Without root or the packages these tests skip with one line saying why; under CI (``CI=true``) that is a
failure. The dry-run test needs no cluster.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from slurm_cluster import SingleNodeSlurm, unavailable_reason
from tiny_study import TINY, frozen_checkout, make, make_invocation, run_tiny_study

#: RUNNER=slurm with jobs that fit a small node (a CI machine): one CPU per job, as many as the local run's
#: torch threads under make -j2, and a memory request far above a tiny step's peak (about 0.5 GiB).
SLURM_TINY = ["RUNNER=slurm", "SLURM_EMBED_CPUS=1", "SLURM_EMBED_MEM=1G", "SLURM_RUN_MEM=1G"]
EMBEDDINGS = ("glove", "bert")
#: The run the interruption tests stop part-way: its job runs about 15 s, most of it before it writes anything.
INTERRUPTED_RUN = "demo/bert/seed-1/02-train"


def papermill_lines(dry_run: str) -> list[str]:
    return [line for line in dry_run.splitlines() if "/papermill " in line]


def test_runner_slurm_runs_the_same_papermill_commands_as_jobs(tmp_path) -> None:
    args = ("-n", "-j2", "all", *TINY)
    local = papermill_lines(make(*args, root=tmp_path).stdout)
    slurm = papermill_lines(make(*args, "RUNNER=slurm", "SLURM_ARGS=--partition=gpu --time=1:00:00",
                                 "SLURM_RUN_ARGS=--gres=gpu:1", root=tmp_path).stdout)
    jobs = [line for line in slurm if " -m medner.slurm run " in line]
    # Every heavy step, and only those, is a job; each job's command is the local command, unchanged. The step's
    # lock (medner.locks build ... --) is held on make's side, around the job: a second make waits without a job.
    without_job = [re.sub(r" -- \S+ -m medner\.slurm run .*? -- ", " -- ", line) for line in slurm]
    assert sorted(without_job) == sorted(local)
    assert all(" -m medner.locks build " in line.split(" -- ")[0] for line in jobs)
    # 2 embedding preparations, 2 runs and 4 relation runs (2 embeddings x pipeline, shared)
    assert len(jobs) == 8 and all(re.search(r"notebooks/0[125]-", line) for line in jobs)
    run = next(line for line in jobs if "notebooks/02-train" in line)
    assert "--name 'demo/glove/seed-1/02-train'" in run or "--name 'demo/bert/seed-1/02-train'" in run
    assert re.search(r"--log '\S+/demo/(glove|bert)/seed-1/02-train\.slurm-%j\.log'", run)
    # A run's job has as many CPUs as the run has torch threads; its options come after everyone's.
    assert "--cpus 1 " in run and "-p num_threads 1 " in run
    assert "--sbatch-args='--partition=gpu --time=1:00:00 --gres=gpu:1'" in run
    embedding = next(line for line in jobs if "notebooks/01-embeddings" in line)
    assert "--cpus 2 --mem '8G' --sbatch-args='--partition=gpu --time=1:00:00' --" in embedding
    threads = make(*args, "RUNNER=slurm", "THREADS=3", root=tmp_path).stdout
    assert all("--cpus 3 " in line and "-p num_threads 3 " in line
               for line in papermill_lines(threads) if "notebooks/02-train" in line)
    wrong = make("-n", "all", "RUNNER=cluster", root=tmp_path, check=False)
    assert wrong.returncode != 0 and "RUNNER=cluster: expected local or slurm" in wrong.stderr


def test_the_job_script_runs_the_command_word_for_word(tmp_path) -> None:
    from medner.slurm import batch_script

    command = [sys.executable, "-c", "import sys; print(sys.argv[1:])", "-r", "label_map", "", "it's $HOME; `x`"]
    script = tmp_path / "job.sh"
    script.write_text(batch_script(command))
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(command[3:])


def test_a_job_state_is_read_from_scontrol_and_said_in_one_line() -> None:
    from medner.slurm import Job, describe, parse_scontrol

    line = ("JobId=57 JobName=demo/bert/seed-1/02-train UserId=ann(1000) JobState=CANCELLED Reason=None "
            "ExitCode=0:15 RunTime=00:00:04 Partition=cpu NodeList=node07 WorkDir=/home/ann/medner")
    state = parse_scontrol(line)
    assert (state.state, state.exit_status, state.node, state.ended) == ("CANCELLED", 0, "node07", True)
    job = Job("57", "demo/bert/seed-1/02-train", Path("/r/02-train.slurm-57.log"))
    assert describe(job, state) == ("job 57 (demo/bert/seed-1/02-train) CANCELLED, signal 15, on node07, after "
                                    "00:00:04; log: /r/02-train.slurm-57.log")
    assert not parse_scontrol("JobId=58 JobState=PENDING Reason=Resources NodeList=(null)").ended


# ----------------------------------------------------------------------------------------------- on a cluster


@pytest.fixture(scope="module")
def cluster():
    """A running single-node Slurm; skipped (failed under CI=true) where none can start."""
    reason = unavailable_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the Slurm tests must run, not skip)")
        pytest.skip(reason)
    with SingleNodeSlurm() as running:
        yield running


@pytest.fixture(scope="module")
def slurm_study(cluster, tmp_path_factory) -> tuple[Path, Path]:
    """(MEDNER_ROOT, checkout) after ``make -j2 all RUNNER=slurm`` on the tiny configuration."""
    root = tmp_path_factory.mktemp("slurm-study")
    checkout = frozen_checkout(tmp_path_factory.mktemp("slurm-checkout"))
    run_tiny_study(root, checkout, *SLURM_TINY, env=cluster.env)
    return root, checkout


def run_folder(root: Path, embedding: str) -> Path:
    return root / "results" / "demo" / embedding / "seed-1"


def read_metrics(root: Path, embedding: str) -> dict:
    from medner.run_folder import RunFolder

    return RunFolder(run_folder(root, embedding)).read_metrics()


def submitted(make_output: str) -> dict[str, str]:
    """Job name -> id of every job make submitted, from the wrapper's lines.

    Not anchored at a line start: under ``make -j2`` another recipe's partial line (a notebook's progress)
    can precede the wrapper's line in the shared log.
    """
    return {name: job for job, name in re.findall(r"slurm: job (\d+) submitted \((\S+),", make_output)}


def ended_job(cluster: SingleNodeSlurm, job: str, timeout: float = 15) -> dict[str, str]:
    """The job completion record of ``job`` (slurmctld writes it as the job ends)."""
    deadline = time.monotonic() + timeout
    while job not in cluster.ended_jobs():
        assert time.monotonic() < deadline, f"job {job} has no completion record:\n{cluster.logs()}"
        time.sleep(0.2)
    return cluster.ended_jobs()[job]


@pytest.mark.slurm
@pytest.mark.slow
def test_a_failed_job_says_its_id_state_and_log(cluster, tmp_path) -> None:
    command = [sys.executable, "-m", "medner.slurm", "run", "--name", "test/fails", "--log",
               str(tmp_path / "fails.slurm-%j.log"), "--mem", "100M", "--", "bash", "-c", "echo its last words; exit 3"]
    result = subprocess.run(command, env={**os.environ, **cluster.env}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stdout + result.stderr
    job = submitted(result.stdout)["test/fails"]
    assert f"slurm: job {job} (test/fails) FAILED, exit code 3, on " in result.stderr
    assert f"; log: {tmp_path}/fails.slurm-{job}.log" in result.stderr
    assert "  | its last words" in result.stderr


@pytest.mark.slurm
@pytest.mark.slow
def test_sigterm_to_the_waiting_step_cancels_its_job(cluster, tmp_path) -> None:
    command = [sys.executable, "-m", "medner.slurm", "run", "--name", "test/sleeps", "--log",
               str(tmp_path / "sleeps.slurm-%j.log"), "--mem", "100M", "--", "sleep", "300"]
    step = subprocess.Popen(command, env={**os.environ, **cluster.env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        job = wait_until_running(cluster, "test/sleeps", step)
        step.send_signal(signal.SIGTERM)  # what make does to its recipes when it is terminated
        out, err = step.communicate(timeout=90)
    finally:
        stop(step)
    assert step.returncode == 128 + signal.SIGTERM, out + err
    assert f"SIGTERM: cancelling job {job} (test/sleeps)" in err
    assert job not in cluster.queue() and ended_job(cluster, job)["JobState"] == "CANCELLED"


@pytest.mark.slurm
@pytest.mark.slow
def test_every_heavy_step_ran_as_a_slurm_job(slurm_study, cluster) -> None:
    root, _ = slurm_study
    log = (root / "make.log").read_text(encoding="utf-8")
    jobs = submitted(log)
    expected = ({f"demo/embeddings/01-embeddings-{e}" for e in EMBEDDINGS}
                | {f"demo/{e}/seed-1/02-train" for e in EMBEDDINGS}
                | {f"demo/relations/{e}/{v}/seed-1/05-relations" for e in EMBEDDINGS for v in ("pipeline", "shared")})
    slurm_lines = "\n".join(line for line in log.splitlines() if "slurm: " in line)
    assert set(jobs) == expected, slurm_lines  # the corpus report, error pages and comparison stay local
    ended = cluster.ended_jobs()
    for name, job in jobs.items():
        assert ended[job]["Name"] == name and ended[job]["JobState"] == "COMPLETED", ended.get(job)
        assert (root / "results" / f"{name}.slurm-{job}.log").is_file()  # the job's log, beside its notebook
    for embedding in EMBEDDINGS:
        recorded = read_metrics(root, embedding)["environment"]["slurm"]
        assert recorded["job_id"] == jobs[f"demo/{embedding}/seed-1/02-train"]
        assert recorded["job_name"] == f"demo/{embedding}/seed-1/02-train"
        assert recorded["partition"] == "debug" and recorded["cpus_per_task"] == 1 and recorded["node"]


@pytest.mark.slurm
@pytest.mark.slow
def test_the_study_through_slurm_gives_the_local_numbers(slurm_study, tiny_study) -> None:
    root, _ = slurm_study
    local, _ = tiny_study
    summary = Path("figures", "demo", "summary.csv")
    assert (root / summary).read_bytes() == (local / summary).read_bytes()
    for embedding in EMBEDDINGS:
        through_slurm, here = read_metrics(root, embedding), read_metrics(local, embedding)
        assert through_slurm["scores"] == here["scores"] and through_slurm["best_dev_f1"] == here["best_dev_f1"]
        if "SLURM_JOB_ID" not in os.environ:
            assert here["environment"]["slurm"] is None


def start_make(root: Path, checkout: Path, cluster: SingleNodeSlurm, target: str = "all") -> subprocess.Popen:
    """``make -j2 <target> RUNNER=slurm`` in the background, in a process group of its own (as a terminal's job).

    SIGINT is reset to its default in make: a suite started in the background by a shell (``.ci/run &``,
    ``nohup``) inherits SIGINT ignored, and make would then ignore the test's Ctrl-C, as no terminal's job does.
    """
    command, environment = make_invocation("-j2", target, *TINY, *SLURM_TINY, root=root, env=cluster.env)
    return subprocess.Popen(command, cwd=checkout, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_until_running(cluster: SingleNodeSlurm, name: str, process: subprocess.Popen, timeout: float = 120) -> str:
    """The id of the job called ``name`` once it runs."""
    deadline = time.monotonic() + timeout
    while True:
        running = [job for job, (job_name, state) in cluster.queue().items() if job_name == name and state == "RUNNING"]
        if running:
            return running[0]
        assert process.poll() is None, f"ended before job {name} ran:\n{process.communicate()[0][-3000:]}"
        assert time.monotonic() < deadline, f"job {name} did not run within {timeout:.0f} s:\n{cluster.logs()}"
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    """End a process this test started, and its process group when it leads one, if it still runs."""
    if process.poll() is None:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.terminate()
        process.wait(timeout=90)


@pytest.mark.slurm
@pytest.mark.slow
def test_ctrl_c_cancels_the_job_make_submitted(slurm_study, cluster) -> None:
    root, checkout = slurm_study
    metrics = run_folder(root, "bert") / "metrics.json"
    metrics.unlink()
    process = start_make(root, checkout, cluster)
    try:
        job = wait_until_running(cluster, INTERRUPTED_RUN, process)
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the terminal signals make's whole process group
        output = process.communicate(timeout=120)[0]
    finally:
        stop(process)
    assert process.returncode != 0, output[-3000:]
    assert f"slurm: SIGINT: cancelling job {job} ({INTERRUPTED_RUN})" in output, output[-3000:]
    assert job not in cluster.queue() and ended_job(cluster, job)["JobState"] == "CANCELLED"
    assert not metrics.exists()
    make("-j2", "runs", *TINY, *SLURM_TINY, root=root, cwd=checkout, env=cluster.env)
    assert metrics.is_file()


@pytest.mark.slurm
@pytest.mark.slow
def test_a_job_cancelled_part_way_fails_make_and_a_second_make_finishes_it(slurm_study, tiny_study, cluster) -> None:
    root, checkout = slurm_study
    folder = run_folder(root, "bert")
    (folder / "metrics.json").unlink()
    process = start_make(root, checkout, cluster)
    try:
        job = wait_until_running(cluster, INTERRUPTED_RUN, process)
        time.sleep(3)  # part-way: papermill's kernel has started the run
        cluster.client("scancel", job)
        output = process.communicate(timeout=120)[0]
    finally:
        stop(process)
    assert process.returncode != 0, output[-3000:]
    verdict = rf"^slurm: job {job} \({INTERRUPTED_RUN}\) CANCELLED, .*; log: {folder}/02-train\.slurm-{job}\.log$"
    assert re.search(verdict, output, flags=re.M), output[-3000:]
    assert not (folder / "metrics.json").exists()  # no run folder claims to be finished
    again = make("-j2", "all", *TINY, *SLURM_TINY, root=root, cwd=checkout, env=cluster.env)
    # only what was not finished, and the pipeline relation run that builds on it
    assert list(submitted(again.stdout)) == [INTERRUPTED_RUN, "demo/relations/bert/pipeline/seed-1/05-relations"]
    assert read_metrics(root, "bert")["environment"]["slurm"]["job_id"] == submitted(again.stdout)[INTERRUPTED_RUN]
    summary = Path("figures", "demo", "summary.csv")
    assert (root / summary).read_bytes() == (tiny_study[0] / summary).read_bytes()
