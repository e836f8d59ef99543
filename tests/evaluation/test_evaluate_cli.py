"""``medner evaluate``: output shapes, bad input, and PHEE's test folder against itself and an edited copy."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from medner.cli import main
from medner.corpus.brat import read_brat_folder, write_brat_folder
from medner.corpus.document import Document, Entity

TEXT = "started vancomycin 1 g IV q12h for MRSA bacteremia; rash on day 3.\n"


def ent(eid: str, label: str, start: int, end: int) -> Entity:
    return Entity(eid, label, ((start, end),), TEXT[start:end])


@pytest.fixture
def folders(tmp_path):
    gold = [
        Document("n1", TEXT, [ent("T1", "Drug", 8, 18), ent("T2", "Route", 23, 25), ent("T3", "Reason", 35, 50)]),
        Document("n2", TEXT, [ent("T1", "ADE", 52, 56)]),
    ]
    pred = [Document("n1", TEXT, [ent("T1", "Drug", 8, 18), ent("T2", "Route", 23, 25), ent("T3", "Reason", 40, 50)])]
    write_brat_folder(gold, tmp_path / "gold")
    write_brat_folder(pred, tmp_path / "pred", write_text=False)
    return tmp_path / "gold", tmp_path / "pred"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["evaluate", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_output_has_the_documented_shape(folders, capsys):
    code, out, _ = run(capsys, *folders, "--json")
    assert code == 0
    scores = json.loads(out)
    assert scores["documents"] == {"scored": 2, "missing_predictions": 1}
    for mode in ("strict", "lenient"):
        block = scores[mode]
        assert {"micro", "macro", "weighted", "overall_macro", "labels"} <= set(block)
        assert {"tp", "fp", "fn", "precision", "recall", "f1"} <= set(block["micro"])
        assert {"precision", "recall", "f1"} <= set(block["macro"])
        assert list(block["labels"]) == ["Drug", "Route", "Reason", "ADE"]  # n2c2 order
        for label_scores in block["labels"].values():
            assert {"tp", "fp", "fn", "support", "precision", "recall", "f1"} <= set(label_scores)
    assert (scores["strict"]["micro"]["tp"], scores["strict"]["micro"]["fp"], scores["strict"]["micro"]["fn"]) == (2, 1, 2)
    assert (scores["lenient"]["micro"]["tp"], scores["lenient"]["micro"]["fp"], scores["lenient"]["micro"]["fn"]) == (3, 0, 1)


def test_table_output_and_labels_option(folders, capsys):
    code, out, _ = run(capsys, *folders, "--labels", "Drug,Reason")
    assert code == 0
    assert "strict" in out and "lenient" in out and "Overall (micro)" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip().startswith(("Drug", "Reason"))}
    assert rows["Drug"][:3] == ["1.0000", "1.0000", "1.0000"]
    assert rows["Reason"][:3] == ["0.0000", "0.0000", "0.0000"] and rows["Reason"][4:7] == ["1.0000", "1.0000", "1.0000"]
    assert "2 documents scored, 1 without a prediction file" in out
    assert "Route 1" in out  # labels left out are counted, not silently skipped


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda gold, pred: (pred / "n9.ann").write_text(""), "without: n9.ann"),
        (lambda gold, pred: (pred / "n2.ann").write_text("T1\tADE 52 56\titch\n"), "n2.ann:1: expected the text"),
        (lambda gold, pred: (pred / "n2.ann").write_text("T1 ADE 52 56\n"), "n2.ann:1: expected"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(folders, capsys, setup, message):
    setup(*folders)
    code, out, err = run(capsys, *folders)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("medner: error: ") and message in err


def test_missing_folder_and_bad_labels_are_errors(folders, capsys):
    gold, pred = folders
    code, _, err = run(capsys, gold, pred.parent / "absent")
    assert code == 2 and "absent" in err
    code, _, err = run(capsys, gold, pred, "--labels", "Drug,,ADE")
    assert code == 2 and "--labels" in err


@pytest.mark.phee
def test_phee_test_folder_against_itself_scores_one_everywhere(phee_path, capsys):
    test_dir = phee_path / "test"
    code, out, _ = run(capsys, test_dir, test_dir, "--json")
    assert code == 0
    scores = json.loads(out)
    gold = read_brat_folder(test_dir)
    assert scores["documents"] == {"scored": len(gold), "missing_predictions": 0}
    # PHEE has entities with the same label and span more than once: each prediction takes one of them.
    keys = Counter((d.id, e.label, e.start, e.end) for d in gold for e in d.entities)
    assert any(n > 1 for n in keys.values())
    for mode in ("strict", "lenient"):
        block = scores[mode]
        for name in ("micro", "macro", "weighted", "overall_macro"):
            assert block[name]["precision"] == block[name]["recall"] == block[name]["f1"] == 1.0, (mode, name)
        assert block["micro"]["fp"] == block["micro"]["fn"] == block["micro"]["dropped"] == 0
        assert all(s["f1"] == 1.0 for s in block["labels"].values())
        assert sum(s["support"] for s in block["labels"].values()) == sum(len(d.entities) for d in gold)


def isolated(doc: Document, target: Entity, other_label: str | None = None) -> bool:
    """No other entity of the target's label (or ``other_label``) overlaps one character around it."""
    lo, hi = target.start - 1, target.end + 1
    labels = {target.label, other_label}
    return all(not (e.label in labels and e.start < hi and lo < e.end) for e in doc.entities if e is not target)


