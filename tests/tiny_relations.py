"""A tiny relation study shared by the relation tests: the demo corpus (200 sentences), in-domain GloVe, seed 1,
a pipeline and a shared run with small encoders, under one MEDNER_ROOT per pytest session.

Twelve epochs, not two: the epochs cost a fraction of a second each here, and after two the taggers find no entity
at all, which would leave the end-to-end predictions (the NER's entities, the relations between them) empty and
their tests trivially true.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from medner.relation_runs import VARIANTS, RelationFolder, RelationSettings, execute_relation_run
from medner.runs import RunSettings

DEMO_SIZE = 200
EPOCHS = 12
SEED = 1
#: The NER tagger's and the relation encoders' hidden size.
HIDDEN = 64


@contextmanager
def medner_root(root: Path):
    """MEDNER_ROOT set to ``root`` for the block (the in-domain GloVe vectors and the demo corpus go under it)."""
    saved = os.environ.get("MEDNER_ROOT")
    os.environ["MEDNER_ROOT"] = str(root)
    try:
        yield root
    finally:
        if saved is None:
            os.environ.pop("MEDNER_ROOT", None)
        else:
            os.environ["MEDNER_ROOT"] = saved


def ner_settings(root: Path, **changes) -> RunSettings:
    """The pipeline's NER run (the study's run ``<root>/results/demo/glove/seed-1``)."""
    options = {"demo_size": DEMO_SIZE, "results_root": root / "results", "cache_root": root / "cache",
               "max_epochs": EPOCHS, "model": {"hidden_size": HIDDEN}, **changes}
    return RunSettings("demo", "glove", SEED, **options)


def relation_settings(root: Path, variant: str, *, ner: dict | None = None, **changes) -> RelationSettings:
    """One relation run of the tiny study; ``ner``: changes to its NER settings, ``changes``: to its own."""
    return RelationSettings(ner_settings(root, **(ner or {})), variant, **{"model": {"hidden_size": HIDDEN}, **changes})


def tiny_relation_study(root: Path) -> dict[str, dict]:
    """The metrics of both variants under ``root`` (trained once, read back afterwards); MEDNER_ROOT must be ``root``."""
    return {variant: execute_relation_run(relation_settings(root, variant), progress="none") for variant in VARIANTS}


def folder_of(root: Path, variant: str) -> RelationFolder:
    return relation_settings(root, variant).folder()


@contextmanager
def shared_tiny_study(tmp_path_factory):
    """``(root, {variant: metrics})`` of the one tiny relation study of the session (trained by the first module
    that asks), with MEDNER_ROOT at ``root`` while the caller's module runs."""
    root = tmp_path_factory.getbasetemp() / "tiny-relations"
    root.mkdir(exist_ok=True)
    with medner_root(root):
        yield root, tiny_relation_study(root)
