"""The paper's tables as LaTeX (booktabs) and Markdown, and the tidy CSV files, from the comparison data.

Every function takes a section of the comparison data (``comparison.json`` as read back;
:data:`medner.comparison.study.SECTIONS` says what each holds) and imports nothing from the
code that computed it. Scores are F1 in percent, one decimal, written "mean ± sd" over
seeds; the best mean of each column (main table) or row and schema (per-label table) is bold.
LaTeX output needs ``\\usepackage{booktabs}`` and nothing else. Plain Python: no
dataframe library is needed to build or read these tables. Files are written atomically.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from medner import files
from medner.report_folder import NotDrawable
from medner.study_order import AVERAGES, FROZEN_KIND, PAPER_SCORES, REFERENCE_HEADING, SCHEMAS

#: Columns of ``summary.csv``, in order.
SUMMARY_COLUMNS: tuple[str, ...] = ("corpus", "embedding", "seed", "fraction", "label", "schema", "metric", "value")
#: Columns of ``significance.csv``, in order.
SIGNIFICANCE_COLUMNS: tuple[str, ...] = ("a", "b", "mode", "n_shuffles", "label", "seed", "delta", "p_value", "significant")
_COUNTS = ("tp", "fp", "fn", "support")

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",  # the default OT1 font would print these three as other glyphs
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
#: Characters Markdown would read as markup (``<`` and ``&`` as HTML), backslash-escaped: CommonMark's way, which
#: renderers that escape HTML themselves (mistune, nbconvert) show as written too, where entities would show twice.
_MARKDOWN_SPECIALS = "\\`*[]|#<>&"


def evaluation_scope(evaluation: Mapping[str, Any] | None, *, short: bool = False) -> str | None:
    """How the runs were tested when it is not the corpus's own test split (k-fold cross-validation): one
    sentence for captions, or a few words (``short``) for figure titles; None for the corpus's own split."""
    if not evaluation or evaluation.get("kind") != "k-fold":
        return None
    if short:
        return f"{evaluation['folds']}-fold cross-validation, every document tested once (folds pooled)"
    how = "stratified by label" if evaluation.get("stratified") else "not stratified"
    return (f"{evaluation['folds']}-fold cross-validation ({how}): every document tested once, in its fold; "
            "scores pool the folds' test documents")


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (embedding names like ``bio_clinical``)."""
    return "".join(_LATEX_SPECIALS.get(c, c) for c in str(text))


def latex_key(text: str) -> str:
    """``text`` as a ``\\label`` key: letters, digits, ``.``, ``:`` and ``-``, any other run of characters a ``-``."""
    return re.sub(r"[^A-Za-z0-9.:-]+", "-", str(text))


def markdown_escape(text: str) -> str:
    """``text`` as literal Markdown table cell text: ``|`` cannot end the cell, ``*``, backticks, brackets and
    ``<script>`` are shown, not interpreted. An ``_`` inside a word stays as it is (``bio_clinical``): it
    never emphasises there."""
    escaped = "".join("\\" + c if c in _MARKDOWN_SPECIALS else c for c in str(text))
    return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", escaped)


def format_spread(spread: Mapping[str, Any], *, latex: bool = False) -> str:
    """ "81.2 ± 0.4": F1 mean and sd over seeds in percent (just the mean for a single seed)."""
    if len(spread["values"]) == 1:
        return f"{100 * spread['mean']:.1f}"
    sign = r" $\pm$ " if latex else " ± "
    return f"{100 * spread['mean']:.1f}{sign}{100 * spread['sd']:.1f}"


def _escape(text: str, latex: bool) -> str:
    return latex_escape(text) if latex else markdown_escape(text)


def _bold(text: str, latex: bool) -> str:
    return rf"\textbf{{{text}}}" if latex else f"**{text}**"


def _best(values: Sequence[float]) -> set[int]:
    top = max(values)
    return {i for i, v in enumerate(values) if round(v, 3) == round(top, 3)}


def _main_cells(rows: Sequence[Mapping[str, Any]], latex: bool) -> tuple[list[str], list[list[str]]]:
    """Header and body cells of the main table (shared by both formats)."""
    keys = [(schema, average) for schema in SCHEMAS for average in AVERAGES]
    with_ci = any(row["ci"] is not None for row in rows)
    with_folds = all("over_folds" in row for row in rows)
    header = ["Embedding", "Seeds"]
    for schema, average in keys:
        header.append(f"{schema.capitalize()} {average} F1")
        if with_ci and (schema, average) == ("strict", "micro"):
            header.append("95% CI" if not latex else r"95\% CI")
    with_papers = _with_papers(rows)
    if with_papers:
        header += list(PAPER_SCORES.values())
    with_cost = _with_cost(rows)
    if with_cost:
        header += list(COST_COLUMNS.values())
    if with_folds:
        header.append("Strict micro F1, single folds")
    # bold marks the best embedding of the study: the reference systems differ in more than the embedding
    study = [i for i, row in enumerate(rows) if not _is_reference(row)] or list(range(len(rows)))
    best = {key: {study[k] for k in _best([rows[i]["scores"][key[0]][key[1]]["mean"] for i in study])} for key in keys}
    if with_papers:
        best.update({key: {study[k] for k in _best([rows[i]["papers"][key]["mean"] for i in study])} for key in PAPER_SCORES})
    body = []
    for i, row in enumerate(rows):
        first = row["scores"][keys[0][0]][keys[0][1]]
        cells = [_escape(row["embedding"], latex), str(len(first["values"]))]
        for key in keys:
            text = format_spread(row["scores"][key[0]][key[1]], latex=latex)
            cells.append(_bold(text, latex) if i in best[key] and len(rows) > 1 else text)
            if with_ci and key == ("strict", "micro"):
                cells.append(_ci_cell(row["ci"], latex))
        for key in PAPER_SCORES if with_papers else ():
            text = format_spread(row["papers"][key], latex=latex)
            cells.append(_bold(text, latex) if i in best[key] and len(rows) > 1 else text)
        if with_cost:
            cells += _cost_cells(row["cost"])
        if with_folds:
            cells.append(format_spread(row["over_folds"]["strict"]["micro"], latex=latex))
        body.append(cells)
    return header, body


def _is_reference(row: Mapping[str, Any]) -> bool:
    """Whether a main-table row is a reference system (medner.reference), not an embedding of the study."""
    return row.get("kind", FROZEN_KIND) != FROZEN_KIND


def reference_start(rows: Sequence[Mapping[str, Any]]) -> int | None:
    """The index of the first reference row (they come last, under their own heading), or None."""
    return next((i for i, row in enumerate(rows) if _is_reference(row)), None)


#: The cost columns of the main table: key of the comparison's main[].cost -> title.
COST_COLUMNS: dict[str, str] = {"trainable_parameters": "Trained weights", "training_seconds": "Training s",
                                "peak_rss_mb": "Peak MiB"}


def _with_cost(rows: Sequence[Mapping[str, Any]]) -> bool:
    """Whether every row has its cost (comparisons computed before it have none)."""
    return all(row.get("cost") for row in rows)


def _cost_cells(cost: Mapping[str, Any]) -> list[str]:
    """Trained weights (in millions from a million up), mean training seconds, mean peak MiB ("–" when unknown)."""
    weights = int(cost["trainable_parameters"])
    shown = f"{weights / 1e6:.1f}M" if weights >= 1_000_000 else f"{weights / 1e3:.0f}k"
    peak = cost.get("peak_rss_mb")
    return [shown, f"{cost['training_seconds']:.0f}", "–" if peak is None else f"{peak:,.0f}"]


def _with_papers(rows: Sequence[Mapping[str, Any]]) -> bool:
    """Whether every row has the papers' scores (runs written before they were scored have none)."""
    return all(row.get("papers") for row in rows)


