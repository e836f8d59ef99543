"""Round trip: gold brat -> tags -> entities -> brat -> read gives back the gold entities minus exactly the counted drops."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from medner.corpus.brat import read_brat_document, read_brat_folder, write_brat_folder
from medner.corpus.document import Document, Entity
from medner.corpus.registry import SPLITS, load_corpus
from medner.corpus.tagging import SCHEMES, decode_documents, tag_documents


def entity_keys(docs: list[Document]) -> Counter:
    """Label and outer extent of every entity, per document (what the n2c2 scorer matches on)."""
    return Counter((doc.id, e.label, e.start, e.end) for doc in docs for e in doc.entities)


def round_trip(docs: list[Document], scheme: str, out: Path, *, write_text: bool = True) -> tuple[Counter, Counter, Counter]:
    """(gold, dropped, read back) entity keys after tagging, decoding, writing and reading ``docs``.

    With ``write_text=False`` only the ``.ann`` files are written (as for predictions) and read
    back beside the documents' own ``.txt`` files, which halves the files a large corpus creates.
    """
    sentences, report = tag_documents(docs, scheme=scheme)
    decoded = decode_documents(docs, sentences, [s.tags for s in sentences], scheme=scheme)
    write_brat_folder(decoded, out, write_text=write_text)
    if write_text:
        back = read_brat_folder(out)
    else:
        back = sorted((read_brat_document(doc.source, out / f"{doc.id}.ann") for doc in docs), key=lambda d: d.id)
    assert [d.id for d in back] == sorted(d.id for d in docs)
    assert all(b.text == d.text for b, d in zip(back, sorted(docs, key=lambda d: d.id)))
    dropped = Counter((d.doc_id, d.entity.label, d.entity.start, d.entity.end) for d in report.dropped)
    per_label = report.as_dict()["per_label"]
    for label, row in per_label.items():
        assert row["gold"] == row["kept"] + row["dropped_overlap"] + row["dropped_boundary"], label
    assert sum(row["kept"] for row in per_label.values()) == sum(len(d.entities) for d in back)
    return entity_keys(docs), dropped, entity_keys(back)


def test_handmade_note_with_every_difficulty(tmp_path):
    text = (
        "Discharge Medications:\r\n"
        "1. Metoprolol 25mg PO BID\r\n"
        "2. Azithromycin 250 mg daily x5 days; azithromycin-induced rash.\r\n"
    )
    start = text.index
    spans = [
        ("Drug", [(start("Metoprolol"), start("Metoprolol") + 10)]),
        ("Strength", [(start("25mg"), start("25mg") + 4)]),
        ("Route", [(start("PO"), start("PO") + 2)]),
        ("Frequency", [(start("BID"), start("BID") + 3)]),
        ("Drug", [(start("Azithromycin"), start("Azithromycin") + 12)]),
        ("Strength", [(start("250 mg"), start("250 mg") + 6)]),
        ("Duration", [(start("x5 days"), start("x5 days") + 7)]),
        ("Drug", [(start("azithromycin-"), start("azithromycin-") + 12)]),
        ("ADE", [(start("rash"), start("rash") + 4)]),
        ("Drug", [(start("Metoprolol"), start("Metoprolol") + 10), (start("PO"), start("PO") + 2)]),  # discontinuous
        ("Reason", [(start("induced"), start("induced") + 12)]),  # overlaps ADE, longer: kept, ADE dropped
        ("Dosage", [(start("25mg") + 1, start("25mg") + 4)]),  # "5mg": starts inside "25"
        ("Frequency", [(start("BID"), start("2. Azi") + 2)]),  # "BID\r\n2.": crosses a sentence end
    ]
    entities = [Entity(f"T{k}", label, tuple(f), " ".join(text[s:e] for s, e in f)) for k, (label, f) in enumerate(spans, 1)]
    folder = tmp_path / "gold"
    write_brat_folder([Document("note", text, entities)], folder)
    docs = read_brat_folder(folder)
    for scheme in SCHEMES:
        gold, dropped, back = round_trip(docs, scheme, tmp_path / scheme)
        assert back == gold - dropped
        reasons = Counter(key[1] for key in dropped)
        # the discontinuous Drug "Metoprolol 25mg PO" is the longest: it wins over the three entities inside it
        assert reasons == Counter({"Drug": 1, "Strength": 1, "Route": 1, "ADE": 1, "Dosage": 1, "Frequency": 1})


def _demo_module_available() -> bool:
    try:
        import medner.corpus.demo  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _demo_module_available(), reason="medner.corpus.demo (the demo generator) is not importable")
@pytest.mark.parametrize("scheme", SCHEMES)
def test_demo_corpus_round_trip(medner_root, tmp_path, scheme):
    corpus = load_corpus("demo", demo_size=400, seed=11)
    for split in SPLITS:
        gold, dropped, back = round_trip(corpus.splits[split], scheme, tmp_path / split)
        assert sum(gold.values()) > 0
        assert back == gold - dropped


@pytest.fixture(scope="module")
def phee_corpus():
    """PHEE read once for both schemes (reading it takes a few seconds)."""
    from conftest import phee_path_or_skip

    return load_corpus("phee", path=phee_path_or_skip())


@pytest.mark.phee
@pytest.mark.slow
@pytest.mark.parametrize("scheme", SCHEMES)
def test_phee_round_trip(phee_corpus, tmp_path, scheme):
    total_dropped = 0
    for split in SPLITS:
        gold, dropped, back = round_trip(phee_corpus.splits[split], scheme, tmp_path / split, write_text=False)
        assert back == gold - dropped
        total_dropped += sum(dropped.values())
    assert total_dropped > 0  # PHEE nests Drug inside Effect: the drops path is exercised
