"""Locks on what is being built (medner.locks): a second builder waits with one line and does not build again what
the first built meanwhile; a holder killed by SIGKILL releases its lock; and two ``make -j2 all`` started at once
on one results folder both finish, build each step once and give the numbers of one ``make all``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from tiny_study import TINY, frozen_checkout, make_invocation

from medner import locks

#: A process that holds the lock of argv[1] for argv[2] seconds, then writes the target when argv[3] is "write".
HOLDER = """
import sys, time
from pathlib import Path
from medner import locks
target = Path(sys.argv[1])
with locks.building(target):
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
    if sys.argv[3] == "write":
        target.write_text("built")
"""
#: A make step's command: counts its runs in argv[1], works a while, writes the executed notebook argv[3], then
#: the target argv[2].
STEP = """
import sys, time
from pathlib import Path
count, target, notebook = map(Path, sys.argv[1:])
with count.open("a") as runs:
    runs.write("ran\\n")
time.sleep(2)
notebook.write_text("executed")
target.write_text("built")
"""


def clean_environment(**more: str) -> dict[str, str]:
    """This environment without the locks' variables (``make test`` exports when it started), plus ``more``."""
    environment = {k: v for k, v in os.environ.items() if k not in (locks.HELD_VARIABLE, locks.STARTED_VARIABLE)}
    return {**environment, **more}


