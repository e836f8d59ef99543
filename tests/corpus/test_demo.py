"""The synthetic demo corpus: determinism, labels and their imbalance, context-dependent Reason/ADE,
unseen test drugs, exact offsets, sizes, relations. Everything is computed from the written files."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path

import pytest

from medner import N2C2_LABELS
from medner.corpus import demo, demo_lexicon
from medner.corpus.demo import generate_demo_corpus

SPLITS = ("train", "dev", "test")
_T_LINE = re.compile(r"^(T\d+)\t(\S+) (\d+) (\d+)\t(.*)$")
_R_LINE = re.compile(r"^R\d+\t(\S+)-Drug Arg1:(T\d+) Arg2:(T\d+)$")
RELATION_TYPES = {f"{label}-Drug" for label in N2C2_LABELS if label != "Drug"}


def parse_ann_exactly(ann_path: Path) -> list[tuple[str, int, int, str]]:
    """(label, start, end, text) per ``T`` line; every line before the ``R`` lines must be a continuous ``T`` line
    checked against the .txt."""
    text = ann_path.with_suffix(".txt").read_bytes().decode("utf-8")
    entities = []
    for number, line in enumerate(ann_path.read_bytes().decode("utf-8").split("\n"), start=1):
        if not line or line.startswith("R"):
            continue
        match = _T_LINE.match(line)
        assert match, f"{ann_path}:{number}: not a continuous T line: {line!r}"
        _, label, start, end, surface = match.groups()
        start, end = int(start), int(end)
        assert text[start:end] == surface, f"{ann_path}:{number}: {surface!r} != text {text[start:end]!r}"
        entities.append((label, start, end, surface))
    return entities


def corpus_entities(root: Path) -> dict[str, list[tuple[str, str, int, int, str]]]:
    """Per split: (doc_id, label, start, end, text) for every entity."""
    found: dict[str, list[tuple[str, str, int, int, str]]] = {}
    for split in SPLITS:
        found[split] = [
            (ann.stem, *entity)
            for ann in sorted((root / split).glob("*.ann"))
            for entity in parse_ann_exactly(ann)
        ]
    return found


def split_text(root: Path, split: str) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((root / split).glob("*.txt")))


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def default_corpus(tmp_path_factory) -> Path:
    """The default demo corpus (3,000 sentences, seed 0)."""
    return generate_demo_corpus(tmp_path_factory.mktemp("demo") / "corpus")


@pytest.fixture(scope="module")
def entities(default_corpus) -> dict[str, list[tuple[str, str, int, int, str]]]:
    return corpus_entities(default_corpus)


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path, default_corpus):
    again = generate_demo_corpus(tmp_path / "again", n_sentences=3000, seed=0)
    other = generate_demo_corpus(tmp_path / "other", n_sentences=3000, seed=1)
    first = all_files(default_corpus)
    assert len(first) > 100
    assert all_files(again) == first
    other_files = all_files(other)
    assert other_files != first
    shared_names = sorted(set(other_files) & set(first))
    differing = [name for name in shared_names if name.endswith(".txt") and other_files[name] != first[name]]
    assert len(differing) > 0.9 * len([n for n in shared_names if n.endswith(".txt")])


def test_layout_newlines_and_readme_say_synthetic(default_corpus):
    for split in SPLITS:
        txts = sorted(p.stem for p in (default_corpus / split).glob("*.txt"))
        anns = sorted(p.stem for p in (default_corpus / split).glob("*.ann"))
        assert txts and txts == anns
        for name in txts:
            raw = (default_corpus / split / f"{name}.txt").read_bytes()
            assert b"\r" not in raw and raw.endswith(b"\n")
    assert "SYNTHETIC" in (default_corpus / "README.md").read_text()
    assert "SYNTHETIC" in (demo.__doc__ or "")
    assert "SYNTHETIC" in (generate_demo_corpus.__doc__ or "")


def test_every_ann_line_matches_text_and_reads_back_with_the_brat_reader(default_corpus, entities):
    from medner.corpus.brat import read_brat_folder

    for split in SPLITS:
        docs = read_brat_folder(default_corpus / split, strict=True)
        assert len(docs) == len(list((default_corpus / split).glob("*.ann")))
        from_reader = sorted((d.id, e.label, e.start, e.end, e.text) for d in docs for e in d.entities)
        assert from_reader == sorted(entities[split])
        assert all(not e.is_discontinuous for d in docs for e in d.entities)


def test_entities_do_not_overlap(entities):
    for split in SPLITS:
        by_doc: dict[str, list[tuple[int, int]]] = {}
        for doc_id, _, start, end, _ in entities[split]:
            by_doc.setdefault(doc_id, []).append((start, end))
        for doc_id, spans in by_doc.items():
            spans.sort()
            for (_, end), (next_start, _) in zip(spans, spans[1:]):
                assert end <= next_start, f"{split}/{doc_id}: overlapping entities"


def test_all_nine_labels_in_every_split_with_realistic_imbalance(entities):
    total = Counter()
    for split in SPLITS:
        counts = Counter(label for _, label, *_ in entities[split])
        assert set(counts) == set(N2C2_LABELS), f"{split}: labels {sorted(counts)}"
        total += counts
    n = sum(total.values())
    common = [total[label] for label in ("Drug", "Strength", "Frequency", "Route")]
    rare = [total[label] for label in ("Duration", "ADE")]
    assert min(common) > 3 * max(rare)
    assert total["Drug"] == max(total.values())
    assert 0.015 <= total["ADE"] / n <= 0.05
    assert total["Duration"] / n <= 0.05
    assert total["Reason"] > total["ADE"]


def test_the_same_condition_words_are_reason_in_some_sentences_and_ade_in_others(default_corpus, entities):
    roles: dict[str, set[str]] = {}
    for split in SPLITS:
        for _, label, _, _, surface in entities[split]:
            if label in ("Reason", "ADE"):
                roles.setdefault(surface.lower(), set()).add(label)
    for word in ("rash", "hypotension", "nausea", "bradycardia", "hyperkalemia", "angioedema"):
        assert roles.get(word) == {"Reason", "ADE"}, f"{word}: {roles.get(word)}"
    assert sum(1 for labels in roles.values() if labels == {"Reason", "ADE"}) >= 12
    # The words also occur unannotated (history, review of systems), so the word alone decides nothing.
    train_text = split_text(default_corpus, "train").lower()
    annotated = sum(s.lower().count("nausea") for _, _, _, _, s in entities["train"])
    assert train_text.count("nausea") > annotated


def test_at_least_a_fifth_of_test_drug_mentions_never_occur_in_train(default_corpus, entities):
    train_text = split_text(default_corpus, "train").lower()
    test_drugs = [surface.lower() for _, label, _, _, surface in entities["test"] if label == "Drug"]
    unseen = [d for d in test_drugs if not re.search(r"(?<!\w)" + re.escape(d) + r"(?!\w)", train_text)]
    assert len(test_drugs) > 100
    assert len(unseen) / len(test_drugs) >= 0.20
    # The mechanism: held-out names never appear in train text, even lower-cased.
    train_words = set(re.findall(r"[a-z0-9]+(?:[-'][a-z0-9]+)*", train_text))
    for drug in demo_lexicon.DRUGS:
        if drug.held_out:
            for name in (drug.name, *drug.brands):
                assert not re.search(r"(?<!\w)" + re.escape(name.lower()) + r"(?!\w)", train_text), name
    assert "metoprolol" in train_words


def test_abbreviations_variants_and_a_small_share_of_typos(entities):
    surfaces = Counter((label, surface) for split in SPLITS for _, label, _, _, surface in entities[split])
    for label, surface in [
        ("Route", "PO"), ("Route", "IV"), ("Route", "SL"), ("Route", "by mouth"), ("Frequency", "BID"),
        ("Frequency", "q.d."), ("Frequency", "q6h prn"), ("Frequency", "twice daily"), ("Duration", "x7 days"),
        ("Duration", "for 2 weeks"), ("Dosage", "1/2 tab"), ("Dosage", "2 puffs"), ("Form", "tablet"),
        ("Form", "inhaler"), ("Strength", "25 mg"),
    ]:
        assert surfaces[(label, surface)] > 0, f"no {label} {surface!r}"
    known = {n.lower() for d in demo_lexicon.DRUGS for n in (d.name, *d.brands)}
    drugs = [s.lower() for (label, s), c in surfaces.items() for _ in range(c) if label == "Drug"]
    misspelt = [d for d in drugs if d not in known]
    assert 0.01 <= len(misspelt) / len(drugs) <= 0.15


def test_size_follows_n_sentences_and_splits_are_about_70_15_15(tmp_path, default_corpus):
    def lines_and_docs(root: Path) -> tuple[dict[str, int], dict[str, int]]:
        lines = {s: sum(p.read_text().count("\n") for p in (root / s).glob("*.txt")) for s in SPLITS}
        docs = {s: len(list((root / s).glob("*.txt"))) for s in SPLITS}
        return lines, docs

    lines, docs = lines_and_docs(default_corpus)
    assert 2700 <= sum(lines.values()) <= 3300
    for split, share in (("train", 0.70), ("dev", 0.15), ("test", 0.15)):
        assert abs(docs[split] / sum(docs.values()) - share) < 0.06
        assert abs(lines[split] / sum(lines.values()) - share) < 0.03
    small = generate_demo_corpus(tmp_path / "small", n_sentences=300, seed=0)
    small_lines, _ = lines_and_docs(small)
    assert 270 <= sum(small_lines.values()) <= 330
    small_entities = sum(len(v) for v in corpus_entities(small).values())
    default_entities = sum(len(v) for v in corpus_entities(default_corpus).values())
    assert 7 <= default_entities / small_entities <= 13


def test_sentence_splitter_sees_about_one_sentence_per_line(default_corpus):
    from medner.corpus.brat import read_brat_folder
    from medner.corpus.tokenize import sentences_of

    n = sum(len(sentences_of(doc)) for split in SPLITS for doc in read_brat_folder(default_corpus / split))
    assert 2700 <= n <= 3300


def test_regenerating_replaces_earlier_demo_files_and_refuses_foreign_ones(tmp_path):
    target = tmp_path / "corpus"
    generate_demo_corpus(target, n_sentences=600, seed=3)
    generate_demo_corpus(target, n_sentences=200, seed=3)
    fresh = generate_demo_corpus(tmp_path / "fresh", n_sentences=200, seed=3)
    assert all_files(target) == all_files(fresh)
    (target / "dev" / "note.txt").write_text("not ours\n")
    with pytest.raises(ValueError, match="note.txt"):
        generate_demo_corpus(target, n_sentences=200, seed=3)


@pytest.mark.parametrize("bad", [0, 5, -1, 2.5, True])
def test_too_small_or_non_integer_sizes_are_refused(tmp_path, bad):
    with pytest.raises(ValueError, match="n_sentences"):
        generate_demo_corpus(tmp_path, n_sentences=bad)


# -- relations (issue 15) ---------------------------------------------------------------------------------

#: sha256 of every file of the corpus generated with (n_sentences, seed) by generator version 3. Version 3
#: changed the texts, not only the R lines: some attributes moved to the line after their drug (a Sig: line,
#: a note under a list item, the next sentence), so these hashes replace version 1's texts-and-entities
#: hashes (which version 2 kept), and every NER number of the demo moves with them.
VERSION_3_FILES = {
    (200, 13): "9def4271fd7b8ce61cf955abb4e7f93c1f27eb58fb570174a9c738b110f3ce17",
    (3000, 13): "24407be86bf374bde528ea7f579f3ba4aa680670ad507847b9984344a7bca5fe",
}


def files_sha256(root: Path) -> str:
    digest = hashlib.sha256()
    for name, content in all_files(root).items():
        digest.update(f"{name}\0".encode() + content + b"\0")
    return digest.hexdigest()


@pytest.mark.parametrize("n_sentences, seed", sorted(VERSION_3_FILES))
def test_files_are_those_of_version_3(tmp_path, n_sentences, seed):
    root = generate_demo_corpus(tmp_path / "c", n_sentences=n_sentences, seed=seed)
    assert demo.GENERATOR_VERSION == 3 and '"generator_version": 3' in (root / "demo.json").read_text()
    assert files_sha256(root) == VERSION_3_FILES[(n_sentences, seed)]


def test_relations_link_each_attribute_to_its_drug_with_the_eight_types_across_at_most_one_line_break(default_corpus):
    from medner.corpus.brat import read_brat_folder

    types: Counter = Counter()
    line_breaks: Counter = Counter()
    for split in SPLITS:
        for doc in read_brat_folder(default_corpus / split):
            by_id = doc.entities_by_id()
            linked = Counter()
            for relation in doc.relations:
                attribute, drug = by_id[relation.arg1], by_id[relation.arg2]
                assert relation.type == f"{attribute.label}-Drug" and drug.label == "Drug"
                line_breaks[doc.text[min(attribute.start, drug.start):max(attribute.end, drug.end)].count("\n")] += 1
                linked[attribute.id] += 1
                types[relation.type] += 1
            # every attribute has its drug; only a Reason may have several ("managed with X and Y")
            attributes = [e for e in doc.entities if e.label != "Drug"]
            assert all(linked[e.id] == 1 or (e.label == "Reason" and linked[e.id] > 1) for e in attributes), doc.id
    assert set(types) == RELATION_TYPES
    assert types["Strength-Drug"] > types["ADE-Drug"] > 100
    assert set(line_breaks) == {0, 1}
    assert 0.03 <= line_breaks[1] / sum(line_breaks.values()) <= 0.15


def relation_distances(root: Path) -> tuple[Counter, Counter]:
    """(links per candidate distance, links one sentence apart per type); fails on a link no candidate reaches."""
    from medner.corpus.brat import read_brat_folder
    from medner.corpus.candidates import candidate_pairs

    distances: Counter = Counter()
    across: Counter = Counter()
    for split in SPLITS:
        for doc in read_brat_folder(root / split):
            pairs = {(pair.attribute.id, pair.drug.id): pair.distance for pair in candidate_pairs(doc)}
            for relation in doc.relations:
                distance = pairs[(relation.arg1, relation.arg2)]
                distances[distance] += 1
                across[relation.type] += distance > 0
    return distances, across


def test_candidates_reach_every_link_and_some_links_cross_a_sentence_boundary(default_corpus):
    from medner.corpus.brat import read_brat_folder
    from medner.corpus.candidates import DEFAULT_WINDOW, candidate_reach

    docs = [doc for split in SPLITS for doc in read_brat_folder(default_corpus / split)]
    reach = candidate_reach(docs, window=DEFAULT_WINDOW).as_dict()
    assert set(reach["per_type"]) == RELATION_TYPES
    assert all(row["share"] == 1.0 for row in reach["per_type"].values()), reach["per_type"]
    distances, across = relation_distances(default_corpus)
    assert set(distances) == {0, 1}
    assert 0.04 <= distances[1] / sum(distances.values()) <= 0.12
    assert across["Reason-Drug"] > 50 and across["ADE-Drug"] > 50
    assert sum(1 for n in across.values() if n >= 20) >= 6  # not one template: most types cross
    # Inside one sentence only, exactly the cross-sentence links are lost.
    within_sentence = candidate_reach(docs, window=0).as_dict()["total"]
    assert within_sentence["outside_window"] == distances[1]


def test_the_three_kinds_of_line_break_a_link_crosses(default_corpus):
    """A Sig: line under its item, an unnumbered line under a short item, a sentence before or after its drug's."""
    from medner.corpus.brat import read_brat_folder

    kinds: Counter = Counter()
    list_item = re.compile(r"^(\d+[.)]|-) ")
    for split in SPLITS:
        for doc in read_brat_folder(default_corpus / split):
            by_id = doc.entities_by_id()
            line_of = lambda offset: doc.text.count("\n", 0, offset)  # noqa: E731
            lines = doc.text.split("\n")
            for relation in doc.relations:
                attribute, drug = by_id[relation.arg1], by_id[relation.arg2]
                drug_line, attribute_line = line_of(drug.start), line_of(attribute.start)
                if drug_line == attribute_line:
                    continue
                assert abs(drug_line - attribute_line) == 1, (doc.id, relation)
                first, second = lines[min(drug_line, attribute_line)], lines[max(drug_line, attribute_line)]
                if list_item.match(first) and second.startswith("Sig:"):
                    kinds["sig line"] += 1
                elif list_item.match(first):
                    assert first.endswith(".") and not list_item.match(second), (first, second)
                    kinds["line under an item"] += 1
                else:
                    assert first.endswith(".") and not list_item.match(second), (first, second)
                    kinds["attribute after its drug" if attribute_line > drug_line else "attribute before its drug"] += 1
    assert len(kinds) == 4 and min(kinds.values()) >= 20, kinds


