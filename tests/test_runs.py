"""Run folders: a tiny real run end to end, the metrics schema, atomic finish, no-op re-runs, nested fractions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from medner.runs import (METRICS_SCHEMA, execute_run, load_runs, run_dir, tag_dictionary, training_subset,
                         validate_metrics)


@pytest.fixture
def tiny_static_spec(tmp_path):
    """A static-vector spec over a small GloVe-format file: every word of the demo corpus falls back to <unk>-like zeros
    except a few, which is enough to exercise the whole path quickly."""
    rng = np.random.default_rng(0)
    words = ["mg", "PO", "BID", "daily", "tablet", "for", "of", "the", "IV", "q6h", "prn", "and", "1", "2", "5", "10"]
    vectors = tmp_path / "tiny.txt"
    vectors.write_text("".join(f"{w} " + " ".join(f"{x:.4f}" for x in rng.standard_normal(8)) + "\n" for w in words))
    spec = tmp_path / "tinyvec.yaml"
    spec.write_text(f"family: static\nsource: {vectors}\noptions:\n  format: glove\n  unknown: zeros\n")
    return spec


@pytest.mark.slow
def test_a_demo_run_writes_a_complete_folder_and_reruns_are_no_ops(medner_root, tiny_static_spec, capsys):
    results = medner_root / "results"
    metrics = execute_run("demo", str(tiny_static_spec), 3, demo_size=120, results_root=results, max_epochs=2,
                          progress="lines", hidden_size=16)
    folder = run_dir(results, "demo", "tinyvec", 3)
    assert folder == results / "demo" / "tinyvec" / "seed-3"
    validate_metrics(metrics)
    assert metrics["run"] == {**metrics["run"], "corpus": "demo", "embedding": "tinyvec", "seed": 3, "fraction": 1.0}
    assert metrics["config"]["model"]["hidden_size"] == 16
    from medner.model import kernels

    assert metrics["config"]["training"]["kernels"] == kernels.in_use()  # which LSTM time loops ran
    # hidden size 16: not a multiple of 64, so never the packed step products
    assert metrics["config"]["training"]["step_products"] == "bmm"
    assert metrics["cost"]["epochs"] == 2 and metrics["best_epoch"] in (1, 2)
    # The stored test scores are what the span scorer gives on the written predictions.
    from medner.corpus.registry import load_corpus
    from medner.evaluation.span import score_folders

    gold_dir = load_corpus("demo", demo_size=120).source + "/test"
    rescored = score_folders(gold_dir, folder / "predictions" / "brat", labels=metrics["corpus"]["labels"])
    assert rescored["strict"]["micro"] == metrics["scores"]["test"]["strict"]["micro"]
    # Every test document has its text and predictions; CoNLL and history are there.
    assert len(list((folder / "predictions" / "brat").glob("*.ann"))) == metrics["corpus"]["splits"]["test"]["documents"]
    assert len(list((folder / "predictions" / "brat").glob("*.txt"))) == metrics["corpus"]["splits"]["test"]["documents"]
    assert (folder / "predictions" / "test.conll").stat().st_size > 0
    history = (folder / "history.csv").read_text().splitlines()
    assert history[0] == "epoch,train_loss,dev_f1,learning_rate,seconds" and len(history) == 3
    import torch

    checkpoint = torch.load(folder / "model.pt", weights_only=False)
    assert checkpoint["tags"] == metrics["config"]["tags"] and checkpoint["config"]["hidden_size"] == 16
    assert json.loads((folder / "metrics.json").read_text()) == metrics
    assert load_runs(results, "demo") == [metrics]

    # A second call reads the finished run back without training.
    capsys.readouterr()
    again = execute_run("demo", str(tiny_static_spec), 3, demo_size=120, results_root=results, max_epochs=2, progress="lines")
    assert again == metrics
    assert "not training again" in capsys.readouterr().out
    # Asking for other model settings than the finished run's is an error, not a silent read-back.
    with pytest.raises(ValueError, match=r"metrics.json: the finished run was trained with hidden_size=16, not 32"):
        execute_run("demo", str(tiny_static_spec), 3, demo_size=120, results_root=results, max_epochs=2,
                    progress="none", hidden_size=32)
    # Forcing retrains with the same seed: the same scores.
    forced = execute_run("demo", str(tiny_static_spec), 3, demo_size=120, results_root=results, max_epochs=2,
                         progress="none", force=True, hidden_size=16)
    assert forced["scores"] == metrics["scores"]
    assert forced["run"]["finished"] >= metrics["run"]["finished"]


def test_an_interrupted_run_does_not_look_finished(medner_root, tiny_static_spec, monkeypatch):
    import medner.runs as runs

    def crash(*args, **kwargs):
        raise RuntimeError("interrupted")

    monkeypatch.setattr("medner.training.train_tagger", crash)
    with pytest.raises(RuntimeError, match="interrupted"):
        runs.execute_run("demo", str(tiny_static_spec), 1, demo_size=60, results_root=medner_root / "r", max_epochs=1,
                         progress="none")
    folder = run_dir(medner_root / "r", "demo", "tinyvec", 1)
    assert folder.is_dir() and not (folder / "metrics.json").exists()
    assert load_runs(medner_root / "r", "demo") == []


def test_run_dir_layout():
    assert run_dir("/r", "phee", "bert", 2).as_posix() == "/r/phee/bert/seed-2"
    assert run_dir("/r", "phee", "bert", 2, 0.25).as_posix() == "/r/phee/bert/seed-2/frac-0.25"
    assert run_dir("/r", "phee", "bert", 2, 1).as_posix() == "/r/phee/bert/seed-2"


def test_training_subsets_are_nested_across_fractions_and_seeded():
    ids = [f"doc{i:03d}" for i in range(97)]
    previous: set[str] = set()
    for fraction in (0.1, 0.25, 0.5, 0.75, 1.0):
        subset = training_subset(ids, fraction, seed=4)
        assert len(subset) == math.ceil(fraction * 97)
        assert previous <= set(subset)
        previous = set(subset)
    assert previous == set(ids)
    assert training_subset(list(reversed(ids)), 0.25, seed=4) == training_subset(ids, 0.25, seed=4)
    assert training_subset(ids, 0.25, seed=5) != training_subset(ids, 0.25, seed=4)
    with pytest.raises(ValueError, match="fraction must be in"):
        training_subset(ids, 0.0, seed=1)


def test_tag_dictionary():
    assert tag_dictionary(["Drug", "Route"]) == ["O", "B-Drug", "I-Drug", "B-Route", "I-Route"]
    assert len(tag_dictionary(["Drug"], "BIOES")) == 5
    with pytest.raises(ValueError, match="BIO or BIOES"):
        tag_dictionary(["Drug"], "IO")


def test_validate_metrics_names_what_is_missing_or_wrong():
    def skeleton(schema):
        out = {}
        for key, rule in schema.items():
            if isinstance(rule, dict):
                out[key] = skeleton(rule)
            else:
                out[key] = {int: 1, float: 1.0, str: "x", bool: True, dict: {}, list: []}[rule[0]]
        return out

    metrics = skeleton(METRICS_SCHEMA)
    metrics["scores"] = {"test": {"strict": {"micro": {}}}, "dev": {"strict": {"micro": {}}}}
    validate_metrics(metrics)
    del metrics["cost"]["peak_rss_mb"]
    with pytest.raises(ValueError, match=r"metrics\.cost\.peak_rss_mb: missing"):
        validate_metrics(metrics)
    metrics["cost"]["peak_rss_mb"] = 1.0
    metrics["run"]["seed"] = "3"
    with pytest.raises(ValueError, match=r"metrics\.run\.seed: expected int, found str"):
        validate_metrics(metrics)
