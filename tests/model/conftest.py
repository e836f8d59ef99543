"""Shared fixture: run a test on both loop implementations (medner.model.kernels)."""

from __future__ import annotations

import pytest

from medner.model import kernels


@pytest.fixture(params=["torch", "compiled"])
def kernel_choice(request, monkeypatch):
    """``MEDNER_KERNELS`` set to PyTorch operations, then to the compiled kernels (skipped where they cannot build)."""
    monkeypatch.setenv(kernels.ENVIRONMENT_VARIABLE, request.param)
    if request.param == "compiled":
        try:
            kernels.available()
        except RuntimeError as error:
            pytest.skip(f"the compiled kernels do not build on this machine: {error}")
    return request.param