def test_about_the_cross_break_share_of_drug_mentions_links_across_a_line_break(default_corpus):
    from medner.corpus.brat import read_brat_folder

    drugs, crossing = 0, set()
    for split in SPLITS:
        for doc in read_brat_folder(default_corpus / split):
            by_id = doc.entities_by_id()
            drugs += sum(1 for e in doc.entities if e.label == "Drug")
            for relation in doc.relations:
                attribute, drug = by_id[relation.arg1], by_id[relation.arg2]
                if "\n" in doc.text[min(attribute.start, drug.start):max(attribute.end, drug.end)]:
                    crossing.add((doc.id, drug.id))
    # Not every drug mention may cross (second and third drugs, drug-only lines, notes' last lines), so a bit less.
    assert len(crossing) > 100
    assert 0.6 * demo.CROSS_BREAK_SHARE <= len(crossing) / drugs <= demo.CROSS_BREAK_SHARE


def test_r_lines_follow_the_t_lines_and_name_them(default_corpus):
    for ann in sorted((default_corpus / "dev").glob("*.ann")):
        lines = [line for line in ann.read_text(encoding="utf-8").split("\n") if line]
        kinds = "".join(line[0] for line in lines)
        assert re.fullmatch("T*R*", kinds), ann.name
        t_ids = {line.split("\t")[0] for line in lines if line[0] == "T"}
        for line in lines[kinds.index("R") if "R" in kinds else len(lines):]:
            match = _R_LINE.match(line)
            assert match and {match.group(2), match.group(3)} <= t_ids, line


