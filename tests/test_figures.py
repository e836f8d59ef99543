"""Every figure function on a small generated study: both files written, real PDF and PNG, nothing left open."""

from __future__ import annotations

import pytest

from medner import figures
from medner.comparison import (
    collect_runs,
    confusion_matrices,
    cost_data,
    label_frequency,
    learning_curves,
    per_label_table,
    significance,
    training_curves,
)
from resources.comparison.fake_study import LABELS, write_fake_study

PDF_MAGIC = b"%PDF-"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    fake = write_fake_study(tmp_path_factory.mktemp("results"), fractions=(0.5, 1.0))
    return fake, collect_runs(fake.results_root, fake.corpus)


def assert_figure_files(paths, stem):
    assert paths == [stem.with_suffix(".pdf"), stem.with_suffix(".png")]
    pdf, png = (p.read_bytes() for p in paths)
    assert pdf.startswith(PDF_MAGIC) and len(pdf) > 2000
    assert png.startswith(PNG_MAGIC) and len(png) > 5000


def test_label_distribution(study, tmp_path):
    fake, _ = study
    counts = {"train": fake.train_counts, "dev": {"Drug": 40, "ADE": 0}, "test": {label: 3 for label in LABELS}}
    stem = tmp_path / "sub" / "01-label-distribution"
    assert_figure_files(figures.plot_label_distribution(counts, stem, title="fake"), stem)


def test_per_label_f1(study, tmp_path):
    stem = tmp_path / "02"
    assert_figure_files(figures.plot_per_label_f1(per_label_table(study[1]), stem), stem)


@pytest.mark.parametrize("kind", ["span", "token"])
def test_confusion(study, tmp_path, kind):
    stem = tmp_path / f"03-{kind}"
    assert_figure_files(figures.plot_confusion(confusion_matrices(study[1], kind), stem), stem)


def test_pairwise_differences(study, tmp_path):
    fake, runs = study
    pairs = significance(runs, fake.gold, n_shuffles=50, progress=False)
    stem = tmp_path / "04"
    assert_figure_files(figures.plot_pairwise_differences(pairs, stem, labels=list(LABELS)), stem)
    with pytest.raises(ValueError, match="no embedding pairs"):
        figures.plot_pairwise_differences([], tmp_path / "empty")


def test_f1_vs_frequency(study, tmp_path):
    fake, runs = study
    stem = tmp_path / "05"
    data = label_frequency(per_label_table(runs), fake.train_counts)
    assert_figure_files(figures.plot_f1_vs_frequency(data, stem), stem)
    # labels the training counts leave out count as 0 and are named under the axis, not dropped
    partial = label_frequency(per_label_table(runs), {"Drug": 3, "ADE": 7})
    assert [(label, n) for label, n, _ in partial["bert"]] == [(label, {"Drug": 3, "ADE": 7}.get(label, 0)) for label in LABELS]
    assert_figure_files(figures.plot_f1_vs_frequency(partial, tmp_path / "05-partial"), tmp_path / "05-partial")


def test_learning_curves_need_more_than_one_fraction(study, tmp_path):
    runs = study[1]
    stem = tmp_path / "06"
    assert_figure_files(figures.plot_learning_curves(learning_curves(runs), stem), stem)
    one_fraction = learning_curves([r for r in runs if r.fraction == 1.0])
    with pytest.raises(ValueError, match="more than one training fraction"):
        figures.plot_learning_curves(one_fraction, tmp_path / "06-single")
    assert not (tmp_path / "06-single.pdf").exists()


def test_training_curves_are_reproducible_and_leave_no_pyplot_figure_open(study, tmp_path):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    curves = training_curves(study[1])
    first = figures.plot_training_curves(curves, tmp_path / "a" / "07")
    assert_figure_files(first, tmp_path / "a" / "07")
    assert plt.get_fignums() == before
    # the same data gives the same bytes, so make sees an unchanged figure as unchanged
    second = figures.plot_training_curves(curves, tmp_path / "b" / "07")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_cost(study, tmp_path):
    stem = tmp_path / "08"
    assert_figure_files(figures.plot_cost(cost_data(study[1]), stem), stem)


def test_one_colour_per_embedding_in_every_figure():
    everything = figures.embedding_colours(["xlmr", "bert", "glove", "flair", "biobert"])
    assert list(everything) == ["glove", "flair", "bert", "biobert", "xlmr"]
    assert len(set(everything.values())) == 5
    # a default embedding keeps its colour whatever else is drawn beside it
    assert figures.embedding_colours(["bert"])["bert"] == everything["bert"]
    assert figures.embedding_colours(["bert", "xlmr"])["bert"] == everything["bert"]
    assert all(colour in figures.OKABE_ITO for colour in everything.values())
    markers = figures.embedding_markers(["glove", "flair", "bert"])
    assert len(set(markers.values())) == 3


def test_style_file_ships_with_the_package():
    assert figures.STYLE_PATH.is_file()
    assert "pdf.fonttype: 42" in figures.STYLE_PATH.read_text()
