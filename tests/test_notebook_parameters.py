"""Bad notebook parameters (issue 16): each notebook, run by papermill, stops in its validation cell with one sentence.

A name the notebook does not declare (papermill only warns about it), a value of the wrong type
(``-r force maybe``), a value out of range, an unknown embedding or corpus: the table below runs each
through papermill and checks that the cell that failed is the validation cell, right after the
parameters, and that the error is one line naming the parameter.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
pytestmark = pytest.mark.slow

#: (notebook, parameters, the error's start). ``{tmp}`` in a parameter stands for the test's temporary folder.
CASES = [
    ("00-corpus", {"demo_siz": 10}, "demo_siz: not a parameter of this notebook (did you mean demo_size?); expected one of corpus,"),
    ("00-corpus", {"demo_size": "300"}, "demo_size: expected an integer; given '300' (a str)"),
    ("00-corpus", {"corpus": "n2c2"}, "corpus: expected one of demo, n2c2-2018, phee, or another name together with corpus_path"),
    ("00-corpus", {"demo_size": 0}, "demo_size: expected an integer >= 1; given 0"),
    ("01-embeddings", {"embedding": "word2vec"}, "embedding: expected one of "),
    ("01-embeddings", {"stratified": "no"}, "stratified: expected True or False; given 'no' (a str)"),
    ("01-embeddings", {"folds": 1, "fold": 1}, "folds: expected an integer >= 2"),
    ("02-train", {"max_epoch": 0}, "max_epoch: not a parameter of this notebook (did you mean max_epochs?)"),
    ("02-train", {"force": "maybe"}, "force: expected True or False; given 'maybe' (a str)"),
    ("02-train", {"max_epochs": 0}, "max_epochs: expected an integer >= 1; given 0"),
    ("02-train", {"seed": -1}, "seed: expected an integer >= 0; given -1"),
    ("02-train", {"fraction": 1.5}, "fraction: expected a number in (0, 1]; given 1.5"),
    ("02-train", {"label_map": "{tmp}/no-map.tsv"}, "label_map: expected an existing file"),
    ("03-compare", {"n_shufles": 5}, "n_shufles: not a parameter of this notebook (did you mean n_shuffles?)"),
    ("03-compare", {"n_boot": 0, "stats_path": "{tmp}/stats.json", "results_root": "{tmp}"}, "n_boot: expected an integer >= 1; given 0"),
    ("03-compare", {"folds": -1, "stats_path": "{tmp}/stats.json", "results_root": "{tmp}"}, "folds: expected an integer >= 2"),
    ("04-errors", {"embedding": "word2vec"}, "embedding: expected one of "),
    ("04-errors", {"seed": -1}, "seed: expected an integer >= 0; given -1"),
    ("04-errors", {"worst_n": 2.5}, "worst_n: expected an integer; given 2.5 (a float)"),
    ("05-relations", {"variant": "joint"}, "variant: expected one of pipeline, shared; given 'joint'"),
    ("05-relations", {"window": -1}, "window: expected a number of sentences >= 0; given -1"),
]


def validation_cell(name: str) -> str:
    """The source of the code cell right after the notebook's parameters cell."""
    code = [cell for cell in nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells if cell.cell_type == "code"]
    position = next(i for i, cell in enumerate(code) if "parameters" in cell.metadata.get("tags", []))
    return code[position + 1].source


@pytest.mark.parametrize("name, parameters, message", CASES, ids=[f"{c[0]}-{'-'.join(c[1])}" for c in CASES])
def test_a_bad_parameter_stops_the_validation_cell_with_one_sentence(tmp_path, monkeypatch, name, parameters, message):
    monkeypatch.setenv("MEDNER_ROOT", str(tmp_path))  # the kernel inherits it: nothing is written elsewhere
    (tmp_path / "stats.json").write_text("{}", encoding="utf-8")
    parameters = {key: value.format(tmp=tmp_path) if isinstance(value, str) else value for key, value in parameters.items()}
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        papermill.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(tmp_path / "out.ipynb"), parameters=parameters,
                                   kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    error = failure.value
    assert error.source == validation_cell(name), f"{name} failed in another cell:\n{error.source}"
    assert error.ename in ("ValueError", "FileNotFoundError") and "\n" not in error.evalue
    assert error.evalue.startswith(message), error.evalue
