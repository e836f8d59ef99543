"""Fine-tuning speed: our fine-tuning epoch against the Hugging Face ``Trainer`` on the same model and data.

Both sides fine-tune the same encoder (MiniLM by default) with the same linear token-classification head
(ours: :class:`medner.reference.finetune.FineTunedTagger` with its softmax head; theirs:
``AutoModelForTokenClassification``, the same maths: dropout 0.1 and a linear map on the states), on the same
training sentences, with the same batch size, optimiser (AdamW, learning rate 1e-4, weight decay 1e-5, 10%
linear warm-up and decay, gradient norm 1.0), seed and torch threads, one after the other in this process.
Word-level labels on the first subword as the token-classification examples do (-100 on the others); no
dev evaluation on either side, and no checkpoint saving: the seconds are those of the training epochs.

What differs is how the epoch is run: ours tokenises once before training and forms length-bucketed batches
(:func:`medner.training.length_bucketed_batches`), so a batch pads to its longest sentence among similar
ones; the ``Trainer`` draws random batches through its dataloader and collator (dynamic padding to the
longest of a random batch). Sentences longer than the model's limit: ours reads them in windows, theirs
truncates (the corpora here have none that long, and the output says how many there were).

On a GPU (when one is present, or with ``--device cuda``) both run in bfloat16 mixed precision
(``torch.autocast`` / ``Trainer(bf16=True)``); the CPU runs float32.
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medner import files


def _data(corpus: str, path: str | None, demo_size: int | None, sentences: int | None):
    """The training split's tagged sentences (the first ``sentences``), their tag indices and the tag list."""
    from medner.corpus.registry import load_corpus
    from medner.runs import tag_dictionary

    loaded = load_corpus(corpus, path=path, demo_size=demo_size)
    from medner.corpus.tagging import tag_documents

    tagged = [s for s in tag_documents(loaded.splits["train"])[0] if len(s) > 0][:sentences]
    tags = tag_dictionary(list(loaded.labels))
    index = {t: i for i, t in enumerate(tags)}
    return [s.words for s in tagged], [[index[t] for t in s.tags] for s in tagged], tags


def _autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()


def ours(model_dir: str, words, tags, n_tags: int, *, epochs: int, batch_size: int, seed: int,
         device: torch.device) -> dict[str, Any]:
    """Our fine-tuning epochs (softmax head, no dev evaluation); seconds of each epoch."""
    from medner.embeddings.transformer import TransformerEmbedder
    from medner.reference.finetune import FineTunedTagger
    from medner.reference.training import ReferenceTrainingConfig, optimiser_of, train_epoch
    from medner.training import length_bucketed_batches, set_seeds

    set_seeds(seed)
    embedder = TransformerEmbedder(model_dir, layers="last", pooling="first", device=str(device))
    model = FineTunedTagger(embedder, n_tags).to(device)
    config = ReferenceTrainingConfig(batch_size=batch_size, max_epochs=epochs, seed=seed, head_learning_rate=1e-4)
    examples = model.examples(words)
    lengths = np.array([len(w) for w in words], dtype=np.int64)
    optimiser = optimiser_of(model, config)
    rng = np.random.default_rng(seed)
    total_steps, step, seconds = epochs * math.ceil(len(words) / batch_size), 0, []
    for _ in range(epochs):
        batches = length_bucketed_batches(lengths, batch_size, config.pool_batches, rng)
        _synchronise(device)
        start = time.perf_counter()
        with _autocast(device):
            _, step = train_epoch(model, optimiser, examples, lengths, tags, batches, step, total_steps, config)
        _synchronise(device)
        seconds.append(time.perf_counter() - start)
    windowed = sum(len(pieces) > 1 for pieces in examples)
    return {"seconds": seconds, "windowed_sentences": windowed, "parameters": model.trainable_parameters(),
            "max_length": embedder.max_length}


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _features(tokenizer, words, tags, max_length: int) -> tuple[list[dict], int]:
    """Token-classification features: labels on each word's first subword, -100 elsewhere; how many were cut."""
    features, truncated = [], 0
    for sentence, labels in zip(words, tags):
        encoding = tokenizer(sentence, is_split_into_words=True, truncation=True, max_length=max_length)
        word_ids, previous, aligned = encoding.word_ids(), None, []
        for word in word_ids:
            aligned.append(-100 if word is None or word == previous else labels[word])
            previous = word
        truncated += len({w for w in word_ids if w is not None}) < len(sentence)
        features.append({"input_ids": encoding["input_ids"], "attention_mask": encoding["attention_mask"],
                         "labels": aligned})
    return features, truncated


