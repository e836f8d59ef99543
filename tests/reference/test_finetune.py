"""The fine-tuned tagger on a tiny random BERT: its word states are the frozen embedder's first-subword vectors
(windows included), only first subwords reach the loss, and training with AdamW's schedule learns, reproducibly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medner.embeddings.specs import EmbeddingSpec
from medner.embeddings.transformer import TransformerEmbedder
from medner.reference.finetune import FineTunedTagger, fine_tuning_embedder
from medner.reference.training import ReferenceTrainingConfig, linear_schedule, train_reference
from resources.tiny_bert import tiny_bert_folder

WORDS = ["the", "patient", "took", "mg", "daily", "for", "pain", "rash", "after", "was", "started"]
SENTENCES = [
    ["The", "patient", "took", "aspirin", "100", "mg", "daily", "for", "pain"],
    ["rash", "after", "aspirin"],
    ["started", "daily"],
]


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    return tiny_bert_folder(tmp_path_factory.mktemp("tiny-bert"), WORDS, max_positions=8)


def _states(tagger, sentences):
    """The tagger's word states (eval mode: no dropout) as one (words, hidden) array per sentence."""
    tagger.eval()
    lengths = torch.tensor([len(s) for s in sentences])
    with torch.no_grad():
        padded = tagger.states(tagger.examples(sentences), lengths)
    return [padded[b, : len(s)].numpy() for b, s in enumerate(sentences)]


def test_word_states_are_the_frozen_embedders_first_subword_vectors_windows_included(bert_dir):
    # 8 positions leave 6 subwords a window: the first sentence (aspirin = asp ##ir ##in, 100 = 1 ##0 ##0) is windowed
    tagger = FineTunedTagger(TransformerEmbedder(str(bert_dir), layers="last", pooling="first", stride=2), 5)
    frozen = TransformerEmbedder(str(bert_dir), layers="last", pooling="first", stride=2).embed(SENTENCES)
    assert len(tagger.examples(SENTENCES)[0]) > 1  # really cut into windows
    for ours, theirs in zip(_states(tagger, SENTENCES), frozen):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_only_first_subwords_reach_the_loss(bert_dir):
    tagger = FineTunedTagger(TransformerEmbedder(str(bert_dir), layers="last", pooling="first"), 3)
    tagger.eval()
    sentence = [["rash", "after", "aspirin"]]  # aspirin = asp ##ir ##in
    examples = tagger.examples(sentence)
    input_ids, mask_ids, rows, targets = tagger.windows.encoder_inputs(examples[0])
    tokens = tagger.windows.tokenizer.convert_ids_to_tokens(input_ids[0].tolist())
    assert [tokens[r] for r in rows.tolist()] == ["rash", "after", "asp"] and targets.tolist() == [0, 1, 2]
    hidden = {}
    tagger.encoder.register_forward_hook(lambda module, args, output: hidden.update(h=output.last_hidden_state))
    loss = tagger.loss(examples, torch.tensor([3]), torch.ones(1, 3, dtype=torch.bool), torch.tensor([[1, 0, 2]]))
    gradient = torch.autograd.grad(loss, hidden["h"])[0][0]
    touched = [i for i in range(len(tokens)) if gradient[i].abs().sum() > 0]
    assert [tokens[i] for i in touched] == ["rash", "after", "asp"]


def test_a_spec_of_another_family_is_refused():
    spec = EmbeddingSpec(name="glove", family="glove", source="in-domain")
    with pytest.raises(ValueError, match="family: bert"):
        fine_tuning_embedder(spec)


def test_the_schedule_rises_then_falls_to_zero():
    factors = [linear_schedule(step, 20, 0.1) for step in range(20)]
    assert factors[:2] == [0.5, 1.0] and factors[-1] == pytest.approx(1 / 18)
    assert all(a >= b for a, b in zip(factors[1:], factors[2:]))


def _train(bert_dir, *, use_crf: bool, seed: int = 3):
    torch.manual_seed(seed)
    tagger = FineTunedTagger(TransformerEmbedder(str(bert_dir), layers="last", pooling="first"), 3, use_crf=use_crf)
    tags = [[1 if w in ("aspirin", "rash") else 2 if w == "daily" else 0 for w in s] for s in SENTENCES]
    scorer = lambda predicted: float(np.mean([p == g for ps, gs in zip(predicted, tags) for p, g in zip(ps, gs)]))
    config = ReferenceTrainingConfig(max_epochs=12, batch_size=2, learning_rate=3e-3, head_learning_rate=1e-2, seed=seed)
    return train_reference(tagger, SENTENCES, tags, SENTENCES, scorer, config, progress="none")


@pytest.mark.parametrize("use_crf", [False, True])
def test_training_learns_and_the_same_seed_gives_the_same_history(bert_dir, use_crf):
    first, second = _train(bert_dir, use_crf=use_crf), _train(bert_dir, use_crf=use_crf)
    assert first.best_dev_f1 == 1.0 and first.history[-1].train_loss < first.history[0].train_loss / 3
    assert first.history_rows() == [{**row, "seconds": a["seconds"]} for row, a in
                                    zip(second.history_rows(), first.history_rows())]
    assert first.trainable_parameters > sum(p.numel() for p in first.best_state.values()) - 1000  # the encoder trains
