"""Corpora by name: demo materialisation, n2c2-2018 dev split, PHEE label map, any brat folder, label map files."""

from __future__ import annotations

from pathlib import Path

import pytest

from medner.corpus.demo import GENERATOR_VERSION
from medner import N2C2_LABELS
from medner.corpus import registry
from medner.corpus.labelmap import read_label_map
from medner.corpus.registry import load_corpus


def make_brat_folder(folder: Path, n_docs: int, labels=("Drug", "Reason"), prefix: str = "doc") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n_docs):
        text = f"Gave aspirin {k} for fever."
        (folder / f"{prefix}{k:03d}.txt").write_text(text, encoding="utf-8")
        (folder / f"{prefix}{k:03d}.ann").write_text(
            f"T1\t{labels[0]} 5 12\taspirin\nT2\t{labels[1]} {text.index('fever')} {text.index('fever') + 5}\tfever\n",
            encoding="utf-8",
        )


def ids(docs) -> list[str]:
    return [doc.id for doc in docs]


def test_demo_is_materialised_once_atomically_and_read_back(medner_root, monkeypatch):
    corpus = load_corpus("demo", demo_size=60, seed=3)
    folder = medner_root / "data" / f"demo-v{GENERATOR_VERSION}-n60-s3"
    assert corpus.source == str(folder) and (folder / "train").is_dir()
    assert [p.name for p in (medner_root / "data").iterdir()] == [f"demo-v{GENERATOR_VERSION}-n60-s3"]  # no partial folder left
    assert all(corpus.splits[split] for split in registry.SPLITS)
    assert set(corpus.labels) <= set(N2C2_LABELS)
    assert corpus.split_record["method"] == "folders" and corpus.ignored == {}
    assert corpus.annotation_lines["lines"]["T"] == sum(len(d.entities) for d in corpus.documents())

    def refuse(*args, **kwargs):
        raise AssertionError("the demo corpus was generated again")

    import medner.corpus.demo

    monkeypatch.setattr(medner.corpus.demo, "generate_demo_corpus", refuse)
    again = load_corpus("demo", demo_size=60, seed=3)
    assert {s: ids(d) for s, d in again.splits.items()} == {s: ids(d) for s, d in corpus.splits.items()}


def test_demo_generation_failure_leaves_nothing_behind(medner_root, monkeypatch):
    import medner.corpus.demo

    def half_written(out_dir, *, n_sentences, seed):
        (Path(out_dir) / "train").mkdir(parents=True)
        raise RuntimeError("disk full")

    monkeypatch.setattr(medner.corpus.demo, "generate_demo_corpus", half_written)
    with pytest.raises(RuntimeError, match="disk full"):
        load_corpus("demo", demo_size=40, seed=1)
    assert list((medner_root / "data").iterdir()) == []


def test_n2c2_dev_is_a_seeded_tenth_of_train(tmp_path):
    make_brat_folder(tmp_path / "train", 30)
    make_brat_folder(tmp_path / "test", 5, prefix="test")
    corpus = load_corpus("n2c2-2018", path=tmp_path, seed=5)
    assert [len(corpus.splits[s]) for s in registry.SPLITS] == [27, 3, 5]
    record = corpus.split_record
    assert record["method"] == "folders+seeded-dev" and record["seed"] == 5 and record["dev_fraction"] == 0.1
    assert record["dev_ids"] == ids(corpus.splits["dev"])
    assert not set(ids(corpus.splits["dev"])) & set(ids(corpus.splits["train"]))
    assert load_corpus("n2c2-2018", path=tmp_path, seed=5).split_record == record
    other_seeds = {tuple(load_corpus("n2c2-2018", path=tmp_path, seed=s).split_record["dev_ids"]) for s in range(6, 10)}
    assert len(other_seeds | {tuple(record["dev_ids"])}) > 1
    assert corpus.labels == ("Drug", "Reason")


def test_n2c2_errors_say_what_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"n2c2-2018 needs --path to the folder holding train/ and test/ \(obtained under the n2c2 data-use agreement\)"):
        load_corpus("n2c2-2018")
    with pytest.raises(FileNotFoundError, match="does not exist: n2c2-2018 needs --path"):
        load_corpus("n2c2-2018", path=tmp_path / "nowhere")
    make_brat_folder(tmp_path / "train", 3, labels=("Drug", "Medication"))
    make_brat_folder(tmp_path / "test", 1, labels=("Drug", "Medication"), prefix="t")
    with pytest.raises(ValueError, match=r"doc00\d.txt: entity T2 has label 'Medication', expected one of Drug, .*pass --label-map"):
        load_corpus("n2c2-2018", path=tmp_path)
    mapped = load_corpus("n2c2-2018", path=tmp_path, label_map={"Drug": "Drug", "Medication": "-"})
    assert mapped.ignored == {"Medication": 4} and mapped.labels == ("Drug",)


