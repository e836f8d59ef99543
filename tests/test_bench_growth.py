"""``medner bench-growth``: its arithmetic, its table, and one real run on tiny corpora (no timing is asserted:
the figures depend on the machine; the benchmark itself runs for many minutes at 1x 3x 10x)."""

from __future__ import annotations

import json
import math

import pytest

from medner.bench.growth import (PHEE_FALLBACK, demo_sentences_for, format_figures, growth_by_stage, growth_exponents,
                                 is_superlinear)
from medner.cli import main


def test_exponents_recover_the_power_of_a_power_law():
    tokens = [1000, 3000, 10_000]
    linear = growth_exponents(tokens, [2.0 * n for n in tokens])
    quadratic = growth_exponents(tokens, [n**2 / 1e6 for n in tokens])
    assert linear["pairs"] == pytest.approx([1.0, 1.0]) and linear["fit"] == pytest.approx(1.0)
    assert quadratic["pairs"] == pytest.approx([2.0, 2.0]) and quadratic["fit"] == pytest.approx(2.0)
    assert not is_superlinear(linear) and is_superlinear(quadratic)
    # Any pair above the threshold is a sign, wherever it is (fixed costs pull the small pairs below 1).
    assert is_superlinear({"pairs": [0.4, 1.3], "fit": 0.9})
    assert is_superlinear({"pairs": [1.16, 1.01], "fit": 1.08})
    assert not is_superlinear({"pairs": [1.1, 1.0], "fit": 1.05})


def test_exponents_leave_out_what_cannot_be_measured():
    growth = growth_exponents([100, 200, 400], [0.0, 1.0, 2.0])  # a step too quick for the clock
    assert growth["pairs"][0] is None and growth["pairs"][1] == pytest.approx(1.0)
    assert growth["fit"] == pytest.approx(1.0)
    assert growth_exponents([100], [1.0]) == {"pairs": [], "fit": None}


def test_corpora_are_sized_in_sentences_from_the_token_target():
    assert demo_sentences_for(PHEE_FALLBACK["tokens"], 9.35) == round(PHEE_FALLBACK["tokens"] / 9.35)
    assert demo_sentences_for(10, 9.35) == 20  # the generator's minimum


def _row(stage, scale, tokens, seconds, peak, cpu=None):
    return {"stage": stage, "scale": scale, "tokens": tokens, "seconds": seconds, "peak_rss_mb": peak,
            "cpu_seconds": seconds if cpu is None else cpu, "gc_cpu_seconds": 0.25, "imports_rss_mb": 100.0,
            "seconds_per_1k_tokens": 1000 * seconds / tokens}


def test_table_lists_every_stage_and_scale_and_flags_superlinear_growth():
    sizes = ((1, 10_000), (3, 30_000), (10, 100_000))
    rows = [_row("corpus report", s, n, n / 1e4, 100 + n / 1e3) for s, n in sizes]
    rows += [_row("2-epoch run", s, n, (n / 1e4) ** 1.5, 500.0) for s, n in sizes]
    # A step whose wall seconds grow too fast while its CPU seconds do not: the machine, not the code.
    rows += [_row("glove preparation", s, n, (n / 1e4) ** 1.5, 300.0, cpu=n / 1e4) for s, n in sizes]
    figures = {"measurements": rows, "scales": [1, 3, 10], "growth": growth_by_stage(rows), "superlinear_above": 1.15}
    lines = format_figures(figures).splitlines()
    assert lines[0].split() == ["stage", "scale", "tokens", "seconds", "CPU", "s", "GC", "CPU", "s", "peak", "MiB",
                                "s/1k", "tokens"]
    assert lines[1].split() == ["corpus", "report", "1x", "10,000", "1.00", "1.00", "0.25", "110", "0.1000"]
    assert [line.split()[2] for line in lines[1:10]] == ["1x", "3x", "10x"] * 3  # by stage, then scale
    growth = {stage: next(line for line in lines if line.startswith(stage) and "|" in line)
              for stage in ("corpus report", "2-epoch run", "glove preparation")}
    assert growth["corpus report"].split("|")[0].split()[2:] == ["1.00", "1.00", "1.00"]
    assert growth["corpus report"].split("|")[1].split() == ["1.00", "1.00", "1.00"]
    assert growth["corpus report"].split("|")[2].split()[0] == "1.00"  # memory above the imports, in tokens
    assert growth["corpus report"].endswith("linear or better")
    assert growth["2-epoch run"].split("|")[1].split() == ["1.50", "1.50", "1.50"]
    assert "SUPERLINEAR (k > 1.15)" in growth["2-epoch run"]
    assert growth["2-epoch run"].split("|")[2].split()[0] == "0.00"  # memory that stays
    assert "SUPERLINEAR" not in growth["glove preparation"] and "wall seconds grew faster" in growth["glove preparation"]


