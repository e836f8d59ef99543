"""The compiled time loops of the fused LSTM (``lstm_kernels.cpp``): built once per machine, or not at all.

:mod:`medner.model.lstm` runs each LSTM time step as one batched matrix product and a
dozen element-wise PyTorch operations. ``lstm_kernels.cpp`` does the element-wise part
of a step in one compiled pass (same formulas, the same ATen matrix products), which
removes most of what an epoch spends outside the matrix products on a CPU.

It is compiled on first use with ``torch.utils.cpp_extension`` (a C++ compiler and
``ninja`` needed; about a minute, once per machine, cached under
``$TORCH_EXTENSIONS_DIR``, by default ``~/.cache/torch_extensions``). The environment
variable ``MEDNER_LSTM_KERNELS`` chooses:

* ``auto`` (default): the compiled loops when they build, otherwise the PyTorch loops,
  with one warning saying why;
* ``compiled``: the compiled loops or an error;
* ``torch``: the PyTorch loops (the reference the tests compare against).

Both give the same function to float rounding (tests/model/test_lstm.py), but not the same
bits, so a run records which one it used (``lstm_kernels`` in metrics.json's hardware).
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import time
from pathlib import Path

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("lstm_kernels.cpp")
CHOICES = ("auto", "compiled", "torch")
ENVIRONMENT_VARIABLE = "MEDNER_LSTM_KERNELS"
# -march=native: the build is for this machine's instruction set (the cache name carries a
# fingerprint of it). Fast-math code generation lets the compiler vectorise exp and tanh; it is
# given to the compile step only, so the library does not change the process's FTZ/DAZ flags.
COMPILE_FLAGS = ["-O3", "-march=native", "-ffast-math"]

_state: dict[str, object] = {}


def requested() -> str:
    """The ``MEDNER_LSTM_KERNELS`` choice; an unknown value is a ValueError naming the variable."""
    choice = os.environ.get(ENVIRONMENT_VARIABLE, "auto").strip().lower() or "auto"
    if choice not in CHOICES:
        raise ValueError(f"{ENVIRONMENT_VARIABLE} must be one of {', '.join(CHOICES)}, got {choice!r}")
    return choice


def _machine_fingerprint() -> str:
    """Short hash of what -march=native compiles for: the CPU's model and flags, and the flags used."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "model name")):
                cpu += line
    except OSError:
        pass
    return hashlib.sha256((cpu + " ".join(COMPILE_FLAGS)).encode()).hexdigest()[:12]


def _build() -> None:
    """Compile (or reuse) and load the library; raises on any failure."""
    from torch.utils.cpp_extension import load

    name = f"medner_lstm_{_machine_fingerprint()}"
    start = time.perf_counter()
    log.info("LSTM kernels: loading %s (compiled on first use, about a minute)", name)
    load(name=name, sources=[str(SOURCE)], extra_cflags=COMPILE_FLAGS, is_python_module=False, verbose=False)
    log.info("LSTM kernels: ready in %.1f s", time.perf_counter() - start)


def available() -> bool:
    """Whether the compiled loops are loaded (building them on the first call), as ``MEDNER_LSTM_KERNELS`` asks."""
    choice = requested()
    if choice == "torch":
        return False
    if "error" not in _state and not _state.get("loaded"):
        try:
            _build()
            _state["loaded"] = True
        except Exception as error:  # noqa: BLE001 - any build failure means: use the PyTorch loops
            _state["error"] = f"{type(error).__name__}: {str(error).strip().splitlines()[-1] if str(error).strip() else ''}"
            if choice == "auto":
                log.warning("LSTM kernels could not be compiled (%s); training uses the PyTorch loops, which are "
                            "slower on a CPU. A C++ compiler and ninja fix this; %s=torch silences it.",
                            _state["error"], ENVIRONMENT_VARIABLE)
    if choice == "compiled" and "error" in _state:
        raise RuntimeError(f"{ENVIRONMENT_VARIABLE}=compiled, but the LSTM kernels did not build: {_state['error']}")
    return bool(_state.get("loaded"))


def in_use() -> str:
    """``"compiled"`` or ``"torch"``: which time loops the fused CPU LSTM runs (for metrics.json)."""
    return "compiled" if available() else "torch"
