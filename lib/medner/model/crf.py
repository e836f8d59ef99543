"""A linear-chain conditional random field over tag scores, batched over sentences of different lengths.

The output layer of the BiLSTM-CRF (Huang, Xu and Yu 2015, "Bidirectional LSTM-CRF
Models for Sequence Tagging", arXiv:1508.01991; Lample et al. 2016, "Neural
Architectures for Named Entity Recognition", NAACL): the score of a tag sequence
``y`` for emission scores ``E`` (one row per token) is

    score(y) = start[y_0] + sum_t E[t, y_t] + sum_{t>0} T[y_{t-1}, y_t] + end[y_{n-1}]

and its probability is ``exp(score(y)) / Z`` with ``Z`` summed over every tag
sequence of the sentence's length. ``log Z`` comes from the forward algorithm,
the best sequence from Viterbi; both loop over positions and are vectorised over
sentences and tags, so a batch costs ``seq_len`` small tensor operations. With
``implementation="fused"`` (the default, see :mod:`medner.model.compute`) the compiled
loops of :mod:`medner.model.fused.crf` compute the same on a CPU, one sentence per task:
``log Z``, its gradient from the forward-backward marginals, and Viterbi. The tests
check both against brute-force enumeration.

Masks: ``mask[b, t]`` is true for the real tokens of sentence ``b``. Every
sentence has at least one token and its tokens are a prefix (``mask[:, 0]`` all
true, no gaps), which is what length-padded batches give.
"""

from __future__ import annotations

import torch
from torch import nn

from medner.model import fused


