"""The paper's figures: one function per figure, comparison data in, PDF and PNG out.

Every function takes a section of the comparison data (``comparison.json`` as read back;
:data:`medner.comparison.study.SECTIONS` says what each holds) and an output path *stem*
(``figures/demo/02-per-label-f1``), writes ``<stem>.pdf`` and ``<stem>.png`` atomically and
returns both paths. Nothing here imports the code that computed the data, so a figure is
redrawn without computing anything again. Data that cannot make a figure (one training
fraction, no pair of embeddings) raises :class:`medner.report_folder.NotDrawable` before any
file is written. Figures are built on :class:`matplotlib.figure.Figure`
directly, never through pyplot, so nothing here touches the interactive backend of a
Jupyter session and no figure is left open; batch runs need no display.

One look for everything: the committed ``medner.mplstyle``, the Okabe-Ito palette
(safe for the common colour-vision deficiencies), and one fixed colour and marker
per embedding in every figure (:func:`embedding_colours`). Scores are drawn as
percentages.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib.style
import numpy as np
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from medner import files
from medner.report_folder import NotDrawable
from medner.study_order import DEFAULT_EMBEDDINGS, REFERENCE_HEADING, embedding_order, label_order

#: The committed style file every figure is drawn with.
STYLE_PATH = Path(__file__).with_name("medner.mplstyle")

#: Okabe & Ito (2008) colours, in the order embeddings receive them.
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow: last, it is faint on white
)
_MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*")
#: Grey shades for the corpus splits, so that no split is mistaken for an embedding.
SPLIT_COLOURS: dict[str, str] = {"train": "#404040", "dev": "#8c8c8c", "test": "#d0d0d0"}


def embedding_colours(names: Sequence[str]) -> dict[str, str]:
    """One fixed colour per embedding: glove, flair, bert always the first three, others by sorted name.

    The default embeddings keep their colour whether or not they are in ``names``, so
    a figure of ``bert`` alone uses the same green as a figure of all three.
    """
    colours = {name: OKABE_ITO[i] for i, name in enumerate(DEFAULT_EMBEDDINGS)}
    others = [n for n in embedding_order(names) if n not in colours]
    for i, name in enumerate(others):
        colours[name] = OKABE_ITO[(len(DEFAULT_EMBEDDINGS) + i) % len(OKABE_ITO)]
    return {name: colours[name] for name in embedding_order(names)}


def embedding_markers(names: Sequence[str]) -> dict[str, str]:
    """One fixed marker per embedding, in the same order as the colours (a second cue in greyscale print)."""
    markers = {name: _MARKERS[i] for i, name in enumerate(DEFAULT_EMBEDDINGS)}
    others = [n for n in embedding_order(names) if n not in markers]
    for i, name in enumerate(others):
        markers[name] = _MARKERS[(len(DEFAULT_EMBEDDINGS) + i) % len(_MARKERS)]
    return {name: markers[name] for name in embedding_order(names)}


@contextmanager
def styled_figure(stem: str | Path, width: float, height: float) -> Iterator[Figure]:
    """A Figure in the project style; on leaving, saved as ``<stem>.pdf`` and ``<stem>.png`` (each atomically).

    The style stays applied while the figure is drawn and saved, because matplotlib
    reads some settings (fonts, dpi) only at drawing time.
    """
    stem = Path(stem)
    with matplotlib.style.context(STYLE_PATH):
        figure = Figure(figsize=(width, height))
        yield figure
        # fixed metadata: the same data gives the same bytes, which keeps make's view of the files honest
        pdf = _rendered(figure, format="pdf", metadata={"CreationDate": None, "Creator": "medner"})
        png = _rendered(figure, format="png", metadata={"Software": "medner"})
        # both or neither: a full disk leaves the previous PDF and PNG as they were
        files.write_files({stem.with_suffix(".pdf"): pdf, stem.with_suffix(".png"): png})


def _rendered(figure: Figure, **options) -> bytes:
    """The bytes of ``figure`` saved with ``options``, drawn in memory so that only the write can meet a full disk."""
    buffer = io.BytesIO()
    figure.savefig(buffer, **options)
    return buffer.getvalue()


def _paths(stem: str | Path) -> list[Path]:
    stem = Path(stem)
    return [stem.with_suffix(".pdf"), stem.with_suffix(".png")]


def _legend_handles(names: Sequence[str], references: Sequence[str] = ()) -> list[Line2D]:
    """One entry per name; the reference systems last, hollow, after an entry that is their heading."""
    colours, markers = embedding_colours(names), embedding_markers(names)
    study = [n for n in names if n not in references]
    heading = [Line2D([], [], linestyle="", label=f"{REFERENCE_HEADING}:")] if references else []
    return [
        Line2D([], [], color=colours[n], marker=markers[n], linestyle="", markersize=6, label=n) for n in study
    ] + heading + [
        Line2D([], [], color=colours[n], marker=markers[n], markerfacecolor="none", linestyle="", markersize=6, label=n)
        for n in names if n in references
    ]


def _plain_log_axis(axis) -> None:
    """Log-scale ticks at 1, 2, 5 x 10^k written as plain numbers ("200", not "2 x 10^2"), no minor labels."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}" if value >= 1 else f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def _percent(values: Sequence[float]) -> np.ndarray:
    return 100.0 * np.asarray(values, dtype=float)