#: What the cost columns, the reference rows and the papers' columns are, for captions: one sentence each.
COST_NOTE = ("Cost: weights the run trains (a fine-tuned encoder's included), seconds of training (dev evaluation "
             "included) and the process's peak resident memory, means over seeds.")
REFERENCE_NOTE = (f"Below the line, {REFERENCE_HEADING}: a BERT-family encoder fine-tuned end to end with a softmax "
                  "or CRF head (finetune, finetune-crf; AdamW, MedMine's setting), or a Transformer-CRF trained from "
                  "scratch (scratch-crf, Belkadi et al.); bold marks the best embedding of the study only.")
PAPER_SCORES_NOTE = ("SemEval type: SemEval-2013 \"type\" micro F1, an overlap with the right label counts "
                     "(MedMine's score); BIO-strict: exact entities read from the token tags (seqeval strict IOB2), "
                     "macro and support-weighted means over labels (Belkadi et al.'s scores).")


def _ci_cell(ci: Mapping[str, Any] | None, latex: bool) -> str:
    if ci is None:
        return "--" if latex else "–"
    return f"[{100 * ci['low']:.1f}, {100 * ci['high']:.1f}] (seed {ci['seed']})"


def main_table_latex(rows: Sequence[Mapping[str, Any]], *, corpus: str, scope: str | None = None) -> str:
    """The main results table (the comparison's ``main``) as a LaTeX ``table`` with booktabs rules; ``scope``
    (:func:`evaluation_scope`) says how the runs were tested when not on the corpus's own split."""
    header, body = _main_cells(rows, latex=True)
    with_ci = any(row["ci"] is not None for row in rows)
    with_folds = all("over_folds" in row for row in rows)
    with_papers, with_cost = _with_papers(rows), _with_cost(rows)
    columns = "l" + "r" + "c" * (len(header) - 2)
    strict_span = 3 if with_ci else 2
    extra = (r" & \multicolumn{3}{c}{Papers' scores}" if with_papers else "") + (r" & \multicolumn{3}{c}{Cost}" if with_cost else "")
    rules = "".join(rf"\cmidrule(lr){{{first}-{first + 2}}}" for first in
                    [5 + strict_span + 3 * k for k in range(int(with_papers) + int(with_cost))])
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{_main_caption_latex(rows, corpus, scope)}}}",
        rf"\label{{tab:main-{latex_key(corpus)}}}",
        rf"\begin{{tabular}}{{{columns}}}",
        r"\toprule",
        rf" & & \multicolumn{{{strict_span}}}{{c}}{{Strict}} & \multicolumn{{2}}{{c}}{{Lenient}}" + extra
        + (" & Folds" if with_folds else "") + r" \\",
        rf"\cmidrule(lr){{3-{2 + strict_span}}}\cmidrule(lr){{{3 + strict_span}-{4 + strict_span}}}" + rules,
        " & ".join(["Embedding", "Seeds"] + [_sub_header(h) for h in header[2:]]) + r" \\",
        r"\midrule",
    ]
    start = reference_start(rows)
    for i, cells in enumerate(body):
        if i == start:
            lines += [r"\midrule", rf"\multicolumn{{{len(header)}}}{{l}}{{\emph{{{latex_escape(REFERENCE_HEADING)}}}}} \\"]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def _main_caption_latex(rows: Sequence[Mapping[str, Any]], corpus: str, scope: str | None) -> str:
    """The main table's LaTeX caption: what the numbers are, and a sentence for each part the table has."""
    with_ci = any(row["ci"] is not None for row in rows)
    level = 100 * (1 - rows[0]["ci"]["alpha"]) if with_ci and rows[0]["ci"] else 95
    caption = (
        f"Test F1 (\\%) on {latex_escape(corpus)}: mean $\\pm$ sample sd over seeds, strict and lenient span matching, "
        "micro and macro averages over labels."
    )
    if scope:
        caption += f" {latex_escape(scope)}."
    if with_ci:
        caption += (
            f" CI: {level:g}\\% bootstrap interval over test documents of strict micro-F1 for the median-seed run "
            "(the seed named)."
        )
    if _with_papers(rows):
        caption += " " + latex_escape(PAPER_SCORES_NOTE)
    if _with_cost(rows):
        caption += " " + latex_escape(COST_NOTE)
    if reference_start(rows) is not None:
        caption += " " + latex_escape(REFERENCE_NOTE)
    if all("over_folds" in row for row in rows):
        caption += " Single folds: strict micro-F1 of each fold's own test documents, mean $\\pm$ sd over every fold run."
    return caption


