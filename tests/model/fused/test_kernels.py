"""Choosing, building and falling back from the compiled LSTM time loops (medner.model.fused.kernels)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from medner.model.fused import kernels
from medner.model.fused.lstm import run_bilstm


@pytest.fixture
def fresh_state(monkeypatch):
    """A process that has not tried to build the kernels yet, with a build that fails."""
    monkeypatch.setattr(kernels, "_state", {})

    def failing_build():
        raise RuntimeError("Error building extension 'medner_kernels':\nc++: command not found")

    monkeypatch.setattr(kernels, "_build", failing_build)


def test_an_unknown_choice_names_the_variable(monkeypatch):
    monkeypatch.setenv("MEDNER_KERNELS", "fast")
    with pytest.raises(ValueError, match="MEDNER_KERNELS must be one of auto, compiled, torch, got 'fast'"):
        kernels.available()


def test_auto_falls_back_to_the_pytorch_loops_with_one_warning(monkeypatch, fresh_state, caplog):
    monkeypatch.setenv("MEDNER_KERNELS", "auto")
    with caplog.at_level(logging.WARNING, logger="medner.model.fused.kernels"):
        assert kernels.in_use() == "torch"
        assert kernels.in_use() == "torch"  # tried once, warned once
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "c++: command not found" in warnings[0] and "PyTorch loops" in warnings[0]
    lstm = torch.nn.LSTM(3, 2, bidirectional=True, batch_first=True)
    x = torch.randn(2, 4, 3)
    packed = pack_padded_sequence(x, torch.tensor([4, 2]), batch_first=True)
    torch.testing.assert_close(run_bilstm(lstm, packed, fused=True).data, lstm(packed)[0].data)


def test_compiled_is_required_when_asked_for(monkeypatch, fresh_state):
    monkeypatch.setenv("MEDNER_KERNELS", "compiled")
    with pytest.raises(RuntimeError, match="MEDNER_KERNELS=compiled, but the kernels did not build: "
                                           "RuntimeError: c\\+\\+: command not found"):
        kernels.available()


def test_a_failed_openmp_build_is_retried_single_threaded_with_a_warning(monkeypatch, caplog):
    tried = []

    def build_with(flags):
        tried.append(list(flags))
        if "-fopenmp" in flags:
            raise RuntimeError("Error building extension:\nc++: error: unsupported option '-fopenmp'")

    monkeypatch.setattr(kernels, "compile_flags", lambda: kernels.COMPILE_FLAGS + ["-fopenmp"])
    monkeypatch.setattr(kernels, "_build_with", build_with)
    with caplog.at_level(logging.WARNING, logger="medner.model.fused.kernels"):
        kernels._build()
    assert tried == [kernels.COMPILE_FLAGS + ["-fopenmp"], kernels.COMPILE_FLAGS]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unsupported option '-fopenmp'" in warnings[0] and "one thread" in warnings[0]


def test_a_failed_build_without_openmp_is_not_retried(monkeypatch):
    tried = []

    def build_with(flags):
        tried.append(list(flags))
        raise RuntimeError("c++: command not found")

    monkeypatch.setattr(kernels, "compile_flags", lambda: list(kernels.COMPILE_FLAGS))
    monkeypatch.setattr(kernels, "_build_with", build_with)
    with pytest.raises(RuntimeError, match="command not found"):
        kernels._build()
    assert tried == [kernels.COMPILE_FLAGS]


def test_torch_never_builds(monkeypatch, fresh_state):
    monkeypatch.setenv("MEDNER_KERNELS", "torch")
    assert kernels.in_use() == "torch" and kernels._state == {}


def test_loading_the_kernels_leaves_subnormal_arithmetic_alone(compiled_kernels):
    """Fast-math code generation must not switch the process to flush-to-zero (crtfastmath)."""
    tiny = np.float32(1e-39)
    assert tiny / np.float32(10) != 0
    assert (torch.tensor([1e-39]) / 10).item() != 0


def test_the_kernels_parallel_loops_use_the_threads_torch_is_given(compiled_kernels, threads):
    """Built without OpenMP, at::parallel_for in the kernels would silently run on one thread."""
    if "-fopenmp" not in kernels.compile_flags():
        pytest.skip("torch does not run its threads with OpenMP here: the kernels are built single-threaded")
    threads(1)
    assert torch.ops.medner.parallel_threads(4) == 1
    threads(2)
    assert torch.ops.medner.parallel_threads(4) == 2
    assert torch.ops.medner.parallel_threads(1) == 1


def packed_kernels_or_skip(precision):
    """Skip unless this CPU has the packed products at ``precision`` (with the compiled kernels in use)."""
    if not kernels.packed_products(precision):
        pytest.skip(f"this CPU has no AVX-512{'-BF16' if precision == 'bfloat16' else ''}: the {precision} step "
                    "products run through at::bmm")


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
@pytest.mark.parametrize("rows", [1, 5, 6, 7, 13, 32])
@pytest.mark.parametrize("transposed", [False, True])
def test_packed_products_are_float32_sums(compiled_kernels, precision, rows, transposed):
    """Every tile height (6 rows, and the 1-5 left over) and weights in either layout, as the time loops use them."""
    packed_kernels_or_skip(precision)
    dtype = DTYPES[precision]
    generator = torch.Generator().manual_seed(rows)
    a = torch.randn(rows, 96, generator=generator).to(dtype)
    b = torch.randn(128, 96, generator=generator).to(dtype).t() if transposed else \
        torch.randn(96, 128, generator=generator).to(dtype)
    got = torch.ops.medner.packed_matmul(a, torch.ops.medner.pack_weights(b), 128)
    expected = a.double() @ b.double()  # sums of 96 exact products
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), expected, rtol=0, atol=1e-4)
    if precision == "bfloat16":
        # not rounded to bfloat16 on the way out (8 significant bits would be off by far more than 1e-4)
        assert (got.double() - expected).abs().max() < (got.bfloat16().double() - expected).abs().max()


def test_packed_products_refuse_shapes_they_do_not_cover(compiled_kernels):
    packed_kernels_or_skip("bfloat16")
    assert torch.ops.medner.packed_products(256, "bfloat16") and not torch.ops.medner.packed_products(48, "float32")
    with pytest.raises(RuntimeError, match="n a multiple of 64"):
        torch.ops.medner.pack_weights(torch.ones(4, 48).bfloat16())
    with pytest.raises(RuntimeError, match="k even in bfloat16"):
        torch.ops.medner.pack_weights(torch.ones(3, 64).bfloat16())
    assert torch.ops.medner.pack_weights(torch.ones(3, 64)).numel() == 3 * 64  # float32 takes any k


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_layers_with_packed_products_are_the_same_on_one_and_two_threads(compiled_kernels, threads, precision):
    """Each direction's step products sum in the same order whatever the thread: identical, not just close."""
    packed_kernels_or_skip(precision)
    torch.manual_seed(2)
    lstm = torch.nn.LSTM(16, 64, bidirectional=True, batch_first=True)
    lengths = torch.tensor([9, 2, 13, 9, 1, 7, 11])
    x = torch.randn(len(lengths), 13, 16, requires_grad=True)
    results = []
    for count in (1, 2):
        threads(count)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out = run_bilstm(lstm, packed, fused=True, precision=precision).data
        weights = torch.linspace(-1, 1, out.numel()).view_as(out)
        results.append((out.detach(), torch.autograd.grad((out * weights).sum(), [x, *lstm.parameters()])))
    (out_1, grads_1), (out_2, grads_2) = results
    assert torch.equal(out_1, out_2)
    for got, expected in zip(grads_2, grads_1):
        assert torch.equal(got, expected)