# ----------------------------------------------------------------------------- 1 label distribution


def plot_label_distribution(
    counts: Mapping[str, Mapping[str, int]], stem: str | Path, *, title: str | None = None
) -> list[Path]:
    """Figure 1: entities per label in each split, on a log scale (the label imbalance).

    ``counts`` is ``{split: {label: count}}``: the comparison's ``label_counts``, or
    :func:`medner.corpus.stats.label_counts_by_split` of the corpus statistics.
    """
    splits = [s for s in ("train", "dev", "test") if s in counts] + sorted(set(counts) - {"train", "dev", "test"})
    labels = label_order({label for split in splits for label in counts[split]})
    if not labels:
        raise NotDrawable("no label counts to draw (the comparison was given no corpus statistics)")
    width = 0.8 / len(splits)
    x = np.arange(len(labels))
    with styled_figure(stem, max(5.0, 0.75 * len(labels) + 1.5), 3.2) as figure:
        axes = figure.add_subplot()
        for i, split in enumerate(splits):
            values = np.array([counts[split].get(label, 0) for label in labels], dtype=float)
            positions = x + (i - (len(splits) - 1) / 2) * width
            shown = np.where(values > 0, values, np.nan)  # a zero has no place on a log axis
            axes.bar(
                positions,
                shown,
                width,
                label=f"{split} ({int(values.sum()):,} entities)",
                color=SPLIT_COLOURS.get(split, "#bbbbbb"),
                edgecolor="black",
                linewidth=0.4,
            )
            for position, value in zip(positions, values):
                axes.text(
                    position,
                    value if value > 0 else 1,
                    f"{int(value)}",
                    rotation=90,
                    ha="center",
                    va="bottom",
                    fontsize=6,
                )
        axes.set_yscale("log")
        top = max(max(counts[s].values(), default=1) for s in splits)
        axes.set_ylim(0.8, top * 8)  # room for the count labels above the tallest bar
        axes.set_xticks(x, labels)
        axes.set_ylabel("entities (count, log scale)")
        axes.set_xlabel("label")
        # the legend sits above the axes, where no bar can reach it
        figure.legend(loc="outside upper center", ncols=len(splits), title=title)
    return _paths(stem)


# ----------------------------------------------------------------------------- 2 per-label F1


def _seed_offsets(n: int, spread: float) -> np.ndarray:
    """Small fixed horizontal offsets so that seeds with equal scores stay visible."""
    if n <= 1:
        return np.zeros(n)
    return np.linspace(-spread, spread, n)


