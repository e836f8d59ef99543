"""Evaluation: the n2c2-2018 span and relation scorers, SemEval-2013 schemas, BIO-strict token scores, confusion and statistics.

Scoring is done on character offsets against the gold documents (:mod:`.span`, :mod:`.relations`);
the other modules add what the organisers' script never offered.
"""

from medner.evaluation.confusion import span_confusion, token_confusion
from medner.evaluation.relations import relation_document_counts, score_relations
from medner.evaluation.semeval import score_semeval
from medner.evaluation.span import score_documents, score_folders
from medner.evaluation.statistics import (
    aggregate_seeds,
    approximate_randomisation,
    approximate_randomisation_counts,
    bootstrap_ci,
    bootstrap_ci_counts,
)
from medner.evaluation.token import score_bio_strict

__all__ = [
    "aggregate_seeds",
    "approximate_randomisation",
    "approximate_randomisation_counts",
    "bootstrap_ci",
    "bootstrap_ci_counts",
    "relation_document_counts",
    "score_bio_strict",
    "score_documents",
    "score_folders",
    "score_relations",
    "score_semeval",
    "span_confusion",
    "token_confusion",
]
