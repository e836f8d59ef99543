"""papermill really executes every study notebook on tiny parameters, and the files each writes are checked.

The notebooks run in the order the study runs them (00, 01, 02, 04, 05 for both variants, 03) with their
committed defaults (tiny demo corpus, GloVe, two epochs), every path pointed into a
temporary folder. One module-scoped fixture executes them all once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import papermill
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
pytestmark = pytest.mark.slow
#: Notebooks with a ``progress`` parameter: batch mode prints one line per step.
WITH_PROGRESS = {"01-embeddings.ipynb", "02-train.ipynb", "03-compare.ipynb", "05-relations.ipynb"}


def execute(name: str, out_dir: Path, **parameters) -> nbformat.NotebookNode:
    """Execute ``notebooks/<name>`` into ``out_dir`` in batch mode; return the executed notebook."""
    output = out_dir / name
    if name in WITH_PROGRESS:
        parameters = {"progress": "lines", **parameters}
    papermill.execute_notebook(str(NOTEBOOKS / name), str(output), parameters=parameters, kernel_name="python3",
                               progress_bar=False, cwd=str(out_dir))
    return nbformat.read(output, as_version=4)


def text_of(notebook: nbformat.NotebookNode) -> str:
    """Every stream and text/plain output of an executed notebook, joined."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", "") or output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("medner-root")
    out = tmp_path_factory.mktemp("executed")
    saved = os.environ.get("MEDNER_ROOT")
    os.environ["MEDNER_ROOT"] = str(root)  # the kernels inherit it: every default path goes under root
    try:
        results = root / "results"
        notebooks = {
            "00": execute("00-corpus.ipynb", out, stats_path=str(results / "demo" / "corpus-stats.json")),
            "01": execute("01-embeddings.ipynb", out),
            "02": execute("02-train.ipynb", out, results_root=str(results)),
            "04": execute("04-errors.ipynb", out, results_root=str(results), worst_n=3),
            # the pipeline builds on 02's run; 03 then draws the relation table and figures
            **{f"05-{variant}": execute("05-relations.ipynb", tmp_path_factory.mktemp(f"executed-{variant}"),
                                        results_root=str(results), variant=variant) for variant in ("pipeline", "shared")},
            "03": execute("03-compare.ipynb", out, results_root=str(results), n_boot=50, n_shuffles=50),
        }
    finally:
        if saved is None:
            os.environ.pop("MEDNER_ROOT", None)
        else:
            os.environ["MEDNER_ROOT"] = saved
    return {"root": root, "results": results, "notebooks": notebooks}


def test_00_corpus_writes_statistics_and_the_label_figure(executed) -> None:
    corpus = executed["results"] / "demo"
    stats = json.loads((corpus / "corpus-stats.json").read_text(encoding="utf-8"))
    assert set(stats["splits"]) == {"train", "dev", "test"}
    assert sum(stats["splits"]["train"]["entities"].values()) > 0
    assert (corpus / "label-distribution.pdf").stat().st_size > 0 and (corpus / "label-distribution.png").stat().st_size > 0
    assert "dropped_overlap" in text_of(executed["notebooks"]["00"])


def test_01_embeddings_fills_the_cache_and_reports_it(executed) -> None:
    report = json.loads((executed["results"] / "demo" / "embeddings" / "glove.json").read_text(encoding="utf-8"))
    assert set(report["splits"]) == {"train", "dev", "test"}
    assert all(not s["hit"] for s in report["splits"].values())  # the first preparation computes every split
    assert 0.0 <= report["splits"]["test"]["oov"]["oov_rate"] <= 1.0
    assert report["cache"]["misses"] == 3
    assert any((executed["root"] / "embeddings" / "cache").rglob("*"))
    assert "glove test:" in text_of(executed["notebooks"]["01"])  # one line per split in batch mode


def test_02_train_writes_a_complete_run_folder(executed) -> None:
    run = executed["results"] / "demo" / "glove" / "seed-1"
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["run"]["embedding"] == "glove" and metrics["run"]["seed"] == 1
    assert metrics["cost"]["embedding_cache_hit"] is True  # 01 filled the cache, the run only read it
    assert metrics["cost"]["epochs"] <= 2
    assert (run / "history.csv").read_text(encoding="utf-8").startswith("epoch,")
    assert list((run / "predictions" / "brat").glob("*.ann"))