def _draw_spread(axes, x: float, spread: Mapping[str, Any], colour: str, marker: str, slot: float, *,
                 reference: bool = False) -> None:
    """Every seed as a dot, the mean as a bar, mean +- sd as a vertical line; a reference system's dots hollow and
    its mean dashed."""
    values = _percent(spread["values"])
    axes.scatter(
        x + _seed_offsets(len(values), slot * 0.25),
        values,
        s=14,
        facecolors="none" if reference else colour,
        edgecolors=colour,
        alpha=0.6,
        marker=marker,
        linewidths=0.8 if reference else 0,
        zorder=3,
    )
    mean, sd = 100 * spread["mean"], 100 * spread["sd"]
    axes.plot([x, x], [mean - sd, mean + sd], color=colour, linewidth=1.2, zorder=4)
    axes.plot([x - slot * 0.4, x + slot * 0.4], [mean, mean], color=colour, linewidth=2.2, zorder=5,
              linestyle="--" if reference else "-")


def plot_per_label_f1(table: Mapping[str, Any], stem: str | Path, *, title: str | None = None) -> list[Path]:
    """Figure 2: per-label F1 by embedding, strict (top) and lenient (bottom).

    ``table`` is the comparison's ``per_label``. Every seed is a dot, the mean a horizontal
    bar, the vertical line mean +- one sd. Tick labels carry each label's test support. The reference
    systems (``table["references"]``) come last, hollow and dashed, under their own heading in the legend.
    """
    embeddings, labels, support = table["embeddings"], table["labels"], table["support"]
    references = table.get("references", [])
    if not labels:
        raise NotDrawable("no scored label to draw")
    colours, markers = embedding_colours(embeddings), embedding_markers(embeddings)
    slot = 0.8 / len(embeddings)
    x = np.arange(len(labels))
    with styled_figure(stem, max(6.0, 0.8 * len(labels) + 1.5), 5.2) as figure:
        axes_pair = figure.subplots(2, 1, sharex=True)
        for axes, schema in zip(axes_pair, ("strict", "lenient")):
            for j, embedding in enumerate(embeddings):
                offset = (j - (len(embeddings) - 1) / 2) * slot
                for i, label in enumerate(labels):
                    _draw_spread(axes, x[i] + offset, table["scores"][label][embedding][schema], colours[embedding],
                                 markers[embedding], slot, reference=embedding in references)
            axes.set_ylim(-3, 103)
            axes.set_ylabel(f"{schema} F1 (%)")
            for boundary in x[:-1] + 0.5:
                axes.axvline(boundary, color="#eeeeee", linewidth=0.8, zorder=0)
        axes_pair[-1].set_xticks(x, [f"{label}\n(n={support[label]})" for label in labels])
        axes_pair[-1].set_xlabel("label (test support)")
        handles = _legend_handles(embeddings, references) + [
            Line2D([], [], color="#555555", linewidth=2.2, label="mean"),
            Line2D([], [], color="#555555", linewidth=1.2, marker="|", markersize=8, label="mean ± sd"),
        ]
        figure.legend(handles=handles, loc="outside upper center", ncols=min(len(handles), 6), title=title)
    return _paths(stem)


# ----------------------------------------------------------------------------- 3 confusion


def _compact_count(count: int) -> str:
    """A cell count short enough for a small cell: "857", "2077", "157k" (exact counts are in comparison.json)."""
    return f"{count}" if count < 10_000 else f"{count / 1000:.0f}k"


