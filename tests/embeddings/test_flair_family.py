"""Flair character LMs trained for a few seconds on a paragraph, then embedded through FlairCharLMEmbedder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from medner.embeddings.base import EmbeddingUnavailableError
from medner.embeddings.flair_family import (
    FlairCharLMEmbedder,
    character_dictionary,
    train_flair_lm,
    write_lm_corpus,
)

PARAGRAPH = [
    "The patient was started on metformin 500 mg orally twice daily for type 2 diabetes.",
    "Two weeks later she developed lactic acidosis and metformin was stopped.",
    "A 54-year-old man received amoxicillin 250 mg three times a day for otitis media.",
    "He presented with a widespread maculopapular rash on day five of treatment.",
    "Ibuprofen 400 mg every six hours was associated with gastric bleeding.",
    "Warfarin 5 mg daily and aspirin 81 mg daily were continued after discharge.",
    "The dose of lisinopril was reduced to 10 mg once daily because of angioedema.",
    "Intravenous vancomycin 1 g every 12 hours led to acute kidney injury.",
] * 3

TINY = dict(hidden_size=16, nlayers=1, sequence_length=20, mini_batch_size=4, max_epochs=2, seed=3, progress=False)


@pytest.fixture(scope="module")
def tiny_lms(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("flair-lm")
    forward = train_flair_lm(PARAGRAPH, root / "forward", is_forward=True, **TINY)
    backward = train_flair_lm(PARAGRAPH, root / "backward", is_forward=False, **TINY)
    return forward, backward


@pytest.mark.slow
def test_training_writes_the_model_a_record_and_nothing_else(tiny_lms):
    forward, backward = tiny_lms
    for path, direction in ((forward, "forward"), (backward, "backward")):
        assert path.name == "best-lm.pt" and path.is_file()
        record = json.loads((path.parent / "training.json").read_text())
        assert record["direction"] == direction
        assert record["epochs"] == 2 and len(record["valid_losses"]) == 2
        assert record["seconds"] > 0
        assert not list(path.parent.glob("epoch_*.pt")) and not (path.parent / "corpus").exists()


def test_embedder_gives_one_vector_per_token_forward_then_backward(tiny_lms):
    embedder = FlairCharLMEmbedder(*tiny_lms)
    assert embedder.dim == 32  # 2 x hidden_size
    sentences = [["Metformin", "500", "mg", "was", "stopped", "."], ["rash"], [], ["a", "", "b"]]
    vectors = embedder.embed(sentences)
    assert [v.shape for v in vectors] == [(6, 32), (1, 32), (0, 32), (3, 32)]
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in vectors)
    # Changing word 4 leaves the forward halves of words 0-3 alone (they read only the left
    # context) and the backward half of word 5 (it reads only the right context), and moves
    # the others. One batch, so both sentences go through the same arithmetic.
    original, changed = embedder.embed([sentences[0], ["Metformin", "500", "mg", "was", "continued", "."]])
    forward_shift = np.abs(changed[:, :16] - original[:, :16]).max(axis=1)
    backward_shift = np.abs(changed[:, 16:] - original[:, 16:]).max(axis=1)
    assert forward_shift[:4].max() < 1e-6 and forward_shift[4] > 1e-4 and forward_shift[5] > 0
    assert backward_shift[5] < 1e-6 and backward_shift[4] > 1e-4 and backward_shift[3] > 0
    # batching and order do not change vectors
    alone = [embedder.embed([s])[0] for s in sentences]
    for a, b in zip(alone, vectors):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_characters_the_language_model_never_saw_get_finite_vectors(tiny_lms):
    """A token no tokenizer knows (an emoji, CJK, a zero-width space, a control character) still gets one vector."""
    (vectors,) = FlairCharLMEmbedder(*tiny_lms).embed([["5", "µg", "😀", "阿司匹林", "\u200b", "\x07"]])
    assert vectors.shape == (6, 32) and np.isfinite(vectors).all()


@pytest.mark.slow
def test_training_is_deterministic_by_seed(tiny_lms, tmp_path):
    again = train_flair_lm(PARAGRAPH, tmp_path / "again", is_forward=True, **TINY)
    first = torch.load(tiny_lms[0], weights_only=False)["state_dict"]
    second = torch.load(again, weights_only=False)["state_dict"]
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


@pytest.mark.slow
def test_fingerprint_follows_the_lm_files(tiny_lms, tmp_path):
    forward, backward = tiny_lms
    a = FlairCharLMEmbedder(forward, backward)
    assert FlairCharLMEmbedder(str(forward), str(backward)).fingerprint == a.fingerprint
    other = train_flair_lm(PARAGRAPH, tmp_path / "other", is_forward=True, **{**TINY, "seed": 4})
    assert FlairCharLMEmbedder(other, backward).fingerprint != a.fingerprint


def test_swapped_directions_are_refused(tiny_lms):
    forward, backward = tiny_lms
    with pytest.raises(ValueError, match="backward LM, given as the forward one"):
        FlairCharLMEmbedder(backward, forward)


def test_pretrained_names_offline_fail_with_one_sentence(monkeypatch, tmp_path):
    import flair

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(flair, "cache_root", tmp_path / "flair-cache")
    with pytest.raises(EmbeddingUnavailableError) as caught:
        FlairCharLMEmbedder("pubmed-forward", "pubmed-backward")
    message = str(caught.value)
    assert "'pubmed-forward'" in message and "pubmed-forward.pt" in message and "embeddings/pretrained/" in message
    assert "\n" not in message
    with pytest.raises(EmbeddingUnavailableError, match="neither a file nor a flair model name"):
        FlairCharLMEmbedder("no-such-lm-forward", "pubmed-backward")


def test_corpus_split_is_seeded_and_loses_no_line(tmp_path):
    counts = write_lm_corpus(PARAGRAPH, tmp_path / "a", seed=1, min_held_out_chars=200)
    write_lm_corpus(PARAGRAPH, tmp_path / "b", seed=1, min_held_out_chars=200)
    files = ["train/train.txt", "valid.txt", "test.txt"]
    assert all((tmp_path / "a" / f).read_text() == (tmp_path / "b" / f).read_text() for f in files)
    lines = [line for f in files for line in (tmp_path / "a" / f).read_text().splitlines()]
    assert sorted(lines) == sorted(PARAGRAPH)
    assert counts["train"] + counts["valid"] + counts["test"] == len(PARAGRAPH)
    with pytest.raises(ValueError, match="needs more text"):
        write_lm_corpus(PARAGRAPH[:2], tmp_path / "c", min_held_out_chars=200)
    dictionary = character_dictionary(["ab"])
    assert {"a", "b", " ", "\n"} <= set(dictionary.get_items())
