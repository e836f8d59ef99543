"""Main, per-label, summary and significance tables, from the comparison data as read back from comparison.json:
the rows, the means and the formats, checked against numbers read straight from the runs' files."""

from __future__ import annotations

import csv
import json
import re
import statistics
from html.parser import HTMLParser

import mistune
import pytest

from medner.comparison.study import compute_comparison, read_comparison, write_comparison
from medner.report_folder import NotDrawable
from medner.study_order import AVERAGES, SCHEMAS
from medner.tables import (
    SUMMARY_COLUMNS,
    format_spread,
    latex_escape,
    main_table_latex,
    main_table_markdown,
    per_label_table_latex,
    per_label_table_markdown,
    runs_overview,
    write_main_table,
    write_per_label_table,
    write_significance_csv,
    write_summary_csv,
)
from resources.comparison.fake_study import LABELS, write_fake_study

EMBEDDINGS = ("glove", "bert", "bio_clinical")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """(the fake study, its comparison as read back from comparison.json)."""
    fake = write_fake_study(tmp_path_factory.mktemp("results"), embeddings=EMBEDDINGS)
    data = compute_comparison(fake.results_root, fake.corpus, fake.gold, n_boot=100, n_shuffles=50, progress=False)
    return fake, read_comparison(write_comparison(data, tmp_path_factory.mktemp("data") / "comparison.json"))


@pytest.fixture(scope="module")
def without_ci(study):
    """The main section as a comparison without gold documents has it: no intervals."""
    return [{**row, "ci": None} for row in study[1]["main"]]


def _f1s(fake, embedding, schema, key):
    """Test F1 of each seed, read straight from the metrics files: ``key`` is "micro", "macro" or a label."""
    values = []
    for seed in (1, 2, 3):
        scores = json.loads((fake.results_root / "fake" / embedding / f"seed-{seed}" / "metrics.json").read_text())
        block = scores["scores"]["test"][schema]
        values.append(block[key]["f1"] if key in ("micro", "macro") else block["labels"][key]["f1"])
    return values


def _cell(values):
    return f"{100 * statistics.mean(values):.1f} ± {100 * statistics.stdev(values):.1f}"


def test_main_table_markdown_rows_carry_mean_and_sd(study, without_ci):
    fake, _ = study
    text = main_table_markdown(without_ci, corpus="fake")
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    header, body = lines[0], lines[2:]
    assert header == ("| Embedding | Seeds | Strict micro F1 | Strict macro F1 | Lenient micro F1 | Lenient macro F1 "
                      "| SemEval type micro F1 | BIO-strict macro F1 | BIO-strict weighted F1 "
                      "| Trained weights | Training s | Peak MiB |")
    assert [line.split(" | ")[0] for line in body] == ["| glove", "| bert", "| bio_clinical"]
    for line, embedding in zip(body, ["glove", "bert", "bio_clinical"]):
        cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
        assert cells[1] == "3"
        expected = [_cell(_f1s(fake, embedding, s, a)) for s in ("strict", "lenient") for a in ("micro", "macro")]
        assert cells[2:6] == expected
        assert cells[6:9] == [_cell(_paper_f1s(fake, embedding, key)) for key in ("type", "macro", "weighted")]
        costs = [_metrics(fake, embedding, seed)["cost"] for seed in (1, 2, 3)]
        seconds = statistics.mean(c["training_seconds"] for c in costs)
        weights = {"glove": "900k", "bert": "1.3M", "bio_clinical": "1.0M"}[embedding]  # the fake study's counts
        assert cells[9:] == [weights, f"{seconds:.0f}", "500"]
    assert "SemEval-2013 \"type\" micro F1" in text and "BIO-strict: exact entities" in text


def _metrics(fake, embedding, seed):
    return json.loads((fake.results_root / "fake" / embedding / f"seed-{seed}" / "metrics.json").read_text())


def _paper_f1s(fake, embedding, key):
    """The papers' scores of each seed straight from metrics.json: SemEval type micro, or BIO-strict macro/weighted."""
    values = []
    for seed in (1, 2, 3):
        metrics = json.loads((fake.results_root / "fake" / embedding / f"seed-{seed}" / "metrics.json").read_text())
        values.append(metrics["semeval"]["overall"]["type"]["f1"] if key == "type" else metrics["token_bio"][key]["f1"])
    return values