def _sub_header(text: str) -> str:
    """'Strict micro F1' -> 'Micro F1' under the schema's spanning header."""
    words = text.split(" ")
    if words[0] not in ("Strict", "Lenient"):
        return text
    rest = " ".join(words[1:])
    return rest[:1].upper() + rest[1:]


def _markdown(header: Sequence[str], body: Sequence[Sequence[str]], align: Sequence[str]) -> str:
    rule = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule[a] for a in align) + " |"]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines) + "\n"


def main_table_markdown(rows: Sequence[Mapping[str, Any]], *, corpus: str, scope: str | None = None) -> str:
    """The main results table as Markdown, with a one-line note on what the numbers are."""
    header, body = _main_cells(rows, latex=False)
    start = reference_start(rows)
    if start is not None:
        body = [*body[:start], [f"*{REFERENCE_HEADING}*"] + [""] * (len(header) - 1), *body[start:]]
    note = f"Test F1 (%) on {markdown_escape(corpus)}: mean ± sample sd over seeds."
    if scope:
        note += f" {scope[:1].upper()}{scope[1:]}."
    if any(row["ci"] is not None for row in rows):
        note += " CI: bootstrap interval over test documents of strict micro-F1 for the median-seed run."
    if _with_papers(rows):
        note += " " + PAPER_SCORES_NOTE
    if _with_cost(rows):
        note += " " + COST_NOTE
    if start is not None:
        note += " " + REFERENCE_NOTE.replace("Below the line", "Under the heading row")
    if all("over_folds" in row for row in rows):
        note += " Single folds: strict micro-F1 of each fold's own test documents, mean ± sd over every fold run."
    return note + "\n\n" + _markdown(header, body, ["l", "r"] + ["c"] * (len(header) - 2))


