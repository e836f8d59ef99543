"""Runs: a tiny real run end to end through its stages, the metrics schema, atomic finish, no-op re-runs,
nested fractions, and the stand-alone predict stage."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from medner.run_folder import METRICS_SCHEMA, RunFolder, find_runs, validate_metrics
from medner.runs import RunSettings, execute_run, tag_dictionary, training_subset


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
    folder = RunFolder.of(results, "demo", str(tiny_static_spec), 3).path
    assert folder == results / "demo" / "tinyvec" / "seed-3"
    validate_metrics(metrics)
    assert metrics["run"] == {**metrics["run"], "corpus": "demo", "embedding": "tinyvec", "seed": 3, "fraction": 1.0}
    assert metrics["config"]["model"]["hidden_size"] == 16
    from medner.model.fused import kernels

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

    checkpoint = RunFolder(folder).load_checkpoint()  # weights_only: tensors and plain data
    assert checkpoint["tags"] == metrics["config"]["tags"] and checkpoint["config"]["hidden_size"] == 16
    assert checkpoint["compute"] == {"implementation": "fused", "precision": "float32"}
    assert metrics["config"]["training"]["implementation"] == "fused"
    assert metrics["config"]["training"]["precision"] == "float32"
    assert json.loads((folder / "metrics.json").read_text()) == metrics
    assert find_runs(results, "demo") == [RunFolder(folder)]

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
    folder = RunFolder.of(medner_root / "r", "demo", "tinyvec", 1).path
    assert folder.is_dir() and not (folder / "metrics.json").exists()
    assert find_runs(medner_root / "r", "demo") == []


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
                kind = rule[0][0] if isinstance(rule[0], tuple) else rule[0]
                out[key] = {int: 1, float: 1.0, str: "x", bool: True, dict: {}, list: []}[kind]
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


class Gadget:
    """Any object pickled by reference: loading it means importing and running this module's code."""


def test_settings_refuse_what_no_run_can_have():
    for bad, message in [({"seed": -1}, r"seed: expected an integer >= 0; given -1"),
                         ({"seed": True}, r"seed: expected an integer >= 0"),
                         ({"fraction": 0.0}, r"fraction: expected a number in \(0, 1\]; given 0.0"),
                         ({"max_epochs": 0}, r"max_epochs: expected an integer >= 1; given 0"),
                         ({"num_threads": 0}, r"num_threads: expected an integer >= 1 or None"),
                         ({"implementation": "cudnn"}, r"implementation must be one of fused, nn.LSTM"),
                         ({"implementation": "nn.LSTM", "precision": "bfloat16"}, r"needs implementation='fused'"),
                         ({"tag_scheme": "IO"}, r"tag scheme must be BIO or BIOES")]:
        arguments = {"seed": 1, **bad}
        with pytest.raises(ValueError, match=message):
            RunSettings("demo", "glove", **arguments)


@pytest.mark.slow
def test_the_predict_stage_tags_new_texts_as_the_run_did(medner_root, tiny_static_spec, tmp_path, capsys):
    """``medner predict`` on the texts of the test documents writes the .ann files the run itself wrote:
    the same tokeniser, embedding and weights (loaded with weights_only)."""
    from medner.cli import main

    results = medner_root / "results"
    execute_run("demo", str(tiny_static_spec), 2, demo_size=120, results_root=results, max_epochs=2,
                progress="none", hidden_size=16)
    folder = RunFolder.of(results, "demo", str(tiny_static_spec), 2)
    texts = tmp_path / "texts"
    texts.mkdir()
    for text in folder.predictions_dir.glob("*.txt"):
        (texts / text.name).write_bytes(text.read_bytes())
    out = tmp_path / "tagged"
    assert main(["predict", str(folder.path), str(texts), "--out", str(out)]) == 0
    assert "documents tagged" in capsys.readouterr().out
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(p.name for p in folder.predictions_dir.iterdir())
    for name in written:
        assert (out / name).read_bytes() == (folder.predictions_dir / name).read_bytes(), name
    # An existing output is never overwritten; a checkpoint that would need code to load is refused.
    assert main(["predict", str(folder.path), str(texts), "--out", str(out)]) == 2
    assert "expected a new or empty folder" in capsys.readouterr().err
    import torch

    torch.save({"state_dict": {}, "gadget": Gadget()}, folder.checkpoint_path)
    with pytest.raises(ValueError, match=r"model.pt: expected a medner checkpoint of tensors and plain data"):
        folder.load_checkpoint()


