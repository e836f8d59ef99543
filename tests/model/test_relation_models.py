"""The relation models: the head's shapes and pooling checked by hand, the allowed classes, the shared model's loss as
the sum of its parts, the fused and the written encoders giving the same loss and gradients, and the relation loss
reaching the encoder."""

from __future__ import annotations

import pytest
import torch

from medner.model.relations import (DISTANCE_EDGES, JointTagger, PairBatch, RelationExtractor, RelationHead,
                                    distance_bucket, token_rows)

N_LABELS, N_TYPES, N_TAGS, DIM = 3, 2, 5, 6


def batch(lengths=(4, 2, 3), dim=DIM, dtype=torch.float32, seed=0):
    """Padded vectors, lengths, mask and gold tags of a small batch (padding zero)."""
    torch.manual_seed(seed)
    seq_len = max(lengths)
    x = torch.randn(len(lengths), seq_len, dim, dtype=dtype)
    lengths_t = torch.tensor(lengths)
    mask = torch.arange(seq_len)[None, :] < lengths_t[:, None]
    x[~mask] = 0.0
    return x, lengths_t, mask, torch.randint(0, N_TAGS, (len(lengths), seq_len))


def pairs(rows=((0, 1, 3, 3, 1, 0, 0, 1), (4, 4, 2, 3, 2, 11, 1, 0), (6, 8, 0, 0, 0, 19, 2, 2))) -> PairBatch:
    """Pairs over the 9 token rows of :func:`batch`: (attribute first, last, drug first, last, label, distance,
    sentences apart, gold) each."""
    return PairBatch(*torch.tensor(rows, dtype=torch.int64).T)


def empty_pairs() -> PairBatch:
    return PairBatch(*torch.zeros(8, 0, dtype=torch.int64))


def test_distance_buckets_and_their_direction():
    assert [distance_bucket(gap, False) for gap in (0, 1, 4, 5, 7, 8, 63, 64, 1000)] == [0, 1, 4, 5, 5, 6, 8, 9, 9]
    n = len(DISTANCE_EDGES) + 1
    assert [distance_bucket(gap, True) for gap in (0, 64)] == [n, 2 * n - 1]
    assert RelationHead(4, N_LABELS, N_TYPES).distance.num_embeddings == 2 * n


def test_token_rows_are_each_sentences_tokens_in_batch_order():
    x, lengths, mask, _ = batch()
    encoder = RelationExtractor(DIM, N_LABELS, N_TYPES, hidden_size=4).encoder.eval()
    rows = token_rows(encoder(x, lengths), mask)
    assert rows.shape == (9, 8)
    alone = [token_rows(encoder(x[i:i + 1, :n], lengths[i:i + 1]), mask[i:i + 1, :n]) for i, n in enumerate([4, 2, 3])]
    torch.testing.assert_close(rows, torch.cat(alone), rtol=0, atol=1e-6)


def test_head_scores_are_the_hand_computed_features_of_mean_pooled_arguments():
    torch.manual_seed(0)
    head = RelationHead(4, N_LABELS, N_TYPES, hidden_size=7, label_dim=3, distance_dim=2).double().eval()
    rows = torch.randn(9, 4, dtype=torch.float64)
    given = pairs()
    scores = head.scores(rows, given)
    assert scores.shape == (3, N_TYPES + 1)
    expected = []
    for a0, a1, d0, d1, label, distance, apart, _ in given_rows(given):
        attribute = sum(rows[i] for i in range(a0, a1 + 1)) / (a1 - a0 + 1)
        drug = sum(rows[i] for i in range(d0, d1 + 1)) / (d1 - d0 + 1)
        features = torch.cat([attribute, drug, attribute * drug, head.label.weight[label], head.distance.weight[distance],
                              head.sentences_apart.weight[apart]])
        expected.append(head.to_types(torch.relu(head.hidden(features))))
    torch.testing.assert_close(scores, torch.stack(expected), rtol=0, atol=1e-12)
    loss = head.loss(rows, given)
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(torch.stack(expected), given.gold, reduction="sum"))


