"""TransformerEmbedder on tiny random encoders built in the tests (BERT with WordPiece, XLM-R with
sentencepiece), checked against pooling computed by hand from the encoder's hidden states; and
MiniLM from the installed package for one end-to-end check."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from medner.embeddings.base import EmbeddingUnavailableError
from medner.embeddings.transformer import TransformerEmbedder, minilm_path
from resources.tiny_bert import tiny_bert_folder

TEXT_LINES = [
    "the patient took aspirin 100 mg daily for pain",
    "metformin 500 mg orally twice a day was started",
    "she developed a rash after amoxicillin 250 mg",
    "ibuprofen caused gastric bleeding in an elderly man",
]

SENTENCES = [
    ["The", "patient", "took", "aspirin", "100", "mg", "daily", "."],
    ["Metformin", "500mg", "b.i.d.", "was", "started"],
    ["rash"],
    [],
    ["ibuprofen", "caused", "gastric", "bleeding", "in", "an", "elderly", "man", "with", "pain"],
]


def _bert_folder(folder: Path, *, seed: int = 0, max_positions: int = 64) -> Path:
    """A random 4-layer BERT with a WordPiece vocabulary of a few words plus single characters."""
    words = sorted({word for line in TEXT_LINES for word in line.split()} - {"aspirin", "metformin", "ibuprofen"})
    return tiny_bert_folder(folder, words, seed=seed, max_positions=max_positions)


def _xlmr_folder(folder: Path) -> Path:
    """A random 4-layer XLM-R with a sentencepiece model trained on a few lines (40 usable positions)."""
    import sentencepiece
    from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lines.txt").write_text("\n".join(TEXT_LINES * 5) + "\n")
    sentencepiece.SentencePieceTrainer.train(
        input=str(folder / "lines.txt"), model_prefix=str(folder / "sp"), vocab_size=80, model_type="unigram",
        character_coverage=1.0, hard_vocab_limit=False, minloglevel=2,
    )
    model_dir = folder / "model"
    tokenizer = XLMRobertaTokenizerFast(vocab_file=str(folder / "sp.model"))
    tokenizer.save_pretrained(model_dir)
    config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=4, num_attention_heads=4,
                              intermediate_size=64, max_position_embeddings=42, pad_token_id=tokenizer.pad_token_id,
                              bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    XLMRobertaModel(config).save_pretrained(model_dir)
    return model_dir


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory) -> Path:
    return _bert_folder(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def xlmr_dir(tmp_path_factory) -> Path:
    return _xlmr_folder(tmp_path_factory.mktemp("tiny-xlmr"))


def manual_vectors(folder: Path, words: list[str], *, layers: str, pooling: str) -> np.ndarray:
    """Word vectors computed directly: one encoder pass over the whole sentence, pooled by word_ids()."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    encoding = tokenizer(words, is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        output = model(**encoding, output_hidden_states=True)
    hidden = torch.stack(output.hidden_states[-4:]).mean(0)[0] if layers == "last4" else output.last_hidden_state[0]
    word_ids = encoding.word_ids(0)
    vectors = []
    for k in range(len(words)):
        positions = [p for p, w in enumerate(word_ids) if w == k]
        assert positions, f"word {words[k]!r} has no subword; pick test words the tokenizer keeps"
        chosen = {"first": positions[:1], "last": positions[-1:], "mean": positions}[pooling]
        vectors.append(hidden[chosen].mean(0).numpy())
    return np.stack(vectors)


@pytest.mark.parametrize("pooling", ["first", "mean", "last"])
@pytest.mark.parametrize("layers", ["last", "last4"])
def test_bert_pooling_matches_manual_computation(bert_dir, layers, pooling):
    embedder = TransformerEmbedder(str(bert_dir), layers=layers, pooling=pooling, batch_size=2)
    vectors = embedder.embed(SENTENCES)
    assert [v.shape for v in vectors] == [(len(s), 32) for s in SENTENCES]
    assert all(v.dtype == np.float32 for v in vectors)
    for sentence, got in zip(SENTENCES, vectors):
        if sentence:
            np.testing.assert_allclose(got, manual_vectors(bert_dir, sentence, layers=layers, pooling=pooling),
                                       rtol=1e-4, atol=1e-5)