def test_run_folders_carry_the_spec_name_and_the_shortest_fraction(tmp_path):
    spec = tmp_path / "some" / "where" / "my.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text("family: bert\nsource: minilm\n")
    assert RunFolder.of("/r", "phee", "bert", 2).path.as_posix() == "/r/phee/bert/seed-2"
    assert RunFolder.of("/r", "phee", "bert", 2, 0.25).path.as_posix() == "/r/phee/bert/seed-2/frac-0.25"
    assert RunFolder.of("/r", "phee", "bert", 2, 1).path.as_posix() == "/r/phee/bert/seed-2"
    assert RunFolder.of("/r", "demo", str(spec), 1, 0.50).path.as_posix() == "/r/demo/my/seed-1/frac-0.5"
    with pytest.raises(ValueError, match="seed: expected an integer >= 0; given -1"):
        RunFolder.of("/r", "demo", "glove", -1)
    with pytest.raises(FileNotFoundError, match="no embedding spec"):
        RunFolder.of("/r", "demo", str(tmp_path / "missing.yaml"), 1)


HOSTILE = "<img src=x onerror=\"alert('x')\"> 'quoted' & ..."  # markup, quotes and dots, but no path separator


@pytest.mark.parametrize(("corpus", "embedding", "refused"), [
    ("../escape", "glove", "corpus name"), ("a/b", "glove", "corpus name"), ("/etc", "glove", "corpus name"),
    ("..", "glove", "corpus name"), (".", "glove", "corpus name"), ("", "glove", "corpus name"),
    ("demo", "../../escape", "embedding name"), ("demo", "/tmp/escape", "embedding name"),
    ("demo", "a\\b", "embedding name"),
])
def test_run_folder_names_cannot_leave_the_results_folder(tmp_path, corpus, embedding, refused):
    with pytest.raises(ValueError, match=f"^{refused}: expected a name that can be one folder or file name "
                                         r"\(not empty, '\.' or '\.\.', no '/' or '\\'\); given "):
        RunFolder.of(tmp_path, corpus, embedding, 1)
    assert not list(tmp_path.iterdir())


def test_hostile_names_and_document_ids_stay_data_inside_the_run_folder(tmp_path):
    from medner.corpus.brat import read_brat_folder
    from medner.corpus.document import Document

    spec = tmp_path / "...yaml"  # a spec file whose name would be ".."
    spec.write_text("family: bert\nsource: minilm\n")
    with pytest.raises(ValueError, match="^embedding name: expected a name"):
        RunFolder.of(tmp_path / "results", "demo", str(spec), 1)
    with pytest.raises(ValueError, match="^corpus name: expected a name"):
        find_runs(tmp_path / "results", "../..")
    folder = RunFolder.of(tmp_path / "results", HOSTILE, HOSTILE, 1)
    assert folder.path == tmp_path / "results" / HOSTILE / HOSTILE / "seed-1"
    escaping = Document("../../../escaped", "text", [])
    with pytest.raises(ValueError, match=r"^document id: expected a name .*; given '\.\./\.\./\.\./escaped'"):
        folder.write_predictions([escaping], [])
    folder.write_predictions([Document(HOSTILE, "text <b>", [])], [])
    assert [doc.id for doc in read_brat_folder(folder.predictions_dir)] == [HOSTILE]
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert all(p.parts[0] == "results" for p in written if p.name != "...yaml")


