"""The compiled loops of the linear-chain CRF (:class:`medner.model.crf.LinearChainCRF`): the same maths.

``kernels.cpp`` (see :mod:`medner.model.fused.kernels`) computes, one sentence per task:
``log Z`` by the forward algorithm, its gradient from the forward-backward marginals, and
Viterbi. :class:`medner.model.crf.LinearChainCRF` calls these when its ``implementation`` is
``"fused"`` and the batch is on a CPU in float32 or float64 with the kernels loaded; its own
PyTorch operations are the reference (``tests/model/test_crf.py`` checks both against
brute-force enumeration).
"""

from __future__ import annotations

import torch

from medner.model.fused import kernels


def applies(emissions: torch.Tensor) -> bool:
    """Whether the compiled loops compute a batch of these emissions (batch, seq_len, n_tags)."""
    return (emissions.size(1) > 0 and emissions.dtype in (torch.float32, torch.float64)
            and kernels.available_for(emissions))


def log_partition(crf, emissions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``log Z`` of each sentence, shape (batch,), with its compiled gradient; ``lengths`` (batch,) int64."""
    return _CompiledLogPartition.apply(emissions.contiguous(), lengths, crf.start_transitions, crf.transitions,
                                       crf.end_transitions)


def viterbi(crf, emissions: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
    """The best tag sequence of each sentence, as long as the sentence."""
    paths = torch.ops.medner.crf_viterbi(emissions.contiguous(), lengths, crf.start_transitions.detach(),
                                         crf.transitions.detach(), crf.end_transitions.detach())
    return [row[:n] for row, n in zip(paths.tolist(), lengths.tolist())]


class _CompiledLogPartition(torch.autograd.Function):
    """``log Z`` per sentence by the compiled forward algorithm; its gradient from the forward-backward marginals.

    d log Z / d emissions[t, j] is the marginal probability of tag ``j`` at position ``t``; d log Z / d
    transitions[i, j] the expected number of ``i -> j`` transitions; start and end get the first and
    last positions' marginals. ``LinearChainCRF.log_partition`` computes the same in PyTorch operations.
    """

    @staticmethod
    def forward(ctx, emissions, lengths, start, transitions, end):
        log_z, alphas = torch.ops.medner.crf_forward(emissions, lengths, start.contiguous(), transitions.contiguous(),
                                                     end.contiguous())
        ctx.save_for_backward(emissions, lengths, transitions, end, alphas, log_z)
        return log_z

    @staticmethod
    def backward(ctx, grad_log_z):
        emissions, lengths, transitions, end, alphas, log_z = ctx.saved_tensors
        # shapes: (batch, seq_len, n_tags) and (batch, n_tags, n_tags), both already times grad_log_z
        grad_emissions, pairs = torch.ops.medner.crf_backward(emissions, lengths, transitions.contiguous(),
                                                              end.contiguous(), alphas, log_z,
                                                              grad_log_z.contiguous())
        batch = torch.arange(emissions.size(0), device=emissions.device)
        grad_start = grad_emissions[:, 0].sum(0)
        grad_end = grad_emissions[batch, lengths - 1].sum(0)
        return grad_emissions, None, grad_start, pairs.sum(0), grad_end
