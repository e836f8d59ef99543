"""Our numpy GloVe (:mod:`medner.embeddings.glove_training`) against the library ``bicleaner-ai-glove``.

``bicleaner-ai-glove`` is a maintained fork of glove-python with cp311 wheels
(``from glove import Corpus, Glove``). Both are trained on the same tokens with the
study's hyperparameters (the ``glove`` spec: dim, window, x_max, alpha, epochs,
learning rate, seed; the library's gradient clip is set to the reference code's 100,
as ours), and this prints, per text and thread count:

* counting and training seconds (timed alternately, ``--repeats`` times);
* the GloVe objective J per entry on the off-diagonal co-occurrences, the entries both
  fit (the library never counts a word with itself); the library ties word and context
  vectors, so its J uses its one vector set and bias twice;
* the 5 nearest neighbours by cosine of probe words, and how many the two share, beside
  the overlap of our own vectors under two seeds (how much neighbours move anyway);
* whether the same seed gives the same vectors twice (the study requires it).

Texts: PHEE's training sentences; the same sentences 10 times in a seeded shuffled order
(co-occurrences do not cross sentences, so X is exactly 10 X: the same entries with larger
counts); and, with ``--larger-text DIR``, the first ~10x PHEE's tokens of real English from
the ``*.txt`` files of DIR (e.g. /usr/share/vim/vim90/doc, offline on most machines).

The library is not a project dependency: ``pip install bicleaner-ai-glove==0.2.1`` first.
Usage: ``PYTHONPATH=lib python tools/compare_glove.py [--corpus-path DIR] [--larger-text DIR]``.
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from medner.corpus.document import Document
from medner.corpus.registry import load_corpus
from medner.corpus.tokenize import sentences_of
from medner.embeddings.glove_training import (
    GloveConfig,
    build_vocabulary,
    cooccurrence_matrix,
    glove_objective,
    prepare_tokens,
    train_glove,
)
from medner.embeddings.specs import load_spec, training_sentences

#: Words frequent in PHEE's training text: drugs, units, routes, schedule, clinical words.
PHEE_PROBES = ("patient", "mg", "dose", "daily", "oral", "intravenous", "methotrexate", "lithium",
               "interferon", "toxicity", "renal", "hepatitis")
#: Frequent words of Vim's help text, for the larger real text.
VIM_PROBES = ("command", "file", "buffer", "window", "cursor", "line", "mode", "option", "insert", "text")


def study_text(corpus_path: str | None, spec_name: str) -> tuple[list[list[str]], GloveConfig]:
    """PHEE's training sentences as the study tokenises them, and the spec's GloVe hyperparameters."""
    spec = load_spec(spec_name)
    corpus = load_corpus("phee", path=corpus_path)
    config = GloveConfig(**{k: v for k, v in spec.options.items() if k not in ("extra_text", "unknown")})
    return training_sentences(spec, corpus), config


def repeated(sentences: list[list[str]], times: int, seed: int = 0) -> list[list[str]]:
    """``sentences`` ``times`` over, in a seeded shuffled order."""
    out = [sentence for _ in range(times) for sentence in sentences]
    random.Random(seed).shuffle(out)
    return out


def text_sentences(folder: Path, n_tokens: int) -> list[list[str]]:
    """Sentences of the ``*.txt`` files of ``folder`` (sorted by name), tokenised as the study does, up to ``n_tokens``."""
    sentences, total = [], 0
    for path in sorted(folder.glob("*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        for sentence in sentences_of(Document(id=path.stem, text=text)):
            sentences.append(sentence.words)
            total += len(sentence.words)
            if total >= n_tokens:
                return sentences
    raise ValueError(f"{folder}: expected at least {n_tokens} tokens in its *.txt files, found {total}")


def train_ours(tokens: list[list[str]], vocabulary: list[str], config: GloveConfig, threads: int) -> dict:
    """Count and fit with our implementation; seconds, the written vectors and the parameters."""
    with threadpool_limits(limits=threads):
        started = time.perf_counter()
        matrix = cooccurrence_matrix(tokens, vocabulary, config.window)
        counted = time.perf_counter()
        model = train_glove(matrix, vocabulary, config, progress=False)
        done = time.perf_counter()
    return {"count_s": counted - started, "train_s": done - counted, "vectors": model.vectors,
            "params": (model.word_vectors, model.context_vectors, model.word_bias, model.context_bias)}


def train_library(tokens: list[list[str]], vocabulary: list[str], config: GloveConfig, threads: int) -> dict:
    """Count and fit with ``bicleaner-ai-glove`` on our vocabulary; seconds, vectors and parameters."""
    from glove import Corpus, Glove

    started = time.perf_counter()
    corpus = Corpus(dictionary={word: i for i, word in enumerate(vocabulary)})
    corpus.fit(tokens, window=config.window, ignore_missing=True)
    # Its matrix can hold one pair in several entries; summed here, else it fits log of partial counts.
    raw = corpus.matrix
    matrix = raw.tocsr().tocoo()
    counted = time.perf_counter()
    model = Glove(no_components=config.dim, learning_rate=config.learning_rate, alpha=config.alpha,
                  max_count=config.x_max, max_loss=100.0, random_state=config.seed)
    model.fit(matrix, epochs=config.epochs, no_threads=threads)
    done = time.perf_counter()
    vectors, bias = model.word_vectors, model.word_biases
    return {"count_s": counted - started, "train_s": done - counted, "vectors": vectors.astype(np.float32),
            "params": (vectors, vectors, bias, bias), "duplicate_entries": raw.nnz - matrix.nnz}


def off_diagonal(matrix: sp.spmatrix) -> sp.csr_matrix:
    """``matrix`` without its diagonal (a word counted with itself), zeros dropped."""
    out = sp.csr_matrix(matrix - sp.diags(matrix.diagonal()))
    out.eliminate_zeros()
    return out


def objective_per_entry(params: tuple, matrix: sp.csr_matrix, config: GloveConfig) -> float:
    return glove_objective(*params, matrix, x_max=config.x_max, alpha=config.alpha) / matrix.nnz


def neighbours(vocabulary: list[str], vectors: np.ndarray, word: str, k: int = 5) -> list[str]:
    """The ``k`` words nearest to ``word`` by cosine, itself left out."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    index = vocabulary.index(word)
    similarity = unit @ unit[index]
    similarity[index] = -np.inf
    return [vocabulary[i] for i in np.argsort(-similarity, kind="stable")[:k]]