def test_main_table_leaves_the_papers_columns_out_when_a_run_has_none(study, without_ci):
    rows = [{**row, "papers": None if row["embedding"] == "bert" else row["papers"]} for row in without_ci]
    header = main_table_markdown(rows, corpus="fake").splitlines()[2]
    assert "SemEval" not in header and "Lenient macro F1" in header
    latex = main_table_latex(rows, corpus="fake")
    assert "Papers' scores" not in latex and "Papers' scores" in main_table_latex(without_ci, corpus="fake")


def test_main_table_bolds_the_best_mean_of_each_column(study, without_ci):
    fake, _ = study
    best = max(without_ci, key=lambda r: r["scores"]["strict"]["micro"]["mean"])["embedding"]
    text = main_table_markdown(without_ci, corpus="fake")
    best_line = next(line for line in text.splitlines() if line.startswith(f"| {best} |"))
    assert f"**{_cell(_f1s(fake, best, 'strict', 'micro'))}**" in best_line
    assert sum(line.count("**") for line in text.splitlines()) == 2 * 7  # one bold cell per score column (4 n2c2, 3 papers)


def test_main_table_latex_is_booktabs_with_ci_and_escaped_names(study):
    fake, comparison = study
    rows = comparison["main"]
    text = main_table_latex(rows, corpus="fake")
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\cmidrule(lr){3-5}", r"\cmidrule(lr){8-10}"):
        assert rule in text
    assert r"bio\_clinical" in text and "bio_clinical" not in text
    body = text.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines()
    assert len(body) == 3
    glove = body[0].split(" & ")
    micro = _f1s(fake, "glove", "strict", "micro")
    assert glove[2].replace(r"\textbf{", "").rstrip("}") == (
        f"{100 * statistics.mean(micro):.1f} $\\pm$ {100 * statistics.stdev(micro):.1f}"
    )
    ci = rows[0]["ci"]
    assert glove[3] == f"[{100 * ci['low']:.1f}, {100 * ci['high']:.1f}] (seed {ci['seed']})"
    assert all(line.endswith(r"\\") and line.count(" & ") == 12 for line in body)  # 2 + 5 n2c2 and CI + 3 papers + 3 cost


def test_per_label_table_rows_are_labels_with_support(study):
    fake, comparison = study
    table = comparison["per_label"]
    markdown = per_label_table_markdown(table, corpus="fake")
    body = [line for line in markdown.splitlines() if line.startswith("| ")][2:]
    assert [line.split(" | ")[0][2:] for line in body] == list(LABELS)
    ade = [c.strip().strip("*") for c in body[-1].strip("|").split("|")]
    support = sum(e.label == "ADE" for d in fake.gold for e in d.entities)
    assert ade[1] == str(support)
    expected = [_cell(_f1s(fake, e, schema, "ADE")) for schema in ("strict", "lenient") for e in EMBEDDINGS]
    assert ade[2:] == expected
    latex = per_label_table_latex(table, corpus="fake")
    assert r"\multicolumn{3}{c}{Strict} & \multicolumn{3}{c}{Lenient}" in latex
    assert latex.count(r"\\") == 2 + len(LABELS)  # the two header lines and one per label


def test_write_tables_writes_latex_and_markdown(study, tmp_path):
    _, comparison = study
    main = write_main_table(comparison["main"], tmp_path / "main-results", corpus="fake")
    per_label = write_per_label_table(comparison["per_label"], tmp_path / "per-label", corpus="fake")
    assert main == [tmp_path / "main-results.tex", tmp_path / "main-results.md"]
    assert per_label == [tmp_path / "per-label.tex", tmp_path / "per-label.md"]
    assert all(p.read_text().strip() for p in [*main, *per_label])
    assert main[1].read_text() == main_table_markdown(comparison["main"], corpus="fake")
    with pytest.raises(NotDrawable, match="no embedding"):
        write_main_table([], tmp_path / "empty", corpus="fake")
    assert not list(tmp_path.glob("empty*"))


def test_summary_csv_has_a_row_per_run_label_schema_metric(study, tmp_path):
    fake, comparison = study
    [path] = write_summary_csv(comparison["runs"], tmp_path / "summary.csv", corpus="fake")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(SUMMARY_COLUMNS)
    assert len(rows) == len(EMBEDDINGS) * 3 * (len(LABELS) + 2) * 2 * 7  # runs x (labels, micro, macro) x schemas x metrics
    keys = {(r["embedding"], r["seed"], r["label"], r["schema"], r["metric"]) for r in rows}
    assert len(keys) == len(rows)
    metrics = json.loads((fake.results_root / "fake" / "bert" / "seed-2" / "metrics.json").read_text())["scores"]["test"]
    lookup = {(r["embedding"], r["seed"], r["label"], r["schema"], r["metric"]): r["value"] for r in rows}
    assert float(lookup[("bert", "2", "Route", "lenient", "f1")]) == metrics["lenient"]["labels"]["Route"]["f1"]
    assert lookup[("bert", "2", "micro", "strict", "fp")] == str(metrics["strict"]["micro"]["fp"])
    assert {r["corpus"] for r in rows} == {"fake"} and {r["fraction"] for r in rows} == {"1.0"}
    assert path.read_bytes().count(b"\r\n") == len(rows) + 1  # the csv module's line ends, as before