def columns(given: PairBatch) -> list[torch.Tensor]:
    return [given.attribute_first, given.attribute_last, given.drug_first, given.drug_last, given.attribute_label,
            given.distance, given.sentences_apart, given.gold]


def given_rows(given: PairBatch) -> list[list[int]]:
    return torch.stack(columns(given), 1).tolist()


def test_allowed_classes_are_the_only_ones_decoded():
    torch.manual_seed(0)
    head = RelationHead(4, N_LABELS, N_TYPES).eval()
    with torch.no_grad():
        head.to_types.bias.copy_(torch.tensor([-50.0, 0.0, 50.0]))  # the last type scores highest everywhere
    rows, given = torch.randn(9, 4), pairs()
    assert head.decode(rows, given) == [2, 2, 2]
    allowed = torch.tensor([[True, True, False], [True, False, False], [True, True, True]])
    decoded = head.decode(rows, given, allowed)
    assert all(allowed[label, c] for label, c in zip(given.attribute_label.tolist(), decoded))
    assert decoded == [0, 2, 1]  # labels 1, 2, 0: none only; any type; its own type only


def test_no_pairs_give_a_zero_loss_that_still_backpropagates_and_no_classes():
    head = RelationHead(4, N_LABELS, N_TYPES)
    rows = torch.randn(9, 4, requires_grad=True)
    loss = head.loss(rows, empty_pairs())
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(rows.grad, torch.zeros_like(rows))
    assert head.decode(rows, empty_pairs()) == []


def test_shapes_of_both_models():
    x, lengths, mask, tags = batch()
    pipeline = RelationExtractor(DIM, N_LABELS, N_TYPES, hidden_size=4, relation_hidden_size=5)
    loss = pipeline.loss(x, lengths, mask, pairs())
    assert loss.dim() == 0 and torch.isfinite(loss)
    no_tags, classes = pipeline.eval().predict(x, lengths, mask, pairs())
    assert no_tags is None and len(classes) == 3 and all(0 <= c <= N_TYPES for c in classes)
    shared = JointTagger(DIM, N_TAGS, N_LABELS, N_TYPES, hidden_size=4).eval()
    predicted_tags, classes = shared.predict(x, lengths, mask, pairs())
    assert [len(row) for row in predicted_tags] == [4, 2, 3] and all(0 <= t < N_TAGS for r in predicted_tags for t in r)
    assert len(classes) == 3 and all(0 <= c <= N_TYPES for c in classes)
    assert shared.config["n_tags"] == N_TAGS and shared.config["relation_loss_weight"] == 1.0


def test_bad_options_are_refused_with_what_was_expected():
    with pytest.raises(ValueError, match="unknown option 'hiden_size'; expected one of"):
        RelationExtractor(DIM, N_LABELS, N_TYPES, hiden_size=4)
    with pytest.raises(ValueError, match="relation_loss_weight: expected a number > 0, given 0"):
        JointTagger(DIM, N_TAGS, N_LABELS, N_TYPES, relation_loss_weight=0)


@pytest.mark.parametrize("weight", [1.0, 0.25])
def test_the_shared_loss_is_ner_loss_plus_weighted_relation_loss(weight):
    x, lengths, mask, tags = batch(dtype=torch.float64)
    torch.manual_seed(1)
    model = JointTagger(DIM, N_TAGS, N_LABELS, N_TYPES, hidden_size=4, relation_loss_weight=weight).double().eval()
    states, rows = model.rows(x, lengths, mask)
    ner = model.head.loss(states, tags, mask)
    relation = model.relation_head.loss(rows, pairs())
    assert relation.item() > 0 and ner.item() > 0
    torch.testing.assert_close(model.loss(x, lengths, mask, pairs(), tags), ner + weight * relation, rtol=0, atol=1e-12)


