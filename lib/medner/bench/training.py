"""Training speed and accuracy against flair's own SequenceTagger + ModelTrainer, same embeddings, same schedule.

Both sides train on PHEE with the ``bert`` default embedding (all-MiniLM-L6-v2,
mean of the last four layers, first-subword pooling, frozen) for the same number
of epochs, with the same hyperparameters (hidden 256, one BiLSTM layer, CRF,
re-projection, word dropout 0.05, locked dropout 0.5, SGD lr 0.1, batch 32,
annealing 0.5 / patience 3), the same tokens (our tokeniser) and the same BIO tags:

* ours: the vectors are computed once into a fresh cache, then
  :func:`medner.training.train_tagger` trains on them;
* flair: ``TransformerWordEmbeddings`` over the same model folder and
  ``ModelTrainer.train(embeddings_storage_mode="cpu")``: the first epoch embeds,
  later epochs reuse the stored vectors.

Each side runs in its own subprocess, so its peak resident memory is its own, and
with the same number of torch threads. Both are scored by OUR span scorer
(strict micro-F1 on character offsets) on the same test documents: flair's predicted
spans are mapped back to our tokens' offsets. Seconds per epoch include the dev
evaluation on both sides (flair evaluates dev after every epoch too).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from medner import files, paths
from medner.memory import peak_rss_mb

#: The speed and accuracy targets the benchmark reports against.
TARGET_SPEEDUP = 5.0
TARGET_F1_GAP = 0.015


def _prepared(phee: str | Path):
    """PHEE documents and tagged sentences per split, and the label list."""
    from medner.corpus.registry import load_corpus
    from medner.corpus.tagging import tag_documents

    corpus = load_corpus("phee", path=phee)
    sentences = {}
    for split in ("train", "dev", "test"):
        tagged, _ = tag_documents(corpus.splits[split], scheme="BIO")
        sentences[split] = [s for s in tagged if len(s) > 0]
    return corpus, sentences


def _score(corpus, sentences, predicted_tags: list[list[str]]) -> dict:
    from medner.corpus.tagging import decode_documents
    from medner.evaluation.span import score_documents

    docs = corpus.splits["test"]
    pred = decode_documents(docs, sentences["test"], predicted_tags, scheme="BIO")
    return score_documents(docs, pred, labels=list(corpus.labels))["strict"]["micro"]


def matmul_floor(train_tokens: int, dev_tokens: int, *, embedding_dim: int, hidden: int = 256,
                 precision: str = "float32", threads: int = 1, batch: int = 32, repeats: int = 5) -> dict[str, float]:
    """Seconds one epoch's matrix products alone take on this CPU: a lower bound on our epoch.

    Counts the multiply-adds of an epoch (training: re-projection forward and weight gradient,
    LSTM input projection forward, input and weight gradients, recurrent products forward and
    backward, both directions; dev: the forward products), times them on the shapes an epoch uses
    (a batch of ``batch`` sentences of about 24 tokens, one recurrent step of ``batch`` rows) at
    ``precision``, and divides. The products are timed as our epoch computes them: ``torch.mm``
    and ``torch.bmm``, and on CPUs with AVX-512 (AVX512-BF16 for bfloat16) the kernels' packed step
    products (one direction per thread, as the time loops run them). Element-wise work, the CRF and Python
    are left out, so an epoch that multiplies at these rates cannot be faster; faster matrix
    products would lower it.

    Returns:
        flops (train, dev), GFLOP/s measured per kind of product, and ``seconds``: the estimate.
    """
    import torch

    from medner.model.fused.lstm import uses_bfloat16

    dtype = torch.bfloat16 if uses_bfloat16(precision) else torch.float32
    d, g = embedding_dim, 4 * hidden
    rows = 24 * batch

    def seconds_per_call(multiply) -> float:
        multiply()  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            multiply()
        return (time.perf_counter() - start) / repeats

    def rate(a_shape, b_shape) -> float:
        a, b = torch.randn(*a_shape).to(dtype), torch.randn(*b_shape).to(dtype)
        multiply = torch.bmm if len(a_shape) == 3 else torch.mm
        batches = a_shape[0] if len(a_shape) == 3 else 1
        return 2 * batches * a_shape[-2] * a_shape[-1] * b_shape[-1] / seconds_per_call(lambda: multiply(a, b))

    def packed_step_rate() -> float:
        # One direction's step on one thread; with two threads or more the directions run side by side.
        weights = torch.ops.medner.pack_weights(torch.randn(hidden, g).to(dtype))
        a = torch.randn(batch, hidden).to(dtype)
        seconds = seconds_per_call(lambda: torch.ops.medner.packed_matmul(a, weights, g))
        return 2 * batch * hidden * g / seconds * min(threads, 2)

    from medner.model.fused import kernels

    packed = kernels.packed_products(precision, hidden)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rates = {
            "input": rate((2, rows, d), (2, d, g)),
            "step": packed_step_rate() if packed else rate((2, batch, hidden), (2, hidden, g)),
            "reproject": rate((rows, d), (d, d)),
        }
    finally:
        torch.set_num_threads(previous)
    # FLOPs per token, both directions (2 x 2 x multiply-adds).
    per_token = {
        # forward, input gradient, weight gradient of the input projection; weight gradient of W_hh
        "input": 3 * (2 * 2 * d * g) + 2 * 2 * hidden * g,
        "step": 2 * (2 * 2 * hidden * g),  # recurrent product forward and its input gradient
        "reproject": 2 * (2 * d * d),  # forward and weight gradient (the cached vectors need no gradient)
    }
    per_dev_token = {"input": 2 * 2 * d * g, "step": 2 * 2 * hidden * g, "reproject": 2 * d * d}
    seconds = sum(train_tokens * per_token[k] / rates[k] + dev_tokens * per_dev_token[k] / rates[k] for k in rates)
    return {
        "seconds": seconds,
        "train_gflop": train_tokens * sum(per_token.values()) / 1e9,
        "dev_gflop": dev_tokens * sum(per_dev_token.values()) / 1e9,
        "step_products": "packed" if packed else "torch.bmm",
        **{f"gflops_{k}": v / 1e9 for k, v in rates.items()},
    }


def run_ours(phee: str | Path, epochs: int, seed: int, threads: int, precision: str = "float32") -> dict[str, Any]:
    """Our side, in this process: fresh cache fill, training on cached vectors, test prediction."""
    import torch

    from medner.embeddings.cache import EmbeddingCache
    from medner.embeddings.specs import build_embedder
    from medner.model import BiLSTMCRFTagger
    from medner.runs import tag_dictionary
    from medner.training import TrainingConfig, predict_tags, train_tagger

    torch.set_num_threads(threads)
    corpus, sentences = _prepared(phee)
    labels = list(corpus.labels)
    tags = tag_dictionary(labels)
    index = {t: i for i, t in enumerate(tags)}
    started = time.perf_counter()
    embedder = build_embedder("bert", corpus, progress=False)
    with tempfile.TemporaryDirectory(prefix="medner-bench-cache-") as cache_root:
        cache = EmbeddingCache(cache_root)
        vectors = {
            split: cache.load_or_compute(embedder, corpus.name, split, [s.words for s in sentences[split]], progress=False)
            for split in ("train", "dev", "test")
        }
        embedding_seconds = time.perf_counter() - started

        from medner.corpus.tagging import decode_documents
        from medner.evaluation.span import strict_micro_f1

        def dev_f1(predicted):
            strings = [[tags[i] for i in row] for row in predicted]
            pred = decode_documents(corpus.splits["dev"], sentences["dev"], strings)
            return strict_micro_f1(corpus.splits["dev"], pred, labels=labels)

        torch.manual_seed(seed)
        model = BiLSTMCRFTagger(embedder.dim, len(tags))
        config = TrainingConfig(max_epochs=epochs, seed=seed, num_threads=threads, precision=precision)
        train_tags = [[index[t] for t in s.tags] for s in sentences["train"]]
        result = train_tagger(model, vectors["train"], train_tags, vectors["dev"], dev_f1, config, progress="none")
        predicted = [[tags[i] for i in row] for row in predict_tags(model, vectors["test"])]
        tokens = {split: vectors[split].n_tokens for split in ("train", "dev")}
    total = time.perf_counter() - started
    floor = matmul_floor(tokens["train"], tokens["dev"],
                         embedding_dim=embedder.dim, hidden=model.config["hidden_size"], precision=precision,
                         threads=threads, repeats=20)
    return {
        "epoch_seconds": [r.seconds for r in result.history],
        "dev_f1": [r.dev_f1 for r in result.history],
        "matmul_floor": floor,
        "embedding_seconds": embedding_seconds,
        "total_seconds": total,
        "test_strict_micro": _score(corpus, sentences, predicted),
        "peak_rss_mb": peak_rss_mb(),
        "trainable_parameters": result.trainable_parameters,
        "threads": threads,
        "precision": precision,
        "kernels": result.kernels,
    }


def run_flair(phee: str | Path, epochs: int, seed: int, threads: int) -> dict[str, Any]:
    """flair's side, in this process: SequenceTagger + ModelTrainer on the same tokens, tags and model folder."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import flair
    import torch
    from flair.data import Corpus as FlairCorpus
    from flair.embeddings import TransformerWordEmbeddings
    from flair.models import SequenceTagger
    from flair.trainers import ModelTrainer
    from flair.trainers.plugins.base import TrainerPlugin

    from medner.embeddings.specs import load_spec
    from medner.embeddings.transformer import minilm_path

    torch.set_num_threads(threads)
    flair.set_seed(seed)
    corpus, sentences = _prepared(phee)
    spec = load_spec("bert")
    if spec.options.get("layers") != "last4" or spec.options.get("pooling") != "first":
        raise ValueError(f"the bert spec changed ({spec.options}); update the flair side to the same layers and pooling")

    data = {split: [_to_flair(s) for s in sentences[split]] for split in ("train", "dev", "test")}
    flair_corpus = FlairCorpus(train=data["train"], dev=data["dev"], test=data["test"], sample_missing_splits=False)
    label_dictionary = flair_corpus.make_label_dictionary("ner", add_unk=False)

    class EpochTimer(TrainerPlugin):
        def __init__(self) -> None:
            super().__init__()
            self.start = 0.0
            self.seconds: list[float] = []
            self.dev_f1: list[float] = []

        @TrainerPlugin.hook
        def before_training_epoch(self, **kw):
            self.start = time.perf_counter()

        @TrainerPlugin.hook
        def after_evaluation(self, validation_scores, **kw):
            self.seconds.append(time.perf_counter() - self.start)
            self.dev_f1.append(float(validation_scores[0]))

    started = time.perf_counter()
    embeddings = TransformerWordEmbeddings(
        str(minilm_path()), layers="-1,-2,-3,-4", layer_mean=True, subtoken_pooling="first",
        fine_tune=False, allow_long_sentences=True,
    )
    tagger = SequenceTagger(
        hidden_size=256, embeddings=embeddings, tag_dictionary=label_dictionary, tag_type="ner",
        tag_format="BIO", use_crf=True, use_rnn=True, rnn_layers=1, reproject_embeddings=True,
        dropout=0.0, word_dropout=0.05, locked_dropout=0.5,
    )
    timer = EpochTimer()
    with tempfile.TemporaryDirectory(prefix="medner-bench-flair-") as base:
        ModelTrainer(tagger, flair_corpus).train(
            base, learning_rate=0.1, mini_batch_size=32, max_epochs=epochs, anneal_factor=0.5, patience=3,
            min_learning_rate=1e-4, embeddings_storage_mode="cpu", save_final_model=False,
            create_file_logs=False, create_loss_file=False, plugins=[timer],
        )
    # The trainer has loaded the best dev epoch's weights back; predict the test set.
    predicted = _flair_predictions(tagger, sentences["test"])
    total = time.perf_counter() - started
    return {
        "epoch_seconds": timer.seconds,
        "dev_f1": timer.dev_f1,
        "total_seconds": total,
        "test_strict_micro": _score(corpus, sentences, predicted),
        "peak_rss_mb": peak_rss_mb(),
        "trainable_parameters": sum(p.numel() for p in tagger.parameters() if p.requires_grad),
        "threads": threads,
    }