@pytest.mark.phee
def test_phee_test_folder_against_an_edited_copy_gives_the_counts_the_edits_imply(phee_path, tmp_path, capsys):
    test_dir = phee_path / "test"
    gold = read_brat_folder(test_dir)
    labels = sorted({e.label for d in gold for e in d.entities})
    expected = {mode: {lab: Counter() for lab in labels} for mode in ("strict", "lenient")}
    for d in gold:
        for e in d.entities:
            for mode in expected:
                expected[mode][e.label]["tp"] += 1

    def lose(mode: str, label: str) -> None:
        expected[mode][label]["tp"] -= 1
        expected[mode][label]["fn"] += 1

    rng = random.Random(2018)
    order = list(range(len(gold)))
    rng.shuffle(order)
    plan = ["remove"] * 25 + ["shift"] * 25 + ["relabel"] * 25 + ["drop_file"]
    pred_docs, done = [], Counter()
    edited = {}
    for i in order:
        d = gold[i]
        kind = plan[len(edited)] if len(edited) < len(plan) else None
        candidates = [e for e in d.entities if not e.is_discontinuous and e.end - e.start >= 2 and e.end < len(d.text)]
        if kind is None or (kind != "drop_file" and not candidates):
            continue
        if kind == "drop_file":
            edited[d.id] = kind
            for e in d.entities:
                for mode in expected:
                    lose(mode, e.label)
            continue
        target = rng.choice(candidates)
        entities = [e for e in d.entities if e is not target]
        if kind == "remove":
            for mode in expected:
                lose(mode, target.label)
        elif kind == "shift":
            # One character to the right: still overlapping (length >= 2), no longer exact.
            if any(e.label == target.label and (e.start, e.end) == (target.start + 1, target.end + 1) for e in d.entities):
                continue
            span = (target.start + 1, target.end + 1)
            entities.append(Entity(target.id, target.label, (span,), d.text[span[0]:span[1]]))
            lose("strict", target.label)
            expected["strict"][target.label]["fp"] += 1
        else:
            others = [lab for lab in labels if lab != target.label and isolated(d, target, lab)]
            if not isolated(d, target) or not others:
                continue
            new_label = rng.choice(others)
            entities.append(Entity(target.id, new_label, target.fragments, target.text))
            for mode in expected:
                lose(mode, target.label)
                expected[mode][new_label]["fp"] += 1
        edited[d.id] = kind
        done[kind] += 1
        pred_docs.append(Document(d.id, d.text, entities))
    assert done == {"remove": 25, "shift": 25, "relabel": 25}
    pred_docs += [d for d in gold if d.id not in edited]
    write_brat_folder(pred_docs, tmp_path / "pred", write_text=False)

    code, out, _ = run(capsys, test_dir, tmp_path / "pred", "--json")
    assert code == 0
    scores = json.loads(out)
    assert scores["documents"] == {"scored": len(gold), "missing_predictions": 1}
    for mode in ("strict", "lenient"):
        for label in labels:
            got = scores[mode]["labels"][label]
            want = expected[mode][label]
            assert (got["tp"], got["fp"], got["fn"], got["dropped"]) == (want["tp"], want["fp"], want["fn"], 0), (mode, label)
        micro = scores[mode]["micro"]
        assert micro["tp"] == sum(expected[mode][lab]["tp"] for lab in labels)
        assert micro["fp"] == sum(expected[mode][lab]["fp"] for lab in labels)
    # The edits really cost something, and differently in the two modes.
    assert scores["strict"]["micro"]["fp"] == 50 and scores["lenient"]["micro"]["fp"] == 25
