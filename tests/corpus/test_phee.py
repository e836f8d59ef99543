"""PHEE's event structure as relations (medner.corpus.phee): which drug each argument links to, what gives no
relation and is counted, the Effect rule, and the one-line errors; on a tiny PHEE made here, then on PHEE itself."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from medner.corpus.brat import read_brat_folder
from medner.corpus.candidates import candidate_reach
from medner.corpus.phee import PheeEventError, event_relations
from medner.corpus.registry import load_corpus

ADVERSE = "FU 400 mg/m2 plus LV 20 mg/m2 intravenously daily for 5 days caused severe mucositis in a patient with colon cancer."
THERAPEUTIC = "Rituximab induced remission of pure red cell aplasia taken orally."
UNLINKED = "Aspirin was given."


def mention(text: str, *pieces: str) -> dict:
    """An event argument with one mention per piece, as PHEE's json writes it."""
    return {"text": [[piece] for piece in pieces], "start": [[text.index(piece)] for piece in pieces],
            "entity_id": ["T?" for _ in pieces]}


def t_lines(text: str, *entities: tuple[str, str]) -> str:
    return "".join(f"T{k}\t{label} {text.index(piece)} {text.index(piece) + len(piece)}\t{piece}\n"
                   for k, (label, piece) in enumerate(entities, start=1))


def tiny_phee(root: Path) -> Path:
    """train: an adverse event of a combination; dev: a therapeutic event; test: a sentence without events."""
    adverse_ann = t_lines(ADVERSE, ("Treatment", "FU 400 mg/m2 plus LV 20 mg/m2 intravenously daily for 5 days"),
                          ("Drug", "FU"), ("Dosage", "400 mg/m2"), ("Drug", "LV"), ("Dosage", "20 mg/m2"),
                          ("Route", "intravenously"), ("Freq", "daily"), ("Duration", "for 5 days"), ("Effect", "mucositis"),
                          ("Treat-Disorder", "colon cancer"), ("Adverse_event", "caused"), ("Severity_cue", "severe"))
    therapeutic_ann = (t_lines(THERAPEUTIC, ("Drug", "Rituximab"), ("Effect", "remission"),
                               ("Treat-Disorder", "pure red cell aplasia"), ("Potential_therapeutic_event", "induced"))
                       + "R1\thas Arg1:T1 Arg2:T3\n")
    for split, name, text, ann in [("train", "1_1", ADVERSE, adverse_ann), ("dev", "2_1", THERAPEUTIC, therapeutic_ann),
                                   ("test", "3_1", UNLINKED, t_lines(UNLINKED, ("Drug", "Aspirin")))]:
        (root / split).mkdir(parents=True)
        (root / split / f"{name}.txt").write_text(text + "\n", encoding="utf-8")
        (root / split / f"{name}.ann").write_text(ann, encoding="utf-8")
    adverse_event = {
        "event_id": "E1", "event_type": "Adverse_event", "Trigger": mention(ADVERSE, "caused"),
        "Treatment": {**mention(ADVERSE, "FU 400 mg/m2 plus LV 20 mg/m2 intravenously daily for 5 days"),
                      "Drug": mention(ADVERSE, "FU", "LV"), "Dosage": mention(ADVERSE, "400 mg/m2", "20 mg/m2"),
                      "Route": mention(ADVERSE, "intravenously"), "Freq": mention(ADVERSE, "daily"),
                      "Duration": mention(ADVERSE, "for 5 days"), "Disorder": mention(ADVERSE, "colon cancer")},
        "Effect": mention(ADVERSE, "mucositis"), "Severity": mention(ADVERSE, "severe"),
    }
    therapeutic_event = {
        "event_id": "E1", "event_type": "Potential_therapeutic_event", "Trigger": mention(THERAPEUTIC, "induced"),
        "Treatment": {**mention(THERAPEUTIC, "Rituximab"), "Drug": mention(THERAPEUTIC, "Rituximab"),
                      "Disorder": mention(THERAPEUTIC, "pure red cell aplasia"),
                      "Route": mention(THERAPEUTIC, "orally")},  # no Route entity there: unmatched
        "Effect": mention(THERAPEUTIC, "remission"),
    }
    (root / "json").mkdir()
    records = {"train": [("1_1", ADVERSE, adverse_event), ("9_9", "Not in brat.", adverse_event)],
               "dev": [("2_1", THERAPEUTIC, therapeutic_event)], "test": []}
    for split, items in records.items():
        lines = [json.dumps({"id": i, "context": text, "annotations": [{"events": [event]}]}) for i, text, event in items]
        (root / "json" / f"{split}.json").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return root


