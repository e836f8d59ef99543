"""The Transformer-CRF from scratch: its vocabulary and unknown words, padding that changes nothing, its size,
and training that learns, reproducibly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medner.reference.scratch import TransformerCRFTagger, Vocabulary, sinusoidal_positions, word_form
from medner.reference.training import ReferenceTrainingConfig, train_reference

SENTENCES = [["Aspirin", "40", "mg", "daily"], ["aspirin", "10", "mg"], ["rash", "after", "aspirin"], ["daily"]]


def test_vocabulary_keeps_forms_seen_twice_and_reads_the_rest_as_unknown():
    vocabulary = Vocabulary.from_sentences(SENTENCES, min_count=2)
    assert word_form("40Mg") == "00mg"
    assert vocabulary.forms == ["<pad>", "<unk>", "00", "aspirin", "daily", "mg"]
    assert vocabulary.encode(["ASPIRIN", "77", "rash", "never-seen"]).tolist() == [3, 2, 1, 1]


def test_padding_does_not_change_a_sentences_states():
    torch.manual_seed(0)
    tagger = TransformerCRFTagger(Vocabulary.from_sentences(SENTENCES, 1), 5, d_model=16, heads=2, ff_size=32).eval()
    examples = tagger.examples(SENTENCES)
    alone = tagger.states(examples[3:], torch.tensor([1]))
    padded = tagger.states(examples, torch.tensor([len(s) for s in SENTENCES]))
    torch.testing.assert_close(padded[3, :1], alone[0], atol=1e-5, rtol=1e-5)


def test_positions_are_the_sinusoids_and_the_size_follows_the_settings():
    table = sinusoidal_positions(3, 4)
    assert table[2].tolist() == pytest.approx([np.sin(2), np.cos(2), np.sin(2 / 100), np.cos(2 / 100)])
    vocabulary = Vocabulary.from_sentences(SENTENCES, 1)
    small = TransformerCRFTagger(vocabulary, 5, d_model=16, heads=2, ff_size=32, layers=1)
    bigger = TransformerCRFTagger(vocabulary, 5, d_model=16, heads=2, ff_size=32, layers=2)
    layer = sum(p.numel() for p in bigger.encoder.layers[1].parameters())
    assert bigger.trainable_parameters() - small.trainable_parameters() == layer
    with pytest.raises(ValueError, match="multiple of heads"):
        TransformerCRFTagger(vocabulary, 5, d_model=18, heads=4)


def _train(seed: int):
    torch.manual_seed(seed)
    tagger = TransformerCRFTagger(Vocabulary.from_sentences(SENTENCES, 1), 3, d_model=16, heads=2, ff_size=32)
    tags = [[1 if w.lower() in ("aspirin", "rash") else 2 if w == "daily" else 0 for w in s] for s in SENTENCES]
    scorer = lambda predicted: float(np.mean([p == g for ps, gs in zip(predicted, tags) for p, g in zip(ps, gs)]))
    config = ReferenceTrainingConfig(max_epochs=30, batch_size=2, learning_rate=1e-2, head_learning_rate=1e-2, seed=seed)
    return train_reference(tagger, SENTENCES, tags, SENTENCES, scorer, config, progress="none")


def test_training_learns_and_the_same_seed_gives_the_same_history():
    first, second = _train(4), _train(4)
    assert first.best_dev_f1 == 1.0
    assert [r["train_loss"] for r in first.history_rows()] == [r["train_loss"] for r in second.history_rows()]
    assert [r["train_loss"] for r in _train(5).history_rows()] != [r["train_loss"] for r in first.history_rows()]
