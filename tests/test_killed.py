"""Killed and parallel work (issue 16): SIGKILL part-way through training a run, filling the embedding cache, training
an in-domain language model and writing the comparison, then the same step again. Nothing claims to be finished that is
not, no half-written cache entry or trained model is read, and the numbers are those of an uninterrupted run with the
same seeds. And ``make -j1 all`` gives the numbers of ``make -j2 all``.

Each killed step runs in a process group of its own, as a terminal starts a job, and is killed once a log line or a
file shows it is part-way: no blind sleep decides where the kill lands. The make cases start from a copy of the
session's tiny study (the ``tiny_study`` fixture, the uninterrupted reference) with one step's outputs removed, so
only that step (and what depends on it) runs again.

The tiny study's test scores are all zero (two epochs on 200 sentences: the tagger predicts no entity yet), so an
equal ``summary.csv`` alone would hide a change in training; every comparison of a run also compares its loss per
epoch and the weights it kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from tiny_study import REPO, TINY, frozen_checkout, make, make_invocation

pytestmark = pytest.mark.slow

SUMMARY = Path("figures", "demo", "summary.csv")
#: Long enough for a step on two busy cores; a step that shows no progress by then is a failure, not a hang.
TIMEOUT = 600


class Step:
    """A command started in a process group of its own (stdout and stderr read together, line by line)."""

    def __init__(self, command: list[str], *, env: dict[str, str], cwd: Path = REPO) -> None:
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
        """Return as soon as ``condition()`` holds; fail if the step ends or ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None:
                self._reader.join(timeout=10)
                pytest.fail(f"the step ended ({self.process.returncode}) before {what}:\n{self.output[-3000:]}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"no sign of {what} within {timeout:.0f} s:\n{self.output[-3000:]}")
            time.sleep(0.01)

    def finish(self) -> None:
        """Wait for the step to end; fail unless it succeeds."""
        self.process.wait(timeout=TIMEOUT)
        self._reader.join(timeout=30)
        assert self.process.returncode == 0, self.output[-3000:]

    def kill(self) -> None:
        """SIGKILL the step and every process it started, as the out-of-memory killer, Slurm's end of a job or a
        power cut do.

        Jupyter kernels run in sessions of their own, outside the step's process group: killed with the group
        only, a kernel would train on for up to a second (ipykernel looks for its parent once a second) and could
        finish the very step the kill was to interrupt. The group is stopped first so nothing starts meanwhile.
        """
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGSTOP)
            try:
                descendants = psutil.Process(self.process.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                descendants = []
            for child in descendants:
                try:
                    child.kill()
                except psutil.NoSuchProcess:
                    pass
            os.killpg(self.process.pid, signal.SIGKILL)
            psutil.wait_procs(descendants, timeout=30)
        self.process.wait(timeout=30)
        self._reader.join(timeout=30)


def start_make(root: Path, checkout: Path) -> Step:
    """``make -j2 all`` on the tiny configuration, as the reference ran it (-j2: one torch thread per run)."""
    command, environment = make_invocation("-j2", "all", *TINY, root=root)
    return Step(command, env=environment, cwd=checkout)


def make_again(target: str, root: Path, checkout: Path) -> subprocess.CompletedProcess:
    """``make -j2 <target>`` after the kill: the killed step's own target (runs, embeddings) or all."""
    return make("-j2", target, *TINY, root=root, cwd=checkout)


def copy_of_study(reference: Path, root: Path) -> Path:
    """A copy of the finished tiny study under ``root`` (times kept, so make finds it up to date)."""
    for name in ("data", "embeddings", "results", "figures"):
        shutil.copytree(reference / name, root / name, copy_function=shutil.copy2, symlinks=True)
    # make's record of where the runs live names the reference's folders: let make write this copy's own.
    for name in ("runs.txt", "run-folders.mk"):
        (root / "results" / "demo" / ".make" / name).unlink()
    return root


def run_folder(root: Path, embedding: str):
    from medner.run_folder import RunFolder

    return RunFolder.of(root / "results", "demo", embedding, 1)


def assert_same_run(root: Path, reference: Path, embedding: str) -> None:
    """The run of ``embedding`` under ``root`` has the reference's scores, loss per epoch and kept weights."""
    import torch

    run, expected = run_folder(root, embedding), run_folder(reference, embedding)
    metrics, reference_metrics = run.read_metrics(), expected.read_metrics()
    for key in ("scores", "best_epoch", "best_dev_f1", "stopped_because"):
        assert metrics[key] == reference_metrics[key], f"{embedding}: {key} differs from the uninterrupted run"
    without_seconds = [{k: v for k, v in row.items() if k != "seconds"} for row in run.read_history()]  # wall time
    assert without_seconds == [{k: v for k, v in row.items() if k != "seconds"} for row in expected.read_history()]
    weights, reference_weights = run.load_checkpoint()["state_dict"], expected.load_checkpoint()["state_dict"]
    assert weights.keys() == reference_weights.keys()
    for name, tensor in weights.items():
        assert torch.equal(tensor, reference_weights[name]), f"{embedding}: weights {name} differ from the uninterrupted run"


def assert_study_not_finished(root: Path, checkout: Path) -> None:
    """``make -q all`` says something is still to do: no target of the killed step claims to be finished."""
    result = make("-q", "all", *TINY, root=root, cwd=checkout, check=False)
    assert result.returncode == 1, f"make -q all: {result.returncode} (0: up to date, 2: error)\n{result.stderr[-2000:]}"


# ------------------------------------------------------------------------------------------------ cache entries


def cache_entries(root: Path, prefix: str) -> dict[str, Path]:
    """The published cache entries whose embedder name starts with ``prefix``, keyed by ``<split>/<folder>``."""
    return {f"{p.parent.name}/{p.name}": p for p in sorted((root / "embeddings" / "cache").glob(f"*/*/{prefix}-*"))}


def unfinished_folders(parent: Path, prefix: str) -> list[Path]:
    """Temporary folders that the atomic writer (medner.files) fills before renaming them to ``<prefix>-...``."""
    return sorted(parent.glob(f"**/.{prefix}-*.part"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_complete_entry(entry: Path) -> None:
    """Checked here from the bytes, not by the cache's own code: the manifest's checksum, and every file's size and
    sha256 as the manifest records them, so a truncated or mixed entry fails."""
    import numpy as np

    manifest = json.loads((entry / "manifest.json").read_text(encoding="utf-8"))
    body = {key: value for key, value in manifest.items() if key != "manifest_sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canonical.encode("utf-8")).hexdigest() == manifest["manifest_sha256"], f"{entry}: manifest"
    for name, recorded in manifest["files"].items():
        assert (entry / name).stat().st_size == recorded["bytes"] and sha256(entry / name) == recorded["sha256"], \
            f"{entry / name}: not the file its manifest describes"
    assert np.load(entry / "vectors.npy", mmap_mode="r").shape == (manifest["n_tokens"], manifest["dim"])


def assert_same_entries(root: Path, reference: Path, prefix: str) -> None:
    """The same entries (their names hash the embedder and the tokens) holding the same bytes as the reference's."""
    entries, expected = cache_entries(root, prefix), cache_entries(reference, prefix)
    assert entries.keys() == expected.keys() and entries, \
        f"{prefix} cache entries {sorted(entries)}, expected {sorted(expected)}"
    for key, entry in entries.items():
        assert_complete_entry(entry)
        for name in ("vectors.npy", "offsets.npy"):
            assert sha256(entry / name) == sha256(expected[key] / name), f"{entry / name} differs from the uninterrupted run"


# ------------------------------------------------------------------------------------------------ the tests


def test_a_run_killed_while_training_resumes_to_the_same_numbers(tiny_study, tmp_path) -> None:
    reference, checkout = tiny_study
    root = copy_of_study(reference, tmp_path)
    folder = run_folder(root, "bert")
    shutil.rmtree(folder.path)  # the one run still to train
    step = start_make(root, checkout)
    step.wait_until(lambda: re.search(r"^epoch +1 ", step.output, flags=re.M), "the run's first epoch line")
    step.kill()
    assert folder.path.is_dir(), "the kill came before the run began: nothing was tested"
    assert not folder.finished, "the kill came after the run finished: the epoch line was seen too late"
    assert not folder.notebook_path.exists()  # make's executed notebook appears only when the run is done
    assert_study_not_finished(root, checkout)
    again = make_again("runs", root, checkout)
    assert len(re.findall(r"notebooks/02-train\.ipynb", again.stdout)) == 1  # only the killed run trains again
    assert_same_run(root, reference, "bert")


def test_a_cache_fill_killed_part_way_leaves_only_whole_entries_and_refills_the_same_vectors(tiny_study, tmp_path) -> None:
    reference, checkout = tiny_study
    root = copy_of_study(reference, tmp_path)
    for entry in cache_entries(root, "bert").values():
        shutil.rmtree(entry)
    report = root / "results" / "demo" / "embeddings" / "bert.json"
    report.unlink()  # the embedding step's target: make prepares BERT again
    cache = root / "embeddings" / "cache"
    step = start_make(root, checkout)
    # Part-way: one split's entry is published and another's is being filled.
    step.wait_until(lambda: cache_entries(root, "bert") and unfinished_folders(cache, "bert"),
                    "one BERT cache entry written and the next being filled")
    step.kill()
    assert unfinished_folders(cache, "bert"), "the kill came after the cache was filled: nothing was tested"
    published = cache_entries(root, "bert")
    assert 0 < len(published) < 3  # of train, dev and test
    for entry in published.values():
        assert_complete_entry(entry)
    assert not report.exists()  # the embedding step does not claim to be done
    assert_study_not_finished(root, checkout)
    make_again("embeddings", root, checkout)
    assert_same_entries(root, reference, "bert")  # what the runs read: the run itself is the training test's
    assert not unfinished_folders(cache, "bert"), "the killed fill's temporary folder is left to fill the disk"


PREPARE = ("import sys; from medner.corpus.registry import load_corpus; "
           "from medner.embeddings.preparation import prepare_embedding; "
           "prepare_embedding(load_corpus('demo', demo_size=200), sys.argv[1], progress='lines')")
#: A Flair spec as the committed one (in-domain, both directions) but small enough to train in seconds.
TINY_FLAIR = """family: flair
source: in-domain
options:
  hidden_size: 16
  nlayers: 1
  sequence_length: 20
  mini_batch_size: 4
  max_epochs: 2
  seed: 3
"""


def prepare(root: Path, spec: str) -> Step:
    """Notebook 01's library call (build the embedder, training it in-domain, and fill the cache) on the tiny
    demo corpus, in a process of its own with MEDNER_ROOT ``root``."""
    return Step([sys.executable, "-c", PREPARE, spec], env={**os.environ, "MEDNER_ROOT": str(root)})


def training_under_way(trained: Path, name: str) -> bool:
    """The in-domain training folder exists under its temporary name (GloVe: counting or fitting)."""
    return bool(unfinished_folders(trained, name))


def first_epoch_logged(trained: Path, name: str) -> bool:
    """flair's trainer has logged the forward LM's first epoch (loss.txt) and trains on."""
    return any(part.joinpath("forward", "loss.txt").is_file() for part in unfinished_folders(trained, name))


@pytest.mark.parametrize("family", ["glove", "flair"])
def test_in_domain_training_killed_part_way_is_trained_again_to_the_same_vectors(family, tiny_study, tmp_path) -> None:
    if family == "glove":
        spec, name, reference = "glove", "glove", tiny_study[0]  # the tiny study trained the committed spec
        part_way, what = training_under_way, "GloVe training under way"
    else:
        spec_file = tmp_path / "tiny-flair.yaml"
        spec_file.write_text(TINY_FLAIR, encoding="utf-8")
        spec, name, reference = str(spec_file), "tiny-flair", tmp_path / "reference"
        prepare(reference, spec).finish()  # the uninterrupted run
        part_way, what = first_epoch_logged, "the forward LM's first epoch logged"
    root = tmp_path / "killed"
    trained = root / "embeddings" / "trained" / "demo"
    step = prepare(root, spec)
    step.wait_until(lambda: part_way(trained, name), what)
    step.kill()
    assert unfinished_folders(trained, name), "the kill came after training: nothing was tested"
    assert not list(trained.glob(f"{name}-*")), "a trained folder was published by a killed training"
    assert not cache_entries(root, name)  # nothing embedded with a model that does not exist yet
    prepare(root, spec).finish()
    assert not unfinished_folders(trained, name), "the killed training's temporary folder is left behind"
    published, expected = list(trained.glob(f"{name}-*")), list((reference / "embeddings/trained/demo").glob(f"{name}-*"))
    assert [p.name for p in published] == [p.name for p in expected]
    if family == "glove":
        assert sha256(published[0] / "vectors.txt") == sha256(expected[0] / "vectors.txt")
    assert_same_entries(root, reference, name)  # the vectors every run reads


def listed_names(file_list: Path) -> list[str]:
    """The names of the files a comparison wrote, from its files.txt (absolute paths: they name the root)."""
    return sorted(Path(line).name for line in file_list.read_text(encoding="utf-8").split())


def test_the_comparison_killed_while_drawing_is_drawn_again_the_same(tiny_study, tmp_path) -> None:
    reference, checkout = tiny_study
    root = copy_of_study(reference, tmp_path)
    figures = root / "figures" / "demo"
    notebook = root / "results" / "demo" / "03-compare.ipynb"
    shutil.rmtree(figures)
    notebook.unlink()
    step = start_make(root, checkout)
    # Part-way: notebook 03 has written its first table (summary.csv) and draws on; files.txt comes last.
    step.wait_until(lambda: (figures / "summary.csv").is_file(), "notebook 03's first table")
    step.kill()
    assert not (figures / "files.txt").exists(), "the kill came after the comparison was drawn: nothing was tested"
    assert not notebook.exists()
    assert_study_not_finished(root, checkout)
    written = [p for p in figures.iterdir() if not p.name.startswith(".")]
    assert written
    for path in written:  # what a reader can see is whole: each file as the uninterrupted run wrote it
        assert path.read_bytes() == (reference / "figures" / "demo" / path.name).read_bytes(), f"{path} is not whole"
    again = make_again("all", root, checkout)
    assert "notebooks/02-train.ipynb" not in again.stdout
    assert not list(figures.glob(".*.part")), "a killed write's temporary file is left behind"
    listed = listed_names(figures / "files.txt")
    assert listed == listed_names(reference / "figures" / "demo" / "files.txt")
    for name in [*listed, "comparison.json"]:
        assert (figures / name).read_bytes() == (reference / "figures" / "demo" / name).read_bytes(), f"{name} differs"


def test_make_j1_gives_the_numbers_of_make_j2(tiny_study, tmp_path_factory) -> None:
    """The session's study ran with -j2 (one torch thread per run); -j1 gives each run every core."""
    reference, _ = tiny_study
    root = tmp_path_factory.mktemp("j1")
    checkout = frozen_checkout(tmp_path_factory.mktemp("j1-checkout"))
    make("-j1", "all", *TINY, root=root, cwd=checkout)
    assert (root / SUMMARY).read_bytes() == (reference / SUMMARY).read_bytes()
    for embedding in ("glove", "bert"):
        assert_same_entries(root, reference, embedding)
        assert_same_run(root, reference, embedding)