def test_every_template_names_its_main_drug_first():
    """relations_of_group links attributes to the first drug of a group: {Drug} must come before {Drug2}/{Drug3}."""
    pairs = demo._REASON_PAIR_TEMPLATES + demo._ADE_PAIR_TEMPLATES
    for template in demo._REASON_TEMPLATES + demo._ADE_TEMPLATES + demo._DRUG_ONLY_TEMPLATES + pairs:
        slots = re.findall(r"\{(Drug\d?)\}", template)
        assert slots[0] == "Drug" and slots == sorted(slots), template
    # A two-line template breaks once and names one drug; a line under a list item is about the item's drug.
    assert all(t.split(" ").count("\n") == 1 and t.count("{Drug") == 1 for t in pairs)
    assert all("{Drug" not in t and "\n" not in t for t in demo._LIST_FOLLOW_UP_TEMPLATES)
    spans = [("Reason", 4, 8, "rash"), ("Drug", 20, 27, "aspirin"), ("Strength", 28, 33, "81 mg"), ("Drug", 38, 45, "heparin")]
    assert demo.relations_of_group(spans) == [("Reason-Drug", 0, 1), ("Reason-Drug", 0, 3), ("Strength-Drug", 2, 1)]
    assert demo.relations_of_group([("Reason", 0, 4, "rash")]) == []