def theirs(model_dir: str, words, tags, n_tags: int, *, epochs: int, batch_size: int, seed: int,
           device: torch.device, threads: int, max_length: int) -> dict[str, Any]:
    """The Hugging Face Trainer's epochs with AutoModelForTokenClassification; seconds of each epoch. Inputs are cut
    at ``max_length`` subwords (the model's limit, as ours reads it)."""
    import tempfile

    from transformers import (AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification,
                              Trainer, TrainerCallback, TrainingArguments, set_seed)

    set_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, use_fast=True)
    model = AutoModelForTokenClassification.from_pretrained(model_dir, num_labels=n_tags)
    features, truncated = _features(tokenizer, words, tags, max_length)
    seconds: list[float] = []

    class EpochClock(TrainerCallback):
        def on_epoch_begin(self, args, state, control, **kwargs):
            _synchronise(device)
            self.start = time.perf_counter()

        def on_epoch_end(self, args, state, control, **kwargs):
            _synchronise(device)
            seconds.append(time.perf_counter() - self.start)

    with tempfile.TemporaryDirectory() as scratch:
        arguments = TrainingArguments(
            output_dir=scratch, per_device_train_batch_size=batch_size, learning_rate=1e-4, weight_decay=1e-5,
            # ours: 10% of the steps, rounded up (warm-up as a number of steps reads the same in transformers 4 and 5)
            warmup_steps=math.ceil(0.1 * epochs * math.ceil(len(features) / batch_size)), lr_scheduler_type="linear",
            num_train_epochs=epochs, max_grad_norm=1.0, seed=seed,
            eval_strategy="no", save_strategy="no", logging_strategy="no", report_to="none", disable_tqdm=True,
            dataloader_num_workers=0, use_cpu=device.type != "cuda", bf16=device.type == "cuda")
        trainer = Trainer(model=model, args=arguments, train_dataset=features,
                          data_collator=DataCollatorForTokenClassification(tokenizer), callbacks=[EpochClock()])
        torch.set_num_threads(threads)  # the Trainer may set its own; both sides get the same
        trainer.train()
    return {"seconds": seconds, "truncated_sentences": truncated,
            "parameters": sum(p.numel() for p in model.parameters() if p.requires_grad)}


def _per_epoch(seconds: list[float]) -> float:
    """Seconds per epoch: the mean over the epochs after the first (the first pays for first touches), or the one."""
    return float(np.mean(seconds[1:] if len(seconds) > 1 else seconds))


def benchmark(*, corpus: str = "demo", path: str | None = None, demo_size: int | None = None, model: str | None = None,
              sentences: int | None = 1000, epochs: int = 2, batch_size: int = 16, threads: int = 1, seed: int = 1,
              device: str | None = None, out: str | Path | None = None) -> dict[str, Any]:
    """Both sides on the same data; returns (and writes to ``out`` as JSON) the figures :func:`format_figures` prints."""
    from medner.embeddings.transformer import minilm_path

    model_dir = str(model or minilm_path())
    chosen = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    words, tags, tag_list = _data(corpus, path, demo_size, sentences)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        our = ours(model_dir, words, tags, len(tag_list), epochs=epochs, batch_size=batch_size, seed=seed, device=chosen)
        hf = theirs(model_dir, words, tags, len(tag_list), epochs=epochs, batch_size=batch_size, seed=seed,
                    device=chosen, threads=threads, max_length=our["max_length"])
    finally:
        torch.set_num_threads(previous)
    figures = {
        "corpus": corpus, "model": model_dir, "device": str(chosen), "precision": "bfloat16 autocast" if chosen.type == "cuda"
        else "float32", "threads": threads, "batch_size": batch_size, "epochs": epochs, "sentences": len(words),
        "words": int(sum(len(w) for w in words)), "ours": our, "theirs": hf,
        "ours_s_per_epoch": _per_epoch(our["seconds"]), "theirs_s_per_epoch": _per_epoch(hf["seconds"]),
    }
    figures["ratio"] = figures["theirs_s_per_epoch"] / figures["ours_s_per_epoch"]
    if out is not None:
        files.write_json(out, figures, indent=1)
    return figures