def plot_confusion(matrices: Mapping[str, Mapping[str, Any]], stem: str | Path, *, title: str | None = None) -> list[Path]:
    """Figure 3: one confusion matrix per embedding, colours row-normalised, counts in the cells.

    ``matrices`` is ``confusion["span"]`` or ``confusion["token"]`` of the comparison. Span matrices have gold labels plus SPURIOUS as rows and predicted labels plus
    MISSED as columns; token matrices have the labels plus O on both axes. Counts are
    summed over seeds (the panel title says over how many); counts of 10,000 and more
    are written in thousands ("157k"), so that they fit their cell.
    """
    names = embedding_order(matrices)
    if not names:
        raise NotDrawable("no confusion matrices to draw (the runs hold none of this kind)")
    colours = embedding_colours(names)
    size = max(len(matrices[names[0]]["columns"]), len(matrices[names[0]]["rows"]))
    panel = max(3.0, 0.3 * size + 1.3)
    columns = min(3, len(names))
    rows = math.ceil(len(names) / columns)
    kind = matrices[names[0]]["kind"]
    with styled_figure(stem, panel * columns + 0.8, panel * rows + 0.5) as figure:
        grid = figure.subplots(rows, columns, squeeze=False)
        image = None
        for index, axes in enumerate(grid.flat):
            if index >= len(names):
                axes.set_visible(False)
                continue
            embedding = names[index]
            matrix = matrices[embedding]
            shares = np.array(matrix["normalised"])
            counts = np.array(matrix["counts"])
            image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, aspect="equal")
            for (i, j), count in np.ndenumerate(counts):
                if count:
                    axes.text(
                        j,
                        i,
                        _compact_count(int(count)),
                        ha="center",
                        va="center",
                        fontsize=5.5,
                        color="white" if shares[i, j] > 0.55 else "black",
                    )
            axes.set_xticks(range(len(matrix["columns"])), matrix["columns"], rotation=60, ha="right", rotation_mode="anchor")
            axes.set_yticks(range(len(matrix["rows"])), matrix["rows"])
            axes.tick_params(length=0)
            axes.grid(False)
            for spine in axes.spines.values():
                spine.set_visible(False)
            axes.set_xlabel("predicted label")
            if index % columns == 0:
                axes.set_ylabel("gold label")
            n_seeds = matrix["n_seeds"]
            seeds = f"{n_seeds} seed{'s' if n_seeds != 1 else ''}"
            axes.set_title(f"{embedding} ({kind}, counts over {seeds})", color=colours[embedding])
        figure.colorbar(image, ax=grid.ravel().tolist(), shrink=0.8, label="share of the gold row")
        if title:
            figure.suptitle(title)
    return _paths(stem)


# ----------------------------------------------------------------------------- 4 pairwise differences


def _draw_pair(axes, pair: Mapping[str, Any], labels: Sequence[str], reach: float, colours: Mapping[str, str]) -> None:
    """One panel of figure 4: the pair's mean difference per label (then overall) as a bar, its seed range as a
    whisker, "k/n" significant seeds beside each bar; ``reach`` is the largest difference of any panel (points)."""
    a, b = pair["a"], pair["b"]
    differences = [pair["labels"][label] for label in labels] + [pair["overall"]]
    x = np.arange(len(differences))
    means = np.array([100 * d["mean_delta"] for d in differences])
    lows = np.array([100 * min(d["deltas"]) for d in differences])
    highs = np.array([100 * max(d["deltas"]) for d in differences])
    for i, difference in enumerate(differences):
        ahead = a if means[i] >= 0 else b
        significant = difference["n_significant"] * 2 > difference["n_seeds"]
        axes.bar(
            x[i],
            means[i],
            0.6,
            color=colours[ahead] if significant else to_rgba("white", 0.0),
            edgecolor=colours[ahead],
            linewidth=1.2,
            zorder=3,
        )
        axes.plot([x[i], x[i]], [lows[i], highs[i]], color="#333333", linewidth=0.9, zorder=4)
    axes.set_ylim(-reach * 1.35, reach * 1.35)
    for i, difference in enumerate(differences):
        above = means[i] >= 0
        axes.text(
            x[i],
            max(highs[i], means[i], 0.0) + reach * 0.05 if above else min(lows[i], means[i], 0.0) - reach * 0.05,
            f"{difference['n_significant']}/{difference['n_seeds']}",
            ha="center",
            va="bottom" if above else "top",
            fontsize=7,
        )
    axes.axhline(0, color="black", linewidth=0.8, zorder=2)
    axes.axvline(len(labels) - 0.5, color="#aaaaaa", linewidth=0.8, linestyle=":")
    axes.set_ylabel("ΔF1 (points)")
    axes.set_title(f"{a} − {b} ({pair['mode']}; above 0: {a} better)", fontsize=9, loc="left")


