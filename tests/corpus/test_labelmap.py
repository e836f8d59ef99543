"""Label map files: what they may say, and the one-line LabelMapError (file:line) for what they must not."""

from __future__ import annotations

import time

import pytest

from medner.corpus.labelmap import LabelMapError, read_label_map


def test_column_and_yaml_maps_read_with_ignore_targets(tmp_path):
    columns = tmp_path / "map.tsv"
    columns.write_text("\ufeff# source\ttarget\nMedication\tDrug\r\nIndication\t-\rCue\n", encoding="utf-8")
    assert read_label_map(columns) == {"Medication": "Drug", "Indication": None, "Cue": None}
    yaml_map = tmp_path / "map.yaml"
    yaml_map.write_text("Medication: Drug\nIndication: '-'\nCue:\nyes: Frequency\n", encoding="utf-8")
    # keys are labels as written: YAML would read "yes" as True
    assert read_label_map(yaml_map) == {"Medication": "Drug", "Indication": None, "Cue": None, "yes": "Frequency"}


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("cp.tsv", "Drug\tDrug\nDösis\tDosage\n".encode("cp1252"), r"cp.tsv:2: expected UTF-8 text, found byte 0xf6"),
        ("cp.yaml", "Drug: Drug\nDösis: Dosage\n".encode("cp1252"), r"cp.yaml:2: expected UTF-8 text, found byte 0xf6"),
        ("bad.yaml", b"Drug: Drug\nRoute: : x\n", r"bad.yaml:2: expected YAML 'source: target' lines, found invalid YAML"),
        ("twice.yaml", b"Drug: Drug\nFreq: Frequency\nDrug: ADE\n",
         r"twice.yaml:3: expected each source label once, found 'Drug' again \(first on line 1\)"),
        ("int.yaml", b"Drug: Drug\nRoute: 1\n", r"int.yaml:2: expected a label or '-' as the target of 'Route', found '1'"),
        ("nested.yaml", b"Drug:\n  a: b\n", r"nested.yaml:2: expected a label or '-' as the target of 'Drug', found a YAML mapping"),
        ("spaced.yaml", b"Route: My Route\n", r"spaced.yaml:1: expected a label without whitespace or control characters, found 'My Route'"),
        ("nul.tsv", b"Drug\tDr\x00ug\n", r"nul.tsv:1: expected a label without whitespace or control characters"),
        ("empty.tsv", b"# nothing\n\n", r"empty.tsv:1: expected at least one 'source target' entry, found none"),
        ("empty.yaml", b"", r"empty.yaml:1: expected at least one 'source target' entry, found none"),
        ("list.yaml", b"- Drug\n", r"list.yaml:1: expected a YAML mapping 'source: target', found a sequence"),
        ("three.tsv", b"Drug\tDrug\nA B C\n", r"three.tsv:2: expected 'source<TAB>target'"),
    ],
)
def test_bad_label_maps_are_a_label_map_error_naming_file_and_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LabelMapError, match=message) as info:
        read_label_map(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["huge.yaml", "huge.tsv"])
def test_a_huge_line_is_refused_at_once_with_a_short_message(tmp_path, name):
    path = tmp_path / name
    path.write_text("Drug: Drug\n" + "x" * 5_000_000 + "\n", encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(LabelMapError, match=rf"{name}:2: expected a line of at most 1000 characters") as info:
        read_label_map(path)
    assert time.perf_counter() - start < 2.0
    assert len(str(info.value)) < 300 and "(5000000 characters)" in str(info.value)


# -- relations (issue 15) ---------------------------------------------------------------------------------


def test_relations_follow_their_arguments_and_listed_relation_types_map_like_labels():
    from collections import Counter

    from medner.corpus.document import Document, Entity, Relation
    from medner.corpus.labelmap import apply_label_map, as_label_map

    text = "aspirin 81 mg for pain, rash"
    entities = [Entity("T1", "Medication", ((0, 7),), "aspirin"), Entity("T2", "Dose", ((8, 13),), "81 mg"),
                Entity("T3", "Indication", ((18, 22),), "pain"), Entity("T4", "Effect", ((24, 28),), "rash")]
    relations = [Relation("R1", "Dose-Medication", "T2", "T1"), Relation("R2", "Indication-Medication", "T3", "T1"),
                 Relation("R3", "Effect-Medication", "T4", "T1"), Relation("R4", "has", "T2", "T1")]
    doc = Document("d", text, entities, relations=relations)
    label_map = as_label_map({"Medication": "Drug", "Dose": "Strength", "Effect": "ADE",  # Indication is not listed: ignored
                              "Dose-Medication": "Strength-Drug", "has": "-"})  # Effect-Medication unlisted: kept as it is
    ignored, ignored_relations = Counter(), Counter()
    (mapped,) = apply_label_map([doc], label_map, ignored, ignored_relations)
    assert mapped.relations == [Relation("R1", "Strength-Drug", "T2", "T1"), Relation("R3", "Effect-Medication", "T4", "T1")]
    assert ignored == {"Indication": 1}
    assert ignored_relations == {("Indication-Medication", "argument_ignored"): 1, ("has", "type_ignored"): 1}
    assert len(relations) == len(mapped.relations) + sum(ignored_relations.values())
