"""The Makefile: help lists every target, run folders match medner.runs, and the study runs end to end and resumes.

The end-to-end tests read one ``make -j2 all`` on a tiny configuration (tiny demo corpus,
GloVe and BERT, one seed, two epochs) in a temporary MEDNER_ROOT: the session's
``tiny_study`` fixture (``tests/tiny_study.py``), which the Slurm tests compare with.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from tiny_study import REPO, TINY, make


def test_help_lists_every_target_with_a_line() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):(?!=)", makefile, flags=re.M))
    help_text = subprocess.run(["make", "--no-print-directory", "help"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    listed = {line.split()[0] for line in help_text.splitlines() if line.strip()}
    assert {"all", "test", "lab", "clean", "distclean", "figures", "compare", "runs", "embeddings", "corpus", "bench"} <= targets
    assert targets <= listed, f"targets without a ## line: {sorted(targets - listed)}"


def test_run_targets_are_the_run_folders_of_medner_runs(tmp_path) -> None:
    from medner.run_folder import RunFolder

    # FRACTIONS as a user may write them: the folders are named by the library (frac-0.5 for 0.50).
    dry = make("-n", "runs", "EMBEDDINGS=glove bert", "SEEDS=1 2", "FRACTIONS=0.25 0.50 1", root=tmp_path).stdout
    written = set(re.findall(r"(\S+)/\.make/(\S+)\.ipynb", dry))
    expected = {
        RunFolder.of(tmp_path / "results", "demo", embedding, seed, fraction).path
        for embedding in ("glove", "bert") for seed in (1, 2) for fraction in (0.25, 0.5, 1.0)
    }
    for folder in expected:
        assert "--publish" in dry  # moved into place by the step under its lock (medner.locks)
        assert str(folder / "02-train.ipynb") in dry, f"no run writes into {folder}:\n{dry[:3000]}"
    assert dry.count("notebooks/02-train.ipynb") == len(expected)
    assert written  # executed notebooks go through a temporary name before they are moved into place


def test_folds_make_one_embedding_preparation_and_one_run_per_fold_and_their_own_comparison(tmp_path) -> None:
    """FOLDS=3: each embedding is prepared and each run trained once per fold, into the library's fold folders;
    the comparison of those folds goes to figures/demo/folds-3, beside the fixed split's."""
    from medner.run_folder import RunFolder

    dry = make("-n", "all", "EMBEDDINGS=glove", "SEEDS=1 2", "FOLDS=3", root=tmp_path).stdout
    for fold in (1, 2, 3):
        assert f"-r embedding 'glove' -p folds 3 -p fold {fold} -r report_path '{tmp_path}/results/demo/embeddings/" \
               f"glove-fold-{fold}-of-3.json'" in dry
        for seed in (1, 2):
            folder = RunFolder.of(tmp_path / "results", "demo", "glove", seed, fold=fold, folds=3).path
            assert str(folder / "02-train.ipynb") in dry and str(folder / "errors.html") in dry
    assert dry.count("notebooks/02-train.ipynb") == 6 and dry.count("notebooks/01-embeddings.ipynb") == 3
    assert f"--folds 3 --out '{tmp_path}/figures/demo/folds-3/comparison.json'" in dry
    assert f"-r figures_dir '{tmp_path}/figures/demo/folds-3'" in dry and "-p folds 3" in dry
    unfolded = make("-n", "all", "EMBEDDINGS=glove", "SEEDS=1", root=tmp_path).stdout
    assert "-p folds" not in unfolded and "--folds" not in unfolded and "fold-" not in unfolded  # no FOLDS, no folds


def test_references_add_their_runs_for_every_seed_in_the_librarys_folders(tmp_path) -> None:
    """REFERENCES: each reference system trained once per seed, by 02-train with its kind, into the folder the library
    names; no embedding preparation for them; without REFERENCES the study's runs are as before."""
    from medner.run_folder import RunFolder

    dry = make("-n", "runs", "EMBEDDINGS=glove", "SEEDS=1 2", "REFERENCES=finetune finetune-crf scratch-crf",
               "RELATIONS=0", root=tmp_path).stdout
    for kind, embedding in (("finetune", "bert"), ("finetune-crf", "bert"), ("scratch-crf", "none")):
        for seed in (1, 2):
            folder = RunFolder.of(tmp_path / "results", "demo", embedding, seed, kind=kind).path
            assert str(folder / "02-train.ipynb") in dry, f"no run writes into {folder}"
        assert dry.count(f"-r embedding '{embedding}' -r kind '{kind}' -p seed") == 2
    assert dry.count("notebooks/02-train.ipynb") == 2 + 6
    assert "01-embeddings-bert" not in dry  # a reference run reads no vectors
    plain = make("-n", "runs", "EMBEDDINGS=glove", "SEEDS=1 2", "RELATIONS=0", root=tmp_path).stdout
    assert "-r kind" not in plain and plain.count("notebooks/02-train.ipynb") == 2


