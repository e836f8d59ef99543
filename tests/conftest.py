"""Shared fixtures: the PHEE location (skipping with a message when absent) and a private MEDNER_ROOT."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medner.paths import default_phee_path


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