def _to_flair(ours):
    """One of our tagged sentences as a flair Sentence with its BIO spans as ``ner`` labels."""
    from flair.data import Sentence as FlairSentence

    sentence = FlairSentence([t.text for t in ours.tokens])
    start = None
    label = None
    for i, tag in enumerate(ours.tags + ["O"]):
        if start is not None and not (tag.startswith("I-") and tag[2:] == label):
            sentence[start:i].add_label("ner", label)
            start = None
        if tag.startswith("B-") or (tag.startswith("I-") and start is None):
            start, label = i, tag[2:]
    return sentence


def _flair_predictions(tagger, sentences) -> list[list[str]]:
    """flair's predicted spans for our sentences (same tokens), as one BIO tag list per sentence."""
    from flair.data import Sentence as FlairSentence

    test = [FlairSentence([t.text for t in s.tokens]) for s in sentences]
    tagger.predict(test, mini_batch_size=32, label_name="predicted")
    predicted = []
    for flair_sentence in test:
        row = ["O"] * len(flair_sentence)
        for span in flair_sentence.get_spans("predicted"):
            first = span.tokens[0].idx - 1
            row[first] = f"B-{span.tag}"
            for token in span.tokens[1:]:
                row[token.idx - 1] = f"I-{span.tag}"
        predicted.append(row)
    return predicted


