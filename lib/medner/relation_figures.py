"""The relation study's table and figures, drawn from the ``relations`` section of comparison.json.

As :mod:`medner.figures` and :mod:`medner.tables`: a section in, files out (``<stem>.pdf`` and ``.png`` for a
figure, ``<stem>.md`` and ``.tex`` for the table), nothing computed again. One colour per embedding as in every
figure of the study; the variant is the marker (pipeline: circle, shared: triangle).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.lines import Line2D

from medner.figures import _draw_spread, _paths, embedding_colours, styled_figure
from medner.report_folder import NotDrawable
from medner.tables import _markdown, _write_latex_and_markdown, format_spread, latex_escape, markdown_escape

VARIANT_MARKERS: dict[str, str] = {"pipeline": "o", "shared": "^"}
SETTING_NAMES: dict[str, str] = {"gold_entities": "gold entities", "end_to_end": "end to end"}


def _significance_of(section: Mapping[str, Any], embedding: str, setting: str) -> str:
    for test in section.get("significance", []):
        if test["embedding"] == embedding and test["setting"] == setting:
            overall = test["overall"]
            seeds = "; ".join(f"{100 * d:+.1f} p {p:.3f}" for d, p in zip(overall["deltas"], overall["p_values"]))
            return f"{overall['n_significant']}/{overall['n_seeds']} ({seeds})"
    return "–"


def _check(section: Mapping[str, Any] | None) -> None:
    if not section or not section.get("summary"):
        raise NotDrawable("no relation runs (make all with RELATIONS=1 on a corpus with relations, on its own split)")


def relation_table_cells(section: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The main relation table: per embedding and variant, relation strict and lenient micro-F1 with gold entities
    and end to end, NER strict micro-F1, cost, and the seeds where pipeline and shared differ significantly."""
    _check(section)
    header = ["Embedding", "Variant", "Seeds", "Rel. F1 gold strict", "Rel. F1 gold lenient", "Rel. F1 e2e strict",
              "Rel. F1 e2e lenient", "NER F1", "Parameters", "Train s", "Peak MiB", "p < α gold", "p < α e2e"]
    body = []
    for row in section["summary"]:
        relation = row["relation"]
        cost = row["cost"]
        shared = row["variant"] == "shared"
        body.append([row["embedding"], row["variant"], str(row["n_seeds"]),
                     *(format_spread(relation[s][m]["micro"]) for s in ("gold_entities", "end_to_end") for m in ("strict", "lenient")),
                     format_spread(row["ner_f1"]), f"{cost['trainable_parameters']['mean']:,.0f}",
                     f"{cost['training_seconds']['mean']:.0f}", f"{cost['peak_rss_mb']['mean']:.0f}",
                     *((_significance_of(section, row["embedding"], s) if shared else "") for s in ("gold_entities", "end_to_end"))])
    return header, body


RELATION_TABLE_NOTE = (
    "Relation F1 (%): strict (both arguments with the gold extents) and lenient (overlapping), micro over types, with "
    "gold entities and end to end (entities from the variant's own NER); NER F1: strict micro. Mean ± sample sd over "
    "seeds. Pipeline: the NER run plus a relation model with its own encoder (parameters and seconds summed, memory "
    "the larger peak); shared: one encoder with both heads. p < α: seeds where pipeline and shared differ "
    "(paired approximate randomisation on relation counts, strict micro-F1), then each seed's difference pipeline "
    "minus shared in points and its p-value.")


def relation_table_markdown(section: Mapping[str, Any], *, corpus: str) -> str:
    header, body = relation_table_cells(section)
    note = f"Relations on {markdown_escape(corpus)}, test. {RELATION_TABLE_NOTE}"
    return note + "\n\n" + _markdown(header, body, ["l", "l", "r"] + ["c"] * (len(header) - 3))


def relation_table_latex(section: Mapping[str, Any], *, corpus: str) -> str:
    header, body = relation_table_cells(section)
    lines = [r"\begin{table}", r"\centering", r"\small",
             rf"\caption{{Relations on {latex_escape(corpus)}, test. {latex_escape(RELATION_TABLE_NOTE)}}}",
             r"\begin{tabular}{ll" + "r" * (len(header) - 2) + "}", r"\toprule",
             " & ".join(latex_escape(h) for h in header) + r" \\", r"\midrule"]
    lines += [" & ".join(latex_escape(c).replace("±", r"$\pm$") for c in row) + r" \\" for row in body]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def relation_appendix(section: Mapping[str, Any] | None, *, corpus: str) -> tuple[str, str] | None:
    """``(latex, markdown)`` of the relation table, for the main results files to carry after the NER table
    (:func:`medner.tables.write_main_table`); None without relation runs."""
    if not section or not section.get("summary"):
        return None
    return relation_table_latex(section, corpus=corpus), relation_table_markdown(section, corpus=corpus)


