"""The fused bidirectional LSTM: the same function and gradients as ``nn.LSTM`` on packed batches."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from medner.model import BiLSTMCRFTagger
from medner.model.fused import kernels
from medner.model.fused import lstm as lstm_module
from medner.model.fused.lstm import packed_layout, run_bilstm


# Every test here runs on both time loops: PyTorch operations and the compiled kernels.
pytestmark = pytest.mark.usefixtures("kernel_choice")


def packed_batch(lengths, dim, dtype=torch.float64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), max(lengths), dim, generator=generator, dtype=dtype, requires_grad=True)
    return x, lambda: pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)


def outputs_and_gradients(lstm, x, pack, fused, precision="float32"):
    out = run_bilstm(lstm, pack(), fused=fused, precision=precision)
    padded, _ = pad_packed_sequence(out, batch_first=True)
    weights = torch.linspace(-1, 1, padded.numel(), dtype=padded.dtype).view_as(padded)
    grads = torch.autograd.grad((padded * weights).sum(), [x, *lstm.parameters()])
    return padded.detach(), grads


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("lengths", [(3, 7, 1, 5, 7, 2), (1,), (4, 4, 4), (1, 1, 6)])
def test_fused_layer_matches_nn_lstm_outputs_and_every_gradient(layers, lengths):
    torch.manual_seed(layers)
    lstm = torch.nn.LSTM(5, 4, num_layers=layers, bidirectional=True, batch_first=True).double()
    x, pack = packed_batch(lengths, 5)
    ref_out, ref_grads = outputs_and_gradients(lstm, x, pack, fused=False)
    out, grads = outputs_and_gradients(lstm, x, pack, fused=True)
    torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-12)
    names = ["input"] + [name for name, _ in lstm.named_parameters()]
    for name, got, expected in zip(names, grads, ref_grads):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-12, msg=f"gradient of {name}")


def test_float32_agrees_with_nn_lstm_at_the_default_size():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(24, 256, bidirectional=True, batch_first=True)
    x, pack = packed_batch((17, 3, 30, 9), 24, dtype=torch.float32)
    ref_out, ref_grads = outputs_and_gradients(lstm, x, pack, fused=False)
    out, grads = outputs_and_gradients(lstm, x, pack, fused=True)
    torch.testing.assert_close(out, ref_out, rtol=1e-4, atol=1e-5)
    for got, expected in zip(grads, ref_grads):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_bfloat16_products_stay_close_and_hand_back_float32():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(24, 64, bidirectional=True, batch_first=True)
    x, pack = packed_batch((17, 3, 30, 9), 24, dtype=torch.float32)
    ref_out, ref_grads = outputs_and_gradients(lstm, x, pack, fused=False)
    out, grads = outputs_and_gradients(lstm, x, pack, fused=True, precision="bfloat16")
    assert out.dtype == torch.float32 and all(g.dtype == torch.float32 for g in grads)
    assert not torch.equal(out, ref_out)  # the rounding is real...
    assert (out - ref_out).abs().max() < 0.02  # ...and small: about 3 significant digits per product
    for got, expected in zip(grads, ref_grads):
        assert (got - expected).norm() / expected.norm() < 0.02


def test_reverse_is_within_each_sentence_and_its_own_inverse():
    lengths = torch.tensor([4, 2, 1])
    x = torch.arange(7.0).view(7, 1)
    packed = pack_padded_sequence(torch.tensor([[0.0, 1, 2, 3], [10, 11, 0, 0], [20, 0, 0, 0]]).unsqueeze(2), lengths,
                                  batch_first=True)
    layout = packed_layout(packed.batch_sizes)
    sizes, offsets, reverse = layout.sizes, layout.offsets, layout.reverse
    assert sizes == [3, 2, 1, 1] and offsets == [0, 3, 5, 6]
    # Packed rows are [0, 10, 20, 1, 11, 2, 3]; reversed within each sentence: [3, 11, 20, 2, 10, 1, 0].
    assert packed.data[reverse].flatten().tolist() == [3.0, 11.0, 20.0, 2.0, 10.0, 1.0, 0.0]
    assert torch.equal(reverse[reverse], torch.arange(len(x)))
    # Each row's sentence among those running, and the row one step earlier (7 = none: a first step).
    assert layout.slot.tolist() == [0, 1, 2, 0, 1, 0, 0]
    assert layout.previous.tolist() == [7, 7, 7, 0, 1, 3, 5]


def test_bad_precisions_and_unsupported_layers_are_refused():
    lstm = torch.nn.LSTM(3, 2, bidirectional=True, batch_first=True)
    x, pack = packed_batch((2, 1), 3, dtype=torch.float32)
    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16, got 'float16'"):
        run_bilstm(lstm, pack(), precision="float16")
    with pytest.raises(ValueError, match="needs the fused CPU LSTM"):
        run_bilstm(lstm, pack(), fused=False, precision="bfloat16")
    with pytest.raises(ValueError, match="bidirectional layers"):
        run_bilstm(torch.nn.LSTM(3, 2, batch_first=True), pack(), fused=True)
    with pytest.raises(ValueError, match="precision must be one of"):
        BiLSTMCRFTagger(3, 4).set_compute("fused", "half")
    with pytest.raises(ValueError, match="needs implementation='fused'"):
        BiLSTMCRFTagger(3, 4).set_compute("nn.LSTM", "bfloat16")
    with pytest.raises(ValueError, match="implementation must be one of fused, nn.LSTM"):
        BiLSTMCRFTagger(3, 4).set_compute("cudnn")


@pytest.mark.parametrize("use_crf", [True, False])
def test_the_tagger_trains_the_same_with_both_implementations(use_crf):
    """One training step of the whole tagger, fused and as written (nn.LSTM, the CRF in PyTorch operations), from
    the same weights and the same dropout draws: the same loss and every gradient (float64, to 1e-12)."""

    def step(implementation):
        torch.manual_seed(0)
        model = BiLSTMCRFTagger(6, 5, hidden_size=8, use_crf=use_crf).double().train()
        model.set_compute(implementation)
        x = torch.randn(3, 4, 6, dtype=torch.float64)
        lengths = torch.tensor([4, 2, 3])
        mask = torch.arange(4)[None, :] < lengths[:, None]
        tags = torch.randint(0, 5, (3, 4))
        loss = model.loss(x, lengths, mask, tags)
        loss.backward()
        model.eval()
        return loss.detach(), [p.grad.clone() for p in model.parameters()], model.predict(x, lengths, mask)

    loss_fused, grads_fused, tags_fused = step("fused")
    loss_written, grads_written, tags_written = step("nn.LSTM")
    torch.testing.assert_close(loss_fused, loss_written, rtol=0, atol=1e-12)
    for got, expected in zip(grads_fused, grads_written):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
    assert tags_fused == tags_written


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("reproject", [True, False])
def test_the_fused_encoder_gives_the_written_encoders_states_and_gradients(layers, reproject):
    """medner.model.fused.encode against BiLSTMEncoder.forward as written: states and every gradient, training
    mode (the same dropout masks drawn from the same seed) and evaluation mode."""
    from medner.model import BiLSTMEncoder

    for training in (True, False):
        results = {}
        for implementation in ("fused", "nn.LSTM"):
            torch.manual_seed(2)
            encoder = BiLSTMEncoder(6, hidden_size=4, rnn_layers=layers, reproject_embeddings=reproject).double()
            encoder.train(training)
            encoder.implementation = implementation
            x = torch.randn(4, 5, 6, dtype=torch.float64, requires_grad=True)
            states = encoder(x, torch.tensor([5, 1, 3, 5]))
            weights = torch.linspace(-1, 1, states.data.numel(), dtype=torch.float64).view_as(states.data)
            grads = torch.autograd.grad((states.data * weights).sum(), [x, *encoder.parameters()])
            results[implementation] = (states.data.detach(), grads)
        (fused_states, fused_grads), (states, grads) = results["fused"], results["nn.LSTM"]
        torch.testing.assert_close(fused_states, states, rtol=0, atol=1e-12)
        for got, expected in zip(fused_grads, grads):
            torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)


def test_bfloat16_tagger_is_close_to_float32_and_keeps_float32_weights():
    torch.manual_seed(0)
    exact = BiLSTMCRFTagger(24, 5, hidden_size=32).eval()
    low = BiLSTMCRFTagger(24, 5, hidden_size=32).set_compute("fused", "bfloat16").eval()
    low.load_state_dict(exact.state_dict())
    x = torch.randn(3, 6, 24)
    lengths = torch.tensor([6, 2, 4])
    a, b = exact.emissions(x, lengths), low.emissions(x, lengths)
    assert b.dtype == torch.float32 and all(p.dtype == torch.float32 for p in low.parameters())
    assert not torch.equal(a, b) and (a - b).abs().max() < 0.05


@pytest.mark.parametrize("kernel_choice", ["compiled"], indirect=True)
def test_the_compiled_loops_replace_the_python_loops_and_agree_with_them(kernel_choice, monkeypatch):
    """With the kernels in use no Python time loop runs, and their results match the PyTorch loops'."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(24, 64, bidirectional=True, batch_first=True)
    x, pack = packed_batch((17, 3, 30, 9), 24, dtype=torch.float32)
    results = {}
    for precision in ("float32", "bfloat16"):
        with monkeypatch.context() as patched:
            patched.setenv(kernels.ENVIRONMENT_VARIABLE, "torch")
            results["torch"] = outputs_and_gradients(lstm, x, pack, fused=True, precision=precision)

        def python_loop(*args, **kwargs):
            raise AssertionError("a Python time loop ran while the compiled kernels were in use")

        with monkeypatch.context() as patched:
            patched.setattr(lstm_module, "_forward_steps", python_loop)
            patched.setattr(lstm_module, "_backward_steps", python_loop)
            results["compiled"] = outputs_and_gradients(lstm, x, pack, fused=True, precision=precision)
        (out_t, grads_t), (out_c, grads_c) = results["torch"], results["compiled"]
        # float32 differs only in rounding; bfloat16 adds the odd product rounded the other way
        tolerance = 1e-5 if precision == "float32" else 2e-2
        torch.testing.assert_close(out_c, out_t, rtol=0, atol=tolerance)
        for got, expected in zip(grads_c, grads_t):
            assert (got - expected).norm() <= tolerance * expected.norm(), precision


