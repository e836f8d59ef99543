"""Static vectors: file formats through gensim, the staged OOV lookup, the report, the offline error."""

from __future__ import annotations

import numpy as np
import pytest

from medner.embeddings.base import EmbeddingUnavailableError
from medner.embeddings.static import StaticEmbedder, normalise_digits

GLOVE = {
    "aspirin": [0.1, 0.2, 0.3],
    "Warfarin": [0.5, 0.4, 0.3],
    "warfarin": [-0.5, -0.4, -0.3],
    "mg": [1.0, 0.0, 0.0],
    "00mg": [0.0, 2.0, 0.0],
    "q0h": [0.0, 0.0, 3.0],
}


@pytest.fixture
def glove_file(tmp_path):
    path = tmp_path / "tiny.glove.txt"
    path.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in GLOVE.items()), encoding="utf-8")
    return path


def test_glove_text_without_header_loads_with_exact_vectors(glove_file):
    embedder = StaticEmbedder(glove_file, name="tiny")
    assert embedder.dim == 3 and embedder.vocabulary_size == 6 and embedder.name == "tiny"
    [vectors] = embedder.embed([["aspirin", "mg"]])
    assert vectors.dtype == np.float32 and vectors.shape == (2, 3)
    np.testing.assert_allclose(vectors, [GLOVE["aspirin"], GLOVE["mg"]], rtol=1e-6)


def test_lookup_stages_in_order(glove_file):
    embedder = StaticEmbedder(glove_file)
    assert embedder.lookup("Warfarin")[1] == "exact"
    assert embedder.lookup("WARFARIN") == (embedder.key_to_index["warfarin"], "lowercase")
    assert embedder.lookup("Aspirin")[1] == "lowercase"
    assert embedder.lookup("40mg") == (embedder.key_to_index["00mg"], "digits")
    assert embedder.lookup("Q6H") == (embedder.key_to_index["q0h"], "digits")  # digits after lowercasing
    assert embedder.lookup("ibuprofen") == (embedder.unknown_index, "unknown")
    assert normalise_digits("12.5mg q6h") == "00.0mg q0h"
    [vectors] = embedder.embed([["ibuprofen", "WARFARIN"]])
    np.testing.assert_array_equal(vectors[0], np.zeros(3))  # the unknown vector defaults to zeros
    np.testing.assert_allclose(vectors[1], GLOVE["warfarin"], rtol=1e-6)


def test_oov_report_counts_every_stage(glove_file):
    report = StaticEmbedder(glove_file).oov_report([["aspirin", "Aspirin", "25mg"], ["xyz", "xyz", "abc"]])
    assert report.tokens == 6
    assert report.stages == {"exact": 1, "lowercase": 1, "digits": 1, "unknown": 3}
    assert report.oov_rate == pytest.approx(0.5)
    assert report.unknown_types[0] == ("xyz", 2)
    assert report.as_dict()["oov_rate"] == pytest.approx(0.5)


def test_random_unknown_vector_is_fixed_by_seed_and_changes_fingerprint(glove_file):
    a = StaticEmbedder(glove_file, unknown="random", seed=1)
    b = StaticEmbedder(glove_file, unknown="random", seed=1)
    c = StaticEmbedder(glove_file, unknown="random", seed=2)
    zeros = StaticEmbedder(glove_file)
    va, vb, vc = (e.embed([["nope"]])[0][0] for e in (a, b, c))
    np.testing.assert_array_equal(va, vb)
    assert np.abs(va).sum() > 0 and not np.array_equal(va, vc)
    assert a.fingerprint == b.fingerprint and len({a.fingerprint, c.fingerprint, zeros.fingerprint}) == 3


def test_fingerprint_follows_file_content(glove_file, tmp_path):
    copy = tmp_path / "copy.txt"
    copy.write_bytes(glove_file.read_bytes())
    assert StaticEmbedder(glove_file).fingerprint == StaticEmbedder(copy).fingerprint
    copy.write_text(glove_file.read_text().replace("0.1 0.2 0.3", "0.1 0.2 0.4"))
    assert StaticEmbedder(glove_file).fingerprint != StaticEmbedder(copy).fingerprint


def test_word2vec_text_binary_and_kv_formats_agree(glove_file, tmp_path):
    from gensim.models import KeyedVectors

    keyed = KeyedVectors.load_word2vec_format(str(glove_file), no_header=True)
    keyed.save_word2vec_format(str(tmp_path / "w2v.txt"), binary=False)
    keyed.save_word2vec_format(str(tmp_path / "w2v.bin"), binary=True)
    keyed.save(str(tmp_path / "vectors.kv"))
    sentence = [["aspirin", "WARFARIN", "7mg", "none"]]
    reference = StaticEmbedder(glove_file).embed(sentence)[0]
    for name in ("w2v.txt", "w2v.bin", "vectors.kv"):
        np.testing.assert_allclose(StaticEmbedder(tmp_path / name).embed(sentence)[0], reference, rtol=1e-6)


def test_missing_file_and_absent_gensim_model_raise_one_sentence(tmp_path, monkeypatch):
    with pytest.raises(EmbeddingUnavailableError, match="does not exist"):
        StaticEmbedder(tmp_path / "glove.6B.100d.txt")
    with pytest.raises(EmbeddingUnavailableError, match="put it in /x"):
        StaticEmbedder(tmp_path / "nope.txt", download_hint="download nope.txt and put it in /x.")
    monkeypatch.setenv("GENSIM_DATA_DIR", str(tmp_path / "gensim-data"))
    with pytest.raises(EmbeddingUnavailableError) as caught:
        StaticEmbedder("glove-wiki-gigaword-100")
    message = str(caught.value)
    assert "gensim.downloader --download glove-wiki-gigaword-100" in message and "\n" not in message


def test_gensim_data_folder_is_read_without_network(glove_file, tmp_path, monkeypatch):
    import gzip

    from gensim.models import KeyedVectors

    monkeypatch.setenv("GENSIM_DATA_DIR", str(tmp_path / "gensim-data"))
    folder = tmp_path / "gensim-data" / "tiny-model"
    folder.mkdir(parents=True)
    KeyedVectors.load_word2vec_format(str(glove_file), no_header=True).save_word2vec_format(str(tmp_path / "t.txt"))
    with open(tmp_path / "t.txt", "rb") as src, gzip.open(folder / "tiny-model.gz", "wb") as dst:
        dst.write(src.read())
    embedder = StaticEmbedder("tiny-model")
    np.testing.assert_allclose(embedder.embed([["mg"]])[0][0], GLOVE["mg"])