def _column_name(table: Mapping[str, Any], name: str, latex: bool) -> str:
    """An embedding's column title, with a dagger when it is a reference system (see :data:`REFERENCE_NOTE`)."""
    mark = (r"$^\dagger$" if latex else "†") if name in table.get("references", ()) else ""
    return _escape(name, latex) + mark


def _per_label_cells(table: Mapping[str, Any], latex: bool) -> tuple[list[str], list[list[str]]]:
    header = ["Label", "Support"] + [f"{schema} {_column_name(table, name, latex)}" for schema in SCHEMAS
                                     for name in table["embeddings"]]
    body = []
    for label in table["labels"]:
        cells = [_escape(label, latex), str(table["support"][label])]
        for schema in SCHEMAS:
            spreads = [table["scores"][label][name][schema] for name in table["embeddings"]]
            study = [k for k, name in enumerate(table["embeddings"]) if name not in table.get("references", ())]
            study = study or list(range(len(spreads)))  # bold: the study's best embedding, as the main table
            best = {study[k] for k in _best([spreads[k]["mean"] for k in study])}
            for k, spread in enumerate(spreads):
                text = format_spread(spread, latex=latex)
                cells.append(_bold(text, latex) if k in best and len(spreads) > 1 else text)
        body.append(cells)
    return header, body


def per_label_table_latex(table: Mapping[str, Any], *, corpus: str, scope: str | None = None) -> str:
    """The per-label table (the comparison's ``per_label``; rows: labels; columns: embeddings, strict then
    lenient) as LaTeX; ``scope`` as for :func:`main_table_latex`."""
    _, body = _per_label_cells(table, latex=True)
    n = len(table["embeddings"])
    names = [_column_name(table, name, True) for name in table["embeddings"]]
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{Per-label test F1 (\%) on {latex_escape(corpus)}, mean $\pm$ sample sd over seeds; "
        r"support is the number of gold test entities." + (f" {latex_escape(scope)}." if scope else "")
        + (rf" $^\dagger$ {latex_escape(REFERENCE_HEADING)}." if table.get("references") else "") + "}",
        rf"\label{{tab:per-label-{latex_key(corpus)}}}",
        rf"\begin{{tabular}}{{lr{'c' * (2 * n)}}}",
        r"\toprule",
        rf" & & \multicolumn{{{n}}}{{c}}{{Strict}} & \multicolumn{{{n}}}{{c}}{{Lenient}} \\",
        rf"\cmidrule(lr){{3-{2 + n}}}\cmidrule(lr){{{3 + n}-{2 + 2 * n}}}",
        " & ".join(["Label", "Support"] + names + names) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(cells) + r" \\" for cells in body]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def per_label_table_markdown(table: Mapping[str, Any], *, corpus: str, scope: str | None = None) -> str:
    """The per-label table as Markdown."""
    header, body = _per_label_cells(table, latex=False)
    note = f"Per-label test F1 (%) on {markdown_escape(corpus)}: mean ± sample sd over seeds; support = gold test entities."
    if table.get("references"):
        note += f" † {REFERENCE_HEADING}."
    if scope:
        note += f" {scope[:1].upper()}{scope[1:]}."
    return note + "\n\n" + _markdown(header, body, ["l", "r"] + ["c"] * (len(header) - 2))


def write_main_table(rows: Sequence[Mapping[str, Any]], stem: str | Path, *, corpus: str,
                     evaluation: Mapping[str, Any] | None = None,
                     appendix: tuple[str, str] | None = None) -> list[Path]:
    """Write the main table (the comparison's ``main``) as ``<stem>.tex`` and ``<stem>.md``; returns both paths.
    ``evaluation`` is the comparison's ``evaluation``: the captions say when the runs were cross-validated.
    ``appendix``: ``(latex, markdown)`` of a table that follows the main one in the same files (the relation
    rows, :func:`medner.relation_figures.relation_appendix`)."""
    if not rows:
        raise NotDrawable("no embedding to tabulate")
    scope = evaluation_scope(evaluation)
    latex, markdown = main_table_latex(rows, corpus=corpus, scope=scope), main_table_markdown(rows, corpus=corpus, scope=scope)
    if appendix is not None:
        latex, markdown = latex + "\n" + appendix[0], markdown + "\n" + appendix[1]
    return _write_latex_and_markdown(stem, latex, markdown)