@pytest.mark.parametrize("kernel_choice", ["compiled"], indirect=True)
@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_one_thread_and_two_threads_compute_the_same_layer(kernel_choice, precision, threads):
    """Two threads run the directions side by side (each with its own step products and rows); one runs both
    in one loop. Outputs and gradients agree (float64 to 1e-12; lower precisions to their product rounding)."""
    torch.manual_seed(5)
    dtype = torch.float64 if precision == "float32" else torch.float32
    lstm = torch.nn.LSTM(6, 8, bidirectional=True, batch_first=True).to(dtype)
    x, pack = packed_batch((9, 2, 5, 9, 1, 7), 6, dtype=dtype)
    results = []
    for count in (1, 2):
        threads(count)
        results.append(outputs_and_gradients(lstm, x, pack, fused=True, precision=precision))
    (out_1, grads_1), (out_2, grads_2) = results
    tolerance = 1e-12 if precision == "float32" else 1e-2
    torch.testing.assert_close(out_2, out_1, rtol=0, atol=tolerance)
    for got, expected in zip(grads_2, grads_1):
        assert (got - expected).norm() <= tolerance * max(expected.norm(), 1.0)
    reference = outputs_and_gradients(lstm, x, pack, fused=False) if precision == "float32" else None
    if reference is not None:  # and both are nn.LSTM's function
        torch.testing.assert_close(out_2, reference[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("with_bias", [True, False])
def test_scale_and_projection_inside_the_layer_match_them_applied_before_nn_lstm(with_bias):
    """The fused layer's own scale and re-projection (its bias folded into the LSTM's) give nn.LSTM's function."""
    torch.manual_seed(3)
    lstm = torch.nn.LSTM(5, 4, bidirectional=True, batch_first=True).double()
    projection = torch.nn.Linear(6, 5, bias=with_bias).double()
    x, pack = packed_batch((3, 7, 1, 5), 6)
    rows = sum((3, 7, 1, 5))
    scale = torch.bernoulli(torch.full((rows, 6), 0.7, dtype=torch.float64)) * 2.0
    results = {}
    for fused in (False, True):
        out = run_bilstm(lstm, pack(), fused=fused, scale=scale, projection=projection)
        padded, _ = pad_packed_sequence(out, batch_first=True)
        weights = torch.linspace(-1, 1, padded.numel(), dtype=padded.dtype).view_as(padded)
        params = [x, *lstm.parameters(), *projection.parameters()]
        results[fused] = (padded.detach(), torch.autograd.grad((padded * weights).sum(), params))
    (ref_out, ref_grads), (out, grads) = results[False], results[True]
    torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-12)
    names = ["input"] + [n for n, _ in lstm.named_parameters()] + [f"projection.{n}" for n, _ in projection.named_parameters()]
    for name, got, expected in zip(names, grads, ref_grads):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-12, msg=f"gradient of {name}")


