"""Throughput of the embedding layer, measured in one process: ``medner bench-embeddings``.

Two figures the embedding layer promises (they are measured by this command, not asserted
by timed tests, because timings depend on the machine):

- MiniLM through :class:`~medner.embeddings.transformer.TransformerEmbedder` runs at >= 0.9x
  the tokens per second of a bare transformers forward pass over the same sentences, with
  the same batching by length and batch size (the bare pass tokenises and runs the encoder;
  it does no word alignment, pooling or windowing). The ratio is the cost of our alignment.
- Reading an embedded split back from :class:`~medner.embeddings.cache.EmbeddingCache` is
  >= 50x faster than computing it.

The MiniLM comparison runs both methods alternately on chunks of a few length-sorted
batches, after an untimed warm-up, and sums all ``repeats`` runs, so background load on a
shared machine disturbs both methods alike.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medner import files
from medner.embeddings.base import TokenEmbedder
from medner.embeddings.transformer import TransformerEmbedder, minilm_path

#: Targets the layer is held to (reported beside the measurements).
MINILM_RATIO_TARGET = 0.9
CACHE_SPEEDUP_TARGET = 50.0


def bare_forward_pass(model, tokenizer, sentences: list[list[str]], *, batch_size: int = 32) -> int:
    """Tokenise ``sentences`` and run ``model`` over them, batched by length; return the subword count.

    The reference for the throughput ratio: what any feature extractor must at least do
    (tokenise pre-split words, pad a batch, one forward pass), and nothing more. Sentences
    are truncated at the model's limit instead of windowed.
    """
    encoding = tokenizer(
        sentences, is_split_into_words=True, truncation=True, return_attention_mask=False, return_token_type_ids=False
    )
    ids = encoding["input_ids"]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = tokenizer.pad({"input_ids": [ids[i] for i in order[start : start + batch_size]]}, return_tensors="pt")
            model(input_ids=batch["input_ids"].to(model.device), attention_mask=batch["attention_mask"].to(model.device))
    return sum(len(row) for row in ids)


def benchmark_minilm(sentences: list[list[str]], *, repeats: int = 1, batch_size: int = 32) -> dict[str, Any]:
    """Tokens/s of MiniLM through TransformerEmbedder vs a bare transformers forward pass.

    Both run in this process on the same sentences with the same batch size and
    length-sorted batches; the ratio is ours / bare (target >= 0.9).
    """
    from transformers import AutoModel, AutoTokenizer

    sentences = [list(sentence) for sentence in sentences if sentence]
    if not sentences:
        raise ValueError("benchmark_minilm needs at least one non-empty sentence")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    folder = minilm_path()
    embedder = TransformerEmbedder(str(folder), batch_size=batch_size)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, use_fast=True)
    # Padding pre-tokenised ids with pad() is what the bare pass means to time; silence the advice.
    tokenizer.deprecation_warnings["Asking-to-pad-a-fast-tokenizer"] = True
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval().to(embedder.device)

    n_tokens = sum(len(sentence) for sentence in sentences)
    warmup = sentences[: 4 * batch_size]
    embedder.embed(warmup)
    bare_forward_pass(model, tokenizer, warmup, batch_size=batch_size)

    # Sentences in subword-length order, cut into chunks of a few batches: within a chunk
    # both methods form exactly the batches a whole-corpus length sort would. Timing the two
    # methods chunk by chunk, alternately, exposes both to the same background load.
    lengths = [len(ids) for ids in tokenizer(sentences, is_split_into_words=True, verbose=False)["input_ids"]]
    ordered = [sentences[i] for i in sorted(range(len(sentences)), key=lambda i: lengths[i])]
    chunk = 4 * batch_size
    chunks = [ordered[start : start + chunk] for start in range(0, len(ordered), chunk)]
    ours_seconds = np.full((repeats, len(chunks)), np.inf)
    bare_seconds = np.full((repeats, len(chunks)), np.inf)
    n_vectors = 0
    n_subwords = sum(lengths)
    for repeat in range(repeats):
        for k, sentences_k in enumerate(chunks):
            for method in ("ours", "bare") if (repeat + k) % 2 == 0 else ("bare", "ours"):
                start = time.perf_counter()
                if method == "ours":
                    vectors = embedder.embed(sentences_k)
                    ours_seconds[repeat, k] = time.perf_counter() - start
                    n_vectors += sum(len(array) for array in vectors) if repeat == 0 else 0
                else:
                    bare_forward_pass(model, tokenizer, sentences_k, batch_size=batch_size)
                    bare_seconds[repeat, k] = time.perf_counter() - start
    if n_vectors != n_tokens:
        raise RuntimeError(f"the embedder returned {n_vectors} vectors for {n_tokens} tokens")
    # Totals over all repeats: each chunk's two timings come from the same moment, so
    # their sums share the background load (a per-chunk minimum would instead reward
    # whichever method happened to meet a quiet second).
    ours_total = float(ours_seconds.sum())
    bare_total = float(bare_seconds.sum())
    ours_rate = n_tokens * repeats / ours_total
    bare_rate = n_tokens * repeats / bare_total
    return {
        "model": str(folder),
        "sentences": len(sentences),
        "tokens": n_tokens,
        "subwords": n_subwords,
        "batch_size": batch_size,
        "repeats": repeats,
        "device": str(embedder.device),
        "torch_threads": torch.get_num_threads(),
        "chunks": len(chunks),
        "embedder_seconds": ours_total,
        "bare_seconds": bare_total,
        "embedder_seconds_per_repeat": ours_seconds.sum(axis=1).tolist(),
        "bare_seconds_per_repeat": bare_seconds.sum(axis=1).tolist(),
        "ratio_per_repeat": (bare_seconds.sum(axis=1) / ours_seconds.sum(axis=1)).tolist(),
        "embedder_tokens_per_second": ours_rate,
        "bare_tokens_per_second": bare_rate,
        "ratio": ours_rate / bare_rate,
        "target": MINILM_RATIO_TARGET,
        "meets_target": ours_rate / bare_rate >= MINILM_RATIO_TARGET,
    }


def benchmark_cache(
    sentences: list[list[str]],
    *,
    embedder: TokenEmbedder | None = None,
    cache_root: str | Path | None = None,
    corpus_name: str = "bench",
    split: str = "train",
) -> dict[str, Any]:
    """Seconds to compute a split's vectors vs to read them back from the disk cache.

    Uses a fresh cache folder (a temporary one unless ``cache_root`` is given) so the first
    call computes and the second reads. The read time includes touching every value, so a
    lazily memory-mapped read is not counted as free. Default embedder: MiniLM.
    """
    from medner.embeddings.cache import EmbeddingCache

    sentences = [list(sentence) for sentence in sentences]
    embedder = embedder or TransformerEmbedder(str(minilm_path()))
    with tempfile.TemporaryDirectory(prefix="medner-bench-cache-") as scratch:
        cache = EmbeddingCache(root=Path(cache_root) if cache_root is not None else Path(scratch))
        start = time.perf_counter()
        computed = cache.load_or_compute(embedder, corpus_name, split, sentences, progress=False)
        compute_seconds = time.perf_counter() - start
        if computed.hit:
            raise RuntimeError(f"the cache at {cache_root} already holds this split: give an empty cache_root")
        start = time.perf_counter()
        read = cache.load_or_compute(embedder, corpus_name, split, sentences, progress=False)
        checksum = float(sum(np.asarray(read[i], dtype=np.float64).sum() for i in range(len(read))))
        read_seconds = time.perf_counter() - start
        if not read.hit:
            raise RuntimeError("the second cache lookup missed: the cache did not keep the split")
        nbytes = int(read.nbytes)
        expected = float(sum(np.asarray(computed[i], dtype=np.float64).sum() for i in range(len(computed))))
        if not np.isclose(checksum, expected, rtol=1e-6, atol=1e-3):
            raise RuntimeError("the vectors read from the cache differ from those computed")
        del computed, read  # release memory maps before the temporary folder goes
    return {
        "embedder": embedder.name,
        "sentences": len(sentences),
        "tokens": sum(len(sentence) for sentence in sentences),
        "megabytes": nbytes / 2**20,
        "compute_seconds": compute_seconds,
        "read_seconds": read_seconds,
        "speedup": compute_seconds / read_seconds,
        "target": CACHE_SPEEDUP_TARGET,
        "meets_target": compute_seconds / read_seconds >= CACHE_SPEEDUP_TARGET,
    }


def corpus_sentences(corpus: str, path: str | Path | None, split: str = "train") -> list[list[str]]:
    """Token strings of every sentence of one split, tokenised by the corpus layer."""
    from medner.corpus.registry import load_corpus
    from medner.embeddings.cache import corpus_sentences as split_sentences

    return split_sentences(load_corpus(corpus, path=Path(path) if path is not None else None), split)


def run_benchmarks(sentences: list[list[str]], *, repeats: int = 1) -> dict[str, Any]:
    """Both benchmarks on ``sentences``, with the machine they ran on."""
    import transformers

    return {
        "minilm": benchmark_minilm(sentences, repeats=repeats),
        "cache": benchmark_cache(sentences),
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
        },
    }


def _bench_command(args: argparse.Namespace) -> int:
    sentences = corpus_sentences(args.corpus, args.path, args.split)
    if args.limit is not None:
        sentences = sentences[: args.limit]
    from medner.cli import CommandError
    from medner.embeddings.base import EmbeddingUnavailableError

    try:
        results = run_benchmarks(sentences, repeats=args.repeats)
    except EmbeddingUnavailableError as exc:
        raise CommandError(str(exc)) from exc
    results["corpus"] = {"name": args.corpus, "path": str(args.path) if args.path else None, "split": args.split}
    minilm, cache = results["minilm"], results["cache"]
    print(
        f"MiniLM on {args.corpus} {args.split} ({minilm['sentences']} sentences, {minilm['tokens']} tokens, "
        f"{minilm['device']}, {minilm['torch_threads']} threads):\n"
        f"  TransformerEmbedder   {minilm['embedder_tokens_per_second']:9.0f} tokens/s\n"
        f"  bare forward pass     {minilm['bare_tokens_per_second']:9.0f} tokens/s\n"
        f"  ratio                 {minilm['ratio']:9.3f}  (target >= {minilm['target']})"
    )
    print(
        f"Cache ({cache['megabytes']:.1f} MB): compute {cache['compute_seconds']:.2f} s, read {cache['read_seconds']:.4f} s, "
        f"speedup {cache['speedup']:.0f}x  (target >= {cache['target']:.0f}x)"
    )
    out = files.write_json(args.out, results, indent=2)
    print(f"wrote {out}")
    return 0


def register_bench(subparsers) -> None:
    """Add ``medner bench-embeddings``."""
    from medner.paths import results_dir

    parser = subparsers.add_parser(
        "bench-embeddings",
        help="Measure MiniLM throughput vs a bare forward pass, and cache read vs compute time",
        description=__doc__.split("\n\n")[1],
    )
    parser.add_argument("--corpus", default="phee", help="corpus name for medner.corpus.registry (default: phee)")
    parser.add_argument("--path", default=None, help="corpus folder (default: the registry's default for the corpus)")
    parser.add_argument("--split", default="train", help="split to embed (default: train)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method, summed (default: 3)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N sentences (default: all)")
    parser.add_argument(
        "--out", default=str(results_dir() / "bench" / "embeddings.json"), help="JSON file to write (default: %(default)s)"
    )
    parser.set_defaults(func=_bench_command)
