"""The two dropouts of flair's ``SequenceTagger`` (Akbik et al. 2018), on the packed rows of a batch.

The encoder works on the rows of a ``PackedSequence``: the real tokens of a batch of
sentences, no padding. Both dropouts therefore take token rows, shape (tokens, dim);
locked dropout also takes the sentence each row belongs to, so every sentence gets one
mask shared by all its positions.

* Word dropout zeroes whole token vectors with probability ``p`` and does not rescale
  the rest, as flair does.
* Locked (variational) dropout, Gal and Ghahramani 2016 ("A Theoretically Grounded
  Application of Dropout in Recurrent Neural Networks"), zeroes the same features at
  every position of a sentence and scales the kept ones by ``1 / (1 - p)``.

Each module's :meth:`mask` is the factor its ``forward`` multiplies by: the fused
implementation (:mod:`medner.model.fused`) applies the two input masks inside its first
LSTM layer instead, and draws them from the same calls, so both implementations see the
same masks.
"""

from __future__ import annotations

import torch
from torch import nn


class WordDropout(nn.Module):
    """Zero whole token vectors with probability ``p`` during training (no rescaling, as flair)."""

    def __init__(self, p: float = 0.05) -> None:
        super().__init__()
        self.p = p

    def mask(self, rows: torch.Tensor) -> torch.Tensor | None:
        """The keep mask of ``rows`` (tokens, dim): shape (tokens, 1), ones and zeros; ``None`` when off."""
        if not self.training or self.p == 0.0:
            return None
        return torch.empty(rows.size(0), 1, dtype=rows.dtype, device=rows.device).bernoulli_(1.0 - self.p)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """``rows`` (tokens, dim) with some whole rows zeroed; the same shape."""
        keep = self.mask(rows)
        return rows if keep is None else rows * keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


class LockedDropout(nn.Module):
    """Variational dropout: one feature mask per sentence, the same at every position, kept features
    scaled by ``1 / (1 - p)``."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = p

    def mask(self, rows: torch.Tensor, sentence: torch.Tensor, n_sentences: int) -> torch.Tensor | None:
        """The factor of ``rows`` (tokens, dim): shape (tokens, dim), 0 or ``1 / (1 - p)``; ``None`` when off.

        ``sentence`` (tokens,) is the sentence of each row, in ``range(n_sentences)``.
        """
        if not self.training or self.p == 0.0:
            return None
        # shape: (n_sentences, dim): one mask per sentence, gathered to its rows
        keep = torch.empty(n_sentences, rows.size(1), dtype=rows.dtype, device=rows.device).bernoulli_(1.0 - self.p)
        return keep.div_(1.0 - self.p).index_select(0, sentence.to(rows.device))

    def forward(self, rows: torch.Tensor, sentence: torch.Tensor, n_sentences: int) -> torch.Tensor:
        """``rows`` (tokens, dim) with each sentence's dropped features zeroed; the same shape."""
        scale = self.mask(rows, sentence, n_sentences)
        return rows if scale is None else rows * scale

    def extra_repr(self) -> str:
        return f"p={self.p}"