def _step(make_model, implementation: str, with_tags: bool):
    """One training-mode loss and its gradients, from seed 0's weights and dropout draws, in float64."""
    torch.manual_seed(0)
    model = make_model().double().train()
    model.set_compute(implementation)
    x, lengths, mask, tags = batch(dtype=torch.float64, seed=3)
    torch.manual_seed(5)
    loss = model.loss(x, lengths, mask, pairs(), tags if with_tags else None)
    loss.backward()
    model.eval()
    return loss.detach(), [p.grad.clone() for p in model.parameters()], model.predict(x, lengths, mask, pairs())


@pytest.mark.parametrize("make_model, with_tags", [
    (lambda: RelationExtractor(DIM, N_LABELS, N_TYPES, hidden_size=4, relation_hidden_size=5), False),
    (lambda: JointTagger(DIM, N_TAGS, N_LABELS, N_TYPES, hidden_size=4, relation_hidden_size=5,
                         relation_loss_weight=0.5), True),
], ids=["pipeline", "shared"])
def test_fused_and_written_encoders_give_the_same_loss_and_gradients(make_model, with_tags):
    loss_fused, grads_fused, predicted_fused = _step(make_model, "fused", with_tags)
    loss_written, grads_written, predicted_written = _step(make_model, "nn.LSTM", with_tags)
    torch.testing.assert_close(loss_fused, loss_written, rtol=0, atol=1e-10)
    assert len(grads_fused) == len(grads_written)
    for got, expected in zip(grads_fused, grads_written):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)
    assert predicted_fused == predicted_written


@pytest.mark.parametrize("implementation", ["fused", "nn.LSTM"])
def test_the_relation_loss_reaches_the_encoder(implementation):
    x, lengths, mask, _ = batch()
    torch.manual_seed(0)
    shared = JointTagger(DIM, N_TAGS, N_LABELS, N_TYPES, hidden_size=4).set_compute(implementation)
    _, rows = shared.rows(x, lengths, mask)
    shared.relation_head.loss(rows, pairs()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in shared.encoder.parameters())
    assert all(p.grad is None for p in shared.head.parameters())  # the CRF head is not on the relation loss's path
    pipeline = RelationExtractor(DIM, N_LABELS, N_TYPES, hidden_size=4).set_compute(implementation)
    pipeline.loss(x, lengths, mask, pairs()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in pipeline.encoder.parameters())


def test_trainable_parameters_count_encoder_and_heads():
    shared = JointTagger(DIM, N_TAGS, N_LABELS, N_TYPES, hidden_size=4)
    pipeline = RelationExtractor(DIM, N_LABELS, N_TYPES, hidden_size=4)
    crf = sum(p.numel() for p in shared.head.parameters())
    assert shared.trainable_parameters() == pipeline.trainable_parameters() + crf


def test_a_pairs_scores_do_not_depend_on_the_sentences_batched_before_it():
    """The head pools through a running sum over the whole batch: the same sentence alone or after others gives the
    same scores (to float32 rounding), so a document's classes do not depend on its batch."""
    x, lengths, mask, _ = batch(lengths=(40, 30, 5))
    torch.manual_seed(0)
    model = RelationExtractor(DIM, N_LABELS, N_TYPES, hidden_size=16).eval()
    last = pairs(((71, 72, 70, 70, 0, 1, 0, 0), (74, 74, 70, 71, 1, 2, 0, 0)))  # pairs of the third sentence
    alone = PairBatch(*(column - 70 if i < 4 else column for i, column in enumerate(columns(last))))
    with torch.no_grad():
        together = model.relation_head.scores(model.rows(x, lengths, mask)[1], last)
        by_itself = model.relation_head.scores(model.rows(x[2:, :5], lengths[2:], mask[2:, :5])[1], alone)
    torch.testing.assert_close(together, by_itself, rtol=0, atol=1e-5)
