"""The fused implementation: the encoder's and the CRF's maths as compiled CPU loops (``implementation="fused"``).

The model a reviewer checks against the papers is :mod:`medner.model.encoder`,
:mod:`medner.model.heads` and :mod:`medner.model.crf`, in PyTorch operations. This package
computes the same functions faster on a CPU, and is chosen by one setting
(:mod:`medner.model.compute`); ``tests/model/fused/`` shows the two agree (outputs and every
gradient in float64, the CRF against brute-force enumeration).

* :func:`encode` is :meth:`medner.model.encoder.BiLSTMEncoder.forward` with its input
  dropouts and re-projection moved inside the first LSTM layer (:mod:`.lstm`): both
  directions in one fused layer with a hand-written backward, the input's two dropout
  masks one scale, the projection's output going straight into the LSTM's input product.
  It draws the dropout masks from the same calls, in the same order, as the encoder.
* :mod:`.crf`: the CRF's forward algorithm, its gradient and Viterbi.
* :mod:`.kernels`: building and loading ``kernels.cpp``, the compiled time loops both use;
  ``MEDNER_KERNELS`` chooses them or the PyTorch loops of :mod:`.lstm` (see there).

On a GPU the LSTM runs as ``nn.LSTM`` (cuDNN) and the CRF in its PyTorch operations: the
loops here are CPU code.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from medner.model.fused import crf, kernels
from medner.model.fused.lstm import packed_layout, run_bilstm

__all__ = ["crf", "encode", "kernels"]


def encode(encoder, packed: PackedSequence) -> PackedSequence:
    """:meth:`medner.model.encoder.BiLSTMEncoder.forward` of ``packed`` (the batch's token vectors), fused.

    Returns the token states on the same packed rows, shape (tokens, 2 * hidden_size).
    """
    n_sentences = len(packed.sorted_indices)
    layout = packed_layout(packed.batch_sizes)
    # shape: (tokens,): the batch index of the sentence each packed row belongs to
    sentence = packed.sorted_indices[layout.slot.to(packed.sorted_indices.device)]
    scale = _input_scale(encoder, packed.data, sentence, n_sentences)
    projection = encoder.reproject if isinstance(encoder.reproject, nn.Linear) else None
    states = run_bilstm(encoder.lstm, packed, precision=encoder.precision, layout=layout, scale=scale,
                        projection=projection).data
    states = encoder.locked_dropout(states, sentence, n_sentences)
    return PackedSequence(states, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)


def _input_scale(encoder, rows: torch.Tensor, sentence: torch.Tensor, n_sentences: int) -> torch.Tensor | None:
    """The word-dropout and locked-dropout masks of ``rows`` as one (tokens, dim) factor; ``None`` when both
    are off (evaluation). Drawn in the order the encoder applies them."""
    keep_word = encoder.word_dropout.mask(rows)
    scale = encoder.locked_dropout.mask(rows, sentence, n_sentences)
    if keep_word is None:
        return scale
    return keep_word.expand_as(rows) if scale is None else scale.mul_(keep_word)
