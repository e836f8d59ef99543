"""The train and predict stages of a reference run (:mod:`medner.runs`, ``RunSettings.kind``): the model of its
kind built from the run seed, trained end to end on the run's words, and its tags for the scored splits.

Each kind's defaults (the model's keyword arguments and the :class:`ReferenceTrainingConfig` values, each
recorded in metrics.json) are :data:`KIND_DEFAULTS`; a run's ``model`` and ``training`` settings override
them, and its ``max_epochs`` caps the kind's epochs (``make all EPOCHS=2`` shortens every run):

* ``finetune`` / ``finetune-crf``: MedMine's XLM-R setting (batch 16, learning rate 1e-4, 8 epochs, weight
  decay 1e-5), a softmax or the study's CRF head;
* ``scratch-crf``: every weight new, so one learning rate of 1e-3 for all, and 20 epochs (the study's
  ``DEFAULT_MAX_EPOCHS``): at 8 epochs the demo runs were still improving on dev.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

import torch

from medner.reference.training import ReferenceTrainingConfig, predict_reference, train_reference

#: Per kind: the model's keyword arguments and the training schedule's values other than the defaults.
KIND_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "finetune": {"model": {"use_crf": False}, "training": {}},
    "finetune-crf": {"model": {"use_crf": True}, "training": {}},
    "scratch-crf": {"model": {"use_crf": True},
                    "training": {"learning_rate": 1e-3, "head_learning_rate": 1e-3, "max_epochs": 20}},
}
#: Word forms seen fewer times in the training split are the unknown word (medner.reference.scratch).
SCRATCH_MIN_COUNT = 2


def training_config(settings) -> ReferenceTrainingConfig:
    """The schedule of a reference run: its kind's defaults, the run's ``training`` overrides, its seed, threads and
    compute; ``max_epochs`` the smaller of the kind's and the run's."""
    known = {f.name for f in fields(ReferenceTrainingConfig)}
    values = {**KIND_DEFAULTS[settings.kind]["training"], **settings.training}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"training: unknown setting {unknown[0]!r}; expected one of {', '.join(sorted(known))}")
    values["max_epochs"] = min(int(values.get("max_epochs", ReferenceTrainingConfig.max_epochs)), settings.max_epochs)
    return ReferenceTrainingConfig(**{**values, "seed": int(settings.seed), "num_threads": settings.num_threads,
                                      "implementation": settings.implementation, "precision": settings.precision})


def reference_features(settings, spec) -> tuple[Any, float]:
    """What a reference run reads instead of cached vectors: for the fine-tuned kinds the spec's encoder and
    windowing (:func:`medner.reference.finetune.fine_tuning_embedder`), None for ``scratch-crf``; and the seconds
    it took to load."""
    import time

    from medner.reference.finetune import fine_tuning_embedder

    started = time.perf_counter()
    embedder = None if spec is None else fine_tuning_embedder(spec)
    return embedder, time.perf_counter() - started


def build_model(inputs, settings):
    """A fresh model of the run's kind, initialised from the run seed."""
    from medner.reference.finetune import FineTunedTagger
    from medner.reference.scratch import TransformerCRFTagger, Vocabulary

    torch.manual_seed(settings.seed)
    options = {**KIND_DEFAULTS[settings.kind]["model"], **settings.model}
    if settings.kind == "scratch-crf":
        vocabulary = Vocabulary.from_sentences([s.words for s in inputs.sentences["train"]], SCRATCH_MIN_COUNT)
        return TransformerCRFTagger(vocabulary, len(inputs.tags), **options)
    return FineTunedTagger(inputs.embedder, len(inputs.tags), **options)


def train_reference_model(inputs, settings, dev_scorer, *, progress: str, log: Callable[[str], None]):
    """Stage 2 of a reference run: the model trained end to end; returns (model, TrainingResult, config)."""
    model = build_model(inputs, settings)
    config = training_config(settings)
    result = train_reference(model, [s.words for s in inputs.sentences["train"]], inputs.train_tags(),
                             [s.words for s in inputs.sentences["dev"]], dev_scorer, config, progress=progress, log=log)
    return model, result, config


def predict_split(model, sentences, *, batch_size: int = 64) -> list[list[int]]:
    """The reference model's tag indices for ``sentences`` (tagged Sentences), in order."""
    import numpy as np

    words = [s.words for s in sentences]
    lengths = np.array([len(w) for w in words], dtype=np.int64)
    return predict_reference(model, model.examples(words), lengths, batch_size=batch_size)
