"""The compiled loops of the LSTM and the CRF (``kernels.cpp``): built once per machine, or not at all.

An epoch on cached vectors is the tagger's own arithmetic: the matrix products, and
between them loops over time steps. In PyTorch operations each LSTM step is a dozen
element-wise operations and each CRF position half a dozen, every one with its own
dispatch, temporary tensor, autograd record and trip through memory.
``kernels.cpp`` runs the same formulas as compiled loops:

* the LSTM's forward and backward time loops (:mod:`medner.model.fused.lstm`): per step, one
  matrix product and one pass over the running rows. On CPUs with AVX-512 (AVX512-BF16 for
  bfloat16) and hidden sizes that are a multiple of 64 the step products are the library's own
  (:func:`packed_products`): weights packed once per batch, float32 sums; elsewhere ATen's ``bmm``;
* the CRF's forward algorithm, its gradient from the forward-backward marginals, and
  Viterbi (:mod:`medner.model.fused.crf`), one sentence per task.

It is compiled on first use with ``torch.utils.cpp_extension`` (a C++ compiler and
``ninja`` needed; 20-60 s, once per machine, cached under ``$TORCH_EXTENSIONS_DIR/medner``,
by default ``~/.cache/torch_extensions/medner``). The environment variable ``MEDNER_KERNELS``
chooses:

* ``auto`` (default): the compiled loops when they build, otherwise the PyTorch
  operations, with one warning saying why;
* ``compiled``: the compiled loops or an error;
* ``torch``: the PyTorch operations (the reference the tests compare against).

Threads: with two or more torch threads the LSTM's two directions run their time loops side
by side, one thread each, and the CRF splits its sentences between the threads. That needs the
library built with OpenMP (:func:`compile_flags`); where that build fails it is built without,
with a warning, and runs on one thread. ``torch.ops.medner.parallel_threads(n)`` says how many
threads its parallel loops actually use.

Both compute the same functions to float rounding (tests/model/fused/test_lstm.py and
test_crf.py run every test on both), but not the same bits, so a run records which one
it used (``kernels`` and ``step_products`` in metrics.json's training config).
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("kernels.cpp")
CHOICES = ("auto", "compiled", "torch")
ENVIRONMENT_VARIABLE = "MEDNER_KERNELS"
# -march=native: the build is for this machine's instruction set (the cache name carries a
# fingerprint of it). No -ffast-math: it let the compiler assume no NaN or infinity (an infinite input
# came out as NaN) and reorder sums. The activations' exp and tanh still vectorise, through glibc's
# libmvec declared in kernels.cpp, which needs only -fno-math-errno (the loops never read errno): an
# epoch runs as fast as it did under -ffast-math (README, "Training speed", has the measurements).
COMPILE_FLAGS = ["-O3", "-march=native", "-fno-math-errno"]


def compile_flags() -> list[str]:
    """:data:`COMPILE_FLAGS`, plus ``-fopenmp`` where torch runs its threads with OpenMP on Linux.

    ``at::parallel_for`` (the kernels' rows, sentences and the two LSTM directions) is inline code
    in torch's headers: compiled without OpenMP it runs everything on the calling thread whatever
    ``torch.set_num_threads`` says. With ``-fopenmp`` it uses torch's own OpenMP runtime (the
    library links against no other: the OpenMP symbols resolve to the ``libgomp`` torch loaded).
    Elsewhere (for example Apple's compiler, which has no ``-fopenmp``) the kernels stay single-threaded.
    """
    import torch

    parallel = "ATen parallel backend: OpenMP" in torch.__config__.parallel_info()
    return COMPILE_FLAGS + (["-fopenmp"] if parallel and platform.system() == "Linux" else [])

_state: dict[str, object] = {}


def requested() -> str:
    """The ``MEDNER_KERNELS`` choice; an unknown value is a ValueError naming the variable."""
    choice = os.environ.get(ENVIRONMENT_VARIABLE, "auto").strip().lower() or "auto"
    if choice not in CHOICES:
        raise ValueError(f"{ENVIRONMENT_VARIABLE} must be one of {', '.join(CHOICES)}, got {choice!r}")
    return choice


def _build_key(source: str, flags: list[str]) -> str:
    """Short hash of everything the library depends on: the source, the flags, torch, Python and the CPU.

    -march=native compiles for this CPU's model and instruction set, so those are part of the key:
    a home directory shared between different machines gets one build per kind of machine.
    """
    import torch

    parts = [source, " ".join(flags), torch.__version__, sys.version, platform.machine()]
    try:
        parts += sorted({line for line in Path("/proc/cpuinfo").read_text().splitlines()
                         if line.startswith(("flags", "model name"))})
    except OSError:
        parts.append(platform.processor())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def _build() -> None:
    """Compile (or reuse) and load the library; raises on any failure.

    When the OpenMP build fails (a compiler without OpenMP support), the library is built once
    more without it, with a warning: the same loops, on one thread.
    """
    flags = compile_flags()
    try:
        _build_with(flags)
    except Exception as error:
        if "-fopenmp" not in flags:
            raise
        log.warning("kernels: the build with OpenMP failed (%s); building them without it, so they run on one "
                    "thread", _why(error))
        _build_with([flag for flag in flags if flag != "-fopenmp"])


def _why(error: Exception) -> str:
    """The last line of a build error: a compiler's output ends with what went wrong."""
    lines = str(error).strip().splitlines()
    return lines[-1] if lines else ""


def _build_with(flags: list[str]) -> None:
    """Compile (or reuse) and load the library with ``flags``.

    The source is copied into its own build folder first, so every checkout of the same
    source (worktrees, the test suite's copies) finds the same build instead of recompiling.
    """
    from torch.utils.cpp_extension import load

    from medner.files import write_file

    text = SOURCE.read_text(encoding="utf-8")
    name = f"medner_kernels_{_build_key(text, flags)}"
    root = Path(os.environ.get("TORCH_EXTENSIONS_DIR") or Path.home() / ".cache" / "torch_extensions")
    folder = root / "medner" / name
    source = folder / SOURCE.name
    if not source.is_file() or source.read_text(encoding="utf-8") != text:
        write_file(source, text)  # another process may be compiling from it
    start = time.perf_counter()
    log.info("kernels: loading %s (compiled on first use, 20-60 s)", folder)
    load(name=name, sources=[str(source)], extra_cflags=flags, build_directory=str(folder),
         is_python_module=False, verbose=False)
    _state["library"] = folder / f"{name}.so"
    log.info("kernels: ready in %.1f s", time.perf_counter() - start)


def available() -> bool:
    """Whether the compiled loops are loaded (building them on the first call), as ``MEDNER_KERNELS`` asks."""
    choice = requested()
    if choice == "torch":
        return False
    if "error" not in _state and not _state.get("loaded"):
        try:
            _build()
            _state["loaded"] = True
        except Exception as error:  # noqa: BLE001 - any build failure means: use the PyTorch loops
            _state["error"] = f"{type(error).__name__}: {_why(error)}"
            if choice == "auto":
                log.warning("the LSTM and CRF kernels could not be compiled (%s); training uses the PyTorch loops, "
                            "which are slower on a CPU. A C++ compiler and ninja fix this; %s=torch silences it.",
                            _state["error"], ENVIRONMENT_VARIABLE)
    if choice == "compiled" and "error" in _state:
        raise RuntimeError(f"{ENVIRONMENT_VARIABLE}=compiled, but the kernels did not build: {_state['error']}")
    return bool(_state.get("loaded"))


def available_for(tensor) -> bool:
    """Whether the compiled loops compute on ``tensor``: it lives on the CPU and they are :func:`available`."""
    return tensor.device.type == "cpu" and available()


def packed_products(precision: str = "float32", hidden: int = 64) -> bool:
    """Whether the loaded kernels run the step products of an LSTM with ``hidden`` units per direction at
    ``precision`` on their own packed products.

    They do on CPUs with AVX-512 (float32) and AVX512-BF16 (bfloat16), for hidden sizes that are a multiple
    of 64 (``kernels.cpp`` decides); elsewhere the steps multiply through ``at::bmm``.
    """
    if not available():
        return False
    key = f"packed {precision} {hidden}"
    if key not in _state:
        import torch

        _state[key] = bool(torch.ops.medner.packed_products(hidden, precision))
    return _state[key]


def library_path() -> Path | None:
    """The compiled library loaded in this process (None when the kernels are not in use)."""
    return _state.get("library") if available() else None  # type: ignore[return-value]


def in_use() -> str:
    """``"compiled"`` or ``"torch"``: which loops the fused CPU LSTM and the CRF run (for metrics.json)."""
    return "compiled" if available() else "torch"
