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

* the input projections of every token, both directions, are one matrix product
  before the recurrence (width 2 x 4H); the weight gradients are one product each
  after it, and the input's gradient one product summing both directions;
* the reverse direction runs over each sentence reversed *within its length*, so
  at every step both directions have the same active sentences (a packed batch
  sorted by length) and one ``bmm`` advances both. The time loops read the inputs
  and write the outputs (and their gradients) in packed order through that
  reversal map, so no reversed copy of anything is made;
* the backward pass is written out (the LSTM's derivatives, as in Graves 2012,
  "Supervised Sequence Labelling with Recurrent Neural Networks", ch. 4), so a
  step costs one ``bmm`` and a few element-wise operations, none of them recorded;
* an optional scale (the tagger's dropout masks) and linear map (its
  re-projection) of the input run inside the first layer: the projection's output
  goes straight into the input product and its bias is folded into the LSTM's,
  ``W_ih (P x + p) = W_ih P x + W_ih p``;
* batch-sized tensors come from a per-thread workspace reused from batch to batch
  (fresh memory cost a page fault per 4 KiB), and in bfloat16 the batch-wide
  products run on rows padded to a multiple of 64, so oneDNN reuses the kernels it
  compiled for each shape.

Sentence padding never enters: each step only touches the sentences still running (the
``batch_sizes`` of the packed sequence), exactly as the packed ``nn.LSTM`` does, and the
zero rows added for the products' shapes are never read by the time loops.
``tests/model/fused/test_lstm.py`` checks outputs and every gradient against ``nn.LSTM``.

The two time loops run compiled when they can (``kernels.cpp``, see
:mod:`medner.model.fused.kernels`): each step's element-wise work is then one pass over its
rows instead of a dozen PyTorch operations. The PyTorch loops below stay the reference;
the tests run on both.
"""

from __future__ import annotations

import math
import threading
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from medner.model.compute import PRECISIONS
from medner.model.fused import kernels



def uses_bfloat16(precision: str) -> bool:
    """Whether ``precision`` asks for bfloat16 products; an unknown precision is a ValueError.

    In bfloat16 the operands of every matrix product (inputs, weights, previous states, gate gradients) are
    rounded to bfloat16 and the products accumulate in float32, but the batch-wide ones come back rounded to
    bfloat16 (about 3 significant digits); the recurrent step products stay float32 where the compiled kernels
    pack them (AVX512-BF16, hidden size a multiple of 64; :func:`medner.model.fused.kernels.packed_products`).
    Gates, cell states, the outputs and every gradient handed back are float32.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision == "bfloat16"


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


