"""Bad input (issue 16): the readers either read a file exactly or refuse it with the project's own one-line error.

Hypothesis mutates valid brat pairs, CoNLL files and label maps (``bad_input_cases``) and checks every
outcome: read exactly (every entity's text is the text at its offsets, every ``T`` line an entity
or, with ``strict=False``, a counted skip; every ``R`` line a relation between two entities of the
document, a counted set-aside (an argument is an event) or a counted skip; every CoNLL row a token), or refused with
:class:`BratFormatError` / :class:`ConllFormatError` / :class:`LabelMapError` whose message is one
line starting ``file:line:``. Any other exception fails the test, and so does a case that takes
longer than ``CASE_SECONDS`` (a hang, or quadratic work on the 5 MB lines).

The default run tries ``DEFAULT_EXAMPLES`` cases per reader; the campaign (``pytest -m campaign``)
tries ``CAMPAIGN_EXAMPLES``. Both are deterministic (``derandomize``) and print their counts per outcome.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from bad_input_cases import (
    BOM,
    SEED_PAIRS,
    Case,
    as_bytes,
    brat_cases,
    conll_cases,
    label_map_cases,
    phee_pairs,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medner.corpus.brat import AnnotationCounts, BratFormatError, read_brat_folder
from medner.corpus.conll import ConllFormatError, read_conll
from medner.corpus.labelmap import LabelMapError, read_label_map
from medner.paths import default_phee_path

DEFAULT_EXAMPLES = 300
CAMPAIGN_EXAMPLES = int(os.environ.get("MEDNER_CAMPAIGN_EXAMPLES", "10000"))
#: Seconds one case may take in a reader (the 5 MB cases take well under one).
CASE_SECONDS = 10.0
#: Longest message a refusal may give, beyond the paths it names.
MESSAGE_CHARACTERS = 600
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _seed_pairs() -> list[tuple[str, str, str]]:
    """The built-in pairs, and a sample of PHEE's train files when PHEE is here (MEDNER_PHEE or beside the checkout)."""
    return SEED_PAIRS + phee_pairs(Path(os.environ.get("MEDNER_PHEE", default_phee_path())))


def write_case(case: Case, folder: Path) -> dict[str, Path]:
    """Write the case's files into ``folder``; return their paths by name (absent files are not written)."""
    paths = {name: folder / name for name in case.files}
    for name, text in case.files.items():
        if text is not None:
            paths[name].write_bytes(as_bytes(text))
    return paths


def timed(read: Callable, *args, **kwargs):
    """``read(*args, **kwargs)``, failing when it takes longer than CASE_SECONDS."""
    start = time.perf_counter()
    try:
        return read(*args, **kwargs)
    finally:
        elapsed = time.perf_counter() - start
        assert elapsed < CASE_SECONDS, f"a reader took {elapsed:.1f} s on one case"


def assert_one_line_naming_a_file(message: str, paths: list[Path]) -> int:
    """The message is one short line ``<one of paths>:<line>: ...``; returns the line number."""
    assert len(message.splitlines()) == 1 and "\r" not in message, f"not one line: {message[:300]!r}"
    named = next((p for p in paths if message.startswith(f"{p}:")), None)
    assert named is not None, f"names none of {[p.name for p in paths]}: {message[:300]!r}"
    match = re.match(r"(\d+): ", message[len(str(named)) + 1:])
    assert match, f"no line number after the file: {message[:300]!r}"
    extra = sum(len(str(p)) for p in paths) * 2
    assert len(message) <= MESSAGE_CHARACTERS + extra, f"a {len(message)}-character message: {message[:300]!r}"
    return int(match.group(1))


def run_cases(label: str, strategy: st.SearchStrategy, check: Callable[[Case, Path], str], examples: int,
              tmp_path: Path, capsys) -> Counter:
    """Run ``check`` on ``examples`` deterministic cases; print and return the count of each outcome."""
    outcomes: Counter = Counter()

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(case=strategy)
    def each_case(case: Case) -> None:
        with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
            outcomes[check(case, Path(folder))] += 1

    each_case()
    with capsys.disabled():
        print(f"\n{label}: {sum(outcomes.values())} cases: "
              + ", ".join(f"{outcomes[k]} {k}" for k in ("read exactly", "refused with the project's error")))
    assert set(outcomes) <= {"read exactly", "refused with the project's error"}
    return outcomes


# -- brat ------------------------------------------------------------------------------------------------


def _ann_lines(ann: str) -> list[str]:
    return [line for line in LINE_BREAK.split(ann.removeprefix(BOM))]


def _normalised(text: str) -> str:
    return " ".join(text.split())


