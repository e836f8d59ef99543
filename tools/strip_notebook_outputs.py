"""Strip outputs and execution counts from notebooks, or check that none are left (``--check``).

Committed notebooks carry no outputs: the executed copies are build outputs in results/.
Usage: ``python tools/strip_notebook_outputs.py [--check] NOTEBOOK...`` (``make strip``,
``make check-notebooks``). Exit status 1 with ``--check`` names every notebook with outputs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

# Metadata that executing a notebook adds and that says nothing about the notebook itself.
_EXECUTION_METADATA = ("execution", "papermill", "collapsed", "scrolled")


def leftovers(notebook: nbformat.NotebookNode) -> list[str]:
    """What executing left in ``notebook``: one line per cell with outputs, a count or run metadata."""
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            found.append(f"cell {index}: {len(cell.outputs)} output(s)")
        if cell.get("execution_count") is not None:
            found.append(f"cell {index}: execution_count {cell.execution_count}")
        extra = [key for key in _EXECUTION_METADATA if key in cell.metadata]
        if extra:
            found.append(f"cell {index}: metadata {', '.join(extra)}")
    if "papermill" in notebook.metadata:
        found.append("notebook metadata: papermill")
    return found


def strip(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove outputs, execution counts and execution metadata, in place; return the notebook."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in _EXECUTION_METADATA:
            cell.metadata.pop(key, None)
    notebook.metadata.pop("papermill", None)
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="report notebooks with outputs instead of stripping them")
    args = parser.parse_args(argv)
    dirty = 0
    for path in args.notebooks:
        notebook = nbformat.read(path, as_version=4)
        found = leftovers(notebook)
        if args.check:
            for line in found:
                print(f"{path}: {line}", file=sys.stderr)
            dirty += bool(found)
        elif found:
            nbformat.write(strip(notebook), path)
            print(f"{path}: stripped ({len(found)} item(s))")
    return 1 if dirty else 0


if __name__ == "__main__":
    sys.exit(main())