def write_per_label_table(table: Mapping[str, Any], stem: str | Path, *, corpus: str,
                          evaluation: Mapping[str, Any] | None = None) -> list[Path]:
    """Write the per-label table (the comparison's ``per_label``) as ``<stem>.tex`` and ``<stem>.md``; returns both."""
    if not table["labels"]:
        raise NotDrawable("no label to tabulate")
    scope = evaluation_scope(evaluation)
    return _write_latex_and_markdown(
        stem, per_label_table_latex(table, corpus=corpus, scope=scope), per_label_table_markdown(table, corpus=corpus, scope=scope)
    )


def _write_latex_and_markdown(stem: str | Path, latex_text: str, markdown_text: str) -> list[Path]:
    """``<stem>.tex`` and ``<stem>.md``, both or neither (a full disk leaves the previous pair)."""
    stem = Path(stem)
    return files.write_files({stem.with_suffix(".tex"): latex_text, stem.with_suffix(".md"): markdown_text})


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """CSV as Python's csv module writes it by default (``\\r\\n`` line ends)."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue()


def summary_columns(runs: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """:data:`SUMMARY_COLUMNS`, with a ``fold`` column after ``fraction`` when some run was cross-validated."""
    if any(run.get("fold") is not None for run in runs):
        at = SUMMARY_COLUMNS.index("fraction") + 1
        return SUMMARY_COLUMNS[:at] + ("fold",) + SUMMARY_COLUMNS[at:]
    return SUMMARY_COLUMNS


def summary_rows(runs: Sequence[Mapping[str, Any]], *, corpus: str) -> list[list[Any]]:
    """The rows of ``summary.csv`` (:func:`summary_columns`): the comparison's ``runs``, one row per run x label
    (every label, then "micro", "macro") x schema x metric; counts as integers, scores with full precision.
    In a cross-validation every fold is a run (fold 1..k) and so are the folds pooled (fold "pooled")."""
    with_fold = "fold" in summary_columns(runs)
    rows = []
    for run in runs:
        key = [corpus, run["embedding"], run["seed"], run["fraction"]] + ([run.get("fold")] if with_fold else [])
        for label, by_schema in run["scores"].items():
            for schema, by_metric in by_schema.items():
                for metric, value in by_metric.items():
                    shown = int(value) if metric in _COUNTS else repr(float(value))
                    rows.append(key + [label, schema, metric, shown])
    return rows


def write_summary_csv(runs: Sequence[Mapping[str, Any]], path: str | Path, *, corpus: str) -> list[Path]:
    """Write ``summary.csv``, the tidy table of every run's test scores (:func:`summary_rows`); returns its path."""
    if not runs:
        raise NotDrawable("no run to tabulate")
    return [files.write_file(path, _csv_text(summary_columns(runs), summary_rows(runs, corpus=corpus)))]


def significance_rows(pairs: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """The rows of ``significance.csv`` (:data:`SIGNIFICANCE_COLUMNS`): the comparison's ``significance``, one
    row per embedding pair x label (then "overall") x seed: delta (a - b), p-value, significant (0 or 1)."""
    rows = []
    for pair in pairs:
        for label, difference in [*pair["labels"].items(), ("overall", pair["overall"])]:
            for seed, delta, p_value in zip(difference["seeds"], difference["deltas"], difference["p_values"]):
                significant = int(p_value < difference["alpha"])
                rows.append([pair["a"], pair["b"], pair["mode"], pair["n_shuffles"], label, seed, repr(delta),
                             repr(p_value), significant])
    return rows


def write_significance_csv(pairs: Sequence[Mapping[str, Any]], path: str | Path) -> list[Path]:
    """Write ``significance.csv`` (:func:`significance_rows`); returns its path."""
    if not pairs:
        raise NotDrawable("no embedding pair was tested (significance needs gold test documents and two embeddings "
                          "trained with a common seed)")
    return [files.write_file(path, _csv_text(SIGNIFICANCE_COLUMNS, significance_rows(pairs)))]


def runs_overview(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per run of the comparison's ``runs``: its key, folder and strict and lenient micro-F1 (for display)."""
    return [
        {
            "embedding": run["embedding"],
            "seed": run["seed"],
            "fraction": run["fraction"],
            **({"fold": run["fold"]} if run.get("fold") is not None else {}),
            "strict micro F1": run["scores"]["micro"]["strict"]["f1"],
            "lenient micro F1": run["scores"]["micro"]["lenient"]["f1"],
            "folder": run["folder"],
        }
        for run in runs
    ]
