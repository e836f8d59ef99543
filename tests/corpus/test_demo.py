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

#: sha256 of every .txt file and every T line of the corpus generated with (n_sentences, seed), as generator
#: version 1 wrote them (before relations). Version 2 added R lines only: texts and entities, and so every
#: NER number of the study, are unchanged.
VERSION_1_TEXTS_AND_ENTITIES = {
    (200, 13): "d35c7cda0c82675bfb518d2437e1d4a4a4c87764972e6192a85ffcae5b5e5fe6",
    (3000, 13): "43ac5a941e34ce063ad7483f885fe18e32a4af9acd250ee56a0ccab52facec0c",
}


def texts_and_entities_sha256(root: Path) -> str:
    digest = hashlib.sha256()
    for split in SPLITS:
        for txt in sorted((root / split).glob("*.txt")):
            t_lines = [line for line in txt.with_suffix(".ann").read_text(encoding="utf-8").split("\n") if line.startswith("T")]
            digest.update(f"{split}/{txt.name}\0".encode() + txt.read_bytes() + ("\0" + "\n".join(t_lines) + "\0").encode())
    return digest.hexdigest()


@pytest.mark.parametrize("n_sentences, seed", sorted(VERSION_1_TEXTS_AND_ENTITIES))
def test_texts_and_entities_are_those_of_version_1(tmp_path, n_sentences, seed):
    root = generate_demo_corpus(tmp_path / "c", n_sentences=n_sentences, seed=seed)
    assert texts_and_entities_sha256(root) == VERSION_1_TEXTS_AND_ENTITIES[(n_sentences, seed)]


def test_relations_link_each_attribute_to_a_drug_of_its_line_with_the_eight_types(default_corpus):
    from medner.corpus.brat import read_brat_folder

    types: Counter = Counter()
    for split in SPLITS:
        for doc in read_brat_folder(default_corpus / split):
            by_id = doc.entities_by_id()
            linked = Counter()
            for relation in doc.relations:
                attribute, drug = by_id[relation.arg1], by_id[relation.arg2]
                assert relation.type == f"{attribute.label}-Drug" and drug.label == "Drug"
                assert "\n" not in doc.text[min(attribute.start, drug.start):max(attribute.end, drug.end)]
                linked[attribute.id] += 1
                types[relation.type] += 1
            # every attribute has its drug; only a Reason may have several ("managed with X and Y")
            attributes = [e for e in doc.entities if e.label != "Drug"]
            assert all(linked[e.id] == 1 or (e.label == "Reason" and linked[e.id] > 1) for e in attributes), doc.id
    assert set(types) == RELATION_TYPES
    assert types["Strength-Drug"] > types["ADE-Drug"] > 100


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
    """relations_of_line links attributes to the first drug of a line: {Drug} must come before {Drug2}/{Drug3}."""
    for template in demo._REASON_TEMPLATES + demo._ADE_TEMPLATES + demo._DRUG_ONLY_TEMPLATES:
        slots = re.findall(r"\{(Drug\d?)\}", template)
        assert slots[0] == "Drug" and slots == sorted(slots), template
    spans = [("Reason", 4, 8, "rash"), ("Drug", 20, 27, "aspirin"), ("Strength", 28, 33, "81 mg"), ("Drug", 38, 45, "heparin")]
    assert demo.relations_of_line(spans) == [("Reason-Drug", 0, 1), ("Reason-Drug", 0, 3), ("Strength-Drug", 2, 1)]
    assert demo.relations_of_line([("Reason", 0, 4, "rash")]) == []