def test_pooling_choices_differ_on_multi_subword_words(bert_dir):
    sentence = [["aspirin", "500mg"]]  # asp ##ir ##in; 5 ##0 ##0 ##m ##g
    first, mean, last = (TransformerEmbedder(str(bert_dir), pooling=p).embed(sentence)[0] for p in ("first", "mean", "last"))
    assert not np.allclose(first, mean) and not np.allclose(first, last) and not np.allclose(mean, last)
    last4 = TransformerEmbedder(str(bert_dir), layers="last4").embed(sentence)[0]
    assert not np.allclose(first, last4)


def test_xlmr_sentencepiece_alignment_matches_manual_computation(xlmr_dir):
    embedder = TransformerEmbedder(str(xlmr_dir), pooling="mean")
    assert embedder.max_length == 40  # 42 positions minus RoBERTa's padding offset (pad id 1 + 1)
    # short enough for one encoder pass (the manual computation does not window)
    sentences = [["The", "patient", "took", "aspirin", "."], ["Metformin", "500mg", "b.i.d."], ["rash"]]
    for sentence, got in zip(sentences, embedder.embed(sentences)):
        np.testing.assert_allclose(got, manual_vectors(xlmr_dir, sentence, layers="last", pooling="mean"),
                                   rtol=1e-4, atol=1e-5)


def test_xlmr_sentence_beyond_position_limit_is_windowed(xlmr_dir):
    # Each word is several sentencepiece pieces here: ~4 x 60 subwords, far beyond 40 positions.
    long_sentence = ("the patient took aspirin daily " * 12).split()
    embedder = TransformerEmbedder(str(xlmr_dir), stride=10)
    (vectors,) = embedder.embed([long_sentence])
    assert vectors.shape == (len(long_sentence), 32)
    assert np.isfinite(vectors).all()
    # the same word in different contexts gets different vectors (they are contextual)
    assert not np.allclose(vectors[0], vectors[5])


def test_words_without_subwords_get_the_unknown_token_vector(bert_dir, xlmr_dir):
    from transformers import AutoModel, AutoTokenizer

    words = ["took", "", "\u200b", "aspirin"]  # the empty and the zero-width word vanish in tokenization
    for folder in (bert_dir, xlmr_dir):
        (vectors,) = TransformerEmbedder(str(folder)).embed([words])
        assert vectors.shape[0] == 4 and np.isfinite(vectors).all()
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModel.from_pretrained(folder).eval()
        pieces = [tokenizer(w, add_special_tokens=False)["input_ids"] or [tokenizer.unk_token_id] for w in words]
        ids = tokenizer.build_inputs_with_special_tokens([i for piece in pieces for i in piece])
        with torch.no_grad():
            hidden = model(input_ids=torch.tensor([ids])).last_hidden_state[0].numpy()
        firsts = np.cumsum([0] + [len(p) for p in pieces[:-1]]) + 1
        np.testing.assert_allclose(vectors, hidden[firsts], rtol=1e-4, atol=1e-5)


