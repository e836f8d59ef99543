"""medner: a controlled study of token embeddings for clinical medication NER.

One BiLSTM-CRF architecture, trained on cached GloVe, Flair or BERT-family token
vectors, scored with an n2c2-2018 Track 2 faithful span scorer.
"""

__version__ = "0.1.0"

#: The n2c2-2018 Track 2 entity labels, in the canonical order used by every table and figure.
N2C2_LABELS: tuple[str, ...] = (
    "Drug",
    "Strength",
    "Dosage",
    "Form",
    "Frequency",
    "Route",
    "Duration",
    "Reason",
    "ADE",
)

#: The corpora known by name (``medner.corpus.registry`` reads them); any other name needs a brat folder.
CORPUS_NAMES: tuple[str, ...] = ("demo", "n2c2-2018", "phee")

#: The n2c2-2018 Track 2 relation types (attribute first, then the drug it belongs to), in the order of their labels.
N2C2_RELATION_TYPES: tuple[str, ...] = tuple(f"{label}-Drug" for label in N2C2_LABELS[1:])
