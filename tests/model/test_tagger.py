"""The BiLSTM-CRF tagger: shapes, dropouts, padding independence, both output heads."""

from __future__ import annotations

import pytest
import torch

from medner.model import BiLSTMCRFTagger, CRFHead, LockedDropout, SoftmaxHead, WordDropout


def batch(lengths=(5, 2, 4), dim=6, n_tags=4, seed=0):
    torch.manual_seed(seed)
    seq_len = max(lengths)
    x = torch.randn(len(lengths), seq_len, dim)
    lengths_t = torch.tensor(lengths)
    mask = torch.arange(seq_len).unsqueeze(0) < lengths_t.unsqueeze(1)
    x[~mask] = 0.0
    tags = torch.randint(0, n_tags, (len(lengths), seq_len))
    return x, lengths_t, mask, tags


def test_defaults_are_flairs_sequence_tagger():
    model = BiLSTMCRFTagger(6, 4)
    assert model.config == {
        "embedding_dim": 6, "n_tags": 4, "hidden_size": 256, "rnn_layers": 1, "word_dropout": 0.05,
        "locked_dropout": 0.5, "reproject_embeddings": True, "use_crf": True,
    }
    assert model.compute == {"implementation": "fused", "precision": "float32"}
    assert model.encoder.lstm.bidirectional and model.encoder.lstm.hidden_size == 256
    assert model.encoder.reproject.in_features == model.encoder.reproject.out_features == 6
    assert isinstance(model.head, CRFHead) and model.head.to_tags.in_features == 512
    assert isinstance(BiLSTMCRFTagger(6, 4, use_crf=False).head, SoftmaxHead)


@pytest.mark.parametrize("use_crf", [True, False])
def test_shapes_loss_and_predictions(use_crf):
    x, lengths, mask, tags = batch()
    model = BiLSTMCRFTagger(6, 4, hidden_size=8, use_crf=use_crf)
    assert model.emissions(x, lengths).shape == (3, 5, 4)
    loss = model.loss(x, lengths, mask, tags)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    predicted = model.predict(x, lengths, mask)
    assert [len(p) for p in predicted] == [5, 2, 4]
    assert all(0 <= t < 4 for row in predicted for t in row)


def test_padding_does_not_change_a_sentence_in_eval_mode():
    x, lengths, mask, _ = batch()
    model = BiLSTMCRFTagger(6, 4, hidden_size=8).eval()
    together = model.emissions(x, lengths)
    alone = model.emissions(x[1:2, :2], lengths[1:2])
    assert torch.allclose(together[1, :2], alone[0], atol=1e-6)
    assert model.predict(x, lengths, mask)[1] == model.predict(x[1:2, :2], lengths[1:2], mask[1:2, :2])[0]


def test_word_dropout_zeroes_whole_token_vectors_only_in_training():
    torch.manual_seed(0)
    x = torch.ones(400, 10)
    dropped = WordDropout(0.3).train()(x)
    per_token = dropped.sum(1)
    assert set(per_token.unique().tolist()) == {0.0, 10.0}  # whole vectors, no rescaling
    assert 0.15 < (per_token == 0).float().mean() < 0.45
    assert torch.equal(WordDropout(0.3).eval()(x), x)


def test_locked_dropout_shares_one_mask_across_each_sentences_positions():
    torch.manual_seed(0)
    x = torch.ones(12, 20)
    sentence = torch.tensor([0, 1, 2, 0, 1, 2, 0, 0, 1, 0, 3, 3])
    out = LockedDropout(0.5).train()(x, sentence, 4)
    for s in range(4):  # the same features dropped at every position of a sentence
        rows = out[sentence == s]
        assert torch.equal(rows, rows[:1].expand_as(rows))
    assert not torch.equal(out[sentence == 0][0], out[sentence == 1][0])  # each sentence its own mask
    assert set(out.unique().tolist()) <= {0.0, 2.0}  # kept features scaled by 1 / (1 - p)
    assert torch.equal(LockedDropout(0.5).eval()(x, sentence, 4), x)


def test_trainable_parameters_counts_every_weight():
    model = BiLSTMCRFTagger(6, 4, hidden_size=8)
    lstm = 2 * (4 * 8 * (6 + 8) + 2 * 4 * 8)
    expected = (6 * 6 + 6) + lstm + (16 * 4 + 4) + (4 * 4 + 4 + 4)
    assert model.trainable_parameters() == expected
    assert BiLSTMCRFTagger(6, 4, hidden_size=8, use_crf=False).trainable_parameters() == expected - 24

