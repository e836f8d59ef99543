"""The BiLSTM-CRF sequence tagger every embedding in the study feeds: an encoder and a tagging head.

    token vectors (batch, seq_len, embedding_dim), from the embedding cache
      -> BiLSTMEncoder: word dropout, locked dropout, re-projection, BiLSTM, locked dropout
         (medner.model.encoder)                                     token states (tokens, 512)
      -> CRFHead: linear to tag scores, linear-chain CRF            (batch, seq_len, n_tags)
         or SoftmaxHead (``use_crf=False``, the CRF ablation)       (medner.model.heads)

Huang, Xu and Yu 2015 ("Bidirectional LSTM-CRF Models for Sequence Tagging",
arXiv:1508.01991) and Lample et al. 2016 ("Neural Architectures for Named Entity
Recognition", NAACL), with the defaults of flair's ``SequenceTagger`` (Akbik et al. 2018).
How it computes (the fused CPU implementation or ``nn.LSTM``, and the matrix products'
precision) is a setting of training and prediction, :meth:`BiLSTMCRFTagger.set_compute`,
not of the architecture (:mod:`medner.model.compute`).
"""

from __future__ import annotations

import torch
from torch import nn

from medner.model.compute import apply_compute
from medner.model.encoder import BiLSTMEncoder
from medner.model.heads import CRFHead, SoftmaxHead


class BiLSTMCRFTagger(nn.Module):
    """BiLSTM-CRF over precomputed token vectors.

    Args:
        embedding_dim: size of the input token vectors.
        n_tags: number of tags (``O`` included).
        hidden_size: LSTM units per direction.
        rnn_layers: stacked bidirectional LSTM layers.
        word_dropout: probability of zeroing a whole token vector.
        locked_dropout: variational dropout rate before and after the LSTM.
        reproject_embeddings: a trainable ``embedding_dim -> embedding_dim`` linear map before the LSTM.
        use_crf: CRF output layer; ``False`` gives independent per-token softmax (cross-entropy).
    """

    def __init__(
        self,
        embedding_dim: int,
        n_tags: int,
        *,
        hidden_size: int = 256,
        rnn_layers: int = 1,
        word_dropout: float = 0.05,
        locked_dropout: float = 0.5,
        reproject_embeddings: bool = True,
        use_crf: bool = True,
    ) -> None:
        super().__init__()
        self.config = {
            "embedding_dim": embedding_dim,
            "n_tags": n_tags,
            "hidden_size": hidden_size,
            "rnn_layers": rnn_layers,
            "word_dropout": word_dropout,
            "locked_dropout": locked_dropout,
            "reproject_embeddings": reproject_embeddings,
            "use_crf": use_crf,
        }
        self.encoder = BiLSTMEncoder(embedding_dim, hidden_size=hidden_size, rnn_layers=rnn_layers,
                                     word_dropout=word_dropout, locked_dropout=locked_dropout,
                                     reproject_embeddings=reproject_embeddings)
        head = CRFHead if use_crf else SoftmaxHead
        self.head = head(self.encoder.output_size, n_tags)

    def set_compute(self, implementation: str = "fused", precision: str = "float32") -> BiLSTMCRFTagger:
        """Compute with ``implementation`` (``"fused"`` or ``"nn.LSTM"``) at ``precision`` from now on;
        returns the tagger. The parameters do not change (see :mod:`medner.model.compute`)."""
        return apply_compute(self, implementation, precision)

    @property
    def compute(self) -> dict[str, str]:
        """The compute settings in use: ``{"implementation": ..., "precision": ...}``."""
        return {"implementation": self.encoder.implementation, "precision": self.encoder.precision}

    def emissions(self, vectors: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Tag scores per token, shape (batch, seq_len, n_tags); ``vectors`` (batch, seq_len, embedding_dim),
        ``lengths`` (batch,) int64 on the CPU. Rows beyond a sentence's length are meaningless."""
        return self.head.emissions(self.encoder(vectors, lengths), vectors.size(1))

    def loss(self, vectors: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor, tags: torch.Tensor) -> torch.Tensor:
        """Training loss summed over the sentences of the batch (a scalar), as flair sums it.

        Args:
            vectors: shape (batch, seq_len, embedding_dim).
            lengths: shape (batch,), CPU int64.
            mask: shape (batch, seq_len), bool.
            tags: shape (batch, seq_len), int64 gold tag indices.
        """
        return self.head.loss(self.encoder(vectors, lengths), tags, mask)

    @torch.no_grad()
    def predict(self, vectors: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Best tag indices per sentence (Viterbi, or per-token argmax without a CRF), each as long as its sentence.

        Shapes as in :meth:`loss`.
        """
        return self.head.decode(self.encoder(vectors, lengths), mask)

    def trainable_parameters(self) -> int:
        """Number of trained weights."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
