"""The flair comparison benchmark's bookkeeping (the benchmark itself runs for many minutes: `medner bench`)."""

from __future__ import annotations

import pytest

from medner.bench.training import after_first, benchmark, format_figures
from medner.cli import main


def test_seconds_per_epoch_leave_out_the_first():
    assert after_first([30.0, 2.0, 4.0]) == 3.0
    assert after_first([5.0]) == 5.0


def test_bad_arguments_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="has no train/ folder"):
        benchmark(tmp_path, epochs=3)
    (tmp_path / "train").mkdir()
    with pytest.raises(ValueError, match="epochs must be at least 2"):
        benchmark(tmp_path, epochs=1)
    assert main(["bench", "--path", str(tmp_path / "nowhere")]) == 2
    assert "has no train/ folder" in capsys.readouterr().err


def test_figures_are_printed_with_ratio_and_gap_for_every_precision():
    figures = {
        "epochs": 5, "seed": 1, "threads": 1,
        "seconds_per_epoch_after_first": {"ours": 4.0, "flair": 12.0},
        "total_seconds": {"ours": 60.0, "flair": 200.0},
        "test_strict_micro_f1": {"ours": 0.70, "flair": 0.705},
        "peak_rss_mb": {"ours": 900.0, "flair": 2000.0},
        "by_precision": {
            "float32": {"seconds_per_epoch_after_first": 4.0, "speedup": 3.0, "total_seconds": 60.0,
                        "test_strict_micro_f1": 0.70, "f1_gap_points": 0.5, "peak_rss_mb": 900.0,
                        "kernels": "compiled"},
            "bfloat16": {"seconds_per_epoch_after_first": 2.0, "speedup": 6.0, "total_seconds": 50.0,
                         "test_strict_micro_f1": 0.69, "f1_gap_points": 1.5, "peak_rss_mb": 950.0,
                         "matmul_floor_seconds": 1.6, "speedup_at_matmul_floor": 7.5, "kernels": "compiled"},
        },
    }
    lines = format_figures(figures).splitlines()
    assert lines[0] == ("PHEE, bert (MiniLM), 5 epochs, seed 1, 1 torch thread(s), "
                        "our LSTM and CRF loops: compiled (MEDNER_KERNELS)")
    float32 = next(line for line in lines if line.startswith("ours float32")).split()
    assert float32[2:] == ["4.00", "3.0x", "60.0", "0.7000", "+0.50", "900"]
    bfloat16 = next(line for line in lines if line.startswith("ours bfloat16")).split()
    assert bfloat16[2:] == ["2.00", "6.0x", "50.0", "0.6900", "+1.50", "950"]
    assert next(line for line in lines if line.startswith("flair")).split()[1:] == ["12.00", "200.0", "0.7050", "2000"]
    floor = [line.split() for line in lines if line.startswith("  bfloat16")]
    assert floor == [["bfloat16", "1.60", "s/epoch", "->", "at", "most", "7.5x", "over", "flair;", "ours", "spends",
                      "1.2x", "that"]]
    assert not any(line.startswith("  float32") for line in lines)  # no floor measured for it here


def test_matmul_floor_counts_an_epochs_products_and_times_them():
    from medner.bench.training import matmul_floor

    small = matmul_floor(1000, 0, embedding_dim=16, hidden=8, repeats=2)
    # (3 x input projection + W_hh gradient + 2 recurrent + 2 re-projection) multiply-adds per token, x 2 x 2.
    per_token = 3 * (2 * 2 * 16 * 32) + 2 * 2 * 8 * 32 + 2 * (2 * 2 * 8 * 32) + 2 * (2 * 16 * 16)
    assert small["train_gflop"] == pytest.approx(1000 * per_token / 1e9)
    assert small["dev_gflop"] == 0.0
    assert small["seconds"] > 0 and all(small[k] > 0 for k in ("gflops_input", "gflops_step", "gflops_reproject"))
    # Twice the tokens at the same measured rates: twice the seconds.
    rates = {k: v for k, v in small.items() if k.startswith("gflops_")}
    assert small["seconds"] == pytest.approx(
        sum(1000 * n / (rates[f"gflops_{k}"] * 1e9) for k, n in
            {"input": 3 * (2 * 2 * 16 * 32) + 2 * 2 * 8 * 32, "step": 2 * (2 * 2 * 8 * 32), "reproject": 2 * (2 * 16 * 16)}.items())
    )
    with pytest.raises(ValueError, match="precision must be one of"):
        matmul_floor(10, 10, embedding_dim=4, precision="float16")


def test_matmul_floor_times_the_step_products_the_epoch_runs():
    """On a CPU with AVX-512 the time loops use the kernels' packed products, so the floor does."""
    from medner.bench.training import matmul_floor
    from medner.model.fused import kernels

    for precision in ("float32", "bfloat16"):
        floor = matmul_floor(1000, 0, embedding_dim=16, hidden=64, precision=precision, repeats=2)
        assert floor["step_products"] == ("packed" if kernels.packed_products(precision) else "torch.bmm")
        assert floor["gflops_step"] > 0
    # a hidden size the packed products do not cover
    assert matmul_floor(1000, 0, embedding_dim=16, hidden=8, repeats=2)["step_products"] == "torch.bmm"


def test_unknown_precisions_are_refused(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(ValueError, match="precisions must be some of float32, bfloat16, got float16"):
        benchmark(tmp_path, epochs=3, precisions=("float16",))