def read(root: Path) -> dict:
    return {split: read_brat_folder(root / split) for split in ("train", "dev", "test")}


def test_each_argument_links_to_its_drug_by_the_rule_of_its_role(tmp_path):
    root = tiny_phee(tmp_path / "phee")
    splits, record = event_relations(read(root), root)
    (adverse,), (therapeutic,), (unlinked,) = splits["train"], splits["dev"], splits["test"]
    by_id = adverse.entities_by_id()
    links = sorted((r.type, by_id[r.arg1].text, by_id[r.arg2].text) for r in adverse.relations)
    assert links == [
        ("ADE-Drug", "mucositis", "FU"), ("ADE-Drug", "mucositis", "LV"),  # an adverse effect: every drug
        ("Dosage-Drug", "20 mg/m2", "LV"), ("Dosage-Drug", "400 mg/m2", "FU"),  # a dosage: the nearest drug
        ("Duration-Drug", "for 5 days", "LV"), ("Frequency-Drug", "daily", "LV"),
        ("Reason-Drug", "colon cancer", "FU"), ("Reason-Drug", "colon cancer", "LV"),  # a disorder: every drug
        ("Route-Drug", "intravenously", "LV"),
    ]
    assert [r.id for r in adverse.relations] == [f"R{k}" for k in range(1, 10)]
    by_id = therapeutic.entities_by_id()
    # the therapeutic Effect gives no relation; PHEE's own "has" line is replaced
    assert [(r.type, by_id[r.arg1].text, by_id[r.arg2].text) for r in therapeutic.relations] == [
        ("Reason-Drug", "pure red cell aplasia", "Rituximab")]
    assert unlinked.relations == []
    assert record["relations"] == {"ADE-Drug": 2, "Dosage-Drug": 2, "Duration-Drug": 1, "Frequency-Drug": 1,
                                   "Reason-Drug": 3, "Route-Drug": 1}


def test_every_event_argument_is_counted(tmp_path):
    root = tiny_phee(tmp_path / "phee")
    _, record = event_relations(read(root), root)
    assert record["events"] == {"Adverse_event": 1, "Potential_therapeutic_event": 1}
    assert record["arguments"]["Drug"] == {"mentions": 3, "matched": 3, "unmatched": 0, "no_drug": 0}
    assert record["arguments"]["Route"] == {"mentions": 2, "matched": 1, "unmatched": 1, "no_drug": 0}
    assert record["arguments"]["Effect"] == {"mentions": 2, "matched": 2, "unmatched": 0, "no_drug": 0}
    assert record["therapeutic_effects"] == 1
    assert record["outside_mapping"] == {"Severity": 1, "Treatment": 2, "Trigger": 2}
    assert record["brat_relations_replaced"] == {"has": 1}
    assert (record["records_without_document"], record["documents_without_record"], record["records_with_other_text"]) == (1, 1, 0)
    assert record["effects"] == {"adverse": 1, "therapeutic_only": 1, "both": 0, "in_no_event": 0}
    assert (record["effects_the_event_rule_relabels"], record["effects_relabelled"], record["effect_rule"]) == (1, 0, "ade")
    json.dumps(record)


