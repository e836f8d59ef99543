"""The CRF against brute-force enumeration of every tag sequence on tiny random inputs."""

from __future__ import annotations

import itertools

import pytest
import torch

from medner.model.crf import LinearChainCRF
from medner.model.fused import kernels

# Every test here runs on both implementations: PyTorch operations and the compiled kernels.
pytestmark = pytest.mark.usefixtures("kernel_choice")


def brute_force(crf: LinearChainCRF, emissions: torch.Tensor, length: int) -> tuple[torch.Tensor, list[int], dict]:
    """log Z, the best path and every path's score of one sentence, by enumeration."""
    scores = {}
    for path in itertools.product(range(crf.n_tags), repeat=length):
        s = crf.start_transitions[path[0]] + crf.end_transitions[path[-1]]
        for t, tag in enumerate(path):
            s = s + emissions[t, tag]
            if t > 0:
                s = s + crf.transitions[path[t - 1], tag]
        scores[path] = s
    log_z = torch.logsumexp(torch.stack(list(scores.values())), dim=0)
    best = max(scores, key=lambda p: scores[p].item())
    return log_z, list(best), scores


def random_batch(seed: int, n_tags: int = 3, lengths: tuple[int, ...] = (4, 1, 3, 2)):
    torch.manual_seed(seed)
    crf = LinearChainCRF(n_tags)
    with torch.no_grad():  # spread transitions so paths differ clearly
        for p in crf.parameters():
            p.normal_()
    seq_len = max(lengths)
    emissions = torch.randn(len(lengths), seq_len, n_tags)
    mask = torch.arange(seq_len).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    tags = torch.randint(0, n_tags, (len(lengths), seq_len))
    return crf, emissions, mask, tags


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_partition_nll_and_viterbi_match_enumeration(seed):
    crf, emissions, mask, tags = random_batch(seed)
    lengths = mask.sum(1).tolist()
    log_z = crf.log_partition(emissions, mask)
    nll = crf.neg_log_likelihood(emissions, tags, mask)
    paths = crf.decode(emissions, mask)
    for b, n in enumerate(lengths):
        expected_z, expected_best, scores = brute_force(crf, emissions[b], n)
        assert torch.allclose(log_z[b], expected_z, atol=1e-5)
        gold = tuple(tags[b, :n].tolist())
        assert torch.allclose(nll[b], expected_z - scores[gold], atol=1e-5)
        assert paths[b] == expected_best
        assert len(paths[b]) == n


def test_padding_values_do_not_change_results():
    crf, emissions, mask, tags = random_batch(3)
    noisy = emissions.clone()
    noisy[~mask] = 1000.0
    other_tags = tags.clone()
    other_tags[~mask] = (tags[~mask] + 1) % crf.n_tags
    assert torch.allclose(crf.neg_log_likelihood(emissions, tags, mask), crf.neg_log_likelihood(noisy, other_tags, mask))
    assert crf.decode(emissions, mask) == crf.decode(noisy, mask)


def test_batched_equals_one_sentence_at_a_time():
    crf, emissions, mask, tags = random_batch(4, lengths=(5, 2, 3))
    nll = crf.neg_log_likelihood(emissions, tags, mask)
    for b, n in enumerate(mask.sum(1).tolist()):
        alone = crf.neg_log_likelihood(emissions[b : b + 1, :n], tags[b : b + 1, :n])
        assert torch.allclose(nll[b], alone[0], atol=1e-5)


def test_probabilities_sum_to_one():
    crf, emissions, _, _ = random_batch(5, lengths=(3,))
    total = sum(
        torch.exp(-crf.neg_log_likelihood(emissions, torch.tensor([path]))).item()
        for path in itertools.product(range(crf.n_tags), repeat=3)
    )
    assert total == pytest.approx(1.0, abs=1e-5)


def test_gradients_reach_emissions_and_every_crf_parameter():
    crf, emissions, mask, tags = random_batch(6)
    emissions.requires_grad_(True)
    crf(emissions, tags, mask).backward()
    for p in [emissions, crf.transitions, crf.start_transitions, crf.end_transitions]:
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    # Padded positions get no gradient.
    assert emissions.grad[~mask].abs().sum() == 0


