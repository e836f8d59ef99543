"""How the tagger computes: settings of training and prediction, not of the architecture.

The same model (the same parameters, checkpoint and maths) runs through one of two
implementations, chosen by one setting, ``implementation``:

* ``"fused"`` (the default): :mod:`medner.model.fused`, the same maths as compiled CPU
  loops: the BiLSTM's two directions in one fused layer with a hand-written backward, the
  CRF's forward algorithm, gradient and Viterbi one sentence per task. Inside it
  ``MEDNER_KERNELS`` chooses compiled or PyTorch time loops. On a GPU, where those loops
  do not run, it hands the LSTM to ``nn.LSTM`` (cuDNN) and the CRF to its PyTorch operations.
* ``"nn.LSTM"``: the model as written in :mod:`medner.model.encoder`, :mod:`medner.model.heads`
  and :mod:`medner.model.crf`: ``torch.nn.LSTM`` and the CRF in PyTorch operations, on any device.

``tests/model/fused/`` shows that the two give the same outputs and every gradient (float64, to 1e-12).
They sum in different orders, so the last digits of a float32 run depend on the choice, and every
run records it.

``precision`` is the arithmetic of the re-projection's and the LSTM's matrix products: ``"float32"``
(as ``nn.LSTM``), or ``"bfloat16"`` (operands rounded to bfloat16, sums in float32; faster on CPUs with
AVX512-BF16 or AMX; fused implementation only). Weights, gradients, states and the checkpoint stay float32.
"""

from __future__ import annotations

IMPLEMENTATIONS: tuple[str, ...] = ("fused", "nn.LSTM")
PRECISIONS: tuple[str, ...] = ("float32", "bfloat16")


def check_compute(implementation: str, precision: str) -> None:
    """Raise ValueError unless ``implementation`` and ``precision`` are known and go together."""
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"implementation must be one of {', '.join(IMPLEMENTATIONS)}, got {implementation!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "bfloat16" and implementation != "fused":
        raise ValueError("precision='bfloat16' needs implementation='fused'; nn.LSTM computes in float32")


def apply_compute(model, implementation: str, precision: str):
    """Set ``implementation`` and ``precision`` on every submodule of ``model`` that has them (the encoder's LSTM,
    the CRF); returns ``model``. The parameters do not change."""
    check_compute(implementation, precision)
    for module in model.modules():
        if hasattr(module, "implementation"):
            module.implementation = implementation
        if hasattr(module, "precision"):
            module.precision = precision
    return model
