"""A bidirectional LSTM layer over packed sequences, with both directions fused and a hand-written backward.

The same function as one bidirectional layer of ``torch.nn.LSTM`` (Hochreiter and
Schmidhuber 1997, with the forget gate of Gers et al. 2000, as PyTorch defines it):

    i, f, g, o = sigmoid(.), sigmoid(.), tanh(.), sigmoid(.) of  W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

with the same parameters (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``,
``bias_hh_l0`` and their ``_reverse`` twins, gate rows in PyTorch's i, f, g, o order),
so a model trained with it is an ordinary ``nn.LSTM`` model: checkpoints load into
either, and on a GPU the tagger simply calls ``nn.LSTM`` (cuDNN).

Why it exists: on a CPU, ``nn.LSTM`` over a ``PackedSequence`` runs each time step
as a handful of small operations, and autograd records and replays every one of
them. In training on cached vectors that is nearly all the time of an epoch. Here:

* the input projections of every token, both directions, are one batched matrix
  product before the recurrence; the weight gradients are one batched product
  each after it;
* the reverse direction runs over each sentence reversed *within its length*, so
  at every step both directions have the same active sentences (a packed batch
  sorted by length) and one ``baddbmm`` advances both;
* the backward pass is written out (the LSTM's derivatives, as in Graves 2012,
  "Supervised Sequence Labelling with Recurrent Neural Networks", ch. 4), with every
  factor that does not depend on the incoming gradient computed once for all steps,
  so a step costs one ``bmm`` and a few element-wise operations, none of them recorded.

Padding never enters: each step only touches the sentences still running (the
``batch_sizes`` of the packed sequence), exactly as the packed ``nn.LSTM`` does.
``tests/model/test_lstm.py`` checks outputs and every gradient against ``nn.LSTM``.

The two time loops run compiled when they can (``kernels.cpp``, see
:mod:`medner.model.kernels`): each step's element-wise work is then one pass over its
rows instead of a dozen PyTorch operations. The PyTorch loops below stay the reference;
the tests run on both.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from medner.model import kernels

#: Arithmetic of the LSTM's matrix products. ``float32`` is ``nn.LSTM``'s. ``bfloat16`` rounds the
#: operands of every matrix product (inputs, weights, previous states, gate gradients) to bfloat16,
#: which CPUs with AVX512-BF16 or AMX multiply two to three times faster; the products accumulate in
#: float32 but come back rounded to bfloat16 (about 3 significant digits); gates, cell states, the
#: outputs and every gradient handed back are float32.
PRECISIONS = ("float32", "bfloat16")


def uses_bfloat16(precision: str) -> bool:
    """Whether ``precision`` asks for bfloat16 products; an unknown precision is a ValueError."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision == "bfloat16"


# PyTorch stores gate rows as i, f, g, o; here they are reordered to i, f, o, g so
# the three sigmoid gates are one contiguous block and tanh the last.
_TO_IFOG = (0, 1, 3, 2)


def _gate_order(hidden: int, device: torch.device) -> torch.Tensor:
    """Row permutation from PyTorch's i, f, g, o layout to i, f, o, g (autograd carries gradients back)."""
    return torch.cat([torch.arange(k * hidden, (k + 1) * hidden, device=device) for k in _TO_IFOG])


class PackedLayout(NamedTuple):
    """Where each sentence's tokens sit in the rows of a ``PackedSequence``; see :func:`packed_layout`."""

    sizes: list[int]  # running sentences per step
    offsets: list[int]  # first row of each step
    slot: torch.Tensor  # (rows,): the row's sentence among those running at its step (0 = longest)
    reverse: torch.Tensor  # (rows,): the row of the same sentence at position length - 1 - t (its own inverse)
    previous: torch.Tensor  # (rows,): the row of the same sentence one step earlier; ``rows`` at a first step


