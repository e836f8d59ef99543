"""A Transformer-CRF trained from scratch on the run's tokens: no pretraining, its own vocabulary.

Belkadi et al. (2023), "Exploring the Value of Pre-trained Language Models for Clinical Named Entity
Recognition" (arXiv 2210.12770) train a transformer encoder with a CRF layer from scratch on n2c2-2018,
with about 40% fewer parameters than BERT-base, and report it close to the fine-tuned models. Here:

    words -> ids in the training split's vocabulary                    (batch, seq_len)
      -> word embeddings * sqrt(d_model) + sinusoidal positions       (batch, seq_len, d_model)
      -> nn.TransformerEncoder (pre-norm layers, padding masked)      (batch, seq_len, d_model)
      -> CRFHead: linear to tag scores, linear-chain CRF              (medner.model.heads)

Positions are the sinusoids of Vaswani et al. (2017), so a sentence of any length is read whole.

Vocabulary and unknown words: the vocabulary holds the word forms of the training split seen at least
``min_count`` (2) times; a form is the word lowercased with every digit written 0 ("40mg" and "10mg" are
one form). Every other word, in training and at test, is the unknown word ``<unk>``: the training words
seen once teach its embedding, so a word never seen in training is read the way rare words were.

Size (defaults, :class:`TransformerCRFTagger`): d_model 128, 2 layers, 4 heads, feed-forward 256: about
0.27 M weights in the encoder plus 128 per vocabulary entry (the demo corpus, 541 forms: 0.34 M in all;
BERT-base has 110 M, Belkadi et al.'s model about 40% fewer). Chosen so that a run trains in minutes on one CPU core, not to
match the paper's size: ``d_model``, ``layers``, ``heads`` and ``ff_size`` are parameters of the run.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from medner.model.compute import check_compute
from medner.model.heads import CRFHead, SoftmaxHead

PAD, UNK = "<pad>", "<unk>"
_DIGIT = re.compile(r"\d")


def word_form(word: str) -> str:
    """The form a word is looked up by: lowercased, every digit written 0."""
    return _DIGIT.sub("0", word.lower())


class Vocabulary:
    """Word forms -> ids: ``<pad>`` 0, ``<unk>`` 1, then the forms seen at least ``min_count`` times (sorted)."""

    def __init__(self, forms: Sequence[str]) -> None:
        self.forms = [PAD, UNK, *forms]
        self.index = {form: i for i, form in enumerate(self.forms)}

    @classmethod
    def from_sentences(cls, sentences: Iterable[Sequence[str]], min_count: int = 2) -> Vocabulary:
        """The vocabulary of the training sentences (see the module docstring)."""
        if min_count < 1:
            raise ValueError(f"min_count: expected an integer >= 1; given {min_count!r}")
        counts = Counter(word_form(word) for words in sentences for word in words)
        return cls(sorted(form for form, n in counts.items() if n >= min_count))

    def __len__(self) -> int:
        return len(self.forms)

    def encode(self, words: Sequence[str]) -> torch.Tensor:
        """The ids of a sentence's words, shape (n_words,) int64; unknown forms are ``<unk>`` (1)."""
        return torch.tensor([self.index.get(word_form(word), 1) for word in words], dtype=torch.int64)


def sinusoidal_positions(seq_len: int, d_model: int) -> torch.Tensor:
    """Vaswani et al.'s position encodings, shape (seq_len, d_model): sin on even, cos on odd dimensions."""
    position = torch.arange(seq_len, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(seq_len, d_model)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: d_model // 2])
    return table


class TransformerCRFTagger(nn.Module):
    """Word embeddings, a transformer encoder and a CRF head, all trained from scratch.

    Args:
        vocabulary: the training split's :class:`Vocabulary`.
        n_tags: number of tags (``O`` included).
        d_model: size of the word embeddings and of every encoder state.
        layers: transformer encoder layers.
        heads: attention heads per layer (divides ``d_model``).
        ff_size: inner size of each layer's feed-forward block.
        dropout: dropout in the encoder layers and on the embeddings.
        use_crf: the CRF head (Belkadi et al.'s model); ``False`` gives a softmax head.
    """

    def __init__(self, vocabulary: Vocabulary, n_tags: int, *, d_model: int = 128, layers: int = 2, heads: int = 4,
                 ff_size: int = 256, dropout: float = 0.1, use_crf: bool = True) -> None:
        super().__init__()
        if d_model % heads or d_model % 2:
            raise ValueError(f"d_model must be even and a multiple of heads; given d_model={d_model}, heads={heads}")
        self.vocabulary = vocabulary
        self.config = {"vocabulary_size": len(vocabulary), "n_tags": n_tags, "d_model": d_model, "layers": layers,
                       "heads": heads, "ff_size": ff_size, "dropout": dropout, "use_crf": use_crf}
        self.embeddings = nn.Embedding(len(vocabulary), d_model, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(d_model, heads, ff_size, dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
        self.head = (CRFHead if use_crf else SoftmaxHead)(d_model, n_tags)

    @property
    def compute(self) -> dict[str, str]:
        """How the CRF computes (``fused`` or ``nn.LSTM`` = its PyTorch loops); the encoder is PyTorch's."""
        return {"implementation": self.head.crf.implementation if hasattr(self.head, "crf") else "torch",
                "precision": "float32"}

    def set_compute(self, implementation: str = "fused", precision: str = "float32") -> TransformerCRFTagger:
        """The CRF's loops (see :mod:`medner.model.compute`); the encoder computes in float32 either way."""
        check_compute(implementation, precision)
        if hasattr(self.head, "crf"):
            self.head.crf.implementation = implementation
        return self

    def examples(self, sentences: Sequence[Sequence[str]]) -> list[torch.Tensor]:
        """The word ids of each sentence (looked up once, before training)."""
        return [self.vocabulary.encode(words) for words in sentences]

    def states(self, examples: Sequence[torch.Tensor], lengths: torch.Tensor) -> torch.Tensor:
        """Encoder states of a batch, padded, shape (batch, seq_len, d_model), as the heads take them (rows beyond
        a sentence's length are meaningless); ``lengths`` (batch,) int64 on the CPU."""
        seq_len, d_model = int(lengths.max()), self.config["d_model"]
        ids = torch.zeros(len(examples), seq_len, dtype=torch.int64)
        for b, row in enumerate(examples):
            ids[b, : len(row)] = row
        padding = torch.arange(seq_len).unsqueeze(0) >= lengths.unsqueeze(1)  # shape: (batch, seq_len)
        # shape: (batch, seq_len, d_model)
        x = self.embeddings(ids) * math.sqrt(d_model) + sinusoidal_positions(seq_len, d_model)
        return self.encoder(self.dropout(x), src_key_padding_mask=padding)

    def loss(self, examples: Sequence[torch.Tensor], lengths: torch.Tensor, mask: torch.Tensor,
             tags: torch.Tensor) -> torch.Tensor:
        """The head's loss summed over the batch (a scalar); ``mask`` and ``tags`` shape (batch, seq_len)."""
        return self.head.loss(self.states(examples, lengths), tags, mask)

    @torch.no_grad()
    def predict(self, examples: Sequence[torch.Tensor], lengths: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Best tag indices per sentence (Viterbi), each as long as its sentence."""
        return self.head.decode(self.states(examples, lengths), mask)

    def trainable_parameters(self) -> int:
        """Number of trained weights."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def head_parameters(self) -> list[nn.Parameter]:
        """The head's weights (everything here is trained from scratch at one learning rate)."""
        return list(self.head.parameters())
