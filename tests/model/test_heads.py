"""Both heads read padded states (the fine-tuned encoders') exactly as they read packed ones (the BiLSTM's)."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from medner.model.heads import CRFHead, SoftmaxHead


@pytest.mark.parametrize("head_class", [CRFHead, SoftmaxHead])
def test_padded_and_packed_states_give_the_same_loss_gradient_and_tags(head_class):
    torch.manual_seed(0)
    head = head_class(6, 5).double()
    lengths = torch.tensor([4, 1, 3])
    mask = torch.arange(4).unsqueeze(0) < lengths.unsqueeze(1)
    states = torch.randn(3, 4, 6, dtype=torch.float64) * mask.unsqueeze(2)
    states[1, 2] = 7.0  # padding that is not zero must not count either
    tags = torch.randint(0, 5, (3, 4))
    packed = pack_padded_sequence(states, lengths, batch_first=True, enforce_sorted=False)
    from_packed = head.loss(packed, tags, mask)
    gradient_packed = torch.autograd.grad(from_packed, head.to_tags.weight)[0]
    from_padded = head.loss(states, tags, mask)
    gradient_padded = torch.autograd.grad(from_padded, head.to_tags.weight)[0]
    torch.testing.assert_close(from_padded, from_packed)
    torch.testing.assert_close(gradient_padded, gradient_packed)
    assert head.decode(states, mask) == head.decode(packed, mask)
    assert [len(row) for row in head.decode(states, mask)] == [4, 1, 3]
