"""The training loop on plain arrays: it learns, it is deterministic, batches cover the data, the schedule anneals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medner.model import BiLSTMCRFTagger
from medner.training import (TrainingConfig, clip_gradients, length_bucketed_batches, predict_tags, resolve_progress,
                             step_products_of, token_f1, train_tagger)


def toy_task(n: int, seed: int, dim: int = 8):
    """Tag 1 where the first feature is positive, else 0 (2 when the previous token was tagged 1)."""
    rng = np.random.default_rng(seed)
    vectors, tags = [], []
    for _ in range(n):
        length = int(rng.integers(1, 12))
        v = rng.standard_normal((length, dim)).astype(np.float32)
        t = []
        for i in range(length):
            t.append(1 if v[i, 0] > 0 else (2 if i and t[-1] == 1 else 0))
        vectors.append(v)
        tags.append(t)
    return vectors, tags


def small_model(use_crf: bool = True) -> BiLSTMCRFTagger:
    # torch seeds itself at random in every process: the starting weights must not depend on it
    torch.manual_seed(0)
    return BiLSTMCRFTagger(8, 3, hidden_size=16, use_crf=use_crf)


def test_it_learns_a_learnable_task_and_keeps_the_best_epoch():
    train_v, train_t = toy_task(200, 0)
    dev_v, dev_t = toy_task(60, 1)
    model = small_model()
    config = TrainingConfig(max_epochs=6, seed=3)
    result = train_tagger(model, train_v, train_t, dev_v, lambda p: token_f1(dev_t, p), config, progress="none")
    assert result.best_dev_f1 > 0.9
    assert result.best_dev_f1 == max(r.dev_f1 for r in result.history)
    assert result.history[result.best_epoch - 1].dev_f1 == result.best_dev_f1
    # The model holds the best epoch's weights.
    assert token_f1(dev_t, predict_tags(model, dev_v)) == pytest.approx(result.best_dev_f1)
    assert result.epochs == 6 and result.tokens_per_second > 0 and result.trainable_parameters > 0


def test_same_seed_same_numbers_other_seed_other_numbers():
    train_v, train_t = toy_task(80, 0)
    dev_v, dev_t = toy_task(20, 1)

    def run(seed):
        import torch

        torch.manual_seed(seed)
        model = small_model()
        config = TrainingConfig(max_epochs=2, seed=seed)
        result = train_tagger(model, train_v, train_t, dev_v, lambda p: token_f1(dev_t, p), config, progress="none")
        return [(r.train_loss, r.dev_f1) for r in result.history], result.seeds

    first, seeds = run(5)
    assert run(5)[0] == first
    assert run(6)[0] != first
    assert seeds == {"python": 5, "numpy": 5, "torch": 5}


def test_softmax_head_trains_too():
    train_v, train_t = toy_task(100, 0)
    dev_v, dev_t = toy_task(30, 1)
    result = train_tagger(small_model(use_crf=False), train_v, train_t, dev_v, lambda p: token_f1(dev_t, p),
                          TrainingConfig(max_epochs=3, seed=0), progress="none")
    assert result.best_dev_f1 > 0.7


def test_batches_cover_every_sentence_once_and_are_length_sorted_within():
    lengths = np.random.default_rng(0).integers(1, 40, 1000)
    rng = np.random.default_rng(1)
    batches = length_bucketed_batches(lengths, 32, 5, rng)
    together = np.concatenate(batches)
    assert sorted(together.tolist()) == list(range(1000))
    assert all(len(b) <= 32 for b in batches)
    # Bucketing: far less padding than random batches.
    padded = sum(len(b) * lengths[b].max() for b in batches)
    shuffled = np.random.default_rng(2).permutation(1000)
    random_padded = sum(32 * lengths[shuffled[i:i + 32]].max() for i in range(0, 1000, 32))
    assert padded < 0.8 * random_padded
    # Each epoch draws different batches.
    assert [b.tolist() for b in length_bucketed_batches(lengths, 32, 5, rng)] != [b.tolist() for b in batches]


def test_learning_rate_halves_after_patience_and_training_stops_below_minimum():
    train_v, train_t = toy_task(20, 0)
    dev_v, _ = toy_task(5, 1)
    config = TrainingConfig(max_epochs=50, seed=0, learning_rate=0.1, patience=1, min_learning_rate=0.03)
    # A dev score that never improves after the first epoch.
    result = train_tagger(small_model(), train_v, train_t, dev_v, lambda p: 0.5, config, progress="none")
    rates = [r.learning_rate for r in result.history]
    # flair's rule: anneal once bad epochs exceed the patience (here after 2 bad epochs).
    assert rates == [0.1, 0.1, 0.1, 0.05, 0.05]
    assert result.best_epoch == 1
    assert "below" in result.stopped_because


def test_lines_progress_prints_one_line_per_epoch(capsys):
    train_v, train_t = toy_task(20, 0)
    dev_v, dev_t = toy_task(5, 1)
    lines = []
    train_tagger(small_model(), train_v, train_t, dev_v, lambda p: token_f1(dev_t, p),
                 TrainingConfig(max_epochs=3, seed=0), progress="lines", log=lines.append)
    assert len(lines) == 3
    for number, line in enumerate(lines, start=1):
        assert line.startswith(f"epoch {number:3d}") and "loss" in line and "dev F1" in line and "lr" in line and line.endswith(" s")
    assert "\r" not in capsys.readouterr().err


def test_progress_modes():
    assert resolve_progress("lines") == "lines"
    assert resolve_progress("auto") in ("bar", "lines")
    with pytest.raises(ValueError, match="progress must be"):
        resolve_progress("fancy")


def test_bad_inputs_are_refused_with_a_reason():
    train_v, train_t = toy_task(5, 0)
    with pytest.raises(ValueError, match="5 training sentences but 4 tag sequences"):
        train_tagger(small_model(), train_v, train_t[:4], train_v, lambda p: 0.0, progress="none")
    bad = [list(t) for t in train_t]
    bad[2] = bad[2] + [0]
    with pytest.raises(ValueError, match="training sentence 2"):
        train_tagger(small_model(), train_v, bad, train_v, lambda p: 0.0, progress="none")
    with pytest.raises(ValueError, match="dimension 8, the model expects 5"):
        train_tagger(BiLSTMCRFTagger(5, 3, hidden_size=4), train_v, train_t, train_v, lambda p: 0.0, progress="none")


@pytest.mark.parametrize("max_norm", [1e-3, 5.0, 1e6])
def test_clip_gradients_gives_clip_grad_norm_s_gradients_exactly(max_norm):
    """Clipping (tiny limit), the usual case and no clipping at all: the same gradients, bit for bit."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(7, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    x = torch.randn(11, 7)
    results = []
    for clip in (clip_gradients, torch.nn.utils.clip_grad_norm_):
        model.zero_grad(set_to_none=True)
        model(x).pow(2).sum().backward()
        clip(model.parameters(), max_norm)
        results.append([p.grad.clone() for p in model.parameters()])
    ours, theirs = results
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
    norm = torch.nn.utils.get_total_norm(ours)
    assert (norm <= max_norm + 1e-4) if max_norm < 1 else norm < max_norm


def test_runs_say_which_step_products_they_used(monkeypatch):
    """The packed products and ATen's sum in different orders, so a run records which it used."""
    from medner.model.fused import kernels

    monkeypatch.setenv(kernels.ENVIRONMENT_VARIABLE, "torch")
    assert step_products_of(BiLSTMCRFTagger(5, 3, hidden_size=64), kernels.in_use()) == "bmm"
    assert step_products_of(BiLSTMCRFTagger(5, 3, hidden_size=64), "nn.LSTM") == "nn.LSTM"
    monkeypatch.setenv(kernels.ENVIRONMENT_VARIABLE, "auto")
    if kernels.in_use() != "compiled":
        pytest.skip("the compiled kernels do not build here")
    for precision in ("float32", "bfloat16"):
        expected = "packed" if kernels.packed_products(precision) else "bmm"
        for hidden, products in ((64, expected), (48, "bmm")):
            tagger = BiLSTMCRFTagger(5, 3, hidden_size=hidden).set_compute("fused", precision)
            assert step_products_of(tagger, "compiled") == products