def test_flat_brat_folder_split_80_10_10_and_recorded(tmp_path):
    make_brat_folder(tmp_path / "mine", 20)
    corpus = load_corpus(str(tmp_path / "mine"), seed=2)
    assert corpus.name == "mine"
    assert [len(corpus.splits[s]) for s in registry.SPLITS] == [16, 2, 2]
    record = corpus.split_record
    assert record["method"] == "seeded" and record["seed"] == 2
    assert {s: ids(corpus.splits[s]) for s in registry.SPLITS} == record["ids"]
    assert sorted(sum(record["ids"].values(), [])) == [f"doc{k:03d}" for k in range(20)]
    assert load_corpus("brat", path=tmp_path / "mine", seed=2).split_record == record
    assert load_corpus("brat", path=tmp_path / "mine", seed=3).split_record != record


def test_brat_folder_with_split_folders_and_label_map_files(tmp_path):
    for split in registry.SPLITS:
        make_brat_folder(tmp_path / "c" / split, 2, labels=("Medication", "Indication"), prefix=split)
    tsv = tmp_path / "map.tsv"
    tsv.write_text("# source\ttarget\nMedication\tDrug\nIndication\t-\n", encoding="utf-8")
    corpus = load_corpus("brat", path=tmp_path / "c", label_map=tsv)
    assert corpus.split_record["method"] == "folders"
    assert corpus.labels == ("Drug",) and corpus.ignored == {"Indication": 6}
    yaml_map = tmp_path / "map.yaml"
    yaml_map.write_text("Indication: Reason\nMedication:\n", encoding="utf-8")
    corpus = load_corpus("brat", path=tmp_path / "c", label_map=yaml_map)
    assert corpus.labels == ("Reason",) and corpus.ignored == {"Medication": 6}
    unmapped = load_corpus(str(tmp_path / "c"))
    assert unmapped.labels == ("Indication", "Medication") and unmapped.ignored == {}


def test_label_map_file_errors(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("Drug\tDrug\nA B C\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv:2: expected 'source<TAB>target'"):
        read_label_map(bad)
    twice = tmp_path / "twice.tsv"
    twice.write_text("Drug\tDrug\nDrug\tADE\n", encoding="utf-8")
    with pytest.raises(ValueError, match="twice.tsv:2: expected each source label once"):
        read_label_map(twice)
    listed = tmp_path / "list.yaml"
    listed.write_text("- Drug\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected a YAML mapping"):
        read_label_map(listed)
    spaced = tmp_path / "ok.txt"
    spaced.write_text("Freq Frequency\nCue\n", encoding="utf-8")
    assert read_label_map(spaced) == {"Freq": "Frequency", "Cue": None}
    with pytest.raises(FileNotFoundError, match="expected a label map file"):
        read_label_map(tmp_path / "none.tsv")


def test_unknown_corpus_and_bad_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="unknown corpus 'nope': expected one of demo, n2c2-2018, phee"):
        load_corpus("nope")
    with pytest.raises(FileNotFoundError, match="brat needs --path"):
        load_corpus("brat")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="found neither"):
        load_corpus(str(tmp_path / "empty"))
    make_brat_folder(tmp_path / "half" / "train", 2)
    with pytest.raises(FileNotFoundError, match="expected train/ and test/ folders"):
        load_corpus(str(tmp_path / "half"))
    with pytest.raises(FileNotFoundError, match="phee needs --path"):
        load_corpus("phee", path=tmp_path / "empty")


def test_phee_label_map_and_ignored_counts(phee_path):
    corpus = load_corpus("phee", path=phee_path)
    assert corpus.split_record["method"] == "folders"
    assert corpus.labels == ("Drug", "Dosage", "Frequency", "Route", "Duration", "Reason", "ADE")
    assert corpus.ignored["Treatment"] > 0 and corpus.ignored["Adverse_event"] > 0
    assert "Freq" not in corpus.ignored and "Effect" not in corpus.ignored
    mapped = sum(len(d.entities) for d in corpus.documents())
    assert mapped + sum(corpus.ignored.values()) == corpus.annotation_lines["lines"]["T"]
    # README table of the PHEE copy: Drug 3596 / 1211 / 1221
    assert [sum(e.label == "Drug" for d in corpus.splits[s] for e in d.entities) for s in registry.SPLITS] == [3596, 1211, 1221]


# -- bad input (issue 16) ---------------------------------------------------------------------------------


def medication_freq_corpus(folder: Path) -> Path:
    """A brat corpus with train/dev/test folders whose labels are Medication and Freq (2 documents each)."""
    for split in registry.SPLITS:
        make_brat_folder(folder / split, 2, labels=("Medication", "Freq"), prefix=split)
    return folder


