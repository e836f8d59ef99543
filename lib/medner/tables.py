"""The paper's tables as LaTeX (booktabs) and Markdown, from :mod:`medner.comparison` data.

Scores are F1 in percent, one decimal, written "mean ± sd" over seeds; the best
mean of each column (main table) or row and schema (per-label table) is bold.
LaTeX output needs ``\\usepackage{booktabs}`` and nothing else. Plain Python: no
dataframe library is needed to build or read these tables.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from medner.comparison import AVERAGES, SCHEMAS, MainRow, PairComparison, PerLabelTable, SeedSpread

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
}


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (embedding names like ``bio_clinical``)."""
    return "".join(_LATEX_SPECIALS.get(c, c) for c in str(text))


def format_spread(spread: SeedSpread, *, latex: bool = False) -> str:
    """ "81.2 ± 0.4": F1 mean and sd over seeds in percent (just the mean for a single seed)."""
    if spread.n == 1:
        return f"{100 * spread.mean:.1f}"
    sign = r" $\pm$ " if latex else " ± "
    return f"{100 * spread.mean:.1f}{sign}{100 * spread.sd:.1f}"


def _bold(text: str, latex: bool) -> str:
    return rf"\textbf{{{text}}}" if latex else f"**{text}**"


def _best(values: Sequence[float]) -> set[int]:
    top = max(values)
    return {i for i, v in enumerate(values) if round(v, 3) == round(top, 3)}


def _main_cells(rows: Sequence[MainRow], latex: bool) -> tuple[list[str], list[list[str]]]:
    """Header and body cells of the main table (shared by both formats)."""
    keys = [(schema, average) for schema in SCHEMAS for average in AVERAGES]
    with_ci = any(row.ci is not None for row in rows)
    header = ["Embedding", "Seeds"]
    for schema, average in keys:
        header.append(f"{schema.capitalize()} {average} F1")
        if with_ci and (schema, average) == ("strict", "micro"):
            header.append("95% CI" if not latex else r"95\% CI")
    best = {key: _best([row.scores[key].mean for row in rows]) for key in keys}
    body = []
    for i, row in enumerate(rows):
        cells = [latex_escape(row.embedding) if latex else row.embedding, str(row.scores[keys[0]].n)]
        for key in keys:
            text = format_spread(row.scores[key], latex=latex)
            cells.append(_bold(text, latex) if i in best[key] and len(rows) > 1 else text)
            if with_ci and key == ("strict", "micro"):
                if row.ci is None:
                    cells.append("--" if latex else "–")
                else:
                    cells.append(f"[{100 * row.ci.low:.1f}, {100 * row.ci.high:.1f}] (seed {row.ci.seed})")
        body.append(cells)
    return header, body


def main_table_latex(rows: Sequence[MainRow], *, corpus: str) -> str:
    """The main results table as a LaTeX ``table`` with booktabs rules."""
    header, body = _main_cells(rows, latex=True)
    with_ci = len(header) == 7
    level = 100 * (1 - rows[0].ci.alpha) if with_ci and rows[0].ci else 95
    caption = (
        f"Test F1 (\\%) on {latex_escape(corpus)}: mean $\\pm$ sample sd over seeds, strict and lenient span matching, "
        "micro and macro averages over labels."
    )
    if with_ci:
        caption += (
            f" CI: {level:g}\\% bootstrap interval over test documents of strict micro-F1 for the median-seed run "
            "(the seed named)."
        )
    columns = "l" + "r" + "c" * (len(header) - 2)
    strict_span = 3 if with_ci else 2
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{caption}}}",
        rf"\label{{tab:main-{latex_escape(corpus)}}}",
        rf"\begin{{tabular}}{{{columns}}}",
        r"\toprule",
        rf" & & \multicolumn{{{strict_span}}}{{c}}{{Strict}} & \multicolumn{{2}}{{c}}{{Lenient}} \\",
        rf"\cmidrule(lr){{3-{2 + strict_span}}}\cmidrule(lr){{{3 + strict_span}-{4 + strict_span}}}",
        " & ".join(["Embedding", "Seeds"] + [_sub_header(h) for h in header[2:]]) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(cells) + r" \\" for cells in body]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


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