def _side_in_subprocess(side: str, phee: Path, epochs: int, seed: int, threads: int, precision: str = "float32") -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    try:
        command = [sys.executable, "-m", "medner.bench.training", side, str(phee), str(epochs), str(seed), str(threads),
                   precision, str(out)]
        completed = subprocess.run(command, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"the {side} side of the benchmark failed (exit {completed.returncode}): {' '.join(command)}")
        return json.loads(out.read_text(encoding="utf-8"))
    finally:
        out.unlink(missing_ok=True)


def after_first(seconds: list[float]) -> float:
    """Mean seconds of the epochs after the first (the first embeds on flair's side)."""
    rest = seconds[1:] or seconds
    return statistics.fmean(rest)


def benchmark(phee: str | Path | None = None, *, epochs: int = 5, seed: int = 1, threads: int = 1,
              precisions: tuple[str, ...] = ("float32", "bfloat16"), out: str | Path | None = None) -> dict:
    """Run our side once per LSTM precision and flair's once; write the figures as JSON to ``out`` and return them.

    The headline figures (``speedup``, ``test_strict_micro_f1.ours``, ...) are those of the first
    precision, the study's default ``float32``; ``by_precision`` holds every precision's.
    """
    from medner.model.compute import PRECISIONS

    phee = Path(phee) if phee else paths.default_phee_path()
    if not (phee / "train").is_dir():
        raise FileNotFoundError(f"{phee} has no train/ folder: the benchmark needs the PHEE corpus (--path)")
    if epochs < 2:
        raise ValueError(f"epochs must be at least 2 (seconds per epoch are taken after the first), got {epochs}")
    if not precisions or any(p not in PRECISIONS for p in precisions):
        raise ValueError(f"precisions must be some of {', '.join(PRECISIONS)}, got {', '.join(precisions) or 'none'}")
    out = Path(out) if out else paths.results_dir() / "bench" / "training.json"
    ours_runs = {p: _side_in_subprocess("ours", phee, epochs, seed, threads, p) for p in precisions}
    theirs = _side_in_subprocess("flair", phee, epochs, seed, threads)
    flair_epoch = after_first(theirs["epoch_seconds"])
    f1_flair = theirs["test_strict_micro"]["f1"]
    by_precision = {}
    for precision, ours in ours_runs.items():
        ours_epoch = after_first(ours["epoch_seconds"])
        speedup = flair_epoch / ours_epoch
        f1_ours = ours["test_strict_micro"]["f1"]
        by_precision[precision] = {
            "seconds_per_epoch_after_first": ours_epoch,
            "speedup": speedup,
            "total_seconds": ours["total_seconds"],
            "test_strict_micro_f1": f1_ours,
            "f1_gap_points": 100 * (f1_flair - f1_ours),
            "peak_rss_mb": ours["peak_rss_mb"],
            "kernels": ours["kernels"],
            "speedup_met": speedup >= TARGET_SPEEDUP,
            "f1_met": f1_flair - f1_ours <= TARGET_F1_GAP,
            # The epoch's matrix products alone, and the ratio an epoch of only those would reach.
            "matmul_floor_seconds": ours["matmul_floor"]["seconds"],
            "speedup_at_matmul_floor": flair_epoch / ours["matmul_floor"]["seconds"],
        }
    head = by_precision[precisions[0]]
    figures = {
        "corpus": str(phee),
        "embedding": "bert",
        "epochs": epochs,
        "seed": seed,
        "threads": threads,
        "precision": precisions[0],
        "seconds_per_epoch_after_first": {"ours": head["seconds_per_epoch_after_first"], "flair": flair_epoch},
        "speedup": head["speedup"],
        "total_seconds": {"ours": head["total_seconds"], "flair": theirs["total_seconds"]},
        "test_strict_micro_f1": {"ours": head["test_strict_micro_f1"], "flair": f1_flair},
        "f1_gap_points": head["f1_gap_points"],
        "peak_rss_mb": {"ours": head["peak_rss_mb"], "flair": theirs["peak_rss_mb"]},
        "targets": {
            "speedup_at_least": TARGET_SPEEDUP,
            "f1_gap_at_most_points": 100 * TARGET_F1_GAP,
            "speedup_met": head["speedup_met"],
            "f1_met": head["f1_met"],
        },
        "by_precision": by_precision,
        "ours_runs": ours_runs,
        "flair": theirs,
    }
    files.write_json(out, figures, indent=1)
    return figures


