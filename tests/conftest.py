"""Shared fixtures: the PHEE location (skipping with a message when absent), a private MEDNER_ROOT, the
choice between PyTorch and compiled loops (medner.model.fused.kernels), and the tiny study run once by make."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medner.paths import default_phee_path
from tiny_study import frozen_checkout, run_tiny_study


def phee_path_or_skip() -> Path:
    """The PHEE corpus beside the checkout (or MEDNER_PHEE), or skip the test saying where it was looked for."""
    path = Path(os.environ.get("MEDNER_PHEE", default_phee_path()))
    if not (path / "train").is_dir():
        pytest.skip(f"PHEE corpus not found at {path} (set MEDNER_PHEE to its folder to run this test)")
    return path


@pytest.fixture
def phee_path() -> Path:
    return phee_path_or_skip()


@pytest.fixture
def medner_root(tmp_path, monkeypatch) -> Path:
    """Point results/, figures/ and embeddings/ at a temporary folder for one test."""
    monkeypatch.setenv("MEDNER_ROOT", str(tmp_path))
    return tmp_path


def _use_compiled_kernels_or_skip(monkeypatch) -> None:
    """``MEDNER_KERNELS=compiled``, the kernels built; skip the test where they cannot build."""
    from medner.model.fused import kernels

    monkeypatch.setenv(kernels.ENVIRONMENT_VARIABLE, "compiled")
    try:
        kernels.available()
    except RuntimeError as error:
        pytest.skip(f"the compiled kernels do not build on this machine: {error}")


@pytest.fixture(params=["torch", "compiled"])
def kernel_choice(request, monkeypatch):
    """``MEDNER_KERNELS`` set to PyTorch operations, then to the compiled kernels (skipped where they cannot build)."""
    from medner.model.fused import kernels

    monkeypatch.setenv(kernels.ENVIRONMENT_VARIABLE, request.param)
    if request.param == "compiled":
        _use_compiled_kernels_or_skip(monkeypatch)
    return request.param


@pytest.fixture
def compiled_kernels(monkeypatch):
    """The compiled kernels in use for one test (skipped where they cannot build)."""
    _use_compiled_kernels_or_skip(monkeypatch)


@pytest.fixture
def threads():
    """``torch.set_num_threads``, with torch's thread count restored after the test."""
    import torch

    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory) -> tuple[Path, Path]:
    """(MEDNER_ROOT, checkout) after one local ``make -j2 all`` on the tiny configuration (tests/tiny_study.py):
    the Makefile tests read it, the Slurm tests compare their run through Slurm with it."""
    root = tmp_path_factory.mktemp("study")
    checkout = frozen_checkout(tmp_path_factory.mktemp("checkout"))
    run_tiny_study(root, checkout)
    return root, checkout