def hold(target: Path, seconds: float, write: bool) -> subprocess.Popen:
    """A process holding the lock of ``target`` (see HOLDER), once it says so."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(target), str(seconds), "write" if write else "no"],
                              stdout=subprocess.PIPE, text=True, env=clean_environment())
    assert holder.stdout.readline() == "holding\n"
    return holder


def build_step(target: Path, *command: str, started_ns: int | None = None, publish: tuple[Path, Path] | None = None,
               background: bool = False):
    """``python -m medner.locks build`` as make runs it (``started_ns``: when make started)."""
    argv = [sys.executable, "-m", "medner.locks", "build", str(target),
            *(["--publish", *map(str, publish)] if publish else []), "--", *command]
    environment = clean_environment(**({locks.STARTED_VARIABLE: str(started_ns)} if started_ns else {}))
    if background:
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)
    return subprocess.run(argv, capture_output=True, text=True, env=environment, timeout=60)


def test_a_second_process_waits_with_one_line_and_sees_what_the_first_built(tmp_path):
    target = tmp_path / "demo" / "glove" / "seed-1" / "metrics.json"
    holder = hold(target, seconds=1.0, write=True)
    lines: list[str] = []
    lock = locks.BuildLock(target, "run demo/glove/seed-1").acquire(log=lines.append)
    try:
        assert lock.held and lock.waited and lock.built_meanwhile()
    finally:
        lock.release()
    assert holder.wait(timeout=30) == 0
    assert len(lines) == 1
    assert re.fullmatch(rf"waiting for run demo/glove/seed-1: another process \(pid {holder.pid}, python, "
                        r"since \d\d:\d\d:\d\d\) is building it", lines[0]), lines
    assert sorted(p.name for p in target.parent.iterdir()) == ["metrics.json"]  # the lock file went with the lock


def test_a_holder_killed_by_sigkill_releases_the_lock_and_the_waiting_step_builds(tmp_path):
    target = tmp_path / "metrics.json"
    holder = hold(target, seconds=600, write=False)
    waiting = build_step(target, sys.executable, "-c", f"open({str(target)!r}, 'w').write('built')", background=True)
    try:
        assert waiting.stdout.readline().startswith(f"waiting for {target}: another process (pid {holder.pid}, ")
        holder.send_signal(signal.SIGKILL)  # the kernel releases a flock when its holder dies, however it dies
        holder.wait(timeout=30)
        output = waiting.communicate(timeout=30)[0]
    finally:
        for process in (holder, waiting):
            if process.poll() is None:
                process.kill()
    assert waiting.returncode == 0, output
    assert target.read_text() == "built"  # the killed holder built nothing: the waiting step built it
    assert not locks.lock_file(target).exists()


def test_two_make_steps_started_at_once_run_their_command_once(tmp_path):
    target, count = tmp_path / "embeddings" / "glove.json", tmp_path / "count"
    temporary, notebook = tmp_path / ".make" / "01-embeddings-glove.ipynb", tmp_path / "01-embeddings-glove.ipynb"
    temporary.parent.mkdir()
    target.parent.mkdir()
    started = time.time_ns()  # as make exports it
    steps = [build_step(target, sys.executable, "-c", STEP, str(count), str(target), str(temporary), started_ns=started,
                        publish=(temporary, notebook), background=True) for _ in range(2)]
    outputs = [step.communicate(timeout=60)[0] for step in steps]
    assert [step.returncode for step in steps] == [0, 0], outputs
    assert count.read_text() == "ran\n"
    assert notebook.read_text() == "executed" and not temporary.exists()  # published by the one that ran
    skipped = [output for output in outputs if "not building it again" in output]
    assert len(skipped) == 1
    assert re.search(rf"^{re.escape(str(target))}: built meanwhile by another process( \(pid \d+, make, since "
                     r"\d\d:\d\d:\d\d\))?; not building it again$", skipped[0], flags=re.M), skipped[0]


def test_a_stale_step_is_built_and_a_failed_one_leaves_no_target_it_wrote(tmp_path):
    target = tmp_path / "errors.html"
    target.write_text("old")
    write_new = ("-c", f"open({str(target)!r}, 'w').write('new')")
    built = build_step(target, sys.executable, *write_new, started_ns=time.time_ns())
    assert built.returncode == 0 and target.read_text() == "new"  # older than make's start: built, not skipped
    fail_after_writing = ("-c", f"open({str(target)!r}, 'w').write('half'); raise SystemExit(3)")
    failed = build_step(target, sys.executable, *fail_after_writing, started_ns=time.time_ns())
    assert failed.returncode == 3 and not target.exists()  # as .DELETE_ON_ERROR did, under the lock
    target.write_text("old")
    failed = build_step(target, sys.executable, "-c", "raise SystemExit(4)", started_ns=time.time_ns())
    assert failed.returncode == 4 and target.read_text() == "old"  # not written by the step: kept


def test_a_step_and_a_notebook_cell_run_twice_do_not_wait_for_themselves(tmp_path):
    target = tmp_path / "metrics.json"
    inner = ("import sys; from medner import locks; "
             "lock = locks.acquire(sys.argv[1], log=lambda line: print('WAITED', line)); print('inherited', lock.inherited)")
    result = build_step(target, sys.executable, "-c", inner, str(target))
    assert result.returncode == 0 and "inherited True" in result.stdout and "WAITED" not in result.stdout, result
    with locks.building(target) as outer:
        with locks.building(target) as again:  # the same lock again in this process: no waiting for itself
            assert outer.held and again.inherited
        assert outer.held and locks.lock_file(target).exists()  # the inner block let nothing go
    assert not outer.held and not locks.lock_file(target).exists()


def test_begin_run_does_not_train_again_a_run_finished_while_it_waited(tmp_path):
    from medner.runs import FinishedMeanwhile, RunSettings, begin_run

    settings = RunSettings("demo", "glove", 1, results_root=tmp_path)
    folder = settings.folder()
    holder = hold(folder.metrics_path, seconds=1.0, write=True)  # another process finishing the run
    lines: list[str] = []
    finished = rf"^{re.escape(str(folder.path))}: another process \(pid {holder.pid}, python, since \d\d:\d\d:\d\d\) " \
               r"finished this run while this one waited; not training it again"
    with pytest.raises(FinishedMeanwhile, match=finished):
        begin_run(settings, force=True, log=lines.append)  # make's force: the run was stale when make looked
    assert lines == [line for line in lines if line.startswith(f"waiting for run {folder.path}: another process")]
    assert holder.wait(timeout=30) == 0 and folder.finished
    again = begin_run(settings, force=True, log=lines.append)  # asked again, it trains: the lock is held until write_run
    try:
        assert not again.finished and len(lines) == 1 and locks.lock_file(folder.metrics_path).exists()
    finally:
        locks.release(folder.metrics_path)
    assert not locks.lock_file(folder.metrics_path).exists()


def _fill_slowly(root: str, record: str, queue) -> None:
    from medner.embeddings.base import TokenEmbedder, fingerprint_of
    from medner.embeddings.cache import EmbeddingCache

    class SlowOnes(TokenEmbedder):
        name, dim = "slow-ones", 2
        fingerprint = fingerprint_of({"family": "test-slow-ones"})

        def embed(self, sentences):
            with open(record, "a") as embedded:
                embedded.write("embedded\n")
            time.sleep(1)
            return [np.ones((len(s), 2), dtype=np.float32) for s in sentences]

    cached = EmbeddingCache(root).load_or_compute(SlowOnes(), "toy", "train", [["a", "b"], ["c"]], progress=False)
    queue.put(cached.hit)


def test_two_processes_needing_one_cache_entry_compute_it_once(tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_fill_slowly, args=(str(tmp_path), str(tmp_path / "record"), queue))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    hits = sorted(queue.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert hits == [False, True]  # one filled it, the other waited and read it
    assert (tmp_path / "record").read_text() == "embedded\n"
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]  # no lock file, no temporary left


@pytest.mark.slow
def test_two_make_all_at_once_finish_build_each_step_once_and_give_one_study_s_numbers(tmp_path, tiny_study):
    reference, _ = tiny_study
    (tmp_path / "checkout").mkdir()
    checkout = frozen_checkout(tmp_path / "checkout")
    root = tmp_path / "root"
    command, environment = make_invocation("-j2", "all", *TINY, root=root)
    # Each make writes to its own file, not a pipe: a pipe the test does not read while it waits for the other
    # make fills up, blocks that make's notebook mid-write, and with it the lock the other make waits for.
    outputs = [tmp_path / f"make-{i}.log" for i in (1, 2)]
    makes = []
    try:
        for output in outputs:
            with output.open("w", encoding="utf-8") as sink:
                makes.append(subprocess.Popen(command, cwd=checkout, env=environment, stdout=sink,
                                              stderr=subprocess.STDOUT, start_new_session=True))
        for make in makes:
            make.wait(timeout=900)
    finally:
        for make in makes:
            if make.poll() is None:
                os.killpg(make.pid, signal.SIGKILL)  # make and every step it started
                make.wait()
    both = "\n".join(output.read_text(encoding="utf-8") for output in outputs)
    (tmp_path / "make.log").write_text(both, encoding="utf-8")
    assert [make.returncode for make in makes] == [0, 0], both[-6000:]
    # Each step ran once, in one of the two: a notebook each (corpus, 2 embeddings, 2 runs, 4 relation runs, 2 error
    # pages, the figures), the comparison's data, and each run's 2 epochs; the other make waited for it or found it built.
    executed = Counter(re.findall(r"^Output Notebook: +(\S+)$", both, flags=re.M))
    assert len(executed) == 12 and set(executed.values()) == {1}, executed
    assert len(re.findall(r"comparison\.json: \d+ runs of ", both)) == 1
    assert len(re.findall(r"^epoch +\d+ ", both, flags=re.M)) == 12  # 2 runs and 4 relation runs
    assert "not building it again" in both
    summary = Path("figures", "demo", "summary.csv")
    assert (root / summary).read_bytes() == (reference / summary).read_bytes()
    assert not list(root.rglob("*.lock")) and not list((root / "results" / "demo" / ".make").glob("*.ipynb"))
