"""The committed notebooks: no outputs, one documented parameters cell, a validation cell, one call per step."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import papermill
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
EXPECTED = ["00-corpus.ipynb", "01-embeddings.ipynb", "02-train.ipynb", "03-compare.ipynb", "04-errors.ipynb", "05-relations.ipynb"]


def test_the_study_notebooks_are_all_there() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == EXPECTED


@pytest.fixture(params=EXPECTED)
def notebook(request) -> tuple[str, nbformat.NotebookNode]:
    return request.param, nbformat.read(NOTEBOOKS / request.param, as_version=4)


def test_committed_notebooks_carry_no_outputs(notebook) -> None:
    name, nb = notebook
    nbformat.validate(nb)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name} cell {index} has outputs: run `make strip`"
            assert cell.execution_count is None, f"{name} cell {index} has an execution count: run `make strip`"
    assert "papermill" not in nb.metadata
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_one_parameters_cell_of_flat_literals_each_with_a_comment(notebook) -> None:
    name, nb = notebook
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: expected exactly one cell tagged parameters, found {len(tagged)}"
    source = nb.cells[tagged[0]].source
    for statement in ast.parse(source).body:
        # annotated with its type: the validation cell's check_parameters(globals()) reads __annotations__
        assert isinstance(statement, ast.AnnAssign), f"{name}: {ast.unparse(statement)} is not 'name: type = value'"
        assert ast.unparse(statement.annotation) in ("str", "int", "float", "bool"), ast.unparse(statement)
        ast.literal_eval(statement.value)  # flat literal, nothing computed
    for line in source.splitlines():
        assert "  # " in line, f"{name}: parameter line without a comment: {line}"
    # papermill reads the comments: every parameter has a type and a description.
    inferred = papermill.inspect_notebook(str(NOTEBOOKS / name))
    assert inferred and all(p["help"] and p["inferred_type_name"] != "None" for p in inferred.values()), inferred


def test_a_validation_cell_follows_and_every_later_cell_is_one_statement(notebook) -> None:
    name, nb = notebook
    code = [c for c in nb.cells if c.cell_type == "code"]
    position = next(i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", []))
    validation = code[position + 1].source
    assert validation.startswith("check_parameters(globals())"), f"{name}: the cell after the parameters should check them"
    steps = code[position + 2:]
    assert steps, f"{name}: no step after the validation cell"
    for cell in steps:
        assert len(ast.parse(cell.source).body) == 1, f"{name}: a step cell should be one library call:\n{cell.source}"
    # Every step sits under a markdown sentence saying what and why.
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and any(cell is s for s in steps):
            assert nb.cells[index - 1].cell_type == "markdown", f"{name}: step without a markdown sentence:\n{cell.source}"


def test_strip_tool_removes_outputs_and_check_mode_reports_them(tmp_path, capsys) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("strip_notebook_outputs", NOTEBOOKS.parent / "tools" / "strip_notebook_outputs.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    nb = nbformat.read(NOTEBOOKS / "02-train.ipynb", as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="hello\n")]
    nb.cells[1].execution_count = 3
    path = tmp_path / "dirty.ipynb"
    nbformat.write(nb, path)
    assert tool.main(["--check", str(path)]) == 1
    assert "cell 1: 1 output(s)" in capsys.readouterr().err
    assert tool.main([str(path)]) == 0
    assert tool.main(["--check", str(path)]) == 0
    cleaned = nbformat.read(path, as_version=4)
    assert cleaned.cells[1].outputs == [] and cleaned.cells[1].execution_count is None