def test_training_the_crf_alone_learns_the_gold_path():
    torch.manual_seed(0)
    crf = LinearChainCRF(3)
    emissions = torch.zeros(2, 4, 3)
    tags = torch.tensor([[0, 1, 1, 2], [0, 1, 2, 2]])
    optimiser = torch.optim.SGD(crf.parameters(), lr=0.5)
    for _ in range(100):
        optimiser.zero_grad()
        crf(emissions[:1], tags[:1]).backward()
        optimiser.step()
    assert crf.decode(emissions[:1]) == [[0, 1, 1, 2]]


def test_bad_shapes_and_masks_are_refused():
    crf = LinearChainCRF(3)
    with pytest.raises(ValueError, match="emissions must have shape"):
        crf.log_partition(torch.zeros(2, 4, 5))
    with pytest.raises(ValueError, match="mask must have shape"):
        crf.log_partition(torch.zeros(2, 4, 3), torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask\\[:, 0\\]"):
        crf.log_partition(torch.zeros(1, 2, 3), torch.tensor([[False, True]]))
    with pytest.raises(ValueError, match="no gaps"):
        crf.decode(torch.zeros(1, 3, 3), torch.tensor([[True, False, True]]))


@pytest.mark.parametrize("kernel_choice", ["compiled"], indirect=True)
def test_compiled_loops_give_the_pytorch_loss_gradients_and_paths(kernel_choice, monkeypatch):
    """float64, realistic size: the compiled forward algorithm, its gradient and Viterbi against PyTorch's."""
    torch.manual_seed(7)
    crf = LinearChainCRF(19).double()
    lengths = torch.tensor([1, 9, 30, 17, 30, 2])
    emissions = torch.randn(len(lengths), 30, 19, dtype=torch.float64) * 3
    mask = torch.arange(30)[None, :] < lengths[:, None]
    tags = torch.randint(0, 19, (len(lengths), 30))

    def run():
        crf.zero_grad()
        leaf = emissions.clone().requires_grad_(True)
        loss = (crf.neg_log_likelihood(leaf, tags, mask) * torch.linspace(0.5, 2, len(lengths))).sum()
        loss.backward()
        grads = [leaf.grad] + [p.grad.clone() for p in crf.parameters()]
        return loss.detach(), grads, crf.decode(emissions, mask)

    with monkeypatch.context() as patched:
        patched.setenv(kernels.ENVIRONMENT_VARIABLE, "torch")
        expected = run()
    with monkeypatch.context() as patched:
        patched.setattr(torch, "logsumexp", None)  # the PyTorch forward algorithm cannot run
        got = run()
    torch.testing.assert_close(got[0], expected[0], rtol=0, atol=1e-10)
    for mine, theirs in zip(got[1], expected[1]):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-10)
    assert got[2] == expected[2]


@pytest.mark.parametrize("kernel_choice", ["compiled"], indirect=True)
def test_the_written_implementation_runs_pytorch_operations_even_with_the_kernels_loaded(kernel_choice, monkeypatch):
    """``implementation="nn.LSTM"`` is the CRF as written: it never hands a batch to the compiled loops."""
    crf, emissions, mask, _ = random_batch(3)
    lengths = mask.sum(1).tolist()
    crf.implementation = "nn.LSTM"

    def compiled(*args, **kwargs):
        raise AssertionError("the compiled CRF ran although implementation is nn.LSTM")

    monkeypatch.setattr("medner.model.fused.crf.log_partition", compiled)
    monkeypatch.setattr("medner.model.fused.crf.viterbi", compiled)
    log_z = crf.log_partition(emissions, mask)
    for b, n in enumerate(lengths):
        expected, best, _ = brute_force(crf, emissions[b], n)
        torch.testing.assert_close(log_z[b], expected, rtol=0, atol=1e-5)
        assert crf.decode(emissions, mask)[b] == best