def _pair(first: torch.Tensor, second: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``torch.stack([first, second])`` written into ``out`` (2, *first.shape), converted to its type on the way."""
    out[0].copy_(first)
    out[1].copy_(second)
    return out


#: In bfloat16 the rows of the batch-wide matrix products are padded (with zeros) to a multiple of this.
#: oneDNN builds and caches a kernel per product shape, and batches of sentences have a different number
#: of tokens each: unpadded, training kept compiling new kernels (a twentieth of a PHEE epoch).
ROW_MULTIPLE = 64


def _padded(rows: int) -> int:
    return -(-rows // ROW_MULTIPLE) * ROW_MULTIPLE


class _Workspace(threading.local):
    """Buffers the fused LSTM reuses from batch to batch, one set per thread.

    A fresh batch-sized tensor costs a page fault per 4 KiB the first time it is written, and the
    allocator hands the same memory back to the system and faults it in again batch after batch;
    together that was about a fifth of a bfloat16 epoch. A buffer is handed out again only when
    nothing holds a view of it any more (for example the tensors a graph saved for its backward,
    until that backward has run or the graph is dropped); otherwise a new one is made. Buffers
    grow with the largest batch seen, with a quarter of headroom.
    """

    def __init__(self) -> None:
        self.buffers: dict[str, torch.Tensor] = {}

    def take(self, name: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """A tensor of ``shape`` (uninitialised) backed by buffer ``name``."""
        numel = math.prod(shape)
        buffer = self.buffers.get(name)
        if (buffer is None or buffer.dtype != dtype or buffer.device != device or buffer.numel() < numel
                or _in_use(buffer)):
            buffer = torch.empty(numel + numel // 4, dtype=dtype, device=device)
            self.buffers[name] = buffer
        return buffer[:numel].view(shape)


def _in_use(buffer: torch.Tensor) -> bool:
    """Whether a view of ``buffer`` is still alive (its storage has more owners than the buffer itself)."""
    use_count = getattr(torch._C, "_storage_Use_Count", None)
    if use_count is None:  # cannot tell: never reuse
        return True
    storage = buffer.untyped_storage()
    # owners: the buffer, and the ``storage`` object just made
    return use_count(storage._cdata) > 2


_WORKSPACE = _Workspace()


class _FusedBiLSTMFunction(torch.autograd.Function):
    """One bidirectional LSTM layer on packed rows, from the two directions' own weights (PyTorch layout).

    Inputs and outputs are in packed order; inside, direction 1 runs over each sentence reversed within
    its length (``layout.reverse``), and the time loops read and write the packed-order tensors through
    that map, so no reversed copy of the inputs, outputs or their gradients is made. The batch-sized
    tensors come from :class:`_Workspace`, and the batch-wide products run on ``_padded(rows)`` rows.
    """

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, bias, w_ih_r, w_hh_r, bias_r, proj_w, proj_b, scale, layout, low):
        # x: (rows, input); w_ih: (4H, input'); w_hh: (4H, H); bias: (4H,) = b_ih + b_hh; *_r: the reverse direction.
        # proj_w (input', input), proj_b (input',): a linear map applied to the input first, or None;
        # scale (rows, input): multiplies the input before everything (dropout masks; no gradient), or None.
        # low: the matrix products take bfloat16 operands (states, gates and sums stay in the weights' type)
        scalar = w_hh.dtype
        product = torch.bfloat16 if low else scalar
        hidden, four = w_hh.size(1), w_hh.size(0)
        rows, width = x.shape
        # oneDNN (bfloat16) compiles a kernel per shape; MKL (float32) does not, so only bfloat16 pads
        padded = _padded(rows) if low else rows
        device = x.device
        sizes, offsets, reverse = layout.sizes, layout.offsets, layout.reverse.to(device)
        take = _WORKSPACE.take
        # shape: (padded, input): the (scaled) input in the products' type, zero rows after the last token
        x_p = take("x", (padded, width), product, device)
        if scale is None:
            x_p[:rows].copy_(x)
        else:
            torch.mul(x, scale, out=x_p[:rows])
        x_p[rows:].zero_()
        inputs, w_proj = x_p, None
        biases = torch.stack([bias, bias_r])
        if proj_w is not None:
            # The projection's bias is folded into the LSTM's, W_ih (P x + p) = W_ih (P x) + W_ih p,
            # so the projected rows go from one product straight into the next.
            w_proj = take("w_proj", tuple(proj_w.shape), product, device)
            w_proj.copy_(proj_w)
            inputs = torch.mm(x_p, w_proj.t(), out=take("projected", (padded, proj_w.size(0)), product, device))
            if proj_b is not None:
                biases += torch.stack([w_ih @ proj_b, w_ih_r @ proj_b])
        in_width = inputs.size(1)
        # shape: (2 * 4H, input'), both directions' input weights; (2, 4H, H) the recurrent ones
        w_in = _pair(w_ih, w_ih_r, take("w_in", (2, four, in_width), product, device)).view(2 * four, in_width)
        w_rec = _pair(w_hh, w_hh_r, take("w_rec", (2, four, hidden), product, device))
        # shape: (padded, 2 * 4H): every token's input pre-activations for both directions, packed order
        pre = torch.mm(inputs, w_in.t(), out=take("pre", (padded, 2 * four), product, device))
        gates = take("gates", (2, rows, four), scalar, device)
        # One extra zero row at the end: the "previous state" of every sentence's first step (backward).
        cells = take("cells", (2, rows + 1, hidden), scalar, device)
        cells[:, rows] = 0.0
        # The hidden states as the recurrent product reads them (product type, internal order).
        recurrent = take("recurrent", (2, rows + 1, hidden), product, device)
        recurrent[:, rows] = 0.0
        tanh_cells = take("tanh_cells", (2, rows, hidden), scalar, device)
        out = take("out", (rows, 2 * hidden), scalar, device)
        # The time loop: compiled (kernels.cpp) when available, else PyTorch operations; the same formulas.
        compiled = kernels.available_for(x)
        steps = torch.ops.medner.forward_steps if compiled else _forward_steps
        # the recurrent weights transposed as a view: the products read either layout at the same speed
        steps(pre, biases, w_rec.transpose(1, 2), gates, cells, tanh_cells, recurrent, out, reverse,
              take("step_buffer", (2 * sizes[0] * four,), product, device), sizes, offsets)
        ctx.save_for_backward(x_p, inputs, w_in, w_rec, gates, cells, tanh_cells, recurrent, w_proj, proj_b, w_ih,
                              w_ih_r, scale)
        ctx.layout = layout
        ctx.compiled = compiled
        ctx.input_type = x.dtype
        return out

    @staticmethod
    def backward(ctx, grad_out):
        (x_p, inputs, w_in, w_rec, gates, cells, tanh_cells, recurrent, w_proj, proj_b, w_ih, w_ih_r,
         scale) = ctx.saved_tensors
        sizes, offsets = ctx.layout.sizes, ctx.layout.offsets
        device = x_p.device
        reverse, previous = ctx.layout.reverse.to(device), ctx.layout.previous.to(device)
        scalar, product = gates.dtype, w_rec.dtype
        hidden, four = w_rec.size(2), w_rec.size(1)
        rows, first = gates.size(1), sizes[0]
        padded = x_p.size(0)
        take = _WORKSPACE.take
        # The gate gradients in the products' type: internal order (2, padded, 4H) for the recurrent weights,
        # packed order (padded, 2 * 4H) for the input weights and the input; zero in the padding rows.
        grad_low = take("grad_low", (2, padded, four), product, device)
        grad_low[:, rows:].zero_()
        grad_fwd = take("grad_fwd", (padded, 2 * four), product, device)
        grad_fwd[rows:].zero_()
        grad_bias = gates.new_zeros(2, four)
        grad_c = take("grad_c", (2, first, hidden), scalar, device)
        grad_c.zero_()
        steps = torch.ops.medner.backward_steps if ctx.compiled else _backward_steps
        steps(gates, cells, tanh_cells, grad_out.contiguous(), w_rec, grad_low, grad_fwd, grad_bias, grad_c,
              take("scratch", (2 * first * four,), scalar, device),
              take("step_buffer", (2 * first * hidden,), product, device), reverse, sizes, offsets)
        # Weight gradients: one product each over every row of the batch.
        # Each row's previous state (the zero row ``rows`` at a sentence's first step, and for the padding), gathered once.
        previous = torch.cat([previous, previous.new_full((padded - rows,), rows)])
        prev_hiddens = torch.index_select(recurrent, 1, previous, out=take("prev_hiddens", (2, padded, hidden),
                                                                          product, device))
        grad_w_hh = torch.bmm(grad_low.transpose(1, 2), prev_hiddens).to(scalar)
        grad_w_ih = torch.mm(grad_fwd.t(), inputs).to(scalar).view(2, four, -1)
        grad_x = grad_proj_w = grad_proj_b = None
        needs_x, needs_proj = ctx.needs_input_grad[0], w_proj is not None and any(ctx.needs_input_grad[7:9])
        if needs_proj and proj_b is not None:
            # the folded projection bias: its share of the input weights' gradient, and its own gradient
            for direction in range(2):
                grad_w_ih[direction].addr_(grad_bias[direction], proj_b)
            grad_proj_b = w_ih.t() @ grad_bias[0] + w_ih_r.t() @ grad_bias[1]
        if needs_x or needs_proj:
            # both directions' contributions summed by the product itself (over 2 * 4H)
            grad_inputs = torch.mm(grad_fwd, w_in, out=take("grad_inputs", (padded, inputs.size(1)), product, device))
            grad_x_p = grad_inputs[:rows]
            if w_proj is not None:
                grad_proj_w = torch.mm(grad_inputs.t(), x_p).to(scalar)
                grad_x_p = torch.mm(grad_x_p, w_proj) if needs_x else None
            if needs_x:
                grad_x = grad_x_p.to(ctx.input_type)
                if scale is not None:
                    grad_x = grad_x * scale
        return (grad_x, grad_w_ih[0], grad_w_hh[0], grad_bias[0], grad_w_ih[1], grad_w_hh[1], grad_bias[1],
                grad_proj_w, grad_proj_b, None, None, None)


def _forward_steps(pre, biases, w_hh_t, gates, cells, tanh_cells, recurrent, out, reverse, buffer, sizes, offsets):
    """The forward time loop in PyTorch operations, same arguments as ``kernels.cpp``'s ``forward_steps``.

    ``pre`` (rows, 2 * 4H), packed order, holds the input products; ``gates``, ``cells``, ``tanh_cells``
    and ``recurrent`` receive the activations and states in internal order (direction 1 reversed within
    each sentence), ``out`` (rows, 2H) the hidden states in packed order. ``buffer`` is unused here.
    """
    hidden = cells.size(2)
    four = 4 * hidden
    rows = gates.size(1)
    gates[0] = pre[:rows, :four] + biases[0]
    gates[1] = pre[:rows, four:].index_select(0, reverse) + biases[1]
    hiddens = torch.empty_like(tanh_cells)
    for t, (size, start) in enumerate(zip(sizes, offsets)):
        now = slice(start, start + size)
        act = gates[:, now]
        if t == 0:
            z = act.clone()
        else:
            before = slice(offsets[t - 1], offsets[t - 1] + size)
            z = act + torch.bmm(recurrent[:, before], w_hh_t)
        torch.sigmoid(z, out=act)
        torch.tanh(z[..., 2 * hidden : 3 * hidden], out=act[..., 2 * hidden : 3 * hidden])
        i, f, g, o = act.split(hidden, dim=2)
        c = cells[:, now]
        torch.mul(i, g, out=c)
        if t > 0:
            c.addcmul_(f, cells[:, before])
        tc = tanh_cells[:, now]
        torch.tanh(c, out=tc)
        torch.mul(o, tc, out=hiddens[:, now])
        recurrent[:, now] = hiddens[:, now]
    out[:, :hidden] = hiddens[0]
    out[:, hidden:] = hiddens[1].index_select(0, reverse)


def _backward_steps(gates, cells, tanh_cells, grad_out, w_hh, grad_low, grad_fwd, grad_bias, grad_c, scratch,
                    buffer, reverse, sizes, offsets):
    """The backward time loop in PyTorch operations, same arguments as ``kernels.cpp``'s ``backward_steps``.

    Fills ``grad_low`` (internal order) and ``grad_fwd`` (packed order) with the gradients of the
    pre-activations in the products' type, and adds their sum over rows to ``grad_bias``; ``grad_c`` is
    zeros of (2, sizes[0], H); ``scratch`` and ``buffer`` are unused here.
    """
    hidden = w_hh.size(2)
    rows, first = gates.size(1), sizes[0]
    # Each row's previous cell state (zero at a first step).
    previous = packed_layout(torch.tensor(sizes)).previous.to(gates.device)
    prev_cells = cells.index_select(1, previous)
    grad_hiddens = torch.stack([grad_out[:, :hidden], grad_out[:, hidden:].index_select(0, reverse)])
    i, f, g, o = gates.split(hidden, dim=2)
    # Everything the step loop multiplies by, computed for all rows at once and in place (no
    # temporaries): d pre-activation of (i, f, g, o) = (dc, dc, dc, dh) * factors, where
    # factors = (g i (1 - i), c_prev f (1 - f), i (1 - g^2), tanh(c) o (1 - o)),
    # and dc gains dh * o * (1 - tanh(c)^2).
    factors = torch.empty_like(gates)
    fi, ff, fg, fo = factors.split(hidden, dim=2)
    for out, gate, times in ((fi, i, g), (ff, f, prev_cells), (fo, o, tanh_cells)):
        torch.mul(gate, gate, out=out)
        out.sub_(gate).neg_().mul_(times)
    torch.mul(g, g, out=fg)
    fg.neg_().add_(1.0).mul_(i)
    through_tanh = torch.mul(tanh_cells, tanh_cells)
    through_tanh.neg_().add_(1.0).mul_(o)
    grad_gates = torch.empty_like(gates)
    grad_h = gates.new_zeros(2, first, hidden)  # from step t + 1 to step t, rows beyond its size stay zero
    three = 3 * hidden
    for t in range(len(sizes) - 1, -1, -1):
        size, start = sizes[t], offsets[t]
        now = slice(start, start + size)
        dh = grad_hiddens[:, now] + grad_h[:, :size]
        dc = torch.addcmul(grad_c[:, :size], dh, through_tanh[:, now])
        step_grads = grad_gates[:, now]
        fac = factors[:, now]
        torch.mul(dc.unsqueeze(2), fac.view(2, size, 4, hidden), out=step_grads.view(2, size, 4, hidden))
        torch.mul(dh, fac[..., three:], out=step_grads[..., three:])
        torch.mul(dc, f[:, now], out=grad_c[:, :size])
        grad_low[:, now] = step_grads
        if t > 0:
            grad_h[:, :size] = torch.bmm(grad_low[:, now], w_hh)
    grad_bias += grad_gates.sum(1)
    four = 4 * hidden
    grad_fwd[:rows, :four] = grad_low[0, :rows]
    grad_fwd[:rows, four:] = grad_low[1, :rows].index_select(0, reverse)


def fused_bilstm_layer(
    x: torch.Tensor,
    batch_sizes: torch.Tensor,
    weights: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    weights_reverse: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    layout: PackedLayout | None = None,
    *,
    precision: str = "float32",
    scale: torch.Tensor | None = None,
    projection: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """One bidirectional LSTM layer over packed rows, optionally after a scale and a linear map of its input.

    Args:
        x: shape (rows, input), the ``data`` of a ``PackedSequence``.
        batch_sizes: its ``batch_sizes``.
        weights, weights_reverse: ``(weight_ih, weight_hh, bias_ih, bias_hh)`` of each direction, PyTorch layout.
        layout: :func:`packed_layout` of ``batch_sizes``, when already computed.
        precision: ``"float32"``, or ``"bfloat16"`` for matrix products on bfloat16 operands
            (see :data:`PRECISIONS`).
        scale: shape (rows, input): ``x * scale`` is what the layer reads (dropout masks); no gradient flows to it.
        projection: ``(weight, bias)`` of a linear map applied to ``x * scale`` before the LSTM (the tagger's
            re-projection), computed inside the layer: its output goes straight from one product into the next.

    Returns:
        shape (rows, 2 * hidden): forward then backward hidden states, like ``nn.LSTM``'s packed output.
    """
    w_ih, w_hh, b_ih, b_hh = weights
    r_ih, r_hh, rb_ih, rb_hh = weights_reverse
    proj_w, proj_b = projection if projection is not None else (None, None)
    layout = layout or packed_layout(batch_sizes)
    return _FusedBiLSTMFunction.apply(x, w_ih, w_hh, b_ih + b_hh, r_ih, r_hh, rb_ih + rb_hh, proj_w, proj_b,
                                      None if scale is None else scale.detach(), layout, uses_bfloat16(precision))


def run_bilstm(lstm: nn.LSTM, packed: PackedSequence, *, fused: bool | None = None,
               precision: str = "float32", layout: PackedLayout | None = None, scale: torch.Tensor | None = None,
               projection: nn.Linear | None = None) -> PackedSequence:
    """Apply a bidirectional ``nn.LSTM`` (no inter-layer dropout, no projections) to a packed batch.

    ``fused=None`` uses the fused layer on the CPU and ``nn.LSTM`` itself elsewhere (cuDNN on a GPU);
    ``True`` or ``False`` force one or the other. The results agree to float rounding.
    ``precision="bfloat16"`` needs the fused layer (``nn.LSTM`` itself has no such mode).
    ``layout``: :func:`packed_layout` of ``packed.batch_sizes``, when the caller already has it.
    ``scale`` (rows, input) and ``projection``: the LSTM reads ``projection(packed.data * scale)``; the fused
    layer computes both inside its first layer, ``nn.LSTM`` gets them applied beforehand.
    """
    low = uses_bfloat16(precision)
    if fused is None:
        fused = packed.data.device.type == "cpu"
    if not fused:
        if low:
            raise ValueError("precision='bfloat16' needs the fused CPU LSTM; use float32 with nn.LSTM")
        data = packed.data if scale is None else packed.data * scale.detach()
        data = data if projection is None else projection(data)
        return lstm(PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices))[0]
    if not lstm.bidirectional or lstm.proj_size or (lstm.num_layers > 1 and lstm.dropout) or not lstm.bias:
        raise ValueError("the fused LSTM covers bidirectional layers with biases, no projection and no dropout between layers")
    layout = layout or packed_layout(packed.batch_sizes)
    data = packed.data
    for layer in range(lstm.num_layers):
        names = [f"weight_ih_l{layer}", f"weight_hh_l{layer}", f"bias_ih_l{layer}", f"bias_hh_l{layer}"]
        forward = tuple(getattr(lstm, n) for n in names)
        backward = tuple(getattr(lstm, n + "_reverse") for n in names)
        first = layer == 0
        data = fused_bilstm_layer(
            data, packed.batch_sizes, forward, backward, layout, precision=precision,
            scale=scale if first else None,
            projection=(projection.weight, projection.bias) if first and projection is not None else None)
    return PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