def reference_windowed(folder: Path, words: list[str], *, max_length: int, stride: int, pooling: str) -> np.ndarray:
    """Windowing written out plainly: windows of max_length-2 subwords overlapping by stride, each subword
    read from the window where it is farthest from an edge (earliest on ties), then pooled per word."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    encoding = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
    ids, word_ids = encoding["input_ids"], encoding.word_ids()
    size, n = max_length - 2, len(ids)
    starts = list(range(0, n - size + 1, size - stride))
    if starts[-1] + size < n:
        starts.append(n - size)
    states = {}
    for start in starts:
        window = ids[start : start + size]
        with torch.no_grad():
            hidden = model(input_ids=torch.tensor([tokenizer.build_inputs_with_special_tokens(window)])).last_hidden_state[0]
        states[start] = hidden[1 : 1 + len(window)].numpy()
    subword_vectors = []
    for i in range(n):
        best = max(starts, key=lambda s: (min(i - s, s + size - 1 - i) if s <= i < s + size else -1, -s))
        subword_vectors.append(states[best][i - best])
    out = []
    for k in range(len(words)):
        positions = [p for p, w in enumerate(word_ids) if w == k]
        chosen = {"first": positions[:1], "last": positions[-1:], "mean": positions}[pooling]
        out.append(np.mean([subword_vectors[p] for p in chosen], axis=0))
    return np.stack(out)


@pytest.mark.parametrize("pooling", ["first", "mean", "last"])
def test_windowing_matches_plain_reference(bert_dir, pooling):
    words = ("the patient took aspirin 500mg daily for pain " * 5).split()  # ~70 subwords
    embedder = TransformerEmbedder(str(bert_dir), max_length=20, stride=6, pooling=pooling)
    (vectors,) = embedder.embed([words, ["rash"]])[:1]
    assert vectors.shape == (len(words), 32)
    expected = reference_windowed(bert_dir, words, max_length=20, stride=6, pooling=pooling)
    np.testing.assert_allclose(vectors, expected, rtol=1e-4, atol=1e-5)


def test_windowing_leaves_short_sentences_and_first_window_unchanged(bert_dir):
    words = ("the patient took aspirin daily for pain " * 4).split()
    full = TransformerEmbedder(str(bert_dir)).embed([words])[0]
    # A limit above the sentence's length: nothing is windowed, vectors equal the plain ones.
    np.testing.assert_allclose(TransformerEmbedder(str(bert_dir), max_length=62).embed([words])[0], full, atol=1e-5)
    # Windows of 18 subwords (9 per repetition of the 7 words: "aspirin" is asp ##ir ##in), 10
    # apart: the first window is words[:14] and it owns subwords 0..13, so the first 7 words
    # read their vectors from the encoder run on words[:14] alone.
    windowed = TransformerEmbedder(str(bert_dir), max_length=20, stride=8).embed([words])[0]
    assert windowed.shape == full.shape and np.isfinite(windowed).all()
    first_window = TransformerEmbedder(str(bert_dir)).embed([words[:14]])[0]
    np.testing.assert_allclose(windowed[:7], first_window[:7], rtol=1e-4, atol=1e-5)
    assert not np.allclose(windowed[-5:], full[-5:], atol=1e-4)


def test_order_and_batching_do_not_change_vectors(bert_dir):
    one_by_one = [TransformerEmbedder(str(bert_dir), batch_size=1).embed([s])[0] for s in SENTENCES]
    batched = TransformerEmbedder(str(bert_dir), batch_size=3).embed(SENTENCES)
    reversed_order = TransformerEmbedder(str(bert_dir), batch_size=3).embed(SENTENCES[::-1])[::-1]
    for a, b, c in zip(one_by_one, batched, reversed_order):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-5)
    assert TransformerEmbedder(str(bert_dir)).embed([]) == []
    assert [v.shape for v in TransformerEmbedder(str(bert_dir)).embed([[], []])] == [(0, 32), (0, 32)]


def test_fingerprint_follows_weights_layers_pooling_and_windowing(bert_dir, tmp_path):
    base = TransformerEmbedder(str(bert_dir))
    assert TransformerEmbedder(str(bert_dir)).fingerprint == base.fingerprint
    others = [
        TransformerEmbedder(str(bert_dir), pooling="mean"),
        TransformerEmbedder(str(bert_dir), layers="last4"),
        TransformerEmbedder(str(bert_dir), max_length=20, stride=6),
        TransformerEmbedder(str(_bert_folder(tmp_path / "reseeded", seed=1))),
    ]
    prints = {base.fingerprint, *(e.fingerprint for e in others)}
    assert len(prints) == 5


def test_bad_options_are_refused(bert_dir):
    with pytest.raises(ValueError, match="pooling"):
        TransformerEmbedder(str(bert_dir), pooling="max")
    with pytest.raises(ValueError, match="layers"):
        TransformerEmbedder(str(bert_dir), layers="all")
    with pytest.raises(ValueError, match="max_length 100 exceeds"):
        TransformerEmbedder(str(bert_dir), max_length=100)
    with pytest.raises(ValueError, match="stride"):
        TransformerEmbedder(str(bert_dir), max_length=20, stride=-1)
    assert TransformerEmbedder(str(bert_dir), max_length=20, stride=18).stride == 9  # half the 18-subword window


def test_folder_without_weights_fails_with_one_line(bert_dir, tmp_path):
    import shutil

    folder = tmp_path / "config-only"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copy(bert_dir / name, folder / name)
    with pytest.raises(EmbeddingUnavailableError, match=f"cannot load a transformer model from {folder}") as caught:
        TransformerEmbedder(str(folder))
    assert "\n" not in str(caught.value)


def test_hub_model_offline_fails_with_one_sentence(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(EmbeddingUnavailableError) as caught:
        TransformerEmbedder("emilyalsentzer/Bio_ClinicalBERT")
    message = str(caught.value)
    assert "huggingface-cli download emilyalsentzer/Bio_ClinicalBERT --local-dir embeddings/pretrained/Bio_ClinicalBERT" in message
    assert "\n" not in message
    assert time.perf_counter() - start < 10
    with pytest.raises(EmbeddingUnavailableError, match="does not exist"):
        TransformerEmbedder(str(tmp_path / "no" / "such" / "folder"))


@pytest.mark.slow
def test_minilm_end_to_end(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = minilm_path()
    assert (folder / "config.json").is_file()
    embedder = TransformerEmbedder(str(folder))
    assert embedder.dim == 384 and embedder.max_length == 512
    sentences = [["The", "patient", "took", "aspirin", "100", "mg", "."], ["Rash", "after", "amoxicillin"]]
    first = embedder.embed(sentences)
    second = TransformerEmbedder(str(folder)).embed(sentences)
    assert [v.shape for v in first] == [(7, 384), (3, 384)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    # Independent check: sentence-transformers' own token embeddings of the same text; words
    # that are one WordPiece each sit at positions 1..n after [CLS].
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    tokens = model.encode("the patient took 100 mg .", output_value="token_embeddings", convert_to_numpy=True)
    ours = embedder.embed([["the", "patient", "took", "100", "mg", "."]])[0]
    np.testing.assert_allclose(ours, np.asarray(tokens)[1:7], rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_minilm_gives_every_word_a_vector_beyond_its_limit_and_for_words_it_cannot_tokenize(monkeypatch):
    """The offline default on a sentence of 1,200 subwords (its limit is 512) holding words its tokenizer drops."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = TransformerEmbedder(str(minilm_path()))
    words = ("metoprolol succinate 25 mg PO daily for hypertension ;" * 80).split() + ["\u200b", "\x07", "", "😀", "阿司匹林"]
    (vectors,) = embedder.embed([words])
    assert vectors.shape == (len(words), 384) and np.isfinite(vectors).all()


def test_cache_benchmark_computes_then_reads(bert_dir, tmp_path):
    from medner.bench.embeddings import benchmark_cache

    sentences = [s for s in SENTENCES if s] * 4
    result = benchmark_cache(sentences, embedder=TransformerEmbedder(str(bert_dir)), cache_root=tmp_path / "cache")
    assert result["tokens"] == sum(map(len, sentences))
    assert result["compute_seconds"] > 0 and result["read_seconds"] > 0
    assert result["speedup"] == pytest.approx(result["compute_seconds"] / result["read_seconds"])
    with pytest.raises(RuntimeError, match="already holds this split"):
        benchmark_cache(sentences, embedder=TransformerEmbedder(str(bert_dir)), cache_root=tmp_path / "cache")


def test_bench_command_is_registered():
    from medner.cli import build_parser

    args = build_parser().parse_args(["bench-embeddings", "--corpus", "demo", "--limit", "5", "--out", "x.json"])
    assert args.func.__name__ == "_bench_command" and args.limit == 5 and args.repeats == 3