def format_figures(figures: dict) -> str:
    """The benchmark's figures as a few readable lines: one ``ours`` line per LSTM precision."""
    flair_epoch = figures["seconds_per_epoch_after_first"]["flair"]
    f1_flair = figures["test_strict_micro_f1"]["flair"]
    loops = sorted({side["kernels"] for side in figures["by_precision"].values()})
    lines = [
        f"PHEE, bert (MiniLM), {figures['epochs']} epochs, seed {figures['seed']}, {figures['threads']} torch thread(s), "
        f"our LSTM and CRF loops: {', '.join(loops)} (MEDNER_KERNELS)",
        f"{'':18s} {'s/epoch':>8s} {'ratio':>6s} {'total s':>8s} {'test F1':>8s} {'gap':>6s} {'peak MiB':>9s}",
    ]
    for precision, side in figures["by_precision"].items():
        lines.append(
            f"{'ours ' + precision:18s} {side['seconds_per_epoch_after_first']:8.2f} {side['speedup']:5.1f}x "
            f"{side['total_seconds']:8.1f} {side['test_strict_micro_f1']:8.4f} {side['f1_gap_points']:+6.2f} "
            f"{side['peak_rss_mb']:9.0f}"
        )
    lines.append(
        f"{'flair':18s} {flair_epoch:8.2f} {'':6s} {figures['total_seconds']['flair']:8.1f} {f1_flair:8.4f} "
        f"{'':6s} {figures['peak_rss_mb']['flair']:9.0f}"
    )
    floors = [(p, side) for p, side in figures["by_precision"].items() if "matmul_floor_seconds" in side]
    if floors:
        lines.append("matrix products alone (an epoch's multiply-adds at the rates its products reach on this CPU; "
                     "our epoch cannot beat them):")
        lines.extend(
            f"  {precision:9s} {side['matmul_floor_seconds']:6.2f} s/epoch -> at most {side['speedup_at_matmul_floor']:.1f}x "
            f"over flair; ours spends {side['seconds_per_epoch_after_first'] / side['matmul_floor_seconds']:.1f}x that"
            for precision, side in floors
        )
    lines.append(
        f"s/epoch: after the first; ratio: flair's s/epoch over ours (target >= {TARGET_SPEEDUP:g}x); "
        f"gap: flair's F1 minus ours, in points (target <= {100 * TARGET_F1_GAP:g})"
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Subprocess entry: ``python -m medner.bench.training ours|flair PHEE EPOCHS SEED THREADS PRECISION OUT.json``."""
    side, phee, epochs, seed, threads, precision, out = argv
    if side == "ours":
        result = run_ours(Path(phee), int(epochs), int(seed), int(threads), precision)
    else:
        result = run_flair(Path(phee), int(epochs), int(seed), int(threads))
    Path(out).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