class LinearChainCRF(nn.Module):
    """Transition, start and end scores of a linear-chain CRF with ``n_tags`` tags.

    ``transitions[i, j]`` scores tag ``i`` followed by tag ``j``. ``implementation`` is a compute setting
    (:mod:`medner.model.compute`), set through the tagger's ``set_compute``.
    """

    implementation: str = "fused"

    def __init__(self, n_tags: int) -> None:
        if n_tags < 1:
            raise ValueError(f"a CRF needs at least one tag, got n_tags={n_tags}")
        super().__init__()
        self.n_tags = n_tags
        # Small uniform start (as pytorch-crf): no transition is preferred before training.
        self.transitions = nn.Parameter(torch.empty(n_tags, n_tags).uniform_(-0.1, 0.1))
        self.start_transitions = nn.Parameter(torch.empty(n_tags).uniform_(-0.1, 0.1))
        self.end_transitions = nn.Parameter(torch.empty(n_tags).uniform_(-0.1, 0.1))

    def extra_repr(self) -> str:
        return f"n_tags={self.n_tags}"

    def _check(self, emissions: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The mask as bool (all true when ``None``) and each sentence's length, shape (batch,); bad input raises."""
        if emissions.dim() != 3 or emissions.size(2) != self.n_tags:
            raise ValueError(
                f"emissions must have shape (batch, seq_len, {self.n_tags}), got {tuple(emissions.shape)}"
            )
        if mask is None:
            mask = torch.ones(emissions.shape[:2], dtype=torch.bool, device=emissions.device)
            return mask, mask.sum(1)
        if mask.shape != emissions.shape[:2]:
            raise ValueError(
                f"mask must have shape (batch, seq_len) = {tuple(emissions.shape[:2])}, got {tuple(mask.shape)}"
            )
        mask = mask.bool()
        if emissions.size(1) > 0 and not bool(mask[:, 0].all()):
            raise ValueError("mask[:, 0] must be true for every sentence (every sentence has at least one token)")
        lengths = mask.sum(1)
        positions = torch.arange(mask.size(1), device=mask.device)
        if not torch.equal(mask, positions < lengths.unsqueeze(1)):
            raise ValueError("mask must be true for each sentence's first tokens and false after them (no gaps)")
        return mask, lengths

    def _fused(self, emissions: torch.Tensor) -> bool:
        """Whether this batch runs through the compiled loops of :mod:`medner.model.fused.crf`."""
        return self.implementation == "fused" and fused.crf.applies(emissions)

    def score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Unnormalised score of the given tag sequences.

        Args:
            emissions: shape (batch, seq_len, n_tags).
            tags: shape (batch, seq_len), tag indices; values at masked positions are ignored.
            mask: shape (batch, seq_len), bool; ``None`` means every position is real.

        Returns:
            shape (batch,).
        """
        mask, lengths = self._check(emissions, mask)
        maskf = mask.to(emissions.dtype)
        tags = tags.masked_fill(~mask, 0)
        # shape: (batch, seq_len)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2) * maskf
        # shape: (batch, seq_len - 1): transition into position t counts only when t is real
        moved = self.transitions[tags[:, :-1], tags[:, 1:]] * maskf[:, 1:]
        last_tags = tags.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)
        return self.start_transitions[tags[:, 0]] + emitted.sum(1) + moved.sum(1) + self.end_transitions[last_tags]

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``log Z`` by the forward algorithm.

        Args:
            emissions: shape (batch, seq_len, n_tags).
            mask: shape (batch, seq_len), bool.

        Returns:
            shape (batch,).
        """
        mask, lengths = self._check(emissions, mask)
        if self._fused(emissions):
            return fused.crf.log_partition(self, emissions, lengths)
        # shape: (batch, n_tags): log-sum of all paths ending in each tag at the current position
        # One view per position: the backward pass stacks their gradients once, instead of
        # scattering into a full-size zero tensor at every position.
        steps = emissions.unbind(1)
        running = mask.unsqueeze(2).unbind(1)
        alpha = self.start_transitions + steps[0]
        transitions = self.transitions.unsqueeze(0)
        for t in range(1, len(steps)):
            # shape: (batch, n_tags, n_tags): previous tag i (dim 1) -> next tag j (dim 2)
            candidates = alpha.unsqueeze(2) + transitions + steps[t].unsqueeze(1)
            advanced = torch.logsumexp(candidates, dim=1)
            # Finished sentences keep their alpha.
            alpha = torch.where(running[t], advanced, alpha)
        return torch.logsumexp(alpha + self.end_transitions, dim=1)

    def neg_log_likelihood(
        self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Negative log-likelihood of each gold sequence, ``log Z - score(tags)``.

        Args:
            emissions: shape (batch, seq_len, n_tags).
            tags: shape (batch, seq_len).
            mask: shape (batch, seq_len), bool.

        Returns:
            shape (batch,); sum or average it for a batch loss.
        """
        return self.log_partition(emissions, mask) - self.score(emissions, tags, mask)

    def forward(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Summed negative log-likelihood over the batch (a scalar), the training loss as flair sums it."""
        return self.neg_log_likelihood(emissions, tags, mask).sum()

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> list[list[int]]:
        """The highest-scoring tag sequence of each sentence (Viterbi).

        Args:
            emissions: shape (batch, seq_len, n_tags).
            mask: shape (batch, seq_len), bool.

        Returns:
            one list of tag indices per sentence, as long as the sentence.
        """
        mask, lengths = self._check(emissions, mask)
        batch, seq_len, _ = emissions.shape
        if seq_len == 0:
            return [[] for _ in range(batch)]
        if self._fused(emissions):
            return fused.crf.viterbi(self, emissions, lengths)
        # shape: (batch, n_tags)
        best = self.start_transitions + emissions[:, 0]
        transitions = self.transitions.unsqueeze(0)
        backpointers = []
        for t in range(1, seq_len):
            # shape: (batch, n_tags, n_tags)
            candidates = best.unsqueeze(2) + transitions
            # shape: (batch, n_tags) each: the best previous tag for every next tag
            top, argtop = candidates.max(dim=1)
            advanced = top + emissions[:, t]
            real = mask[:, t].unsqueeze(1)
            best = torch.where(real, advanced, best)
            # At padded positions point each tag at itself, so backtracking passes through unchanged.
            identity = torch.arange(self.n_tags, device=emissions.device).expand(batch, -1)
            backpointers.append(torch.where(real, argtop, identity))
        last = (best + self.end_transitions).argmax(dim=1)
        # shape: (batch, seq_len), filled from the end
        path = torch.empty(batch, seq_len, dtype=torch.long, device=emissions.device)
        path[:, -1] = last
        for t in range(seq_len - 2, -1, -1):
            last = backpointers[t].gather(1, last.unsqueeze(1)).squeeze(1)
            path[:, t] = last
        # Padded positions came after the real ones and repeat the last real tag; keep the prefix.
        return [row[:n] for row, n in zip(path.tolist(), lengths.tolist())]
