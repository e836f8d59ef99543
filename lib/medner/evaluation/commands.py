"""``medner evaluate GOLD_DIR PRED_DIR``: score any two brat folders, n2c2-2018 style."""

from __future__ import annotations

import argparse
import json

from medner.evaluation.relations import evaluate_folders
from medner.evaluation.span import MODES


def register(subparsers) -> None:
    """Add this layer's subcommands to ``medner``."""
    parser = subparsers.add_parser(
        "evaluate",
        help="score predicted brat files against gold ones (strict and lenient, per label)",
        description=(
            "Score the .ann files of PRED_DIR against the gold brat documents of GOLD_DIR with the "
            "n2c2-2018 Track 2 semantics (strict and lenient span matching, per label, micro and macro). "
            "When the gold files have relations (R lines), the relations are scored too, per type. "
            "A gold document without a prediction file counts as one with no predictions; a prediction "
            "file without a gold document is an error."
        ),
    )
    parser.add_argument("gold_dir", metavar="GOLD_DIR", help="folder of gold .txt/.ann files")
    parser.add_argument("pred_dir", metavar="PRED_DIR", help="folder of predicted .ann files (.txt optional)")
    parser.add_argument("--labels", help="comma-separated labels to score (default: every label found)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(func=run_evaluate)


def parse_labels(text: str | None) -> list[str] | None:
    """``"Drug,Route"`` -> ``["Drug", "Route"]``; None stays None; an empty entry is an error."""
    if text is None:
        return None
    labels = [part.strip() for part in text.split(",")]
    if not all(labels):
        raise ValueError(f"--labels: expected comma-separated label names, found {text!r}")
    return labels


def _header(title: str, width: int) -> list[str]:
    columns = f"{'':{width}}  " + "    ".join(f"{'Prec.':>6}  {'Rec.':>6}  {'F1':>6}  {'n':>6}" for _ in MODES)
    return [f"{title:>{width}}  {' strict ':-^30}    {' lenient ':-^30}", columns]


def _row(name: str, cells: list[dict], count_key: str | None, width: int) -> str:
    """One table row: P, R, F1 (and ``cell[count_key]`` when given) of each mode, side by side."""
    parts = []
    for cell in cells:
        n = f"{cell[count_key]:>6}" if count_key else f"{'':>6}"
        parts.append(f"{cell['precision']:>6.4f}  {cell['recall']:>6.4f}  {cell['f1']:>6.4f}  {n}")
    return f"{name:>{width}}  " + "    ".join(parts)


def _count_lines(scores: dict, width: int) -> list[str]:
    lines = []
    for mode in MODES:
        micro = scores[mode]["micro"]
        lines.append(f"{mode:>{width}}  tp {micro['tp']}  fp {micro['fp']}  fn {micro['fn']}  dropped {micro['dropped']}")
    return lines


def format_table(scores: dict) -> str:
    """The scores as a fixed-width table: strict and lenient side by side, per label then overall.

    When ``scores`` has ``"relations"`` (see :func:`format_relation_table`), their block follows after a blank line.
    """
    width = max([21, *(len(label) for label in scores["strict"]["labels"])])
    lines = _header("", width)
    for label in scores["strict"]["labels"]:
        lines.append(_row(label, [scores[m]["labels"][label] for m in MODES], "support", width))
    lines.append(f"{'':{width}}  {'':-^66}")
    lines.append(_row("Overall (micro)", [scores[m]["micro"] for m in MODES], None, width))
    lines.append(_row("Macro (labels)", [scores[m]["macro"] for m in MODES], None, width))
    lines.append(_row("Weighted (labels)", [scores[m]["weighted"] for m in MODES], None, width))
    lines.append(_row("Overall (macro, docs)", [scores[m]["overall_macro"] for m in MODES], None, width))
    lines.extend(_count_lines(scores, width))
    docs = scores["documents"]
    lines.append(f"{docs['scored']} documents scored, {docs['missing_predictions']} without a prediction file")
    for side, counts in scores["ignored"].items():
        if counts:
            shown = ", ".join(f"{label} {n}" for label, n in counts.items())
            lines.append(f"{side} entities with labels not scored: {shown}")
    if "relations" in scores:
        lines.extend(["", format_relation_table(scores["relations"], min_width=width)])
    return "\n".join(lines)


def format_relation_table(relations: dict, *, min_width: int = 21) -> str:
    """The relation scores (:func:`medner.evaluation.relations.score_relations`) as the second block of the table.

    ``min_width``: the name column's least width (the entity block's, so that the two blocks align).
    """
    width = max([min_width, *(len(name) for name in relations["strict"]["per_type"])])
    lines = _header("Relations", width)
    for name in relations["strict"]["per_type"]:
        lines.append(_row(name, [relations[m]["per_type"][name] for m in MODES], "support", width))
    lines.append(f"{'':{width}}  {'':-^66}")
    lines.append(_row("Overall (micro)", [relations[m]["micro"] for m in MODES], None, width))
    lines.append(_row("Macro (types)", [relations[m]["macro"] for m in MODES], None, width))
    lines.append(_row("Overall (macro, docs)", [relations[m]["overall_macro"] for m in MODES], None, width))
    lines.extend(_count_lines(relations, width))
    for side, counts in relations["ignored"].items():
        if counts:
            lines.append(f"{side} relations with types not scored: " + ", ".join(f"{t} {n}" for t, n in counts.items()))
    return "\n".join(lines)


def run_evaluate(args: argparse.Namespace) -> int:
    """Score the folders and print the table or the JSON object."""
    scores = evaluate_folders(args.gold_dir, args.pred_dir, labels=parse_labels(args.labels))
    if args.json:
        print(json.dumps(scores, indent=2))
    else:
        print(format_table(scores))
    return 0
