"""The BiLSTM-CRF sequence tagger every embedding in the study feeds.

The architecture of Huang, Xu and Yu 2015 ("Bidirectional LSTM-CRF Models for
Sequence Tagging", arXiv:1508.01991) and Lample et al. 2016 ("Neural
Architectures for Named Entity Recognition", NAACL), with the regularisation and
defaults of flair's ``SequenceTagger`` (Akbik, Blythe and Vollgraf 2018,
"Contextual String Embeddings for Sequence Labeling", COLING), so results are
comparable with the literature that used it:

    token vectors (batch, seq_len, embedding_dim), from the embedding cache
      -> word dropout 0.05 (whole token vectors set to zero)
      -> locked dropout 0.5 (one mask per sentence, shared over positions)
      -> linear re-projection embedding_dim -> embedding_dim
      -> one bidirectional LSTM layer, 256 per direction   (batch, seq_len, 512)
      -> locked dropout 0.5
      -> linear to tag scores                               (batch, seq_len, n_tags)
      -> linear-chain CRF (``use_crf=False``: a per-token softmax instead, the CRF ablation)

The embeddings are frozen and precomputed, so the tagger only sees vectors.

The LSTM is an ``nn.LSTM`` module (its parameters, its checkpoint format). On a
CPU it is computed by :mod:`medner.model.lstm`, which gives the same outputs and
gradients (tested against ``nn.LSTM``) at a fraction of the bookkeeping; on a GPU
by ``nn.LSTM`` itself. Between the input and the tag scores the tagger works on
the packed rows of the batch (real tokens only), so padding costs nothing. The
input's two dropouts are one scale and, with the re-projection, are applied by
``run_bilstm`` (inside the fused layer on a CPU): the same function either way.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from medner.model.crf import LinearChainCRF
from medner.model.lstm import packed_layout, run_bilstm, uses_bfloat16


class WordDropout(nn.Module):
    """Zero whole token vectors with probability ``p`` during training (no rescaling, as flair).

    Input and output shape: (batch, seq_len, dim).
    """

    def __init__(self, p: float = 0.05) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        # shape: (batch, seq_len, 1)
        keep = torch.empty(x.size(0), x.size(1), 1, dtype=x.dtype, device=x.device).bernoulli_(1.0 - self.p)
        return x * keep

    def row_keep(self, x: torch.Tensor) -> torch.Tensor | None:
        """The mask this dropout multiplies packed rows ``x`` (tokens, dim) by, (tokens, 1); None when it is off."""
        if not self.training or self.p == 0.0:
            return None
        return torch.empty(x.size(0), 1, dtype=x.dtype, device=x.device).bernoulli_(1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class LockedDropout(nn.Module):
    """Variational dropout (Gal and Ghahramani 2016): one feature mask per sentence, the same at every position.

    Input and output shape: (batch, seq_len, dim); kept features are scaled by ``1 / (1 - p)``.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        # shape: (batch, 1, dim)
        keep = torch.empty(x.size(0), 1, x.size(2), dtype=x.dtype, device=x.device).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)

    def rows(self, x: torch.Tensor, sentence: torch.Tensor, n_sentences: int) -> torch.Tensor:
        """The same dropout on packed rows: ``x`` (tokens, dim), ``sentence`` (tokens,) the sentence of each row."""
        scale = self.row_scale(x, sentence, n_sentences)
        return x if scale is None else x * scale

    def row_scale(self, x: torch.Tensor, sentence: torch.Tensor, n_sentences: int) -> torch.Tensor | None:
        """What :meth:`rows` multiplies ``x`` by, (tokens, dim), kept features already scaled; None when it is off."""
        if not self.training or self.p == 0.0:
            return None
        # shape: (n_sentences, dim), one mask per sentence, gathered to its rows
        keep = torch.empty(n_sentences, x.size(1), dtype=x.dtype, device=x.device).bernoulli_(1.0 - self.p)
        return keep.div_(1.0 - self.p).index_select(0, sentence.to(x.device))

    def extra_repr(self) -> str:
        return f"p={self.p}"


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
        precision: arithmetic of the re-projection's and the LSTM's matrix products on the CPU, ``"float32"``
            or ``"bfloat16"`` (see :data:`medner.model.lstm.PRECISIONS`); a compute setting, not part of the
            architecture: the weights, the checkpoint and everything else stay float32.
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
        precision: str = "float32",
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
            "precision": precision,
        }
        uses_bfloat16(precision)  # fail early on an unknown precision
        self.use_crf = use_crf
        self.word_dropout = WordDropout(word_dropout)
        self.locked_dropout = LockedDropout(locked_dropout)
        self.reproject = nn.Linear(embedding_dim, embedding_dim) if reproject_embeddings else nn.Identity()
        self.lstm = nn.LSTM(
            embedding_dim, hidden_size, num_layers=rnn_layers, bidirectional=True, batch_first=True
        )
        self.to_tags = nn.Linear(2 * hidden_size, n_tags)
        self.crf = LinearChainCRF(n_tags) if use_crf else None

    def emissions(self, vectors: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Tag scores per token.

        Args:
            vectors: shape (batch, seq_len, embedding_dim), zero-padded.
            lengths: shape (batch,), int64 on the CPU, each >= 1.

        Returns:
            shape (batch, seq_len, n_tags); rows beyond a sentence's length are meaningless.

        Everything between the input and the tag scores works on the packed rows (the real
        tokens only, in the order of a ``PackedSequence``): padding costs nothing, and the
        per-sentence dropout masks are gathered to each sentence's rows.
        """
        packed = pack_padded_sequence(vectors, lengths, batch_first=True, enforce_sorted=False)
        layout = packed_layout(packed.batch_sizes)
        # shape: (tokens,): the batch index of the sentence each packed row belongs to
        sentence = packed.sorted_indices[layout.slot.to(packed.sorted_indices.device)]
        # Word and locked dropout are one (tokens, embedding_dim) scale on the input, applied (with the
        # re-projection) inside the LSTM's first layer; see run_bilstm.
        scale = self._input_scale(packed.data, sentence, vectors.size(0))
        projection = self.reproject if isinstance(self.reproject, nn.Linear) else None
        out = run_bilstm(self.lstm, packed, precision=self.config["precision"], layout=layout, scale=scale,
                         projection=projection).data
        out = self.locked_dropout.rows(out, sentence, vectors.size(0))
        scores = PackedSequence(self.to_tags(out), packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
        # shape: (batch, seq_len, n_tags)
        padded, _ = pad_packed_sequence(scores, batch_first=True, total_length=vectors.size(1))
        return padded

    def _input_scale(self, x: torch.Tensor, sentence: torch.Tensor, n_sentences: int) -> torch.Tensor | None:
        """The word-dropout and locked-dropout masks of the packed rows ``x`` as one (tokens, dim) factor.

        ``None`` when neither drops anything (evaluation). Drawn in the order the two modules apply them.
        """
        keep_word = self.word_dropout.row_keep(x)
        scale = self.locked_dropout.row_scale(x, sentence, n_sentences)
        if keep_word is None:
            return scale
        return keep_word.expand_as(x) if scale is None else scale.mul_(keep_word)

    def loss(self, vectors: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor, tags: torch.Tensor) -> torch.Tensor:
        """Training loss summed over the sentences of the batch (a scalar), as flair sums it.

        Args:
            vectors: shape (batch, seq_len, embedding_dim).
            lengths: shape (batch,), CPU int64.
            mask: shape (batch, seq_len), bool.
            tags: shape (batch, seq_len), int64 gold tag indices.
        """
        scores = self.emissions(vectors, lengths)
        if self.crf is not None:
            return self.crf(scores, tags, mask)
        return nn.functional.cross_entropy(scores[mask], tags[mask], reduction="sum")

    @torch.no_grad()
    def predict(self, vectors: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Best tag indices per sentence (Viterbi, or per-token argmax without a CRF).

        Args:
            vectors: shape (batch, seq_len, embedding_dim).
            lengths: shape (batch,), CPU int64.
            mask: shape (batch, seq_len), bool.

        Returns:
            one list of tag indices per sentence, as long as the sentence.
        """
        scores = self.emissions(vectors, lengths)
        if self.crf is not None:
            return self.crf.decode(scores, mask)
        best = scores.argmax(dim=2).tolist()
        return [row[:n] for row, n in zip(best, lengths.tolist())]

    def trainable_parameters(self) -> int:
        """Number of trained weights."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
