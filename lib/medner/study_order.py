"""The study's fixed orders: embeddings, labels, span-matching schemas and averages, as every table and figure shows them.

The comparison (which computes), the tables and the figures (which read its data) all sort by
these, so a row, a column, a colour and a legend entry always come in the same order; none of
them imports the others for it.
"""

from __future__ import annotations

from collections.abc import Iterable

from medner import N2C2_LABELS

#: The embeddings of the study's defaults: always first, and always the same colours, in every output.
DEFAULT_EMBEDDINGS: tuple[str, ...] = ("glove", "flair", "bert")
#: What a run trains: the study's frozen-feature BiLSTM-CRF, or a reference system of the papers (medner.reference),
#: which differs in more than the embedding: a fine-tuned encoder with a softmax or CRF head, or a Transformer-CRF
#: trained from scratch (which reads no embedding).
FROZEN_KIND = "bilstm-crf"
REFERENCE_KINDS: tuple[str, ...] = ("finetune", "finetune-crf", "scratch-crf")
KINDS_WITHOUT_EMBEDDING: tuple[str, ...] = ("scratch-crf",)
#: The heading of the reference rows in every table and figure.
REFERENCE_HEADING = "reference systems: differ in more than the embedding"
#: The two span-matching schemas of the n2c2-2018 scorer, in table order.
SCHEMAS: tuple[str, ...] = ("strict", "lenient")
#: The averages over labels, shown beside the labels (``summary.csv``) and as the main table's columns.
AVERAGES: tuple[str, ...] = ("micro", "macro")
#: The scores other papers report, beside the n2c2 ones in the main table: key -> column title. SemEval-2013
#: "type" micro F1 (overlap with the right label counts; MedMine, arXiv 2308.03629) and BIO-strict macro and
#: support-weighted F1 over labels (exact entity tuples read from the tags; Belkadi et al., arXiv 2210.12770).
PAPER_SCORES: dict[str, str] = {
    "semeval_type_micro": "SemEval type micro F1",
    "bio_strict_macro": "BIO-strict macro F1",
    "bio_strict_weighted": "BIO-strict weighted F1",
}


def system_name(kind: str, embedding: str) -> str:
    """The name of a run's row and folder: the embedding for the study's BiLSTM-CRF, ``<kind>-<embedding>`` for a
    fine-tuned reference (``finetune-crf-bert``), the kind alone for one that reads no embedding (``scratch-crf``)."""
    if kind == FROZEN_KIND:
        return embedding
    if kind not in REFERENCE_KINDS:
        raise ValueError(f"run kind: expected {FROZEN_KIND} or one of {', '.join(REFERENCE_KINDS)}; given {kind!r}")
    return kind if kind in KINDS_WITHOUT_EMBEDDING else f"{kind}-{embedding}"


def reference_kind(name: str) -> str | None:
    """The reference kind of a row named by :func:`system_name`, or None for an embedding of the study."""
    if name in KINDS_WITHOUT_EMBEDDING:
        return name
    return next((kind for kind in sorted(REFERENCE_KINDS, key=len, reverse=True)
                 if kind not in KINDS_WITHOUT_EMBEDDING and name.startswith(f"{kind}-")), None)


def embedding_order(names: Iterable[str]) -> list[str]:
    """Row names in the study's fixed order: glove, flair, bert first, then the other embeddings sorted, then the
    reference systems (:func:`reference_kind`) in the order of :data:`REFERENCE_KINDS`, each kind's sorted."""
    unique = set(names)
    references = {name for name in unique if reference_kind(name)}
    first = [name for name in DEFAULT_EMBEDDINGS if name in unique]
    last = sorted(references, key=lambda name: (REFERENCE_KINDS.index(reference_kind(name)), name))
    return first + sorted(unique - set(DEFAULT_EMBEDDINGS) - references) + last


def label_order(names: Iterable[str]) -> list[str]:
    """Labels in n2c2-2018 order, then any other label sorted (custom label maps)."""
    unique = set(names)
    return [label for label in N2C2_LABELS if label in unique] + sorted(unique - set(N2C2_LABELS))
