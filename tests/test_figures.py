"""Every figure function on the comparison data of a small generated study, as read back from comparison.json:
both files written, real PDF and PNG, nothing left open, and data that cannot make a figure writes nothing."""

from __future__ import annotations

import pytest

from medner import figures
from medner.comparison.study import compute_comparison, read_comparison, write_comparison
from medner.report_folder import NotDrawable
from resources.comparison.fake_study import LABELS, write_fake_study

PDF_MAGIC = b"%PDF-"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    """The comparison of a study with two training fractions, written and read back as notebook 03 reads it."""
    fake = write_fake_study(tmp_path_factory.mktemp("results"), fractions=(0.5, 1.0))
    counts = {"train": fake.train_counts, "dev": {"Drug": 40, "ADE": 0}, "test": {label: 3 for label in LABELS}}
    data = compute_comparison(fake.results_root, fake.corpus, fake.gold, label_counts=counts, n_boot=50, n_shuffles=50,
                              progress=False)
    return read_comparison(write_comparison(data, tmp_path_factory.mktemp("data") / "comparison.json"))


def assert_figure_files(paths, stem):
    assert paths == [stem.with_suffix(".pdf"), stem.with_suffix(".png")]
    pdf, png = (p.read_bytes() for p in paths)
    assert pdf.startswith(PDF_MAGIC) and len(pdf) > 2000
    assert png.startswith(PNG_MAGIC) and len(png) > 5000
    assert not list(stem.parent.glob("*.part"))  # written through temporary names, none left behind


def test_label_distribution(comparison, tmp_path):
    stem = tmp_path / "sub" / "01-label-distribution"
    assert_figure_files(figures.plot_label_distribution(comparison["label_counts"], stem, title="fake"), stem)
    with pytest.raises(NotDrawable, match="no label counts"):
        figures.plot_label_distribution({}, tmp_path / "empty")


def test_per_label_f1(comparison, tmp_path):
    stem = tmp_path / "02"
    assert_figure_files(figures.plot_per_label_f1(comparison["per_label"], stem), stem)


def test_per_label_f1_draws_the_reference_systems_last_and_hollow_under_their_heading(tmp_path):
    from medner.comparison.study import compute_comparison
    from resources.comparison.fake_study import write_fake_study

    fake = write_fake_study(tmp_path / "results", embeddings=("glove",), seeds=(1, 2), references=("finetune",))
    table = compute_comparison(fake.results_root, fake.corpus, None, progress=False)["per_label"]
    stem = tmp_path / "02-references"
    assert_figure_files(figures.plot_per_label_f1(table, stem), stem)
    handles = figures._legend_handles(table["embeddings"], table["references"])
    assert [h.get_label() for h in handles] == ["glove", "reference systems: differ in more than the embedding:",
                                                 "finetune-bert"]
    assert handles[0].get_markerfacecolor() != "none" and handles[2].get_markerfacecolor() == "none"


@pytest.mark.parametrize("kind", ["span", "token"])
def test_confusion(comparison, tmp_path, kind):
    stem = tmp_path / f"03-{kind}"
    assert_figure_files(figures.plot_confusion(comparison["confusion"][kind], stem), stem)


def test_confusion_of_runs_without_token_matrices_is_not_drawn(tmp_path):
    with pytest.raises(NotDrawable, match="no confusion matrices"):
        figures.plot_confusion({}, tmp_path / "03b")
    assert not list(tmp_path.iterdir())


def test_pairwise_differences(comparison, tmp_path):
    stem = tmp_path / "04"
    assert_figure_files(figures.plot_pairwise_differences(comparison["significance"], stem, labels=list(LABELS)), stem)
    with pytest.raises(NotDrawable, match="no embedding pairs"):
        figures.plot_pairwise_differences([], tmp_path / "empty")


def test_f1_vs_frequency(comparison, tmp_path):
    stem = tmp_path / "05"
    assert_figure_files(figures.plot_f1_vs_frequency(comparison["per_label"], comparison["label_counts"], stem), stem)
    # labels the training counts leave out count as 0 and are named under the axis, not dropped
    partial = {"train": {"Drug": 3, "ADE": 7}}
    assert figures.training_counts(comparison["per_label"], partial) == {label: partial["train"].get(label, 0) for label in LABELS}
    assert_figure_files(figures.plot_f1_vs_frequency(comparison["per_label"], partial, tmp_path / "05-partial"),
                        tmp_path / "05-partial")
    with pytest.raises(NotDrawable, match="no training label counts"):
        figures.plot_f1_vs_frequency(comparison["per_label"], {"test": {"Drug": 1}}, tmp_path / "05-none")
    with pytest.raises(NotDrawable, match="no scored label occurs in training"):
        figures.plot_f1_vs_frequency(comparison["per_label"], {"train": {"Drug": 0}}, tmp_path / "05-zero")
    assert not list(tmp_path.glob("05-none.*")) and not list(tmp_path.glob("05-zero.*"))


def test_learning_curves_need_more_than_one_fraction(comparison, tmp_path):
    stem = tmp_path / "06"
    assert_figure_files(figures.plot_learning_curves(comparison["learning_curves"], stem), stem)
    one_fraction = {name: [p for p in points if p["fraction"] == 1.0] for name, points in comparison["learning_curves"].items()}
    with pytest.raises(NotDrawable, match=r"only one training fraction \(1\)"):
        figures.plot_learning_curves(one_fraction, tmp_path / "06-single")
    assert not (tmp_path / "06-single.pdf").exists()


def test_training_curves_are_reproducible_and_leave_no_pyplot_figure_open(comparison, tmp_path):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    curves = comparison["training_curves"]
    first = figures.plot_training_curves(curves, tmp_path / "a" / "07")
    assert_figure_files(first, tmp_path / "a" / "07")
    assert plt.get_fignums() == before
    # the same data gives the same bytes, so make sees an unchanged figure as unchanged
    second = figures.plot_training_curves(curves, tmp_path / "b" / "07")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_cost(comparison, tmp_path):
    stem = tmp_path / "08"
    assert_figure_files(figures.plot_cost(comparison["cost"], stem), stem)
    with pytest.raises(NotDrawable, match="no cost data"):
        figures.plot_cost({"glove": {"runs": [], "vector_seconds": 0.0, "vector_seconds_measured": False}}, tmp_path / "x")


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