def test_a_label_map_keeping_none_of_the_corpus_labels_is_refused(tmp_path):
    medication_freq_corpus(tmp_path / "c")
    unused = tmp_path / "n2c2.tsv"
    unused.write_text("Drug\tDrug\nFrequency\tFrequency\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"label map .*n2c2.tsv: expected some of the labels it keeps \(Drug, Frequency\) "
                                         r"in .*, found none \(the corpus's labels: Freq, Medication\)") as info:
        load_corpus("brat", path=tmp_path / "c", label_map=unused)
    assert "\n" not in str(info.value)


def test_a_label_map_typo_warns_and_names_the_label_it_ignores(tmp_path):
    medication_freq_corpus(tmp_path / "c")
    typo = tmp_path / "typo.tsv"
    typo.write_text("Medication\tDrug\nFrq\tFrequency\n", encoding="utf-8")
    with pytest.warns(UserWarning, match=r"typo.tsv: label 'Frq' \(kept as 'Frequency'\) occurs nowhere in .*; "
                                         r"did you mean 'Freq', whose 6 entities are ignored\?"):
        corpus = load_corpus("brat", path=tmp_path / "c", label_map=typo)
    assert corpus.labels == ("Drug",) and corpus.ignored == {"Freq": 6}


@pytest.mark.parametrize(
    "layout, message",
    [
        ({"train": 3, "dev": 0, "test": 2}, r"found none in dev: its dev/ folder holds no .txt file"),
        ({"train": 1, "test": 1}, r"found none in dev: a seeded dev split needs at least two documents in train/, found 1 "),
        ({"": 2}, r"found none in dev, test: a seeded 80/10/10 split needs at least three documents, found 2"),
    ],
)
def test_a_split_without_documents_is_refused(tmp_path, layout, message):
    for split, n_docs in layout.items():
        (tmp_path / "c" / split).mkdir(parents=True, exist_ok=True)
        make_brat_folder(tmp_path / "c" / split, n_docs, prefix=split or "doc")
    with pytest.raises(ValueError, match=r"expected documents in each of train, dev and test, " + message):
        load_corpus("brat", path=tmp_path / "c")


def test_a_document_of_only_whitespace_and_test_documents_without_entities_are_read(tmp_path):
    for split in registry.SPLITS:
        make_brat_folder(tmp_path / "c" / split, 2, prefix=split)
    (tmp_path / "c" / "test" / "blank.txt").write_text(" \n\t\r\n ", encoding="utf-8")
    (tmp_path / "c" / "test" / "plain.txt").write_text("No medication today.", encoding="utf-8")
    corpus = load_corpus("brat", path=tmp_path / "c")
    by_id = {doc.id: doc for doc in corpus.splits["test"]}
    assert by_id["blank"].entities == [] and by_id["blank"].text == " \n\t\r\n "
    assert by_id["plain"].entities == [] and corpus.annotation_lines["documents_without_ann"] == 2


def test_a_negative_corpus_seed_is_refused(tmp_path):
    make_brat_folder(tmp_path / "mine", 5)
    with pytest.raises(ValueError, match="seed: expected an integer >= 0; given -1"):
        load_corpus(str(tmp_path / "mine"), seed=-1)


# -- relations (issue 15) ---------------------------------------------------------------------------------


def test_the_demo_carries_its_relations_and_a_brat_corpus_its_r_lines_through_the_label_map(medner_root, tmp_path):
    import warnings

    demo = load_corpus("demo", demo_size=60, seed=3)
    assert sum(len(d.relations) for d in demo.documents()) == demo.annotation_lines["lines"]["R"] > 0
    assert demo.relation_record == {"from": "brat R lines"} and demo.options == {} and demo.ignored_relations == {}
    for split in registry.SPLITS:
        make_brat_folder(tmp_path / "c" / split, 2, labels=("Medication", "Indication"), prefix=split)
        for ann in (tmp_path / "c" / split).glob("*.ann"):
            ann.write_text(ann.read_text(encoding="utf-8") + "R1\tIndication-Medication Arg1:T2 Arg2:T1\n", encoding="utf-8")
    keep = tmp_path / "keep.tsv"
    keep.write_text("Medication\tDrug\nIndication\tReason\nIndication-Medication\tReason-Drug\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a relation type the map lists is no label that "occurs nowhere"
        kept = load_corpus("brat", path=tmp_path / "c", label_map=keep)
    assert {r.type for d in kept.documents() for r in d.relations} == {"Reason-Drug"} and kept.ignored_relations == {}
    drop = tmp_path / "drop.tsv"
    drop.write_text("Medication\tDrug\n", encoding="utf-8")
    dropped = load_corpus("brat", path=tmp_path / "c", label_map=drop)
    assert all(d.relations == [] for d in dropped.documents())
    assert dropped.ignored == {"Indication": 6} and dropped.ignored_relations == {"Indication-Medication": {"argument_ignored": 6}}