def assert_entity_matches_its_line(doc, entity, line: str, shift: int) -> None:
    """The entity is the ``T`` line: its label, its fragments (sorted) and its text up to whitespace."""
    assert entity.text == doc.entity_text(entity.fragments)
    assert all(0 <= s < e <= len(doc.text) for s, e in entity.fragments)
    assert all(a[1] <= b[0] for a, b in zip(entity.fragments, entity.fragments[1:]))
    _, annotation, text_field = line.split("\t", 2)
    label, spans = annotation.strip(" ").split(" ", 1)
    listed = tuple((int(p.split()[0]) - shift, int(p.split()[1]) - shift) for p in spans.split(";"))
    assert entity.label == label and entity.fragments == tuple(sorted(listed))
    assert _normalised(text_field) in {_normalised(entity.text), _normalised(doc.entity_text(listed))}


def assert_relations_match_their_lines(doc, r_lines: list[str], set_aside: int) -> None:
    """Each relation is its ``R`` line (type, arguments by role), names two entities of the document, and every
    ``R`` line given is a relation or one of the ``set_aside`` lines whose argument is no entity."""
    assert len(doc.relations) + set_aside == len(r_lines), "an R line was neither a relation nor counted"
    by_id = {line.split("\t", 1)[0]: line for line in r_lines}
    entity_ids = {entity.id for entity in doc.entities}
    for relation in doc.relations:
        relation_type, *arguments = by_id[relation.id].split("\t", 1)[1].split("\t")[0].split()
        roles = [argument.split(":", 1) for argument in arguments]
        assert relation.type == relation_type
        if sorted(role for role, _ in roles) == ["Arg1", "Arg2"]:
            roles.sort()
        assert [relation.arg1, relation.arg2] == [ann_id for _, ann_id in roles]
        assert {relation.arg1, relation.arg2} <= entity_ids


def assert_read_exactly(case: Case, docs: list, counts: AnnotationCounts) -> None:
    txt, ann = case.files["doc.txt"], case.files["doc.ann"]
    if txt is None:
        assert ann is None and docs == [], "an .ann without its .txt was read"
        return
    assert len(docs) == 1
    doc = docs[0]
    assert doc.text == txt.removeprefix(BOM)
    t_lines = [line for line in _ann_lines(ann or "") if line.startswith("T")]
    assert sorted(line.split("\t", 1)[0] for line in t_lines) == sorted(e.id for e in doc.entities), "a T line was lost"
    by_id = {line.split("\t", 1)[0]: line for line in t_lines}
    for entity in doc.entities:
        assert_entity_matches_its_line(doc, entity, by_id[entity.id], counts.bom_offsets_shifted)
    r_lines = [line for line in _ann_lines(ann or "") if line.startswith("R")]
    assert_relations_match_their_lines(doc, r_lines, counts.relations_set_aside)


def assert_lenient_reading_counts_every_skip(case: Case, folder: Path, paths: dict[str, Path]) -> None:
    """``strict=False``: each skipped line one warning naming it; every ``T`` line not warned about is an entity."""
    counts = AnnotationCounts()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            docs = timed(read_brat_folder, folder, strict=False, counts=counts)
        except BratFormatError as error:  # a file that is not UTF-8 cannot be read line by line
            assert_one_line_naming_a_file(str(error), list(paths.values()))
            assert "expected UTF-8 text" in str(error)
            return
    messages = [str(w.message) for w in caught]
    warned = {assert_one_line_naming_a_file(m, [paths["doc.ann"]]) for m in messages}
    assert counts.skipped == len(messages)
    if case.files["doc.txt"] is None:
        assert docs == [] and len(messages) == 1
        return
    lines = _ann_lines(case.files["doc.ann"] or "")
    kept = [line.split("\t", 1)[0] for n, line in enumerate(lines, 1) if line.startswith("T") and n not in warned]
    assert sorted(kept) == sorted(e.id for e in docs[0].entities), "a T line neither read nor counted as skipped"
    r_lines = [line for n, line in enumerate(lines, 1) if line.startswith("R") and n not in warned]
    assert_relations_match_their_lines(docs[0], r_lines, counts.relations_set_aside)
    for entity in docs[0].entities:
        assert entity.text == docs[0].entity_text(entity.fragments)