def test_bad_scales_are_a_one_line_error(medner_root, capsys):
    assert main(["bench-growth", "--scales", "1", "0", "--out", str(medner_root / "g.json")]) == 2
    assert "scales must be positive numbers" in capsys.readouterr().err


@pytest.mark.slow
def test_every_stage_runs_at_every_scale_in_its_own_process(medner_root, capsys):
    out = medner_root / "growth.json"
    assert main(["bench-growth", "--scales", "0.01", "0.02", "--epochs", "1", "--path", str(medner_root / "no-phee"),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    figures = json.loads(out.read_text(encoding="utf-8"))

    assert f"PHEE not found at {medner_root / 'no-phee'}" in printed  # sized from the documented count
    assert figures["reference"]["tokens"] == PHEE_FALLBACK["tokens"]
    stages = ["corpus report", "glove preparation", "1-epoch run"]
    for stage in stages:  # progress lines before and after every step
        assert f"0.01x: {stage} ..." in printed and f"0.02x: {stage}: " in printed
    assert "    epoch   1  loss" in printed  # the step's own lines, indented

    rows = figures["measurements"]
    assert sorted((row["stage"], row["scale"]) for row in rows) == sorted((s, x) for s in stages for x in (0.01, 0.02))
    tokens = {row["scale"]: row["tokens"] for row in rows}
    assert len({(row["scale"], row["tokens"]) for row in rows}) == 2 and tokens[0.01] < tokens[0.02]
    for corpus in figures["corpora"]:  # about the asked share of PHEE's tokens
        assert 0.8 < corpus["tokens"] / (corpus["scale"] * PHEE_FALLBACK["tokens"]) < 1.25
    for row in rows:
        assert row["seconds"] > 0 and row["cpu_seconds"] > 0 and row["process_seconds"] >= row["seconds"]
        assert row["peak_rss_mb"] >= row["imports_rss_mb"] > 0
        assert row["seconds_per_1k_tokens"] == pytest.approx(1000 * row["seconds"] / row["tokens"])
    run = [row for row in rows if row["stage"] == "1-epoch run"]
    assert all(set(row["parts"]) == set(row["cpu_parts"]) == {"begin", "prepare", "train", "predict", "score", "write"}
               for row in run)
    assert all(0 <= row["gc_cpu_seconds"] <= row["cpu_seconds"] and row["gc_full_collections"] >= 0 for row in rows)
    assert all(row["details"]["epochs"] == 1 and 0.0 <= row["details"]["test_strict_micro_f1"] <= 1.0 for row in run)
    glove = [row for row in rows if row["stage"] == "glove preparation"]
    assert all(row["details"]["vocabulary"] > 0 and "build embedder (GloVe training)" in row["parts"] for row in glove)

    assert list(figures["growth"]) == stages
    for growth in figures["growth"].values():
        assert len(growth["seconds"]["pairs"]) == 1 and math.isfinite(growth["seconds"]["fit"])
        assert len(growth["cpu_seconds"]["pairs"]) == 1 and math.isfinite(growth["cpu_seconds"]["fit"])
        assert isinstance(growth["superlinear"], bool) and isinstance(growth["wall_superlinear"], bool)
    table = printed[printed.index("stage               scale"):]
    assert all(f"{stage}" in table for stage in stages) and f"wrote {out}" in table
    assert not (medner_root / "results").exists()  # the steps wrote into their own temporary roots
