"""Showing results in a notebook: tables, HTML, Markdown files and figures render in JupyterLab and
print as plain text in batch logs and anywhere else. Nothing here computes a number; the
Makefile's steps do not depend on this module, so editing it re-runs nothing."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any


def score_rows(scores: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of a ``score_documents`` dict: micro, macro, then every label; P/R/F1 strict and lenient."""
    schemas = [s for s in ("strict", "lenient") if s in scores]
    names = ["micro", "macro"] + list(scores[schemas[0]]["labels"]) if schemas else []
    rows = []
    for name in names:
        row: dict[str, Any] = {"": name}
        for schema in schemas:
            block = scores[schema]["labels"].get(name) if name not in ("micro", "macro") else scores[schema].get(name)
            for metric in ("precision", "recall", "f1"):
                row[f"{schema} {metric[0].upper() if metric != 'f1' else 'F1'}"] = (block or {}).get(metric)
        if name not in ("micro", "macro"):
            row["support"] = scores[schemas[0]]["labels"][name].get("support")
        rows.append(row)
    return rows


def relation_rows(metrics: Mapping[str, Any], split: str = "test") -> list[dict[str, Any]]:
    """Rows of a relation run's scores: micro, macro, then every type; F1 strict and lenient with gold entities
    and end to end, and the gold support."""
    settings = {"gold entities": metrics["relations"]["gold_entities"][split],
                "end to end": metrics["relations"]["end_to_end"][split]}
    types = list(settings["gold entities"]["strict"]["per_type"])
    rows = []
    for name in ["micro", "macro", *types]:
        row: dict[str, Any] = {"": name}
        for setting, scores in settings.items():
            for mode in ("strict", "lenient"):
                block = scores[mode].get(name) if name in ("micro", "macro") else scores[mode]["per_type"].get(name)
                row[f"{setting} {mode} F1"] = (block or {}).get("f1")
        if name not in ("micro", "macro"):
            row["support"] = settings["gold entities"]["strict"]["per_type"][name].get("support")
        rows.append(row)
    return rows


def relation_reach_rows(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per split and relation type of a relation run: gold relations, those the candidate pairs reach, those they
    cannot (and why), those whose argument the tagging policy drops (out of an end-to-end system's reach) and
    those whose argument covers no token."""
    corpus = metrics["corpus"]
    rows = []
    for split, reach in corpus["candidate_reach"].items():
        tagging = corpus["tagging"].get(split, {})
        unrepresented = corpus["unrepresented_gold"].get(split, {})
        for relation_type, counts in reach["per_type"].items():
            dropped = sum(v for k, v in tagging.get("per_type", {}).get(relation_type, {}).items() if k.startswith("dropped_"))
            rows.append({"split": split, "type": relation_type, "gold": counts["gold"], "reached": counts["reached"],
                         "outside window": counts["outside_window"], "not attribute-drug": counts["not_attribute_drug"],
                         "argument dropped by tagging": dropped,
                         "argument on no token": unrepresented.get(f"relation {relation_type}", 0)})
    return rows


def tagging_drop_rows(stats: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per split and label: gold entities, kept, and dropped per reason, from :func:`corpus_statistics` output.

    Every gold entity is in exactly one of the columns kept / dropped, so a row's drops
    plus kept equal its gold count. Labels with no gold entity in a split are left out.
    """
    rows = []
    for split, entry in stats["splits"].items():
        for label, counts in entry["tagging"]["per_label"].items():
            if not counts.get("gold"):
                continue
            row = {"split": split, "label": label, "gold": counts["gold"], "kept": counts["kept"]}
            drops = {key: value for key, value in counts.items() if key.startswith("dropped_")}
            if any(key.startswith("dropped_boundary_") for key in drops):
                drops.pop("dropped_boundary", None)  # the sum of its sub-reasons, which are shown
            row.update(drops)
            rows.append(row)
    return rows


def _in_notebook() -> bool:
    return "ipykernel" in sys.modules


def show_table(rows: Sequence[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]], *, title: str = "",
               digits: int = 3, max_rows: int = 100) -> None:
    """Show a table: a list of row dicts, or a dict of rows keyed by their first column.

    HTML in a notebook, aligned plain text elsewhere; floats rounded to ``digits``; at most
    ``max_rows`` rows, with a last line saying how many were left out.
    """
    if isinstance(rows, Mapping):
        rows = [{"": key, **dict(value)} for key, value in rows.items()]
    rows = list(rows)
    left_out = max(0, len(rows) - max_rows)
    rows = rows[:max_rows]
    if left_out:
        title = f"{title} (first {max_rows} rows; {left_out} more not shown)".strip()
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.{digits}f}"
        return "" if value is None else str(value)

    widths = {c: max([len(c)] + [len(cell(r.get(c))) for r in rows]) for c in columns}
    lines = [title] if title else []
    lines.append("  ".join(c.ljust(widths[c]) for c in columns).rstrip())
    lines.extend("  ".join(cell(r.get(c)).ljust(widths[c]) for c in columns).rstrip() for r in rows)
    text = "\n".join(lines)
    if _in_notebook():
        import html

        from IPython.display import display

        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(cell(r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows)
        caption = f"<caption>{html.escape(title)}</caption>" if title else ""
        # Both forms: JupyterLab shows the HTML, batch logs (papermill --log-output) the text.
        display({"text/html": f"<table>{caption}<tr>{head}</tr>{body}</table>", "text/plain": text}, raw=True)
    else:
        print(text)


def show_html(markup: str, *, summary: str = "") -> None:
    """Render HTML in a notebook (batch logs get ``summary`` or its size); print the summary elsewhere."""
    text = summary or f"(HTML, {len(markup)} characters)"
    if _in_notebook():
        from IPython.display import display

        display({"text/html": markup, "text/plain": text}, raw=True)
    else:
        print(text)


def show_markdown_file(path: str | os.PathLike[str]) -> None:
    """Render a Markdown file (a table) in a notebook; print it anywhere else."""
    text = Path(path).read_text(encoding="utf-8")
    if _in_notebook():
        from IPython.display import display

        display({"text/markdown": text, "text/plain": text}, raw=True)
    else:
        print(text)


def show_figures(files: Iterable[str | os.PathLike[str]]) -> None:
    """Show the PNG files among ``files`` inline in a notebook; list every file's path anywhere."""
    for path in map(Path, files):
        print(path)
        if _in_notebook() and path.suffix == ".png":
            from IPython.display import Image, display

            display(Image(filename=str(path)))