def test_significance_csv_has_a_row_per_pair_label_seed(study, tmp_path):
    _, comparison = study
    pairs = comparison["significance"]
    [path] = write_significance_csv(pairs, tmp_path / "significance.csv")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 * (len(LABELS) + 1) * 3
    first = rows[0]
    assert (first["a"], first["b"], first["label"], first["seed"]) == ("glove", "bert", "Drug", "1")
    assert float(first["delta"]) == pairs[0]["labels"]["Drug"]["deltas"][0]
    assert first["significant"] == str(int(float(first["p_value"]) < 0.05))
    with pytest.raises(NotDrawable, match="no embedding pair"):
        write_significance_csv([], tmp_path / "none.csv")


def test_runs_overview_has_one_row_per_run(study):
    _, comparison = study
    rows = runs_overview(comparison["runs"])
    assert [(r["embedding"], r["seed"]) for r in rows] == [(e, s) for e in EMBEDDINGS for s in (1, 2, 3)]
    assert rows[0]["strict micro F1"] == comparison["runs"][0]["scores"]["micro"]["strict"]["f1"]
    assert rows[0]["folder"] == "fake/glove/seed-1"


def test_format_spread_and_escape():
    one = {"mean": 0.8123, "sd": 0.0, "min": 0.8123, "max": 0.8123, "values": [0.8123], "seeds": [1]}
    assert format_spread(one) == "81.2"
    many = {"mean": 0.5, "sd": 0.0123, "min": 0.49, "max": 0.51, "values": [0.49, 0.5, 0.51], "seeds": [1, 2, 3]}
    assert format_spread(many) == "50.0 ± 1.2"
    assert format_spread(many, latex=True) == r"50.0 $\pm$ 1.2"
    assert latex_escape("a_b&c%") == r"a\_b\&c\%"


# ----------------------------------------------------------------------------- names that are not plain words

EVIL_EMBEDDING = "<img src=x onerror=\"alert('x')\"> a|b *c* `d` [e](f) & 50% \\ $x_1$ #, ~^{}"
EVIL_LABEL = "<script>alert('x')</script> | _Drug_ & \"q\""


def _spread(mean: float) -> dict:
    return {"mean": mean, "sd": 0.01, "min": mean - 0.01, "max": mean + 0.01, "values": [mean - 0.01, mean + 0.01],
            "seeds": [1, 2]}


def _hostile_sections() -> tuple[list[dict], dict]:
    """The comparison's ``main`` and ``per_label`` for an embedding and a label named with markup and specials."""
    names, labels = [EVIL_EMBEDDING, "glove"], [EVIL_LABEL, "Drug"]
    main = [{"embedding": name, "scores": {s: {a: _spread(0.5 + i / 10) for a in AVERAGES} for s in SCHEMAS},
             "ci": None} for i, name in enumerate(names)]
    per_label = {"embeddings": names, "labels": labels, "support": {label: 3 for label in labels},
                 "scores": {label: {name: {s: _spread(0.6) for s in SCHEMAS} for name in names} for label in labels}}
    return main, per_label


