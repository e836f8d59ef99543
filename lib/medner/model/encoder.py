"""The encoder of the BiLSTM-CRF: token vectors in, one contextual state per token out.

The encoder of Huang, Xu and Yu 2015 ("Bidirectional LSTM-CRF Models for Sequence
Tagging", arXiv:1508.01991) and Lample et al. 2016 ("Neural Architectures for Named
Entity Recognition", NAACL), with the regularisation and defaults of flair's
``SequenceTagger`` (Akbik, Blythe and Vollgraf 2018, "Contextual String Embeddings for
Sequence Labeling", COLING), so results are comparable with the literature that used it:

    token vectors (batch, seq_len, embedding_dim), from the embedding cache
      -> word dropout 0.05 (whole token vectors set to zero)
      -> locked dropout 0.5 (one mask per sentence, shared over positions)
      -> linear re-projection embedding_dim -> embedding_dim
      -> one bidirectional LSTM layer, 256 per direction
      -> locked dropout 0.5
    token states (tokens, 512)

The embeddings are frozen and precomputed, so the encoder only sees vectors. It works
on the packed rows of the batch (the real tokens of its sentences, in the order of a
``PackedSequence``), so padding costs nothing and never enters the LSTM. Heads
(:mod:`medner.model.heads`) turn the states into tag scores; several heads can share one encoder.

:meth:`BiLSTMEncoder.forward` below is the model as written. With ``implementation="fused"``
(the default; :mod:`medner.model.compute`) the same maths runs as :func:`medner.model.fused.encode`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from medner.model import fused
from medner.model.dropout import LockedDropout, WordDropout


class BiLSTMEncoder(nn.Module):
    """Dropouts, re-projection and a bidirectional LSTM over precomputed token vectors.

    Args:
        embedding_dim: size of the input token vectors.
        hidden_size: LSTM units per direction (the states have ``2 * hidden_size`` features).
        rnn_layers: stacked bidirectional LSTM layers.
        word_dropout: probability of zeroing a whole token vector.
        locked_dropout: variational dropout rate before and after the LSTM.
        reproject_embeddings: a trainable ``embedding_dim -> embedding_dim`` linear map before the LSTM.

    ``implementation`` and ``precision`` are compute settings (:mod:`medner.model.compute`), set through
    the tagger's ``set_compute``; they change no parameter.
    """

    implementation: str = "fused"
    precision: str = "float32"

    def __init__(
        self,
        embedding_dim: int,
        *,
        hidden_size: int = 256,
        rnn_layers: int = 1,
        word_dropout: float = 0.05,
        locked_dropout: float = 0.5,
        reproject_embeddings: bool = True,
    ) -> None:
        super().__init__()
        self.word_dropout = WordDropout(word_dropout)
        self.locked_dropout = LockedDropout(locked_dropout)
        self.reproject = nn.Linear(embedding_dim, embedding_dim) if reproject_embeddings else nn.Identity()
        self.lstm = nn.LSTM(embedding_dim, hidden_size, num_layers=rnn_layers, bidirectional=True, batch_first=True)
        self.output_size = 2 * hidden_size

    def forward(self, vectors: torch.Tensor, lengths: torch.Tensor) -> PackedSequence:
        """Token states of a batch.

        Args:
            vectors: shape (batch, seq_len, embedding_dim), zero-padded.
            lengths: shape (batch,), int64 on the CPU, each >= 1.

        Returns:
            the states on the packed rows of the batch: ``.data`` has shape (tokens, 2 * hidden_size).
        """
        packed = pack_padded_sequence(vectors, lengths, batch_first=True, enforce_sorted=False)
        if self.implementation == "fused":
            return fused.encode(self, packed)
        n_sentences = vectors.size(0)
        sentence = sentence_of_rows(packed)
        rows = self.word_dropout(packed.data)
        rows = self.locked_dropout(rows, sentence, n_sentences)
        rows = self.reproject(rows)
        states = self.lstm(_with_rows(packed, rows))[0].data
        states = self.locked_dropout(states, sentence, n_sentences)
        return _with_rows(packed, states)


def sentence_of_rows(packed: PackedSequence) -> torch.Tensor:
    """The batch index of the sentence each row of ``packed`` belongs to, shape (tokens,).

    At step ``t`` the rows are the ``batch_sizes[t]`` longest sentences, in ``sorted_indices`` order.
    """
    slot = torch.cat([torch.arange(size) for size in packed.batch_sizes.tolist()])
    return packed.sorted_indices[slot.to(packed.sorted_indices.device)]


def _with_rows(packed: PackedSequence, rows: torch.Tensor) -> PackedSequence:
    """``packed`` with its rows replaced by ``rows`` (same number of rows, any width)."""
    return PackedSequence(rows, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