def main_table_markdown(rows: Sequence[MainRow], *, corpus: str) -> str:
    """The main results table as Markdown, with a one-line note on what the numbers are."""
    header, body = _main_cells(rows, latex=False)
    note = f"Test F1 (%) on {corpus}: mean ± sample sd over seeds."
    if len(header) == 7:
        note += " CI: bootstrap interval over test documents of strict micro-F1 for the median-seed run."
    return note + "\n\n" + _markdown(header, body, ["l", "r"] + ["c"] * (len(header) - 2))


def _per_label_cells(table: PerLabelTable, latex: bool) -> tuple[list[str], list[list[str]]]:
    header = ["Label", "Support"] + [f"{schema} {name}" for schema in SCHEMAS for name in table.embeddings]
    body = []
    for label in table.labels:
        cells = [latex_escape(label) if latex else label, str(table.support[label])]
        for schema in SCHEMAS:
            spreads = [table.scores[label][name][schema] for name in table.embeddings]
            best = _best([s.mean for s in spreads])
            for k, spread in enumerate(spreads):
                text = format_spread(spread, latex=latex)
                cells.append(_bold(text, latex) if k in best and len(spreads) > 1 else text)
        body.append(cells)
    return header, body


def per_label_table_latex(table: PerLabelTable, *, corpus: str) -> str:
    """The per-label table (rows: labels; columns: embeddings, strict then lenient) as LaTeX."""
    _, body = _per_label_cells(table, latex=True)
    n = len(table.embeddings)
    names = [latex_escape(name) for name in table.embeddings]
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{Per-label test F1 (\%) on {latex_escape(corpus)}, mean $\pm$ sample sd over seeds; "
        r"support is the number of gold test entities.}",
        rf"\label{{tab:per-label-{latex_escape(corpus)}}}",
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


def per_label_table_markdown(table: PerLabelTable, *, corpus: str) -> str:
    """The per-label table as Markdown."""
    header, body = _per_label_cells(table, latex=False)
    note = f"Per-label test F1 (%) on {corpus}: mean ± sample sd over seeds; support = gold test entities."
    return note + "\n\n" + _markdown(header, body, ["l", "r"] + ["c"] * (len(header) - 2))


def write_main_table(rows: Sequence[MainRow], stem: str | Path, *, corpus: str) -> dict[str, Path]:
    """Write ``<stem>.tex`` and ``<stem>.md``; returns ``{"main_latex": ..., "main_markdown": ...}``."""
    if not rows:
        raise ValueError("write_main_table: no embedding to tabulate")
    return _write_latex_and_markdown(
        stem, "main", main_table_latex(rows, corpus=corpus), main_table_markdown(rows, corpus=corpus)
    )


def write_per_label_table(table: PerLabelTable, stem: str | Path, *, corpus: str) -> dict[str, Path]:
    """Write ``<stem>.tex`` and ``<stem>.md``; returns ``{"per_label_latex": ..., "per_label_markdown": ...}``."""
    if not table.labels:
        raise ValueError("write_per_label_table: no label to tabulate")
    return _write_latex_and_markdown(
        stem, "per_label", per_label_table_latex(table, corpus=corpus), per_label_table_markdown(table, corpus=corpus)
    )


def _write_latex_and_markdown(stem: str | Path, key: str, latex_text: str, markdown_text: str) -> dict[str, Path]:
    """Write ``<stem>.tex`` and ``<stem>.md``; returns ``{"<key>_latex": ..., "<key>_markdown": ...}``."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    latex, markdown = stem.with_suffix(".tex"), stem.with_suffix(".md")
    latex.write_text(latex_text, encoding="utf-8")
    markdown.write_text(markdown_text, encoding="utf-8")
    return {f"{key}_latex": latex, f"{key}_markdown": markdown}


def write_significance_csv(pairs: Sequence[PairComparison], path: str | Path) -> Path:
    """One row per embedding pair x label (and "overall") x seed: delta (a - b), p-value, significant."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "mode", "n_shuffles", "label", "seed", "delta", "p_value", "significant"])
        for pair in pairs:
            for label, difference in list(pair.labels.items()) + [("overall", pair.overall)]:
                for seed, delta, p_value in zip(difference.seeds, difference.deltas, difference.p_values):
                    writer.writerow(
                        [pair.a, pair.b, pair.mode, pair.n_shuffles, label, seed, repr(delta), repr(p_value), int(p_value < difference.alpha)]
                    )
    return path
