"""Tagging heads: token states in, a training loss and predicted tags out.

Both heads map each token state linearly to one score per tag (the emissions) and differ
in how they read them:

* :class:`CRFHead`: a linear-chain CRF over the emissions (Huang et al. 2015; Lample et al.
  2016): the loss is the negative log-likelihood of the gold tag sequence, prediction is
  Viterbi. The study's head.
* :class:`SoftmaxHead`: an independent softmax per token: cross-entropy and argmax. The
  CRF ablation (``use_crf=False``).

The states come from an encoder (:mod:`medner.model.encoder`) as the packed rows of a
batch; the emissions are computed on those rows and padded to (batch, seq_len, n_tags) for
the loss and the decoding. An encoder whose states are already padded, (batch, seq_len,
input_size) (the fine-tuned transformers of :mod:`medner.reference`), passes them as they are:
packing them only to unpack them again would cost a wait for the device on a GPU. Losses are
summed over the sentences of the batch, as flair sums them.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from medner.model.crf import LinearChainCRF


class _TagHead(nn.Module):
    """A linear map from token states to tag scores; subclasses turn the scores into a loss and tags."""

    def __init__(self, input_size: int, n_tags: int) -> None:
        super().__init__()
        self.to_tags = nn.Linear(input_size, n_tags)

    def emissions(self, states: PackedSequence | torch.Tensor, seq_len: int) -> torch.Tensor:
        """Tag scores of every token, shape (batch, seq_len, n_tags); rows beyond a sentence's length are zero
        (packed states) or meaningless (padded states).

        ``states``: the encoder's output, packed (``.data`` of shape (tokens, input_size)) or padded, shape
        (batch, seq_len, input_size).
        """
        if isinstance(states, torch.Tensor):
            return self.to_tags(states)
        scores = PackedSequence(self.to_tags(states.data), states.batch_sizes, states.sorted_indices,
                                states.unsorted_indices)
        padded, _ = pad_packed_sequence(scores, batch_first=True, total_length=seq_len)
        return padded


class CRFHead(_TagHead):
    """Linear tag scores read by a linear-chain CRF."""

    def __init__(self, input_size: int, n_tags: int) -> None:
        super().__init__(input_size, n_tags)
        self.crf = LinearChainCRF(n_tags)

    def loss(self, states: PackedSequence | torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of the gold tags summed over the batch (a scalar).

        ``tags``: shape (batch, seq_len), int64 gold tag indices; ``mask``: shape (batch, seq_len), bool.
        """
        return self.crf(self.emissions(states, mask.size(1)), tags, mask)

    @torch.no_grad()
    def decode(self, states: PackedSequence | torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """The best tag sequence of each sentence (Viterbi), as long as the sentence."""
        return self.crf.decode(self.emissions(states, mask.size(1)), mask)


class SoftmaxHead(_TagHead):
    """Linear tag scores read token by token: cross-entropy in training, argmax in prediction."""

    def loss(self, states: PackedSequence | torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the gold tags summed over every token of the batch (a scalar)."""
        scores = self.emissions(states, mask.size(1))
        if isinstance(states, torch.Tensor):  # padded: the padding's tags are ignored, with no wait for the device
            return nn.functional.cross_entropy(scores.flatten(0, 1), tags.masked_fill(~mask, -100).flatten(),
                                               reduction="sum")
        return nn.functional.cross_entropy(scores[mask], tags[mask], reduction="sum")

    @torch.no_grad()
    def decode(self, states: PackedSequence | torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """The highest-scoring tag of each token, one list per sentence, as long as the sentence."""
        best = self.emissions(states, mask.size(1)).argmax(dim=2).tolist()
        return [row[:n] for row, n in zip(best, mask.sum(1).tolist())]