def check_brat_case(case: Case, folder: Path) -> str:
    paths = write_case(case, folder)
    counts = AnnotationCounts()
    try:
        docs = timed(read_brat_folder, folder, counts=counts)
    except BratFormatError as error:
        assert_one_line_naming_a_file(str(error), list(paths.values()))
        assert_lenient_reading_counts_every_skip(case, folder, paths)
        return "refused with the project's error"
    assert_read_exactly(case, docs, counts)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # what reads strictly reads the same without a warning when lenient
        lenient = read_brat_folder(folder, strict=False)
    assert [(d.entities, d.relations) for d in lenient] == [(d.entities, d.relations) for d in docs]
    return "read exactly"


def test_brat_seed_pairs_are_read_exactly(tmp_path):
    for name, txt, ann in _seed_pairs():
        folder = tmp_path / name.replace("/", "-")
        folder.mkdir()
        case = Case(name, (), {"doc.txt": txt, "doc.ann": ann})
        assert check_brat_case(case, folder) == "read exactly", name


def test_brat_reader_on_mutated_pairs(tmp_path, capsys):
    run_cases("brat reader", brat_cases(_seed_pairs()), check_brat_case, DEFAULT_EXAMPLES, tmp_path, capsys)


@pytest.mark.campaign
def test_brat_reader_campaign(tmp_path, capsys):
    run_cases("brat reader (campaign)", brat_cases(_seed_pairs()), check_brat_case, CAMPAIGN_EXAMPLES, tmp_path, capsys)


# -- CoNLL -----------------------------------------------------------------------------------------------


def check_conll_case(case: Case, folder: Path) -> str:
    path = write_case(case, folder)["data.conll"]
    try:
        sentences = timed(read_conll, path)
    except ConllFormatError as error:
        assert_one_line_naming_a_file(str(error), [path])
        return "refused with the project's error"
    lines = LINE_BREAK.split(case.files["data.conll"].removeprefix(BOM))
    rows = [line for line in lines if line.strip() and not line.startswith("-DOCSTART-")]
    tokens = [(token, None if s.tags is None else s.tags[k]) for s in sentences for k, token in enumerate(s.tokens)]
    assert all(s.tokens for s in sentences)
    assert len(tokens) == len(rows), "a row was lost"
    for row, (token, tag) in zip(rows, tokens):
        columns = row.split("\t") if "\t" in row else row.split()
        assert token.text == columns[0] and token.text.strip()
        assert token.end - token.start == len(token.text) and token.start >= 0
        assert tag is None or (tag == columns[-1] and tag and not re.search(r"\s", tag))
    return "read exactly"


def test_conll_reader_on_mutated_files(tmp_path, capsys):
    run_cases("CoNLL reader", conll_cases(), check_conll_case, DEFAULT_EXAMPLES, tmp_path, capsys)


@pytest.mark.campaign
def test_conll_reader_campaign(tmp_path, capsys):
    run_cases("CoNLL reader (campaign)", conll_cases(), check_conll_case, CAMPAIGN_EXAMPLES, tmp_path, capsys)


# -- label maps ------------------------------------------------------------------------------------------


def _label(value: str | None) -> bool:
    return value is None or bool(re.fullmatch(r"[^\s\x00-\x1f\x7f-\x9f]+", value))


def check_label_map_case(case: Case, folder: Path) -> str:
    (name,) = case.files
    path = write_case(case, folder)[name]
    try:
        mapping = timed(read_label_map, path)
    except LabelMapError as error:
        assert_one_line_naming_a_file(str(error), [path])
        return "refused with the project's error"
    text = case.files[name].removeprefix(BOM)
    assert mapping and all(_label(k) and _label(v) for k, v in mapping.items()), mapping
    if path.suffix in {".yaml", ".yml"}:
        loaded = yaml.safe_load(text)
        assert len(loaded) == len(mapping), "an entry was lost"
        for source, target in loaded.items():
            if isinstance(source, str):
                assert mapping[source] == (None if target is None or target.strip() in {"", "-"} else target.strip())
    else:
        rows = [line for line in LINE_BREAK.split(text) if line.strip() and not line.lstrip().startswith("#")]
        assert len(rows) == len(mapping), "an entry was lost"
        for row in rows:
            columns = row.split("\t") if "\t" in row else row.split()
            target = columns[1].strip() if len(columns) == 2 else ""
            assert mapping[columns[0].strip()] == (None if target in {"", "-"} else target)
    return "read exactly"


def test_label_map_reader_on_mutated_files(tmp_path, capsys):
    run_cases("label map reader", label_map_cases(), check_label_map_case, DEFAULT_EXAMPLES, tmp_path, capsys)


@pytest.mark.campaign
def test_label_map_reader_campaign(tmp_path, capsys):
    run_cases("label map reader (campaign)", label_map_cases(), check_label_map_case, CAMPAIGN_EXAMPLES, tmp_path, capsys)