def test_the_makefile_gets_its_run_folders_from_the_library(tmp_path, capsys):
    from medner.cli import main

    assert main(["runs", "folders", "demo", "--results", str(tmp_path), "--embeddings", "glove", "bert",
                 "--seeds", "1", "--fractions", "0.50", "1", "--make"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"run_dir.glove.1.0.50.0 := {tmp_path}/demo/glove/seed-1/frac-0.5",
                     f"run_dir.glove.1.1.0 := {tmp_path}/demo/glove/seed-1",
                     f"run_dir.bert.1.0.50.0 := {tmp_path}/demo/bert/seed-1/frac-0.5",
                     f"run_dir.bert.1.1.0 := {tmp_path}/demo/bert/seed-1"]
    assert main(["runs", "folders", "demo", "--results", str(tmp_path), "--embeddings", "glove", "--seeds", "2",
                 "--folds", "3", "--make"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"run_dir.glove.2.1.0.{i} := {tmp_path}/demo/glove/seed-2/fold-{i}-of-3" for i in (1, 2, 3)]
    assert main(["runs", "folders", "demo", "--results", str(tmp_path), "--embeddings", "glove", "--seeds", "-1"]) == 2
    assert "seed: expected an integer >= 0; given -1" in capsys.readouterr().err


def test_reading_a_run_folder_names_what_is_wrong(tmp_path):
    folder = RunFolder(tmp_path / "run")
    with pytest.raises(FileNotFoundError, match=r"run/metrics.json: expected a finished run"):
        folder.read_metrics()
    folder.path.mkdir()
    folder.metrics_path.write_text("{\n  \"run\": ")
    with pytest.raises(ValueError, match=r"metrics.json: line 2: expected JSON"):
        folder.read_metrics()
    folder.metrics_path.write_text(json.dumps({"run": {}, "scores": {}}))
    with pytest.raises(ValueError, match="expected top-level keys run, scores, cost; missing cost"):
        folder.read_metrics()
    folder.metrics_path.write_text(json.dumps({"schema_version": 9, "run": {}, "scores": {}, "cost": {}}))
    with pytest.raises(ValueError, match="schema_version 9; this medner reads 1, 2"):
        folder.read_metrics()
    folder.history_path.write_text("epoch,train_loss,dev_f1,learning_rate,seconds\n1,0.5,x,0.1,2\n")
    with pytest.raises(ValueError, match=r"history.csv: line 2: expected a number in column dev_f1, found 'x'"):
        folder.read_history()


@pytest.mark.slow
def test_cross_validated_runs_test_every_document_once_and_the_comparison_pools_them(medner_root, tiny_static_spec):
    """Three folds of one embedding and seed: each in its own folder, each testing its fold; the comparison pools
    them into one run whose scores are those of every document of the corpus against the folds' predictions."""
    from medner.comparison.selection import load_runs
    from medner.comparison.study import compute_comparison
    from medner.corpus.registry import load_corpus
    from medner.evaluation.span import score_documents

    results = medner_root / "results"
    for fold in (1, 2, 3):
        metrics = execute_run("demo", str(tiny_static_spec), 4, demo_size=120, results_root=results, max_epochs=1,
                              progress="none", hidden_size=16, folds=3, fold=fold)
        assert (metrics["run"]["fold"], metrics["run"]["folds"]) == (fold, 3)
        assert metrics["corpus"]["split_record"]["method"] == "k-fold"
        assert RunFolder.of(results, "demo", "tinyvec", 4, fold=fold, folds=3).path == \
            results / "demo" / "tinyvec" / "seed-4" / f"fold-{fold}-of-3"
    corpus = load_corpus("demo", demo_size=120)
    documents = corpus.documents()
    with pytest.raises(FileNotFoundError, match="no finished run on the corpus's own split"):
        load_runs(results, "demo")  # the folds are compared only when asked for: never mixed with split runs
    [run] = load_runs(results, "demo", folds=3)
    assert run.folds == 3 and [m.fold for m in run.members] == [1, 2, 3]
    predictions = run.folder.read_predictions(documents)
    assert sorted(d.id for d in predictions) == sorted(d.id for d in documents)  # each document once
    expected = score_documents(documents, predictions, labels=list(corpus.labels))
    for mode in ("strict", "lenient"):
        assert {k: run.metrics["scores"]["test"][mode]["micro"][k] for k in ("tp", "fp", "fn")} == \
            {k: expected[mode]["micro"][k] for k in ("tp", "fp", "fn")}
    data = compute_comparison(results, "demo", corpus.splits["test"], gold_all_docs=documents, folds=3, n_boot=20,
                              n_shuffles=20, progress=False)
    assert data["evaluation"] == {"kind": "k-fold", "folds": 3, "stratified": True, "documents": len(documents),
                                  "assignment_sha256": metrics["corpus"]["split_record"]["assignment_sha256"]}
    [row] = data["main"]
    assert row["scores"]["strict"]["micro"]["values"] == [pytest.approx(expected["strict"]["micro"]["f1"])]
    assert row["over_folds"]["strict"]["micro"]["folds"] == [1, 2, 3]
    assert [r["fold"] for r in data["runs"]] == [1, 2, 3, "pooled"]
    # A missing fold is an error, not a silently smaller pool.
    import shutil

    shutil.rmtree(results / "demo" / "tinyvec" / "seed-4" / "fold-2-of-3")
    with pytest.raises(ValueError, match="folds 2 of 3 have no finished run"):
        load_runs(results, "demo", folds=3)


@pytest.fixture
def tiny_bert_spec(tmp_path):
    """A bert-family spec over a tiny random BERT whose vocabulary holds some demo words."""
    from resources.tiny_bert import tiny_bert_folder

    words = ["mg", "po", "bid", "daily", "tablet", "for", "of", "the", "iv", "prn", "and", "patient", "pain"]
    folder = tiny_bert_folder(tmp_path / "tiny-bert", words, layers=2)
    spec = tmp_path / "tinybert.yaml"
    spec.write_text(f"family: bert\nsource: {folder}\noptions:\n  layers: last\n  pooling: mean\n")
    return spec


@pytest.mark.parametrize("kind", ["finetune", "finetune-crf", "scratch-crf"])
def test_a_reference_run_goes_through_the_same_stages_into_its_own_folder(medner_root, tiny_bert_spec, kind):
    results = medner_root / "results"
    embedding = "none" if kind == "scratch-crf" else str(tiny_bert_spec)
    metrics = execute_run("demo", embedding, 2, demo_size=120, results_root=results, max_epochs=2, progress="none",
                          kind=kind, training={"learning_rate": 1e-3})
    name = "scratch-crf" if kind == "scratch-crf" else f"{kind}-tinybert"
    folder = results / "demo" / name / "seed-2"
    assert RunFolder.of(results, "demo", embedding, 2, kind=kind).path == folder
    validate_metrics(metrics)
    assert metrics["run"]["kind"] == kind and metrics["run"]["embedding"] == ("none" if kind == "scratch-crf" else "tinybert")
    assert metrics["config"]["training"]["learning_rate"] == 1e-3 and metrics["config"]["training"]["batch_size"] == 16
    assert metrics["cost"]["epochs"] == 2 and len(RunFolder(folder).read_history()) == 2
    assert metrics["config"]["model"]["use_crf"] == (kind != "finetune")
    checkpoint = RunFolder(folder).load_checkpoint()
    # every floating-point tensor of the checkpoint is a trained weight (BERT's position ids are integers)
    assert metrics["cost"]["trainable_parameters"] == sum(t.numel() for t in checkpoint["state_dict"].values()
                                                            if t.is_floating_point())
    assert checkpoint["kind"] == kind and ("vocabulary" in checkpoint) == (kind == "scratch-crf")
    assert not (medner_root / "embeddings" / "cache").exists()  # a reference run reads no vector cache
    assert metrics["cost"]["embedding_cache_hit"] is False and metrics["cost"]["embedding_seconds"] == 0.0
    from medner.corpus.registry import load_corpus
    from medner.evaluation.span import score_folders

    gold_dir = load_corpus("demo", demo_size=120).source + "/test"
    rescored = score_folders(gold_dir, folder / "predictions" / "brat", labels=metrics["corpus"]["labels"])
    assert rescored["strict"]["micro"] == metrics["scores"]["test"]["strict"]["micro"]
    again = execute_run("demo", embedding, 2, demo_size=120, results_root=results, max_epochs=2, progress="none",
                        kind=kind, training={"learning_rate": 1e-3}, force=True)
    assert again["scores"] == metrics["scores"]  # the seed makes it reproducible


def test_reference_settings_are_checked():
    with pytest.raises(ValueError, match="run kind: expected bilstm-crf or one of finetune"):
        RunSettings("demo", "bert", 1, kind="fine-tune")
    with pytest.raises(ValueError, match="only a reference run takes a schedule"):
        RunSettings("demo", "bert", 1, training={"learning_rate": 1.0})
    assert RunSettings("demo", "bert", 1, kind="scratch-crf").embedding == "none"


def test_the_makefile_gets_the_reference_folders_from_the_library(tmp_path, capsys):
    from medner.cli import main

    assert main(["runs", "folders", "demo", "--results", str(tmp_path), "--embeddings", "glove", "--seeds", "1",
                 "--references", "finetune-crf", "scratch-crf", "--make"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"run_dir.glove.1.1.0.0 := {tmp_path}/demo/glove/seed-1",
        f"run_dir.finetune-crf-bert.1.1.0.0 := {tmp_path}/demo/finetune-crf-bert/seed-1",
        f"run_dir.scratch-crf.1.1.0.0 := {tmp_path}/demo/scratch-crf/seed-1",
        "reference_systems := finetune-crf-bert scratch-crf",
        "reference_kind.finetune-crf-bert := finetune-crf", "reference_embedding.finetune-crf-bert := bert",
        "reference_kind.scratch-crf := scratch-crf", "reference_embedding.scratch-crf := none"]
