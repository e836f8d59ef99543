"""Relation extraction on the study's encoder: which drug each attribute belongs to.

n2c2-2018 Track 2 links every attribute (Strength, Dosage, ..., ADE) to its drug
(``R1<TAB>Strength-Drug Arg1:T3 Arg2:T2``). A relation model scores every candidate
pair (:mod:`medner.corpus.candidates`: an attribute and a drug at most one sentence
apart) and gives it a relation type or none.

The relation head (:class:`RelationHead`) reads the encoder's token states, the same
states the tagging head reads (:mod:`medner.model.encoder`), and follows the span-pair
classifiers of Zhong and Chen 2021 ("A Frustratingly Easy Approach for Entity and
Relation Extraction", NAACL) and Lee et al. 2017 in a small form::

    token states of the sentences of a few documents, one row per token in document order (tokens, 512)
      -> each argument: the mean of the states of its tokens                   a, d   (pairs, 512) each
      -> pair features [a; d; a * d; attribute label; token distance; sentences apart]
      -> linear 1584 -> 128, ReLU, dropout 0.3, linear 128 -> types + 1       (pairs, n_types + 1)
      -> softmax over "no relation" (index 0) and the relation types

A candidate whose arguments lie in two sentences reads each argument in its own
sentence's states; the two features that say how far apart they are (tokens, in
buckets, and sentences) tell the head it crosses a boundary.

Two models of one architecture family answer the issue's question:

* :class:`RelationExtractor` (**pipeline**): its own :class:`~medner.model.encoder.BiLSTMEncoder`
  of the tagger's shape over the same cached vectors, and the relation head. The entities
  come from the study's NER run (a separate tagger, :class:`~medner.model.BiLSTMCRFTagger`).
* :class:`JointTagger` (**shared**): one encoder, the tagger's CRF head and the relation
  head on top, trained together on ``ner_loss + relation_loss_weight * relation_loss``.

Both take their inputs as a :class:`PairBatch` (candidates of the documents of one batch)
beside the padded vectors the tagger takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from medner.model.compute import apply_compute
from medner.model.encoder import BiLSTMEncoder
from medner.model.heads import CRFHead

#: Upper edges of the token-distance buckets (distance between the nearer ends of the two arguments);
#: the last bucket holds everything beyond. Each bucket exists once for a drug after the attribute and
#: once for a drug before it.
DISTANCE_EDGES: tuple[int, ...] = (0, 1, 2, 3, 4, 7, 15, 31, 63)
#: Sentence distances the head tells apart: 0, 1, and 2 or more.
MAX_SENTENCE_DISTANCE = 2


def distance_bucket(gap: int, drug_before: bool) -> int:
    """The bucket of a pair whose arguments are ``gap`` tokens apart (tokens between their nearer ends, 0 when
    adjacent or overlapping), the drug before or after the attribute: ``0 .. 2 * (len(DISTANCE_EDGES) + 1) - 1``."""
    bucket = next((i for i, edge in enumerate(DISTANCE_EDGES) if gap <= edge), len(DISTANCE_EDGES))
    return bucket + len(DISTANCE_EDGES) + 1 if drug_before else bucket


@dataclass
class PairBatch:
    """The candidate pairs of one batch, as indices into the batch's token rows (document order).

    Every field has shape (pairs,), int64:

    * ``attribute_first``, ``attribute_last``, ``drug_first``, ``drug_last``: the first and last token row of
      each argument (inclusive); the rows are the tokens of the batch's sentences, sentence after sentence
      in batch order (what :func:`token_rows` returns);
    * ``attribute_label``: the index of the attribute's label in the model's label list;
    * ``distance``: :func:`distance_bucket` of the pair;
    * ``sentences_apart``: sentence boundaries between the arguments, capped at :data:`MAX_SENTENCE_DISTANCE`;
    * ``gold``: the gold relation type index (0: none); ignored in prediction.
    """

    attribute_first: torch.Tensor
    attribute_last: torch.Tensor
    drug_first: torch.Tensor
    drug_last: torch.Tensor
    attribute_label: torch.Tensor
    distance: torch.Tensor
    sentences_apart: torch.Tensor
    gold: torch.Tensor

    def __len__(self) -> int:
        return int(self.gold.numel())


def token_rows(states: PackedSequence, mask: torch.Tensor) -> torch.Tensor:
    """The encoder's states as one row per real token, sentence after sentence in batch order, shape
    (tokens, features); ``mask`` (batch, seq_len) bool marks the real tokens."""
    padded, _ = pad_packed_sequence(states, batch_first=True, total_length=mask.size(1))
    return padded[mask]


class RelationHead(nn.Module):
    """Pair features from pooled argument states to relation-type scores (see the module docstring).

    Args:
        input_size: features of a token state (the encoder's ``output_size``).
        n_labels: attribute labels the head knows (an embedding each).
        n_types: relation types; the head scores ``n_types + 1`` classes, 0 being "no relation".
        hidden_size: units of the hidden layer.
        label_dim: size of the attribute-label embedding.
        distance_dim: size of the token-distance and the sentence-distance embeddings.
        dropout: dropout on the hidden layer.
    """

    def __init__(self, input_size: int, n_labels: int, n_types: int, *, hidden_size: int = 128, label_dim: int = 16,
                 distance_dim: int = 16, dropout: float = 0.3) -> None:
        super().__init__()
        self.label = nn.Embedding(n_labels, label_dim)
        self.distance = nn.Embedding(2 * (len(DISTANCE_EDGES) + 1), distance_dim)
        self.sentences_apart = nn.Embedding(MAX_SENTENCE_DISTANCE + 1, distance_dim)
        features = 3 * input_size + label_dim + 2 * distance_dim
        self.hidden = nn.Linear(features, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.to_types = nn.Linear(hidden_size, n_types + 1)

    def scores(self, rows: torch.Tensor, pairs: PairBatch) -> torch.Tensor:
        """Scores of "none" and each type for every pair, shape (pairs, n_types + 1); ``rows`` (tokens, input_size)."""
        summed = torch.cat([rows.new_zeros(1, rows.size(1)), rows.cumsum(0)])

        def mean(first: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
            return (summed[last + 1] - summed[first]) / (last - first + 1).unsqueeze(1).to(rows.dtype)

        attribute = mean(pairs.attribute_first, pairs.attribute_last)
        drug = mean(pairs.drug_first, pairs.drug_last)
        features = torch.cat([attribute, drug, attribute * drug, self.label(pairs.attribute_label),
                              self.distance(pairs.distance), self.sentences_apart(pairs.sentences_apart)], dim=1)
        return self.to_types(self.dropout(torch.relu(self.hidden(features))))

    def loss(self, rows: torch.Tensor, pairs: PairBatch) -> torch.Tensor:
        """Cross-entropy of the gold types summed over the pairs (a scalar; 0 without pairs)."""
        if len(pairs) == 0:
            return rows.sum() * 0.0
        return nn.functional.cross_entropy(self.scores(rows, pairs), pairs.gold, reduction="sum")

    @torch.no_grad()
    def decode(self, rows: torch.Tensor, pairs: PairBatch, allowed: torch.Tensor | None = None) -> list[int]:
        """The best class of each pair (0: no relation, ``i``: the ``i``-th type, 1-based).

        ``allowed`` (n_labels, n_types + 1) bool, optional: the classes an attribute of each label may take
        (n2c2 gives a Strength only ``Strength-Drug``); the others are never chosen.
        """
        if len(pairs) == 0:
            return []
        scores = self.scores(rows, pairs)
        if allowed is not None:
            scores = scores.masked_fill(~allowed[pairs.attribute_label], float("-inf"))
        return scores.argmax(dim=1).tolist()


class _EncoderModel(nn.Module):
    """What the two relation models share: an encoder, its compute settings and its parameter count."""

    encoder: BiLSTMEncoder

    def set_compute(self, implementation: str = "fused", precision: str = "float32") -> _EncoderModel:
        """Compute with ``implementation`` at ``precision`` from now on (as ``BiLSTMCRFTagger.set_compute``)."""
        return apply_compute(self, implementation, precision)

    @property
    def compute(self) -> dict[str, str]:
        return {"implementation": self.encoder.implementation, "precision": self.encoder.precision}

    def trainable_parameters(self) -> int:
        """Number of trained weights."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def rows(self, vectors: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor) -> tuple[PackedSequence, torch.Tensor]:
        """The encoder's states of a batch, packed (for a tagging head) and as token rows (for the relation head)."""
        states = self.encoder(vectors, lengths)
        return states, token_rows(states, mask)


def _encoder_and_head(config: dict) -> tuple[BiLSTMEncoder, RelationHead]:
    encoder = BiLSTMEncoder(config["embedding_dim"], hidden_size=config["hidden_size"], rnn_layers=config["rnn_layers"],
                            word_dropout=config["word_dropout"], locked_dropout=config["locked_dropout"],
                            reproject_embeddings=config["reproject_embeddings"])
    head = RelationHead(encoder.output_size, config["n_labels"], config["n_types"],
                        hidden_size=config["relation_hidden_size"], dropout=config["relation_dropout"])
    return encoder, head


def _config(embedding_dim: int, n_labels: int, n_types: int, **options) -> dict:
    """The keyword arguments of a relation model with the tagger's encoder defaults filled in."""
    config = {"embedding_dim": embedding_dim, "n_labels": n_labels, "n_types": n_types, "hidden_size": 256,
              "rnn_layers": 1, "word_dropout": 0.05, "locked_dropout": 0.5, "reproject_embeddings": True,
              "relation_hidden_size": 128, "relation_dropout": 0.3}
    unknown = sorted(set(options) - set(config))
    if unknown:
        raise ValueError(f"relation model: unknown option {unknown[0]!r}; expected one of {', '.join(sorted(config)[3:])}")
    config.update(options)
    return config


class RelationExtractor(_EncoderModel):
    """The pipeline's relation model: its own BiLSTM encoder (the tagger's shape) and a :class:`RelationHead`.

    Args:
        embedding_dim: size of the input token vectors.
        n_labels: attribute labels (the corpus's labels).
        n_types: relation types.
        **options: ``hidden_size``, ``rnn_layers``, ``word_dropout``, ``locked_dropout``, ``reproject_embeddings``
            (the encoder's, as :class:`~medner.model.BiLSTMCRFTagger`), ``relation_hidden_size``, ``relation_dropout``.
    """

    def __init__(self, embedding_dim: int, n_labels: int, n_types: int, **options) -> None:
        super().__init__()
        self.config = _config(embedding_dim, n_labels, n_types, **options)
        self.encoder, self.relation_head = _encoder_and_head(self.config)

    def loss(self, vectors: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor, pairs: PairBatch,
             tags: torch.Tensor | None = None) -> torch.Tensor:
        """The relation loss of a batch, summed over its pairs; shapes as ``BiLSTMCRFTagger.loss`` (``tags`` unused)."""
        return self.relation_head.loss(self.rows(vectors, lengths, mask)[1], pairs)

    @torch.no_grad()
    def predict(self, vectors: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor, pairs: PairBatch,
                allowed: torch.Tensor | None = None) -> tuple[None, list[int]]:
        """``(None, classes)``: no tags (the pipeline's tagger is another model) and the class of each pair
        (``allowed`` as :meth:`RelationHead.decode`)."""
        return None, self.relation_head.decode(self.rows(vectors, lengths, mask)[1], pairs, allowed)


class JointTagger(_EncoderModel):
    """The shared model: one BiLSTM encoder read by the tagger's :class:`~medner.model.heads.CRFHead` and by a
    :class:`RelationHead`, trained on ``ner_loss + relation_loss_weight * relation_loss``.

    Args:
        embedding_dim: size of the input token vectors.
        n_tags: tags of the CRF head (``O`` included).
        n_labels: attribute labels; n_types: relation types; options: as :class:`RelationExtractor`.
        relation_loss_weight: the relation loss's weight in the sum (1.0: the two losses count alike).
    """

    def __init__(self, embedding_dim: int, n_tags: int, n_labels: int, n_types: int, *,
                 relation_loss_weight: float = 1.0, **options) -> None:
        super().__init__()
        if not relation_loss_weight > 0:
            raise ValueError(f"relation_loss_weight: expected a number > 0, given {relation_loss_weight!r}")
        self.config = {**_config(embedding_dim, n_labels, n_types, **options), "n_tags": n_tags,
                       "relation_loss_weight": float(relation_loss_weight)}
        self.encoder, self.relation_head = _encoder_and_head(self.config)
        self.head = CRFHead(self.encoder.output_size, n_tags)

    def loss(self, vectors: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor, pairs: PairBatch,
             tags: torch.Tensor | None = None) -> torch.Tensor:
        """``ner_loss + relation_loss_weight * relation_loss`` of a batch; ``tags`` (batch, seq_len) the gold tags."""
        states, rows = self.rows(vectors, lengths, mask)
        ner = self.head.loss(states, tags, mask)
        return ner + self.config["relation_loss_weight"] * self.relation_head.loss(rows, pairs)

    @torch.no_grad()
    def predict(self, vectors: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor, pairs: PairBatch,
                allowed: torch.Tensor | None = None) -> tuple[list[list[int]], list[int]]:
        """The best tags of each sentence (Viterbi) and the class of each pair (``allowed`` as
        :meth:`RelationHead.decode`)."""
        states, rows = self.rows(vectors, lengths, mask)
        return self.head.decode(states, mask), self.relation_head.decode(rows, pairs, allowed)
