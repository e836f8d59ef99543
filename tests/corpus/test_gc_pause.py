"""The cyclic garbage collector stays out of corpus building (medner.corpus.gc_pause), which changes no number."""

from __future__ import annotations

import gc

import pytest

from medner.corpus import registry, stats, tagging
from medner.corpus.demo import generate_demo_corpus
from medner.corpus.gc_pause import collector_paused
from medner.corpus.registry import load_corpus
from medner.corpus.stats import corpus_statistics
from medner.corpus.tagging import tag_documents


@pytest.fixture
def demo_folder(tmp_path):
    return generate_demo_corpus(tmp_path / "demo", n_sentences=300, seed=3)


def _recording_collector_state(monkeypatch, module, name: str, seen: list[tuple[str, bool]]) -> None:
    """Replace ``module.name`` by a wrapper that notes whether the collector is on whenever it is called."""
    original = getattr(module, name)

    def recording(*args, **kwargs):
        seen.append((name, gc.isenabled()))
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, recording)


def test_reading_tagging_and_counting_a_corpus_run_with_the_collector_paused(demo_folder, monkeypatch):
    seen: list[tuple[str, bool]] = []
    # One function inside each of the three, called where no other paused function encloses it.
    _recording_collector_state(monkeypatch, registry, "read_brat_folder", seen)  # inside load_corpus
    _recording_collector_state(monkeypatch, tagging, "tag_document", seen)  # inside tag_documents
    _recording_collector_state(monkeypatch, stats, "boundary_alignment", seen)  # inside corpus_statistics
    assert gc.isenabled()
    corpus = load_corpus("demo", path=demo_folder)
    corpus_statistics(corpus, progress=False)
    tag_documents(corpus.splits["train"])
    assert {name for name, _ in seen} == {"read_brat_folder", "tag_document", "boundary_alignment"}
    assert [entry for entry in seen if entry[1]] == []  # never called with the collector on
    assert gc.isenabled()  # and on again afterwards

    # The undecorated bodies run with it on: the probes would see a pause that went missing.
    seen.clear()
    corpus_statistics.__wrapped__(load_corpus.__wrapped__("demo", path=demo_folder), progress=False)
    assert ("read_brat_folder", True) in seen and ("boundary_alignment", True) in seen


def test_the_pause_changes_no_number(demo_folder):
    corpus = load_corpus("demo", path=demo_folder)
    assert corpus_statistics(corpus, progress=False) == corpus_statistics.__wrapped__(corpus, progress=False)
    paused, report = tag_documents(corpus.splits["dev"])
    unpaused, unpaused_report = tag_documents.__wrapped__(corpus.splits["dev"])
    assert paused == unpaused and report.as_dict() == unpaused_report.as_dict()


def test_the_collector_is_left_as_it_was_found():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner pause does not end the outer one
    assert gc.isenabled()

    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a bad file")
    assert gc.isenabled()

    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # a caller that switched it off keeps it off
    finally:
        gc.enable()