def format_figures(figures: dict[str, Any]) -> str:
    """The benchmark as a few lines: the setting, then seconds per epoch of each side and the ratio."""
    return "\n".join([
        f"fine-tuning {Path(figures['model']).name} on {figures['corpus']}: {figures['sentences']} sentences, "
        f"{figures['words']} words, batch {figures['batch_size']}, {figures['epochs']} epochs, "
        f"{figures['threads']} thread(s), {figures['device']} ({figures['precision']})",
        f"ours (medner.reference)          s/epoch {figures['ours_s_per_epoch']:.2f}  "
        f"epochs {', '.join(f'{s:.2f}' for s in figures['ours']['seconds'])}  parameters {figures['ours']['parameters']}",
        f"Hugging Face Trainer             s/epoch {figures['theirs_s_per_epoch']:.2f}  "
        f"epochs {', '.join(f'{s:.2f}' for s in figures['theirs']['seconds'])}  parameters {figures['theirs']['parameters']}",
        f"ratio (Trainer / ours)           {figures['ratio']:.2f}x",
        f"sentences longer than the model's limit: ours windowed {figures['ours']['windowed_sentences']}, "
        f"the Trainer truncated {figures['theirs']['truncated_sentences']}",
    ])


def register_bench(subparsers) -> None:
    """Add ``bench-finetune`` to ``medner``."""
    bench = subparsers.add_parser(
        "bench-finetune", help="our fine-tuning epoch against the Hugging Face Trainer, same model, data, batch, threads",
        description="Fine-tune the same encoder with a linear token-classification head on the same training "
        "sentences, ours then the Hugging Face Trainer with AutoModelForTokenClassification; print seconds per epoch "
        "(after the first) and their ratio; write JSON. A GPU is used when present (bfloat16 mixed precision).")
    bench.add_argument("--corpus", default="demo", help="corpus name (default demo)")
    bench.add_argument("--path", default=None, help="corpus folder (phee: default ../shared/data/phee)")
    bench.add_argument("--demo-size", type=int, default=None, help="sentences of the generated demo corpus")
    bench.add_argument("--model", default=None, help="model folder (default: all-MiniLM-L6-v2 from its package)")
    bench.add_argument("--sentences", type=int, default=1000, help="first N training sentences (default 1000; 0: all)")
    bench.add_argument("--epochs", type=int, default=2, help="epochs per side (default 2; the first is not timed in "
                       "the headline when there are more)")
    bench.add_argument("--batch-size", type=int, default=16, help="sentences per batch (default 16, MedMine's)")
    bench.add_argument("--threads", type=int, default=1, help="torch threads for both (default 1)")
    bench.add_argument("--seed", type=int, default=1)
    bench.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    bench.add_argument("--out", default=None, help="JSON output (default results/bench/finetune.json)")
    bench.set_defaults(func=_run)


def _run(args) -> int:
    from medner import paths

    figures = benchmark(corpus=args.corpus, path=args.path, demo_size=args.demo_size, model=args.model,
                        sentences=args.sentences or None, epochs=args.epochs, batch_size=args.batch_size,
                        threads=args.threads, seed=args.seed, device=args.device,
                        out=args.out or paths.results_dir() / "bench" / "finetune.json")
    print(format_figures(figures))
    return 0