def _lstm_outputs(lstm, x, fused):
    packed = pack_padded_sequence(x, torch.tensor([5, 3]), batch_first=True)
    return run_bilstm(lstm, packed, fused=fused).data if fused else lstm(packed)[0].data


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_and_infinity_come_out_of_the_kernels_as_out_of_pytorch(compiled_kernels, dtype, bad):
    """The compiled loops keep IEEE arithmetic: a NaN or an infinity in the input gives NaN and infinity exactly
    where nn.LSTM and torch.logsumexp give them (sigmoid(inf) = 1, tanh(-inf) = -1, log-sum-exp of inf = inf),
    and the same values elsewhere. A build that assumes finite numbers (-ffast-math) fails this."""
    from medner.model.crf import LinearChainCRF

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(4, 64, bidirectional=True, batch_first=True).to(dtype)
    x = torch.randn(2, 5, 4, dtype=dtype)
    x[0, 2, 1] = bad
    with torch.no_grad():
        got, expected = _lstm_outputs(lstm, x, fused=True), _lstm_outputs(lstm, x, fused=False)
    assert torch.equal(got.isnan(), expected.isnan()) and torch.equal(got.isinf(), expected.isinf())
    finite = expected.isfinite()
    torch.testing.assert_close(got[finite], expected[finite], rtol=1e-5, atol=1e-5)

    crf = LinearChainCRF(5).to(dtype)
    emissions = torch.randn(3, 4, 5, dtype=dtype)
    emissions[0, 1, 2] = bad
    emissions[1, :, :] = bad  # every path of a sentence non-finite
    mask = torch.ones(3, 4, dtype=torch.bool)
    log_z = crf.log_partition(emissions, mask)
    crf.implementation = "nn.LSTM"  # the CRF as written: torch.logsumexp
    reference = crf.log_partition(emissions, mask)
    assert torch.equal(log_z.isnan(), reference.isnan()) and torch.equal(log_z.isinf(), reference.isinf())
    assert torch.equal(log_z[log_z.isinf()], reference[reference.isinf()])
    torch.testing.assert_close(log_z[reference.isfinite()], reference[reference.isfinite()])


def test_the_activations_call_glibcs_vector_maths_where_it_has_them(compiled_kernels):
    """exp and tanh vectorise through libmvec without -ffast-math (kernels.cpp declares them ``simd``): on x86-64
    with glibc 2.35 or later the library calls their vector variants (``_ZGV...expf``), else the scalar ones."""
    import platform

    glibc = platform.libc_ver()
    if platform.machine() != "x86_64" or glibc[0] != "glibc" or tuple(map(int, glibc[1].split(".")[:2])) < (2, 35):
        pytest.skip(f"no glibc vector maths to call here ({platform.machine()}, {glibc})")
    assert "-ffast-math" not in kernels.compile_flags()
    library = kernels.library_path().read_bytes()
    assert b"_ZGV" in library and b"v_expf" in library and b"v_tanhf" in library