def test_the_effect_rule_is_a_recorded_corpus_option_whose_default_keeps_every_effect_an_ade(tmp_path):
    root = tiny_phee(tmp_path / "phee")
    default = load_corpus("phee", path=root)
    assert default.options == {"phee_effects": "ade"}
    assert sum(e.label == "ADE" for d in default.documents() for e in d.entities) == 2
    assert default.relation_record["effects_relabelled"] == 0
    events = load_corpus("phee", path=root, phee_effects="events")
    assert events.options == {"phee_effects": "events"} and events.relation_record["effects_relabelled"] == 1
    assert [e.text for d in events.documents() for e in d.entities if e.label == "ADE"] == ["mucositis"]
    assert events.ignored["Therapeutic-Effect"] == 1
    assert [d.relations for d in events.documents()] == [d.relations for d in default.documents()]
    with pytest.raises(ValueError, match="phee_effects: expected one of ade, events, given 'all'"):
        load_corpus("phee", path=root, phee_effects="all")
    with pytest.raises(ValueError, match="applies to the phee corpus only, given for 'demo'"):
        load_corpus("demo", phee_effects="events")


def test_without_the_json_folder_there_are_no_relations_and_the_event_rule_is_refused(tmp_path):
    root = tiny_phee(tmp_path / "phee")
    for path in (root / "json").iterdir():
        path.unlink()
    (root / "json").rmdir()
    splits, record = event_relations(read(root), root)
    assert all(doc.relations == [] for docs in splits.values() for doc in docs)
    assert record["from"].startswith("none: ") and record["documents_without_record"] == 3
    with pytest.raises(FileNotFoundError, match="the PHEE effects rule 'events' needs PHEE's json/ folder"):
        event_relations(read(root), root, effects="events")


BAD_MENTION = json.dumps({"id": "1_1", "context": ADVERSE, "annotations": [{"events": [
    {"event_type": "Adverse_event", "Effect": {"text": [["mucositis"]], "start": [["0"]]}}]}]})


@pytest.mark.parametrize("line, message", [
    ("{not json", r"train.json:2: expected one JSON object per line, found invalid JSON \(Expecting property name"),
    ('["a list"]', r"train.json:2: expected an object with a string id and context and annotations"),
    (BAD_MENTION, r"train.json:2: expected mentions as text \[\[fragment, ...\], ...\] and start \[\[offset, ...\], ...\]"),
])
def test_a_json_line_that_is_not_the_event_structure_is_a_one_line_error(tmp_path, line, message):
    root = tiny_phee(tmp_path / "phee")
    good = (root / "json" / "train.json").read_text(encoding="utf-8").splitlines()[0]
    (root / "json" / "train.json").write_text(f"{good}\n{line}\n", encoding="utf-8")
    with pytest.raises(PheeEventError, match=message) as info:
        event_relations(read(root), root)
    assert "\n" not in str(info.value)


@pytest.mark.phee
def test_phee_relations_cover_every_argument_and_the_candidates_reach_them(phee_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        corpus = load_corpus("phee", path=phee_path)
    record = corpus.relation_record
    assert all(row["unmatched"] == 0 for row in record["arguments"].values())
    assert record["relations"] == {"ADE-Drug": 5364, "Dosage-Drug": 455, "Duration-Drug": 152, "Frequency-Drug": 114,
                                   "Reason-Drug": 2093, "Route-Drug": 593}
    assert record["effects"]["therapeutic_only"] == record["effects_the_event_rule_relabels"] == 123
    assert record["effects_relabelled"] == 0 and corpus.ignored_relations == {}
    reach = candidate_reach(corpus.documents()).as_dict()
    assert all(row["share"] >= 0.98 for row in reach["per_type"].values()), reach["per_type"]
    events = load_corpus("phee", path=phee_path, phee_effects="events")
    ade = [sum(e.label == "ADE" for d in c.documents() for e in d.entities) for c in (corpus, events)]
    assert ade[0] - ade[1] == 123 and events.ignored["Therapeutic-Effect"] == 123
