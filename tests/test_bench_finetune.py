"""medner bench-finetune on a tiny random BERT: both sides train the same model on the same sentences, and the
output names every figure (the timing itself is the benchmark's to measure, not a test's)."""

from __future__ import annotations

import json
import re

from medner.cli import main
from resources.tiny_bert import tiny_bert_folder


def test_bench_finetune_prints_both_sides_and_their_ratio(tmp_path, capsys):
    model = tiny_bert_folder(tmp_path / "bert", ["mg", "po", "daily", "tablet", "for", "the", "patient"], layers=1)
    out = tmp_path / "finetune.json"
    assert main(["bench-finetune", "--model", str(model), "--demo-size", "60", "--sentences", "24", "--epochs", "2",
                 "--batch-size", "8", "--device", "cpu", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"fine-tuning bert on demo: 24 sentences, \d+ words, batch 8, 2 epochs, 1 thread\(s\), cpu "
                     r"\(float32\)", printed)
    ours = re.search(r"ours \(medner.reference\) +s/epoch ([\d.]+) +epochs ([\d.]+), ([\d.]+) +parameters (\d+)", printed)
    theirs = re.search(r"Hugging Face Trainer +s/epoch ([\d.]+) +epochs ([\d.]+), ([\d.]+) +parameters (\d+)", printed)
    assert ours and theirs
    assert ours.group(4) == theirs.group(4)  # the same model: encoder without its pooler, and one linear map
    figures = json.loads(out.read_text())
    assert re.search(rf"ratio \(Trainer / ours\) +{figures['ratio']:.2f}x", printed)
    assert figures["ratio"] == figures["theirs_s_per_epoch"] / figures["ours_s_per_epoch"]
    assert figures["ours_s_per_epoch"] == figures["ours"]["seconds"][1]  # the epoch after the first
    assert len(figures["theirs"]["seconds"]) == 2 and figures["sentences"] == 24