def test_workspace_buffers_are_reused_only_once_nothing_holds_them():
    """Two graphs alive at once get separate buffers (both backwards stay right); a finished one's are reused."""
    torch.manual_seed(4)
    lstm = torch.nn.LSTM(5, 4, bidirectional=True, batch_first=True).double()
    x1, pack1 = packed_batch((4, 2, 3), 5, seed=1)
    x2, pack2 = packed_batch((4, 2, 3), 5, seed=2)
    expected = [outputs_and_gradients(lstm, x, pack, fused=False) for x, pack in ((x1, pack1), (x2, pack2))]
    # Both forwards before either backward: the second must not overwrite what the first saved.
    outs = [run_bilstm(lstm, pack(), fused=True) for pack in (pack1, pack2)]
    for out, x, (ref_out, ref_grads) in zip(outs, (x1, x2), expected):
        padded, _ = pad_packed_sequence(out, batch_first=True)
        torch.testing.assert_close(padded.detach(), ref_out, rtol=0, atol=1e-12)
        weights = torch.linspace(-1, 1, padded.numel(), dtype=padded.dtype).view_as(padded)
        grads = torch.autograd.grad((padded * weights).sum(), [x, *lstm.parameters()])
        for got, want in zip(grads, ref_grads):
            torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    del outs, out, padded
    # Nothing holds the buffers now: the next batch of the same size is served from them.
    gates = lstm_module._WORKSPACE.buffers["gates"]
    run_bilstm(lstm, pack1(), fused=True)
    assert lstm_module._WORKSPACE.buffers["gates"] is gates