def test_04_errors_writes_the_static_page_of_the_worst_documents(executed) -> None:
    page = (executed["results"] / "demo" / "glove" / "seed-1" / "errors.html").read_text(encoding="utf-8")
    assert page.count('<div class="medner-doc"') <= 3
    assert 'name="kind" value="missed"' in page


def test_05_relations_writes_a_run_folder_for_each_variant(executed) -> None:
    ner_run = executed["results"] / "demo" / "glove" / "seed-1"
    for variant in ("pipeline", "shared"):
        run = executed["results"] / "demo" / "relations" / "glove" / variant / "seed-1"
        metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
        assert metrics["run"]["variant"] == variant and metrics["cost"]["epochs"] <= 2
        assert metrics["ner"]["source"] == (str(ner_run) if variant == "pipeline" else "shared")
        assert list((run / "predictions" / "gold-entities").glob("*.ann"))
        assert list((run / "predictions" / "end-to-end").glob("*.ann"))
        assert f"glove / {variant} / seed 1: test relation strict micro-F1" in text_of(executed["notebooks"][f"05-{variant}"])


def test_03_compare_writes_tables_and_figures(executed) -> None:
    figures = executed["root"] / "figures" / "demo"
    listed = [Path(p) for p in (figures / "files.txt").read_text(encoding="utf-8").split()]
    assert listed and all(p.is_file() for p in listed)
    assert (figures / "summary.csv").is_file() and (figures / "main-results.md").is_file()
    assert any(p.suffix == ".png" for p in listed)
    # the relation runs of 05: their table and figures 9 and 10
    names = {p.name for p in listed}
    assert {"relation-results.md", "09-relation-per-type.png", "10-relation-sharing.png"} <= names


def test_validation_cell_names_what_was_expected_and_given(tmp_path) -> None:
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        execute("02-train.ipynb", tmp_path, embedding="word2vec-of-my-dreams")
    message = str(failure.value)
    assert "expected one of" in message and "word2vec-of-my-dreams" in message
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        execute("00-corpus.ipynb", tmp_path, corpus="mine", corpus_path=str(tmp_path / "nowhere"))
    assert "expected an existing folder" in str(failure.value) and "nowhere" in str(failure.value)


def test_a_spec_file_as_embedding_runs_through_02_and_04_and_the_command_line(tmp_path, capsys) -> None:
    """``embedding`` may be the path of a spec file: 02 writes the run under the spec's name, 04 and
    ``medner train`` find it there (they all ask medner.run_folder.RunFolder)."""
    from medner.cli import main

    vectors = tmp_path / "tiny.txt"
    words = ["mg", "PO", "BID", "daily", "tablet", "1", "2", "5", "10", "the", "of", "and"]
    vectors.write_text("".join(f"{w} " + " ".join(f"{(i * 7 + j) % 5 - 2:.1f}" for j in range(4)) + "\n"
                               for i, w in enumerate(words)))
    spec = tmp_path / "specs" / "my.yaml"
    spec.parent.mkdir()
    spec.write_text(f"family: static\nsource: {vectors}\noptions:\n  format: glove\n  unknown: zeros\n")
    results = tmp_path / "results"
    common = {"embedding": str(spec), "results_root": str(results), "demo_size": 60}
    execute("02-train.ipynb", tmp_path, max_epochs=1, cache_root=str(tmp_path / "cache"), **common)
    run = results / "demo" / "my" / "seed-1"
    assert (run / "metrics.json").is_file() and not (tmp_path / "specs" / "my.yaml" / "seed-1").exists()
    execute("04-errors.ipynb", tmp_path, worst_n=2, **common)
    assert (run / "errors.html").is_file()
    capsys.readouterr()
    assert main(["train", "demo", str(spec), "--seed", "1", "--results", str(results), "--epochs", "1",
                 "--progress", "lines"]) == 0
    assert f"{run}: finished run found, not training again" in capsys.readouterr().out
    with pytest.raises(papermill.PapermillExecutionError, match="holds a finished run"):
        execute("02-train.ipynb", tmp_path, max_epochs=1, **common)