def packed_layout(batch_sizes: torch.Tensor) -> PackedLayout:
    """The :class:`PackedLayout` of a ``PackedSequence`` with these ``batch_sizes`` (non-increasing, per step)."""
    sizes = np.asarray(batch_sizes.tolist(), dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rows = int(sizes.sum())
    # Length of the j-th sentence (in packed order): the number of steps it runs.
    lengths = (sizes[None, :] > np.arange(sizes[0])[:, None]).sum(1)
    step = np.repeat(np.arange(len(sizes)), sizes)
    slot = np.arange(rows) - offsets[step]
    reverse = offsets[lengths[slot] - 1 - step] + slot
    previous = np.where(step > 0, offsets[np.maximum(step - 1, 0)] + slot, rows)
    return PackedLayout(sizes.tolist(), offsets.tolist(), torch.from_numpy(slot), torch.from_numpy(reverse),
                        torch.from_numpy(previous))


class _FusedBiLSTMFunction(torch.autograd.Function):
    """One bidirectional LSTM layer on packed rows; weights already stacked per direction in i, f, o, g order."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, bias, layout, low):
        # x: (rows, input); w_ih: (2, 4H, input); w_hh: (2, 4H, H); bias: (2, 4H)
        # low: the matrix products take bfloat16 operands (states, gates and sums stay float32)
        hidden = w_hh.size(2)
        rows = x.size(0)
        sizes, offsets, reverse = layout.sizes, layout.offsets, layout.reverse.to(x.device)
        cast = (lambda t: t.to(torch.bfloat16)) if low else (lambda t: t)
        # shape: (2, rows, input): direction 1 reads every sentence backwards within its length
        inputs = cast(torch.stack([x, x.index_select(0, reverse)]))
        w_ih, w_hh = cast(w_ih), cast(w_hh)
        w_hh_t = w_hh.transpose(1, 2)
        # The time loop: compiled (kernels.cpp) when available, else PyTorch operations; the same formulas.
        compiled = kernels.available_for(x)
        # shape: (2, rows, 4H): pre-activations from the inputs; overwritten step by step with the activations
        if not low:
            gates = pre = torch.baddbmm(bias.unsqueeze(1), inputs, w_ih.transpose(1, 2))
        elif compiled:
            # the kernel adds the bias to the bfloat16 product as it reads it
            pre, gates = torch.bmm(inputs, w_ih.transpose(1, 2)), x.new_empty(2, rows, 4 * hidden)
        else:
            gates = pre = torch.bmm(inputs, w_ih.transpose(1, 2)).to(x.dtype).add_(bias.unsqueeze(1))
        # One extra zero row at the end: the "previous state" of every sentence's first step (backward).
        cells = x.new_empty(2, rows + 1, hidden)
        hiddens = x.new_empty(2, rows + 1, hidden)
        cells[:, rows] = 0.0
        hiddens[:, rows] = 0.0
        # The previous states as the recurrent product reads them (a bfloat16 copy when ``low``).
        recurrent = hiddens.new_zeros(2, rows + 1, hidden, dtype=inputs.dtype) if low else hiddens
        tanh_cells = x.new_empty(2, rows, hidden)
        if compiled:
            buffer = torch.empty(2 * sizes[0] * 4 * hidden, dtype=w_hh.dtype)
            torch.ops.medner.forward_steps(gates, pre, bias.contiguous(), w_hh_t.contiguous(), cells, hiddens,
                                           tanh_cells, recurrent, buffer, sizes, offsets)
        else:
            _forward_steps(gates, w_hh_t, cells, hiddens, tanh_cells, recurrent, sizes, offsets, low)
        ctx.save_for_backward(inputs, w_ih, w_hh, gates, cells, hiddens, tanh_cells, recurrent)
        ctx.layout = layout
        ctx.low = low
        ctx.compiled = compiled
        return hiddens[:, :rows]

    @staticmethod
    def backward(ctx, grad_hiddens):
        inputs, w_ih, w_hh, gates, cells, hiddens, tanh_cells, recurrent = ctx.saved_tensors
        sizes, offsets = ctx.layout.sizes, ctx.layout.offsets
        reverse, previous = ctx.layout.reverse.to(inputs.device), ctx.layout.previous.to(inputs.device)
        low = ctx.low
        hidden = w_hh.size(2)
        first = sizes[0]
        # Each row's previous state (the zero row ``rows`` at a sentence's first step), gathered once.
        prev_hiddens = recurrent.index_select(1, previous)
        grad_hiddens = grad_hiddens.contiguous()
        if ctx.compiled:
            # The gate gradients only in the products' type; the kernel sums the bias gradient as it goes.
            grad_low = torch.empty(gates.shape, dtype=w_hh.dtype)
            grad_bias = gates.new_zeros(2, 4 * hidden)
            torch.ops.medner.backward_steps(
                gates, cells, tanh_cells, grad_hiddens, w_hh.contiguous(), grad_low, grad_bias,
                gates.new_zeros(2, first, hidden), gates.new_empty(2 * first * 4 * hidden),
                torch.empty(2 * first * hidden, dtype=w_hh.dtype), sizes, offsets)
        else:
            grad_gates = _backward_steps(gates, cells.index_select(1, previous), tanh_cells, grad_hiddens, w_hh,
                                         sizes, offsets, low)
            grad_low = grad_gates.to(torch.bfloat16) if low else grad_gates
            grad_bias = grad_gates.sum(1)
        # Weight gradients: one batched product each over every row of the batch.
        back = gates.dtype
        grad_w_ih = torch.bmm(grad_low.transpose(1, 2), inputs).to(back)
        grad_w_hh = torch.bmm(grad_low.transpose(1, 2), prev_hiddens).to(back)
        grad_x = None
        if ctx.needs_input_grad[0]:
            # shape: (2, rows, input); direction 1's rows go back to their forward positions
            per_direction = torch.bmm(grad_low, w_ih).to(back)
            grad_x = per_direction[0] + per_direction[1].index_select(0, reverse)
        return grad_x, grad_w_ih, grad_w_hh, grad_bias, None, None


def _forward_steps(gates, w_hh_t, cells, hiddens, tanh_cells, recurrent, sizes, offsets, low):
    """The forward time loop in PyTorch operations, in place (see ``_FusedBiLSTMFunction.forward``).

    ``gates`` (2, rows, 4H) holds the input pre-activations and receives the activations; ``cells``,
    ``hiddens``, ``tanh_cells`` and (when ``low``) the bfloat16 ``recurrent`` copy receive the states.
    ``kernels.cpp`` computes the same.
    """
    hidden = cells.size(2)
    three = 3 * hidden
    for t, (size, start) in enumerate(zip(sizes, offsets)):
        now = slice(start, start + size)
        act = gates[:, now]
        if t == 0:
            z = act.clone()
        else:
            before = slice(offsets[t - 1], offsets[t - 1] + size)
            if low:
                z = act + torch.bmm(recurrent[:, before], w_hh_t)
            else:
                z = torch.baddbmm(act, hiddens[:, before], w_hh_t)
        torch.sigmoid(z[..., :three], out=act[..., :three])
        torch.tanh(z[..., three:], out=act[..., three:])
        i, f, o, g = act.split(hidden, dim=2)
        c = cells[:, now]
        torch.mul(i, g, out=c)
        if t > 0:
            c.addcmul_(f, cells[:, before])
        tc = tanh_cells[:, now]
        torch.tanh(c, out=tc)
        torch.mul(o, tc, out=hiddens[:, now])
        if low:
            recurrent[:, now] = hiddens[:, now]


def _backward_steps(gates, prev_cells, tanh_cells, grad_hiddens, w_hh, sizes, offsets, low):
    """The backward time loop in PyTorch operations: the gradients of the pre-activations, (2, rows, 4H).

    ``gates``: the activations (i, f, o, g); ``prev_cells``: each row's previous cell state (zero at a
    first step); ``w_hh``: (2, 4H, H), bfloat16 when ``low``. ``kernels.cpp`` computes the same.
    """
    hidden = w_hh.size(2)
    first = sizes[0]
    i, f, o, g = gates.split(hidden, dim=2)
    # Everything the step loop multiplies by, computed for all rows at once and in place (no
    # temporaries): d pre-activation of (i, f, o, g) = (dc, dc, dh, dc) * factors, where
    # factors = (g i (1 - i), c_prev f (1 - f), tanh(c) o (1 - o), i (1 - g^2)),
    # and dc gains dh * o * (1 - tanh(c)^2).
    factors = torch.empty_like(gates)
    fi, ff, fo, fg = factors.split(hidden, dim=2)
    for out, gate, times in ((fi, i, g), (ff, f, prev_cells), (fo, o, tanh_cells)):
        torch.mul(gate, gate, out=out)
        out.sub_(gate).neg_().mul_(times)
    torch.mul(g, g, out=fg)
    fg.neg_().add_(1.0).mul_(i)
    through_tanh = torch.mul(tanh_cells, tanh_cells)
    through_tanh.neg_().add_(1.0).mul_(o)
    grad_gates = torch.empty_like(gates)
    grad_h = gates.new_zeros(2, first, hidden)  # from step t + 1 to step t, rows beyond its size stay zero
    grad_c = gates.new_zeros(2, first, hidden)
    two_h, three = 2 * hidden, 3 * hidden
    for t in range(len(sizes) - 1, -1, -1):
        size, start = sizes[t], offsets[t]
        now = slice(start, start + size)
        dh = grad_hiddens[:, now] + grad_h[:, :size]
        dc = torch.addcmul(grad_c[:, :size], dh, through_tanh[:, now])
        step_grads = grad_gates[:, now]
        fac = factors[:, now]
        torch.mul(dc.unsqueeze(2), fac.view(2, size, 4, hidden), out=step_grads.view(2, size, 4, hidden))
        torch.mul(dh, fac[..., two_h:three], out=step_grads[..., two_h:three])
        torch.mul(dc, f[:, now], out=grad_c[:, :size])
        if t > 0:
            grad_h[:, :size] = torch.bmm(step_grads.to(w_hh.dtype) if low else step_grads, w_hh)
    return grad_gates


def fused_bilstm_layer(
    x: torch.Tensor,
    batch_sizes: torch.Tensor,
    weights: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    weights_reverse: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    layout: PackedLayout | None = None,
    *,
    precision: str = "float32",
) -> torch.Tensor:
    """One bidirectional LSTM layer over packed rows.

    Args:
        x: shape (rows, input), the ``data`` of a ``PackedSequence``.
        batch_sizes: its ``batch_sizes``.
        weights, weights_reverse: ``(weight_ih, weight_hh, bias_ih, bias_hh)`` of each direction, PyTorch layout.
        layout: :func:`packed_layout` of ``batch_sizes``, when already computed.
        precision: ``"float32"``, or ``"bfloat16"`` for matrix products on bfloat16 operands
            (see :data:`PRECISIONS`).

    Returns:
        shape (rows, 2 * hidden): forward then backward hidden states, like ``nn.LSTM``'s packed output.
    """
    w_ih, w_hh, b_ih, b_hh = weights
    hidden = w_hh.size(1)
    layout = layout or packed_layout(batch_sizes)
    reverse = layout.reverse.to(x.device)
    order = _gate_order(hidden, x.device)
    r_ih, r_hh, rb_ih, rb_hh = weights_reverse
    stacked_ih = torch.stack([w_ih, r_ih]).index_select(1, order)
    stacked_hh = torch.stack([w_hh, r_hh]).index_select(1, order)
    bias = torch.stack([b_ih + b_hh, rb_ih + rb_hh]).index_select(1, order)
    # shape: (2, rows, hidden); direction 1 in reversed order
    states = _FusedBiLSTMFunction.apply(x, stacked_ih, stacked_hh, bias, layout, uses_bfloat16(precision))
    return torch.cat([states[0], states[1].index_select(0, reverse)], dim=1)


def run_bilstm(lstm: nn.LSTM, packed: PackedSequence, *, fused: bool | None = None,
               precision: str = "float32", layout: PackedLayout | None = None) -> PackedSequence:
    """Apply a bidirectional ``nn.LSTM`` (no inter-layer dropout, no projections) to a packed batch.

    ``fused=None`` uses the fused layer on the CPU and ``nn.LSTM`` itself elsewhere (cuDNN on a GPU);
    ``True`` or ``False`` force one or the other. The results agree to float rounding.
    ``precision="bfloat16"`` needs the fused layer (``nn.LSTM`` itself has no such mode).
    ``layout``: :func:`packed_layout` of ``packed.batch_sizes``, when the caller already has it.
    """
    low = uses_bfloat16(precision)
    if fused is None:
        fused = packed.data.device.type == "cpu"
    if not fused:
        if low:
            raise ValueError("precision='bfloat16' needs the fused CPU LSTM; use float32 with nn.LSTM")
        return lstm(packed)[0]
    if not lstm.bidirectional or lstm.proj_size or (lstm.num_layers > 1 and lstm.dropout) or not lstm.bias:
        raise ValueError("the fused LSTM covers bidirectional layers with biases, no projection and no dropout between layers")
    layout = layout or packed_layout(packed.batch_sizes)
    data = packed.data
    for layer in range(lstm.num_layers):
        names = [f"weight_ih_l{layer}", f"weight_hh_l{layer}", f"bias_ih_l{layer}", f"bias_hh_l{layer}"]
        forward = tuple(getattr(lstm, n) for n in names)
        backward = tuple(getattr(lstm, n + "_reverse") for n in names)
        data = fused_bilstm_layer(data, packed.batch_sizes, forward, backward, layout, precision=precision)
    return PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