def overlaps(vocabulary: list[str], first: np.ndarray, second: np.ndarray, probes: tuple[str, ...]) -> list[int]:
    return [len(set(neighbours(vocabulary, first, p)) & set(neighbours(vocabulary, second, p))) for p in probes]


def timed_runs(tokens: list[list[str]], vocabulary: list[str], config: GloveConfig, threads: tuple[int, ...],
               repeats: int) -> dict:
    """Every (implementation, threads) trained ``repeats`` times, alternating; runs keyed by (name, threads)."""
    runs: dict[tuple[str, int], list[dict]] = {}
    for _ in range(repeats):
        for n in threads:
            for name, train in (("ours", train_ours), ("library", train_library)):
                runs.setdefault((name, n), []).append(train(tokens, vocabulary, config, n))
    return runs


def report(title: str, sentences: list[list[str]], config: GloveConfig, probes: tuple[str, ...],
           threads: tuple[int, ...], repeats: int, seed_baseline: bool) -> None:
    """Train both implementations on ``sentences`` and print seconds, objective, neighbours and determinism."""
    tokens = prepare_tokens(sentences, config)
    vocabulary = build_vocabulary(tokens, config.min_count)
    matrix = cooccurrence_matrix(tokens, vocabulary, config.window)
    off = off_diagonal(matrix)
    print(f"\n== {title}: {len(tokens)} sentences, {sum(map(len, tokens))} tokens, {len(vocabulary)} words, "
          f"{matrix.nnz} nonzero co-occurrences ({off.nnz} off the diagonal)")
    runs = timed_runs(tokens, vocabulary, config, threads, repeats)
    for (name, n), group in runs.items():
        train_s = " ".join(f"{r['train_s']:.1f}" for r in group)
        count_s = " ".join(f"{r['count_s']:.2f}" for r in group)
        same = "n/a (one run)" if len(group) < 2 else all(np.array_equal(group[0]["vectors"], r["vectors"]) for r in group[1:])
        print(f"{name:8s} {n} thread(s): train s {train_s} | count s {count_s} | "
              f"J per off-diagonal entry {objective_per_entry(group[0]['params'], off, config):.5f} | "
              f"same vectors every run: {same}")
    if "duplicate_entries" in runs[("library", threads[0])][0]:
        print(f"library Corpus entries that repeat a pair (summed before fitting): "
              f"{runs[('library', threads[0])][0]['duplicate_entries']}")
    across = [np.array_equal(runs[(name, threads[0])][0]["vectors"], runs[(name, n)][0]["vectors"])
              for name in ("ours", "library") for n in threads[1:]]
    if across:
        print(f"same vectors with {threads[0]} and {threads[1:]} threads: ours {across[0]}, library {across[-1]}")
    ours, library = runs[("ours", threads[0])][0]["vectors"], runs[("library", threads[0])][0]["vectors"]
    present = tuple(p for p in probes if p in vocabulary)
    shared = overlaps(vocabulary, ours, library, present)
    for probe, count in zip(present, shared):
        print(f"  {probe:14s} ours: {', '.join(neighbours(vocabulary, ours, probe))}")
        print(f"  {'':14s} lib:  {', '.join(neighbours(vocabulary, library, probe))}   (shared {count}/5)")
    print(f"neighbours shared, ours vs library: mean {np.mean(shared):.2f} of 5 over {len(present)} probes")
    if seed_baseline:
        other = train_ours(tokens, vocabulary, replace(config, seed=config.seed + 1), threads[0])["vectors"]
        print(f"neighbours shared, ours seed {config.seed} vs seed {config.seed + 1}: "
              f"mean {np.mean(overlaps(vocabulary, ours, other, present)):.2f} of 5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus-path", help="PHEE's brat folder (default: the project's default place)")
    parser.add_argument("--spec", default="glove", help="the embedding spec whose hyperparameters are used")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts to time")
    parser.add_argument("--repeats", type=int, default=2, help="runs per implementation and thread count on PHEE")
    parser.add_argument("--larger-text", type=Path, help="a folder of *.txt files for the ~10x larger real text")
    args = parser.parse_args()
    sentences, config = study_text(args.corpus_path, args.spec)
    threads = tuple(args.threads)
    print(f"hyperparameters: {config}")
    report("PHEE train", sentences, config, PHEE_PROBES, threads, args.repeats, seed_baseline=True)
    report("PHEE train x10, shuffled", repeated(sentences, 10), config, PHEE_PROBES, threads[:1], 1, seed_baseline=False)
    if args.larger_text is not None:
        n_tokens = 10 * sum(map(len, sentences))
        report(f"{args.larger_text}, first {n_tokens} tokens", text_sentences(args.larger_text, n_tokens), config,
               VIM_PROBES, threads, 1, seed_baseline=False)


if __name__ == "__main__":
    main()