class _TableCells(HTMLParser):
    """The text of every cell of the HTML tables fed, row by row, and every other element met."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.other_elements: list[str] = []
        self.in_cell = False

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.rows[-1].append("")
            self.in_cell = True
        elif tag not in ("table", "thead", "tbody", "strong"):
            self.other_elements.append(tag)

    def handle_endtag(self, tag) -> None:
        self.in_cell = self.in_cell and tag not in ("td", "th")

    def handle_data(self, data) -> None:
        if self.in_cell:
            self.rows[-1][-1] += data


def _rendered_cells(markdown: str) -> _TableCells:
    """The Markdown as a renderer that lets raw HTML through shows it (mistune, as nbconvert uses), parsed."""
    cells = _TableCells()
    cells.feed(mistune.create_markdown(escape=False, plugins=["table"])(markdown))
    return cells


def test_markdown_tables_show_hostile_names_as_written_and_keep_their_columns():
    main, per_label = _hostile_sections()
    cells = _rendered_cells(main_table_markdown(main, corpus="<b>corpus</b>"))
    assert cells.other_elements == ["p"]  # the note above the table, and no element a name brought in
    assert [row[0] for row in cells.rows] == ["Embedding", EVIL_EMBEDDING, "glove"]
    assert {len(row) for row in cells.rows} == {6}
    cells = _rendered_cells(per_label_table_markdown(per_label, corpus="c"))
    assert [row[0] for row in cells.rows] == ["Label", EVIL_LABEL, "Drug"] and {len(row) for row in cells.rows} == {6}
    assert cells.rows[0][2] == f"strict {EVIL_EMBEDDING}"


def test_latex_tables_escape_every_special_character_of_a_name():
    main, per_label = _hostile_sections()
    escaped = latex_escape(EVIL_EMBEDDING)
    left = re.sub(r"\\(textbackslash|textasciitilde|textasciicircum|textless|textgreater|textbar)\{\}|\\[&%$#_{}]",
                  "", escaped)
    assert not set(left) & set("\\&%$#_{}~^<>|")  # nothing LaTeX would read as markup is left bare
    text = main_table_latex(main, corpus="my_corpus & <more>")
    assert r"\label{tab:main-my-corpus-more-}" in text and r"on my\_corpus \& \textless{}more\textgreater{}" in text
    body = text.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines()
    assert body[0].split(" & ")[0] == escaped and all(line.count(" & ") == 5 for line in body)
    latex = per_label_table_latex(per_label, corpus="c")
    assert latex_escape(EVIL_LABEL) in latex and EVIL_LABEL not in latex


def test_summary_csv_gives_hostile_names_back_as_written(tmp_path):
    run = {"embedding": EVIL_EMBEDDING + "\nsecond line", "seed": 1, "fraction": 1.0,
           "scores": {EVIL_LABEL: {"strict": {"f1": 0.5}}}}
    [path] = write_summary_csv([run], tmp_path / "summary.csv", corpus="a,\"b\"")
    with path.open(newline="", encoding="utf-8") as handle:
        [row] = list(csv.DictReader(handle))
    assert (row["corpus"], row["embedding"], row["label"], row["value"]) == ("a,\"b\"", run["embedding"], EVIL_LABEL, "0.5")


@pytest.fixture(scope="module")
def with_references(tmp_path_factory):
    """A study with two embeddings and the three reference systems, its comparison as read back."""
    fake = write_fake_study(tmp_path_factory.mktemp("results"), embeddings=("glove", "bert"), seeds=(1, 2),
                            references=("finetune", "finetune-crf", "scratch-crf"))
    data = compute_comparison(fake.results_root, fake.corpus, None, progress=False)
    return read_comparison(write_comparison(data, tmp_path_factory.mktemp("data") / "comparison.json"))


def test_reference_rows_come_last_under_their_own_heading_and_are_never_bold(with_references):
    rows = with_references["main"]
    assert [r["embedding"] for r in rows] == ["glove", "bert", "finetune-bert", "finetune-crf-bert", "scratch-crf"]
    lines = [line for line in main_table_markdown(rows, corpus="fake").splitlines() if line.startswith("| ")][2:]
    assert lines[2].startswith("| *reference systems: differ in more than the embedding* |")
    assert lines[2].count("|") == lines[0].count("|")  # the heading row keeps the columns
    assert not any("**" in line for line in lines[3:])  # they score higher here, but bold is the study's best
    assert "**" in lines[1]  # bert, the study's best
    latex = main_table_latex(rows, corpus="fake")
    body = latex.split(r"\midrule")[1:]
    assert body[1].lstrip().startswith(r"\multicolumn{12}{l}{\emph{reference systems: differ in more than the embedding}}")
    assert "finetune-crf-bert" in body[1] and "finetune-crf-bert" not in body[0]


def test_per_label_table_marks_the_reference_columns(with_references):
    table = with_references["per_label"]
    assert table["references"] == ["finetune-bert", "finetune-crf-bert", "scratch-crf"]
    markdown = per_label_table_markdown(table, corpus="fake")
    header = markdown.splitlines()[2]
    assert "strict finetune-bert†" in header and "strict bert |" in header and "strict bert†" not in header
    assert "† reference systems: differ in more than the embedding" in markdown
    assert r"finetune-bert$^\dagger$" in per_label_table_latex(table, corpus="fake")