def _files(root: Path) -> dict[Path, float]:
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_make_all_writes_every_step_output(tiny_study) -> None:
    root, _ = tiny_study
    corpus = root / "results" / "demo"
    assert (corpus / "corpus-stats.json").is_file() and (corpus / "00-corpus.ipynb").is_file()
    for embedding in ("glove", "bert"):
        assert (corpus / "embeddings" / f"{embedding}.json").is_file()
        run = corpus / embedding / "seed-1"
        for name in ("metrics.json", "history.csv", "02-train.ipynb", "errors.html", "04-errors.ipynb"):
            assert (run / name).is_file(), f"{run / name} missing"
        for variant in ("pipeline", "shared"):
            relation_run = corpus / "relations" / embedding / variant / "seed-1"
            for name in ("metrics.json", "history.csv", "05-relations.ipynb", "predictions/end-to-end", "predictions/gold-entities"):
                assert (relation_run / name).exists(), f"{relation_run / name} missing"
    assert (corpus / "03-compare.ipynb").is_file()
    figures = root / "figures" / "demo"
    for name in ("relation-results.md", "09-relation-per-type.pdf", "10-relation-sharing.png"):
        assert (figures / name).is_file(), f"{name} missing"
    listed = (figures / "files.txt").read_text(encoding="utf-8").split()
    assert any(p.endswith(".pdf") for p in listed) and any(p.endswith(".png") for p in listed)
    assert all(Path(p).is_file() for p in listed)
    assert (figures / "summary.csv").is_file()
    # Nothing half-written is left behind: temporary notebooks were moved into place.
    assert not list((corpus / ".make").glob("*.ipynb"))


@pytest.mark.slow
def test_the_batch_log_has_one_line_per_epoch_and_no_carriage_returns(tiny_study) -> None:
    root, _ = tiny_study
    log = (root / "make.log").read_text(encoding="utf-8")
    assert "\r" not in log
    # 2 NER runs and 4 relation runs (2 embeddings x pipeline, shared) x 2 epochs, a line each; the pipeline reads its NER run
    assert len(re.findall(r"^epoch +\d+ ", log, flags=re.M)) == 12, log[-3000:]
    for embedding in ("glove", "bert"):
        assert f"{embedding} test:" in log  # the embedding step's line per split


@pytest.mark.slow
def test_a_second_make_finds_nothing_to_do(tiny_study) -> None:
    root, checkout = tiny_study
    before = _files(root / "results") | _files(root / "figures")
    assert make("-q", "all", *TINY, root=root, cwd=checkout, check=False).returncode == 0, "make -q: something is out of date"
    again = make("all", *TINY, root=root, cwd=checkout)
    assert "papermill" not in again.stdout
    assert _files(root / "results") | _files(root / "figures") == before


@pytest.mark.slow
def test_editing_one_notebook_or_module_reruns_only_what_depends_on_it(tiny_study) -> None:
    root, checkout = tiny_study

    def would_run(changed: str) -> set[str]:
        """The notebooks that would run, and "compare" when the comparison data (medner compare) would be computed."""
        dry = make("-n", "-W", changed, "all", *TINY, root=root, cwd=checkout).stdout
        return set(re.findall(r"notebooks/(\d\d)-[a-z]+\.ipynb", dry)) | ({"compare"} if "medner compare" in dry else set())

    assert would_run("notebooks/03-compare.ipynb") == {"03"}
    assert would_run("lib/medner/figures.py") == {"00", "03"}
    # Data, then pictures: a figure or a table is redrawn from comparison.json without the bootstrap and the
    # significance tests; the comparison code computes the data again, and the pictures follow.
    assert would_run("lib/medner/tables.py") == {"03"}
    assert would_run("lib/medner/medner.mplstyle") == {"00", "03"}
    assert would_run("lib/medner/comparison/resampling.py") == would_run("lib/medner/comparison/commands.py") == {"compare", "03"}
    assert would_run("lib/medner/evaluation/statistics.py") >= {"compare", "03"}
    assert "compare" in would_run("lib/medner/training.py")
    assert would_run("lib/medner/error_browser.py") == {"04"}
    assert would_run("lib/medner/training.py") >= {"02", "03", "04"}
    assert "00" not in would_run("lib/medner/training.py")
    # The compiled loops are training code too.
    assert would_run("lib/medner/model/fused/kernels.cpp") == would_run("lib/medner/model/fused/lstm.py") >= {"02", "03"}
    # The command line and the benchmarks drive no notebook.
    assert would_run("lib/medner/cli.py") == set()
    assert would_run("lib/medner/slurm.py") == set()  # where the steps run is not what they compute
    assert would_run("lib/medner/bench/training.py") == would_run("lib/medner/predict.py") == set()
    # Display code shows results and computes nothing: editing it re-runs no step, above all no training.
    assert would_run("lib/medner/display.py") == set()
    # Where a run lives is the library's to say: the run folders' code re-runs the runs (and what follows).
    assert would_run("lib/medner/run_folder.py") >= {"02", "04", "compare"}


def dry_run_without(path: Path, root: Path, checkout: Path) -> str:
    """What ``make -n all`` would run with ``path`` moved away (it is put back afterwards)."""
    aside = path.with_name(f"aside{path.suffix}")
    path.rename(aside)
    try:
        return make("-n", "all", *TINY, root=root, cwd=checkout).stdout
    finally:
        aside.rename(path)


@pytest.mark.slow
def test_a_deleted_figure_reruns_only_the_comparison(tiny_study) -> None:
    root, checkout = tiny_study
    dry = dry_run_without(root / "figures" / "demo" / "02-per-label-f1.png", root, checkout)
    assert set(re.findall(r"notebooks/(\d\d)-[a-z]+\.ipynb", dry)) == {"03"}
    assert "medner compare" not in dry  # redrawn from comparison.json: no statistics computed again


@pytest.mark.slow
def test_a_deleted_comparison_json_is_computed_again_and_redrawn(tiny_study) -> None:
    root, checkout = tiny_study
    dry = dry_run_without(root / "figures" / "demo" / "comparison.json", root, checkout)
    assert "medner compare" in dry and set(re.findall(r"notebooks/(\d\d)-[a-z]+\.ipynb", dry)) == {"03"}
