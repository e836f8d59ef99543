"""The flair comparison benchmark's bookkeeping (the benchmark itself runs for many minutes: `medner bench`)."""

from __future__ import annotations

import pytest

from medner.benchmark_flair import after_first, benchmark, format_figures
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


def test_figures_are_printed_with_ratio_and_gap():
    figures = {
        "epochs": 5, "seed": 1, "threads": 1, "speedup": 6.0, "f1_gap_points": 0.5,
        "seconds_per_epoch_after_first": {"ours": 2.0, "flair": 12.0},
        "total_seconds": {"ours": 60.0, "flair": 200.0},
        "test_strict_micro_f1": {"ours": 0.70, "flair": 0.705},
        "peak_rss_mb": {"ours": 900.0, "flair": 2000.0},
    }
    text = format_figures(figures)
    assert "ours 2.00  flair 12.00  ratio 6.0x" in text
    assert "gap +0.50 points" in text and "ours 900  flair 2000" in text
