"""A pretrained BERT-family encoder fine-tuned end to end, with a linear softmax head or the study's CRF head.

The reference systems the papers report (MedMine, arXiv 2308.03629: Med7 and XLM-RoBERTa fine-tuned on
n2c2-2018; Belkadi et al., arXiv 2210.12770: BERT-base, BioBERT and ClinicalBERT fine-tuned with and
without a CRF layer; Devlin et al. 2019, section 5.3 for the token-classification setting):

    words of a sentence
      -> subwords, cut into windows when longer than the model's limit   (TransformerEmbedder.word_pieces)
      -> encoder, every weight trained                                   (batch of pieces, longest, hidden)
      -> each word's first subword's last-layer state                    (words, hidden)
      -> dropout, linear to tag scores                                   (batch, seq_len, n_tags)
      -> SoftmaxHead (cross-entropy, argmax) or CRFHead (CRF NLL, Viterbi)   (medner.model.heads)

Word-level tags from the first subword: each word is tagged from the state of its first subword,
and the other subwords of a word take no part in the loss (they have no tag; the Hugging Face
token-classification examples give them the label -100, which is the same). A sentence longer than the
model's limit is cut into overlapping windows exactly as the frozen embedder cuts it
(:meth:`medner.embeddings.transformer.TransformerEmbedder.word_pieces`): each word is read in the window
where it is most central, so every word gets one state however long the sentence.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from medner.model.compute import check_compute
from medner.model.heads import CRFHead, SoftmaxHead


def fine_tuning_embedder(spec, *, device: str | None = None):
    """The windowing and the encoder of a ``bert`` spec, set up for fine-tuning: each word read from its first
    subword in the last layer (whatever the spec's ``layers`` and ``pooling``, which describe frozen features);
    the spec's ``max_length`` and ``stride`` kept; on ``device``, a GPU when one is present (as the frozen
    embedder). A spec of another family is a ValueError."""
    from medner.embeddings.specs import MINILM
    from medner.embeddings.transformer import TransformerEmbedder, minilm_path

    if spec.family != "bert":
        raise ValueError(f"fine-tuning needs a BERT-family spec (family: bert); {spec.name!r} is of family "
                         f"{spec.family!r}")
    options = {key: spec.options[key] for key in ("max_length", "stride") if key in spec.options}
    source = str(minilm_path()) if spec.source == MINILM else spec.source
    return TransformerEmbedder(source, name=spec.name, layers="last", pooling="first", device=device, **options)


class FineTunedTagger(nn.Module):
    """A pretrained encoder and a tagging head, trained together.

    Args:
        embedder: a :class:`~medner.embeddings.transformer.TransformerEmbedder` with ``pooling="first"``
            (:func:`fine_tuning_embedder`); its encoder becomes this tagger's ``encoder`` and is trained.
        n_tags: number of tags (``O`` included).
        use_crf: the study's CRF head; ``False`` gives the linear softmax head of token classification.
        dropout: dropout on the word states before the linear map (``hidden_dropout_prob`` of BERT, as the
            Hugging Face token-classification head).
    """

    def __init__(self, embedder, n_tags: int, *, use_crf: bool = False, dropout: float = 0.1) -> None:
        super().__init__()
        if embedder.pooling != "first" or embedder.layers != "last":
            raise ValueError(f"a fine-tuned tagger reads each word's first subword in the last layer; the embedder "
                             f"has pooling={embedder.pooling!r}, layers={embedder.layers!r}")
        self.windows = embedder  # tokeniser and windowing; not a module, so not saved with the weights
        self.encoder = embedder.model
        if getattr(self.encoder, "pooler", None) is not None:
            self.encoder.pooler = None  # the sentence pooler reads [CLS] for sentence tasks: no part of tagging
        self.encoder.requires_grad_(True)
        hidden = int(embedder.dim)
        self.config = {"encoder": embedder.source, "hidden_size": hidden, "n_tags": n_tags, "use_crf": use_crf,
                       "dropout": dropout, "max_length": embedder.max_length, "stride": embedder.stride,
                       "device": embedder.device.type}
        self.dropout = nn.Dropout(dropout)
        self.head = (CRFHead if use_crf else SoftmaxHead)(hidden, n_tags).to(embedder.device)

    @property
    def compute(self) -> dict[str, str]:
        """How the head's CRF computes (``fused`` or ``nn.LSTM`` = its PyTorch loops); the encoder is PyTorch's."""
        return {"implementation": self.head.crf.implementation if hasattr(self.head, "crf") else "torch",
                "precision": "float32"}

    def set_compute(self, implementation: str = "fused", precision: str = "float32") -> FineTunedTagger:
        """The CRF's loops (see :mod:`medner.model.compute`); the encoder computes in float32 either way."""
        check_compute(implementation, precision)
        if hasattr(self.head, "crf"):
            self.head.crf.implementation = implementation
        return self

    def examples(self, sentences: Sequence[Sequence[str]]) -> list:
        """What the tagger reads of each sentence: its pieces (tokenised once, before training)."""
        return self.windows.word_pieces([list(words) for words in sentences])

    def states(self, examples: Sequence[list], lengths: torch.Tensor) -> torch.Tensor:
        """Word states of a batch of sentences, padded, shape (batch, seq_len, hidden), as the heads take them
        (rows beyond a sentence's length are zero).

        ``examples``: the pieces of each sentence (:meth:`examples`); ``lengths`` (batch,) int64 words per sentence.
        """
        seq_len = int(lengths.max())
        pieces, offsets = [], []
        for b, sentence_pieces in enumerate(examples):
            pieces.extend(sentence_pieces)
            offsets.extend([b * seq_len] * len(sentence_pieces))
        input_ids, attention_mask, rows, targets = self.windows.encoder_inputs(pieces)
        # every kept row goes to its word's place in the padded (batch * seq_len) grid
        shift = torch.repeat_interleave(torch.tensor(offsets), torch.tensor([len(p.rows) for p in pieces])).to(rows.device)
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        # shape: (kept rows, hidden)
        selected = hidden.reshape(-1, hidden.size(-1)).index_select(0, rows)
        grid = selected.new_zeros(len(examples) * seq_len, hidden.size(-1)).index_copy(0, targets + shift, selected)
        return self.dropout(grid.view(len(examples), seq_len, -1))

    def loss(self, examples: Sequence[list], lengths: torch.Tensor, mask: torch.Tensor, tags: torch.Tensor) -> torch.Tensor:
        """The head's loss summed over the batch (a scalar); ``mask`` and ``tags`` shape (batch, seq_len)."""
        return self.head.loss(self.states(examples, lengths), tags, mask)

    @torch.no_grad()
    def predict(self, examples: Sequence[list], lengths: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Best tag indices per sentence (Viterbi, or argmax without a CRF), each as long as its sentence."""
        return self.head.decode(self.states(examples, lengths), mask)

    def trainable_parameters(self) -> int:
        """Number of trained weights: the whole encoder and the head."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def head_parameters(self) -> list[nn.Parameter]:
        """The weights trained from scratch (linear map and CRF): they learn at the head's learning rate."""
        return list(self.head.parameters())
