"""Embedding specs: the committed files, validation messages, offline failures, in-domain training reuse."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from medner.corpus.document import Document
from medner.corpus.registry import Corpus
from medner.embeddings.base import EmbeddingUnavailableError
from medner.embeddings.specs import (
    SpecError,
    availability,
    build_embedder,
    list_specs,
    load_spec,
    spec_from_dict,
    trained_folder,
)

DEFAULTS = {"glove": "glove", "flair": "flair", "bert": "bert"}
PRETRAINED = ["glove-6b-100d", "glove-840b-300d", "flair-pubmed", "bio-clinicalbert", "xlm-roberta-base"]

TRAIN_TEXT = [
    "Metoprolol 25 mg PO BID for hypertension.\nAspirin 81 mg daily.",
    "Started vancomycin 1 g IV q12h for MRSA bacteremia. Developed rash on amoxicillin.",
    "Lisinopril 10 mg PO daily. Warfarin 5 mg PO at bedtime for atrial fibrillation.",
]


def tiny_corpus(name: str = "tiny", train=TRAIN_TEXT) -> Corpus:
    docs = {split: [Document(id=f"{split}{i}", text=text) for i, text in enumerate(texts)]
            for split, texts in {"train": train, "dev": ["Aspirin 325 mg PO once."], "test": ["Heparin 5000 units SC q8h."]}.items()}
    return Corpus(name=name, splits=docs, labels=(), ignored={}, split_record={"how": "test"}, source="memory")


def test_every_committed_spec_loads_and_the_defaults_exist():
    specs = {spec.name: spec for spec in list_specs()}
    assert set(DEFAULTS) | set(PRETRAINED) | {"stacked-glove-flair"} <= set(specs)
    assert specs["glove"].family == "glove" and specs["glove"].in_domain and specs["glove"].options["dim"] == 100
    assert specs["flair"].family == "flair" and specs["flair"].in_domain
    assert specs["bert"].family == "bert" and specs["bert"].source == "minilm"
    assert specs["flair-pubmed"].source == {"forward": "pubmed-forward", "backward": "pubmed-backward"}
    assert specs["bio-clinicalbert"].source == "emilyalsentzer/Bio_ClinicalBERT"
    assert specs["stacked-glove-flair"].source == ["glove", "flair"]
    for name in PRETRAINED:
        assert specs[name].download and "\n" not in specs[name].download


@pytest.mark.parametrize("data, message", [
    ({"family": "word2vec", "source": "x"}, "key 'family' must be one of"),
    ({"family": "glove"}, "key 'source' is missing"),
    ({"family": "glove", "source": "in-domain", "colour": 1}, "unknown key 'colour'"),
    ({"family": "glove", "source": "in-domain", "options": {"dims": 50}}, "unknown key 'options.dims'"),
    ({"family": "glove", "source": "in-domain", "options": {"window": "ten"}}, "key 'options.window' must be int"),
    ({"family": "static", "source": "in-domain"}, "in-domain training is family 'glove'"),
    ({"family": "bert", "source": "minilm", "options": {"pooling": "first", "layer": 4}}, "unknown key 'options.layer'"),
    ({"family": "flair", "source": {"forward": "a"}}, "key 'source' must be 'in-domain' or a mapping"),
    ({"family": "stacked", "source": ["glove"]}, "at least two spec names"),
    ({"family": "glove", "source": "in-domain", "name": "other"}, "key 'name' is 'other'"),
])
def test_validation_errors_name_the_file_and_the_key(tmp_path, data, message):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_bad_yaml_and_unknown_name(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("family: glove\nsource: [unclosed\n")
    with pytest.raises(SpecError, match=r"broken.yaml line \d+: not valid YAML"):
        load_spec(path)
    with pytest.raises(FileNotFoundError, match="no embedding spec 'nope'.*known specs: .*glove"):
        load_spec("nope")


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system [\"touch {marker}\"]",
                                 "!!python/object/new:subprocess.Popen [[touch, {marker}]]"])
def test_a_spec_that_would_make_python_objects_is_refused_in_one_line(tmp_path, tag):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.yaml"
    path.write_text(f"family: static\nsource: {tag.format(marker=marker)}\n")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(f"{path} line 2: expected plain YAML (mappings, lists, strings, numbers); "
                                        "found a tag that makes objects, refused")
    assert "\n" not in str(caught.value) and not marker.exists()


def test_trained_artefacts_stay_inside_the_embeddings_folder(tmp_path):
    spec = load_spec("glove")
    assert trained_folder(spec, "demo", {}, tmp_path).parent == tmp_path / "demo"
    with pytest.raises(ValueError, match=r"corpus name: expected a name that can be one folder or file name .*'\.\./x'"):
        trained_folder(spec, "../x", {}, tmp_path)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n.startswith("flair") else n
                                  for n in PRETRAINED])  # importing flair takes seconds
def test_pretrained_specs_fail_offline_with_one_sentence(name, medner_root, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))  # nothing cached
    monkeypatch.setenv("GENSIM_DATA_DIR", str(tmp_path / "gensim-data"))
    if name.startswith("flair"):  # importing flair is slow: only where it is needed
        import flair

        monkeypatch.setattr(flair, "cache_root", tmp_path / "flair-cache")
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    spec = load_spec(name)
    ok, detail = availability(spec)
    assert not ok and detail == spec.download
    with pytest.raises(EmbeddingUnavailableError) as caught:
        build_embedder(spec, tiny_corpus(), progress=False)
    message = str(caught.value)
    assert message == f"{name}: {spec.download}" and "\n" not in message and "Traceback" not in message


def test_in_domain_glove_trains_once_and_is_reused(medner_root):
    spec = spec_from_dict({"family": "glove", "source": "in-domain",
                           "options": {"dim": 8, "epochs": 3, "window": 3, "normalise_digits": True}}, name="g8")
    first = build_embedder(spec, tiny_corpus(), progress=False)
    record = first.training_record
    assert not record["reused"] and record["seconds"] > 0
    folder = medner_root / "embeddings" / "trained" / "tiny"
    assert [p.name for p in folder.iterdir()] == [record["path"].rsplit("/", 1)[-1]]  # no temporary folder left
    assert (folder / record["path"].rsplit("/", 1)[-1] / "vectors.txt").is_file()
    second = build_embedder(spec, tiny_corpus(), progress=False)
    assert second.training_record["reused"] and second.training_record["path"] == record["path"]
    assert second.fingerprint == first.fingerprint and first.dim == 8
    np.testing.assert_array_equal(first.embed([["Aspirin", "81"]])[0], second.embed([["Aspirin", "81"]])[0])
    assert first.lookup("81")[1] == "digits" and first.lookup("Aspirin")[1] == "exact"
    # another training text or other options train anew, into another folder
    changed = build_embedder(spec, tiny_corpus(train=TRAIN_TEXT[:2]), progress=False)
    assert not changed.training_record["reused"] and changed.fingerprint != first.fingerprint
    other = spec_from_dict({"family": "glove", "source": "in-domain", "options": {"dim": 8, "epochs": 4}}, name="g8")
    assert build_embedder(other, tiny_corpus(), progress=False).training_record["path"] != record["path"]
    # a workdir replaces embeddings/trained
    elsewhere = build_embedder(spec, tiny_corpus(), workdir=medner_root / "w", progress=False)
    assert elsewhere.training_record["path"].startswith(str(medner_root / "w"))


def test_extra_text_folder_joins_the_training_text(medner_root):
    extra = medner_root / "extra"
    extra.mkdir()
    (extra / "notes.txt").write_text("Clopidogrel 75 mg daily after stent placement.", encoding="utf-8")
    options = {"dim": 4, "epochs": 1, "extra_text": str(extra)}
    embedder = build_embedder(spec_from_dict({"family": "glove", "source": "in-domain", "options": options},
                                             name="gx"), tiny_corpus(), progress=False)
    assert embedder.lookup("Clopidogrel")[1] == "exact"
    missing = spec_from_dict({"family": "glove", "source": "in-domain",
                              "options": {"extra_text": str(medner_root / "none")}}, name="gy")
    with pytest.raises(FileNotFoundError, match="options.extra_text"):
        build_embedder(missing, tiny_corpus(), progress=False)


def test_pretrained_static_file_under_embeddings_dir(medner_root):
    (medner_root / "embeddings" / "pretrained").mkdir(parents=True)
    (medner_root / "embeddings" / "pretrained" / "mini.txt").write_text("aspirin 1 2\nmg 3 4\n")
    spec = spec_from_dict({"family": "glove", "source": "pretrained/mini.txt", "options": {"format": "glove"}},
                          name="mini")
    assert availability(spec)[0]
    embedder = build_embedder(spec, tiny_corpus(), progress=False)
    assert embedder.training_record is None and embedder.name == "mini"
    np.testing.assert_array_equal(embedder.embed([["Aspirin", "MG"]])[0], [[1, 2], [3, 4]])


def test_stacked_spec_concatenates_its_parts(medner_root, tmp_path):
    pytest.importorskip("medner.embeddings.stacked", reason="the stacked family module is not present")
    (tmp_path / "a.txt").write_text("aspirin 1 2\n")
    (tmp_path / "b.txt").write_text("aspirin 5 6 7\n")
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text(f"family: static\nsource: {tmp_path / (name + '.txt')}\n")
    (tmp_path / "ab.yaml").write_text(f"family: stacked\nsource: [{tmp_path / 'a.yaml'}, {tmp_path / 'b.yaml'}]\n")
    embedder = build_embedder(load_spec(tmp_path / "ab.yaml"), tiny_corpus(), progress=False)
    assert embedder.dim == 5
    np.testing.assert_array_equal(embedder.embed([["aspirin"]])[0], [[1, 2, 5, 6, 7]])


@pytest.mark.slow
def test_bert_default_builds_from_the_packaged_minilm(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = build_embedder(load_spec("bert"), tiny_corpus(), progress=False)
    assert embedder.dim == 384 and embedder.name == "bert"
    [vectors] = embedder.embed([["Aspirin", "81", "mg", "daily"]])
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32


def test_embed_command_fills_the_cache_and_reports_oov(medner_root, tmp_path, capsys):
    import json

    from medner.cli import main
    from medner.corpus.brat import write_brat_folder

    corpus = tiny_corpus()
    for split, docs in corpus.splits.items():
        write_brat_folder(docs, tmp_path / "corpus" / split)
    (tmp_path / "v.txt").write_text("aspirin 1 0\nmg 0 1\n00 1 1\n")
    (tmp_path / "mini.yaml").write_text(f"family: static\nsource: {tmp_path / 'v.txt'}\n")
    argv = ["embed", str(tmp_path / "mini.yaml"), "brat", "--path", str(tmp_path / "corpus"), "--json"]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert set(first["splits"]) == {"train", "dev", "test"}
    dev = first["splits"]["dev"]  # "Aspirin 325 mg PO once ."
    assert not dev["hit"] and dev["tokens"] == 6
    assert dev["oov"]["stages"] == {"exact": 1, "lowercase": 1, "digits": 0, "unknown": 4}
    assert main(argv[:-1] + ["--splits", "dev"]) == 0
    table = capsys.readouterr().out
    assert "hit" in table and "66.67%" in table and "cache: 1 hits, 0 misses" in table
    assert main(["embed", "glove-6b-100d", "brat", "--path", str(tmp_path / "corpus")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("medner: error: glove-6b-100d: download glove.6B.zip") and error.count("\n") == 1


def test_embeddings_list_reports_offline_availability(medner_root, capsys, monkeypatch):
    import json

    from medner.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("medner.embeddings.specs._flair_availability", lambda model: (False, "not checked"))
    assert main(["embeddings", "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)["specs"]}
    assert rows["glove"]["offline"] and rows["flair"]["offline"] and rows["bert"]["offline"]
    assert not rows["glove-6b-100d"]["offline"] and rows["glove-6b-100d"]["family"] == "glove"
