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


def embedding_order(names: Iterable[str]) -> list[str]:
    """Embedding names in the study's fixed order: glove, flair, bert first, then the others sorted."""
    unique = set(names)
    first = [name for name in DEFAULT_EMBEDDINGS if name in unique]
    return first + sorted(unique - set(DEFAULT_EMBEDDINGS))


def label_order(names: Iterable[str]) -> list[str]:
    """Labels in n2c2-2018 order, then any other label sorted (custom label maps)."""
    unique = set(names)
    return [label for label in N2C2_LABELS if label in unique] + sorted(unique - set(N2C2_LABELS))