def write_relation_table(section: Mapping[str, Any], stem: str | Path, *, corpus: str) -> list[Path]:
    """``<stem>.md`` and ``<stem>.tex``: the relation table."""
    return _write_latex_and_markdown(stem, relation_table_latex(section, corpus=corpus),
                                     relation_table_markdown(section, corpus=corpus))


def _slots(section: Mapping[str, Any]) -> list[tuple[str, str]]:
    present = {(row["embedding"], row["variant"]) for row in section["summary"]}
    return [(e, v) for e in section["embeddings"] for v in VARIANT_MARKERS if (e, v) in present]


def _legend(figure, section: Mapping[str, Any], title: str | None) -> None:
    colours = embedding_colours(section["embeddings"])
    handles = [Line2D([], [], color=colours[e], marker="s", linestyle="", label=e) for e in section["embeddings"]]
    handles += [Line2D([], [], color="#555555", marker=m, linestyle="", label=v) for v, m in VARIANT_MARKERS.items()]
    figure.legend(handles=handles, loc="outside upper center", ncols=len(handles), title=title)


def plot_relation_per_type(section: Mapping[str, Any], stem: str | Path, *, title: str | None = None) -> list[Path]:
    """Per-type relation strict F1 by embedding and variant, with gold entities (top) and end to end (bottom).
    Every seed a dot, the mean a bar, mean ± sd a line; tick labels carry each type's test support."""
    _check(section)
    per_type, slots = section["per_type"], _slots(section)
    types = [t for t in per_type["types"] if any(per_type["scores"][t][s] for s in SETTING_NAMES)]
    if not types or not slots:
        raise NotDrawable("no relation type scored")
    colours = embedding_colours(section["embeddings"])
    slot = 0.8 / len(slots)
    x = np.arange(len(types))
    with styled_figure(stem, max(6.5, 1.0 * len(types) + 1.5), 5.4) as figure:
        axes_pair = figure.subplots(2, 1, sharex=True)
        for axes, setting in zip(axes_pair, SETTING_NAMES):
            for j, (embedding, variant) in enumerate(slots):
                offset = (j - (len(slots) - 1) / 2) * slot
                for i, relation_type in enumerate(types):
                    spread = per_type["scores"][relation_type][setting].get(embedding, {}).get(variant)
                    if spread is not None:
                        _draw_spread(axes, x[i] + offset, spread, colours[embedding], VARIANT_MARKERS[variant], slot)
            axes.set_ylim(-3, 103)
            axes.set_ylabel(f"strict F1 (%), {SETTING_NAMES[setting]}")
            for boundary in x[:-1] + 0.5:
                axes.axvline(boundary, color="#eeeeee", linewidth=0.8, zorder=0)
        support = per_type["support"]
        axes_pair[-1].set_xticks(x, [f"{t.replace('-Drug', '')}\n(n={support.get(t, 0)})" for t in types])
        axes_pair[-1].set_xlabel("relation type: attribute-Drug (test support)")
        _legend(figure, section, title)
    return _paths(stem)


def plot_relation_sharing(section: Mapping[str, Any], stem: str | Path, *, title: str | None = None) -> list[Path]:
    """What sharing the encoder changes, per embedding: NER F1, end-to-end relation F1, trained parameters,
    training seconds and peak memory, pipeline against shared; every seed a dot."""
    _check(section)
    slots = _slots(section)
    rows = {(r["embedding"], r["variant"]): r for r in section["summary"]}
    colours = embedding_colours(section["embeddings"])
    panels = [("NER strict micro-F1 (%)", lambda r: r["ner_f1"], True),
              ("relation F1 end to end (%)", lambda r: r["relation"]["end_to_end"]["strict"]["micro"], True),
              ("trained parameters (M)", lambda r: r["cost"]["trainable_parameters"], 1e-6),
              ("training seconds", lambda r: r["cost"]["training_seconds"], 1.0),
              ("peak memory (MiB)", lambda r: r["cost"]["peak_rss_mb"], 1.0)]
    with styled_figure(stem, 12.0, 3.6) as figure:
        for axes, (name, value, scale) in zip(figure.subplots(1, len(panels)), panels):
            for j, key in enumerate(slots):
                spread = value(rows[key])
                if scale is not True:
                    spread = {**spread, "values": [v * scale / 100 for v in spread["values"]],
                              "mean": spread["mean"] * scale / 100, "sd": spread["sd"] * scale / 100}
                _draw_spread(axes, j, spread, colours[key[0]], VARIANT_MARKERS[key[1]], 0.8)
            axes.set_xticks(range(len(slots)), [f"{e} {v}" for e, v in slots], fontsize=7, rotation=45, ha="right")
            axes.set_title(name, fontsize=9)
        _legend(figure, section, title)
    return _paths(stem)