def plot_pairwise_differences(
    pairs: Sequence[Mapping[str, Any]],
    stem: str | Path,
    *,
    labels: Sequence[str] | None = None,
    title: str | None = None,
) -> list[Path]:
    """Figure 4: per-label F1 difference between each pair of embeddings, significance marked.

    ``pairs`` is the comparison's ``significance``. One panel per pair ``a - b``: a bar per
    label (and the micro-F1 "overall") at the mean difference over seeds, whiskers from the
    smallest to the largest per-seed difference, coloured by the embedding ahead. A bar is
    filled when the approximate randomisation test was significant in a majority of seeds,
    hollow otherwise; above each bar "k/n" counts the seeds with p < alpha. ``title``, when given, is
    a line above the legend's explanation (how the runs were tested).
    """
    if not pairs:
        raise NotDrawable("no embedding pairs to draw (significance needs gold test documents and two embeddings "
                          "trained with a common seed)")
    colours = embedding_colours(embedding_order({p["a"] for p in pairs} | {p["b"] for p in pairs}))
    labels = list(labels) if labels is not None else label_order(pairs[0]["labels"])
    columns = labels + ["overall"]
    alpha = pairs[0]["overall"]["alpha"]
    # one scale for every panel, so that differences compare across pairs
    reach = max(
        1.0,
        max(100 * abs(delta) for pair in pairs for d in [*pair["labels"].values(), pair["overall"]] for delta in d["deltas"]),
    )
    with styled_figure(stem, max(6.0, 0.7 * len(columns) + 1.5), 1.9 * len(pairs) + 1.0) as figure:
        panels = figure.subplots(len(pairs), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
        for axes, pair in zip(panels, pairs):
            _draw_pair(axes, pair, labels, reach, colours)
        panels[-1].set_xticks(np.arange(len(columns)), columns)
        panels[-1].set_xlabel("label (overall = micro-F1)")
        handles = [
            Patch(facecolor="#777777", edgecolor="#777777", label=f"p < {alpha:g} in most seeds"),
            Patch(facecolor="white", edgecolor="#777777", label="not in most seeds"),
            Line2D([], [], color="#333333", linewidth=0.9, label="seed min–max"),
        ]
        figure.legend(
            handles=handles,
            loc="outside upper center",
            ncols=3,
            title=(f"{title}\n" if title else "") + "bars: mean ΔF1 over seeds; k/n: seeds with p < alpha "
            "(approximate randomisation)",
        )
    return _paths(stem)


# ----------------------------------------------------------------------------- 5 F1 vs label frequency


def training_counts(per_label: Mapping[str, Any], label_counts: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """Every scored label's entity count in the training split; a label the statistics leave out counts 0."""
    if "train" not in label_counts:
        raise NotDrawable("no training label counts (the comparison was given no corpus statistics)")
    return {label: int(label_counts["train"].get(label, 0)) for label in per_label["labels"]}


def plot_f1_vs_frequency(
    per_label: Mapping[str, Any],
    label_counts: Mapping[str, Mapping[str, int]],
    stem: str | Path,
    *,
    schema: str = "strict",
    title: str | None = None,
) -> list[Path]:
    """Figure 5: per-label F1 (mean +- sd over seeds) against the label's count in training, per embedding.

    ``per_label`` and ``label_counts`` are the comparison's sections of those names. Labels
    with no training entity cannot sit on the log axis; the axis label names them.
    """
    counts = training_counts(per_label, label_counts)
    positive = {label: n for label, n in counts.items() if n > 0}
    if not positive:
        raise NotDrawable("no scored label occurs in training")
    names = embedding_order(per_label["embeddings"])
    colours, markers = embedding_colours(names), embedding_markers(names)
    with styled_figure(stem, 5.5, 3.8) as figure:
        axes = figure.add_subplot()
        for j, embedding in enumerate(names):
            # nudge embeddings apart on the log axis so their error bars do not hide each other
            nudge = 10 ** ((j - (len(names) - 1) / 2) * 0.025)
            for label, count in counts.items():
                if count <= 0:
                    continue
                spread = per_label["scores"][label][embedding][schema]
                axes.errorbar(
                    count * nudge,
                    100 * spread["mean"],
                    yerr=100 * spread["sd"],
                    color=colours[embedding],
                    marker=markers[embedding],
                    markersize=5,
                    capsize=2,
                    linewidth=1,
                    zorder=3,
                )
        axes.set_xscale("log")
        _plain_log_axis(axes.xaxis)
        low, high = min(positive.values()), max(positive.values())
        axes.set_xlim(low / 1.8, high * 1.8)
        axes.set_ylim(-3, 122)
        axes.set_yticks(range(0, 101, 20))
        # label names in a band above the data, staggered where neighbours are close on the log axis
        previous = -math.inf
        level = 0
        for label, n in sorted(positive.items(), key=lambda item: item[1]):
            level = (level + 1) % 3 if math.log10(n) - previous < 0.18 else 0
            previous = math.log10(n)
            axes.text(n, 104 + 6 * level, label, ha="center", va="bottom", fontsize=7)
            axes.axvline(n, color="#eeeeee", linewidth=0.7, zorder=0)
        absent = label_order(label for label, n in counts.items() if n <= 0)
        xlabel = "training entities of the label (count, log scale)"
        if absent:
            # a label with no training example has no place on a log axis: say so rather than drop it
            xlabel += f"\nnot in training, not drawn: {', '.join(absent)}"
        axes.set_xlabel(xlabel)
        axes.set_ylabel(f"{schema} F1 (%), mean ± sd over seeds")
        axes.legend(handles=_legend_handles(names), loc="lower right", title="embedding")
        if title:
            axes.set_title(title)
    return _paths(stem)


# ----------------------------------------------------------------------------- 6 learning curves


def plot_learning_curves(
    curves: Mapping[str, Sequence[Mapping[str, Any]]], stem: str | Path, *, title: str | None = None
) -> list[Path]:
    """Figure 6: micro-F1 against the training fraction, strict and lenient, per embedding.

    ``curves`` is the comparison's ``learning_curves``. Lines join the means, the band is
    mean +- sd, dots are seeds. Needs more than one fraction (a single point is no curve).
    """
    fractions = {p["fraction"] for points in curves.values() for p in points}
    if len(fractions) < 2:
        raise NotDrawable(f"only one training fraction ({', '.join(f'{f:g}' for f in sorted(fractions))}); "
                          "a learning curve needs runs at more than one training fraction")
    names = embedding_order(curves)
    colours, markers = embedding_colours(names), embedding_markers(names)
    with styled_figure(stem, 7.0, 3.2) as figure:
        panels = figure.subplots(1, 2, sharey=True)
        for axes, schema in zip(panels, ("strict", "lenient")):
            for embedding in names:
                points = sorted(curves[embedding], key=lambda p: p["fraction"])
                xs = np.array([100 * p["fraction"] for p in points])
                spreads = [p[schema] for p in points]
                means = np.array([100 * s["mean"] for s in spreads])
                sds = np.array([100 * s["sd"] for s in spreads])
                colour = colours[embedding]
                axes.fill_between(xs, means - sds, means + sds, color=colour, alpha=0.15, linewidth=0)
                axes.plot(xs, means, color=colour, marker=markers[embedding], label=embedding)
                for x, spread in zip(xs, spreads):
                    values = spread["values"]
                    axes.scatter(np.full(len(values), x), _percent(values), s=8, color=colour, alpha=0.5, linewidths=0)
            axes.set_xlabel("training documents used (%)")
            axes.set_title(f"{schema} micro-F1")
            axes.set_xlim(0, 105)
        panels[0].set_ylabel("micro-F1 (%)")
        panels[0].legend(loc="lower right", title="embedding")
        if title:
            figure.suptitle(title)
    return _paths(stem)


# ----------------------------------------------------------------------------- 7 training curves


def plot_training_curves(
    curves: Mapping[str, Sequence[Mapping[str, Any]]], stem: str | Path, *, title: str | None = None
) -> list[Path]:
    """Figure 7: dev micro-F1 per epoch, one panel per embedding, one line per seed (and fold), the kept epoch circled.

    ``curves`` is the comparison's ``training_curves``.
    """
    names = [n for n in embedding_order(curves) if curves[n]]
    if not names:
        raise NotDrawable("no run history to draw")
    colours = embedding_colours(names)
    styles = ("-", "--", ":", "-.")
    with styled_figure(stem, max(3.0 * len(names), 5.0), 3.0) as figure:
        panels = figure.subplots(1, len(names), sharey=True, squeeze=False)[0]
        for axes, embedding in zip(panels, names):
            for k, curve in enumerate(sorted(curves[embedding], key=lambda c: (c["seed"], c.get("fold", 0)))):
                dev = _percent(curve["dev_f1"])
                epochs, best = list(curve["epoch"]), curve["best_epoch"]
                axes.plot(
                    epochs,
                    dev,
                    color=colours[embedding],
                    linestyle=styles[k % len(styles)],
                    linewidth=1.2,
                    label=f"seed {curve['seed']}" + (f" fold {curve['fold']}" if "fold" in curve else ""),
                )
                if best is not None and best in epochs:
                    i = epochs.index(best)
                    axes.plot(epochs[i], dev[i], marker="o", markersize=6, markerfacecolor="none", color=colours[embedding])
            axes.set_title(embedding, color=colours[embedding])
            axes.set_xlabel("epoch")
            axes.legend(loc="lower right", fontsize=7)
        panels[0].set_ylabel("dev micro-F1 (%)")
        if title:
            figure.suptitle(title)
    return _paths(stem)


# ----------------------------------------------------------------------------- 8 cost


def plot_cost(cost: Mapping[str, Mapping[str, Any]], stem: str | Path, *, title: str | None = None) -> list[Path]:
    """Figure 8: strict micro-F1 against cost: seconds (left) and trainable parameters (right).

    ``cost`` is the comparison's ``cost``. Seconds are the embedding's in-domain training
    (GloVe vectors, Flair LMs; 0 for pretrained), its vector computation (``vector_seconds``:
    from a run that filled the cache; marked "cached" when none did) and each seed's tagger
    training. Dots are seeds, the large marker the mean.
    """
    names = [n for n in embedding_order(cost) if cost[n]["runs"]]
    if not names:
        raise NotDrawable("no cost data to draw")
    colours, markers = embedding_colours(names), embedding_markers(names)
    with styled_figure(stem, 7.0, 3.2) as figure:
        left, right = figure.subplots(1, 2, sharey=True)
        cached = []
        for embedding in names:
            group = cost[embedding]["runs"]
            compute, measured = cost[embedding]["vector_seconds"], cost[embedding]["vector_seconds_measured"]
            if not measured:
                cached.append(embedding)
            seconds = np.array([p["embedding_training_seconds"] + compute + p["training_seconds"] for p in group])
            parameters = np.array([p["trainable_parameters"] for p in group], dtype=float) / 1e6
            f1 = _percent([p["f1"] for p in group])
            colour, marker = colours[embedding], markers[embedding]
            for axes, xs in ((left, seconds), (right, parameters)):
                axes.scatter(xs, f1, s=14, color=colour, marker=marker, alpha=0.45, linewidths=0)
                axes.scatter(
                    [xs.mean()], [f1.mean()], s=60, color=colour, marker=marker, edgecolors="black", linewidths=0.6, zorder=4,
                    label=embedding + (" (cached)" if not measured else ""),
                )
        left.set_xscale("log")
        _plain_log_axis(left.xaxis)
        left.set_xlabel("embedding (in-domain training + vectors)\n+ tagger training (s, log scale)")
        right.set_xlabel("trainable parameters\nof the tagger (millions)")
        left.set_ylabel("strict micro-F1 (%)")
        for axes in (left, right):
            axes.grid(True, axis="both")
            axes.margins(x=0.15, y=0.2)
        left.legend(loc="best", title="embedding (large: mean)")
        if title:
            figure.suptitle(title)
    return _paths(stem)
