"""The tiny study the Makefile tests run (tiny demo corpus, GloVe and BERT, one seed, two epochs), and how they
run make: in a frozen copy of the checkout, with results, figures and embedding artefacts under a temporary
MEDNER_ROOT. ``tests/conftest.py`` runs it once per session locally (the ``tiny_study`` fixture); the Makefile
tests and the Slurm tests read that one run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINY = ["EMBEDDINGS=glove bert", "SEEDS=1", "EPOCHS=2", "DEMO_SIZE=200", "ERRORS_N=3"]
#: Variables of the caller's environment that would change the configuration under test (and every SLURM_*:
#: where the steps run, and the job a test may itself run in, are the test's to say).
STUDY_ENVIRONMENT = ("CORPUS", "CORPUS_PATH", "LABEL_MAP", "EMBEDDINGS", "SEEDS", "FRACTIONS", "EPOCHS", "RESULTS",
                     "FIGURES", "THREADS", "RUNNER")


def make_invocation(*args: str, root: Path, env: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of ``make args`` with MEDNER_ROOT ``root`` (``env`` added)."""
    environment = {**os.environ, "MEDNER_ROOT": str(root)}
    for name in [*STUDY_ENVIRONMENT, *(name for name in environment if name.startswith("SLURM_"))]:
        environment.pop(name, None)
    environment.update(env or {})
    return ["make", "--no-print-directory", *args, f"MEDNER_ROOT={root}"], environment


def make(*args: str, root: Path, check: bool = True, timeout: float = 900, cwd: Path = REPO,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run make in ``cwd`` (the repository) with results, figures and embedding artefacts under ``root``."""
    command, environment = make_invocation(*args, root=root, env=env)
    result = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"make {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n"
                             f"{result.stderr[-4000:]}")
    return result


def frozen_checkout(folder: Path) -> Path:
    """A copy of what the Makefile reads (sources keep their mtimes), sharing the repository's .venv.

    Make compares the copy's timestamps, so editing the working tree while the test runs
    cannot make a finished step look out of date; the notebooks still import the
    installed package, so the code that runs is the repository's.
    """
    for name in ("Makefile", "requirements.txt", "constraints.txt", "pyproject.toml"):
        shutil.copy2(REPO / name, folder / name)
    for name in ("lib", "notebooks", "embeddings", "tools"):
        shutil.copytree(REPO / name, folder / name, copy_function=shutil.copy2,
                        ignore=shutil.ignore_patterns("__pycache__", "cache", "trained", "*.egg-info"))
    (folder / ".venv").symlink_to(REPO / ".venv")
    return folder


def run_tiny_study(root: Path, checkout: Path, *extra: str,
                   env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``make -j2 all`` on the tiny configuration (``extra``: more variables), its output kept in ``root/make.log``."""
    result = make("-j2", "all", *TINY, *extra, root=root, cwd=checkout, env=env)
    (root / "make.log").write_text(result.stdout + result.stderr, encoding="utf-8")
    return result
