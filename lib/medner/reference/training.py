"""Training the reference taggers end to end: AdamW with a linear warm-up and decay, the best dev epoch kept.

The schedule of the fine-tuning papers (MedMine, arXiv 2308.03629, for XLM-RoBERTa on n2c2-2018:
batch 16, learning rate 1e-4, 8 epochs, weight decay 1e-5), as the Hugging Face ``Trainer`` runs it:

* AdamW (betas 0.9/0.999, eps 1e-8); weight decay on every weight but biases and LayerNorm weights;
* the learning rate rises linearly from 0 over the first ``warmup_share`` (10%) of the steps, then falls
  linearly to 0 at the last step of ``max_epochs``;
* the gradient norm clipped at 1.0 (the ``Trainer``'s default), AdamW fused (its default too);
* the head (linear map and CRF, trained from nothing) learns at ``head_learning_rate`` (1e-3) while the
  encoder learns at ``learning_rate``: at 1e-4 the CRF's transitions, which start within +-0.1, could move
  by at most ~0.15 over a demo run and the CRF would hardly differ from a softmax;
* the loss of a batch is the head's summed loss divided by its words (the ``Trainer``'s token mean).

Model selection is the study's (:mod:`medner.training`): after every epoch the dev sentences are tagged and
scored (strict micro-F1 on character offsets), and the weights of the best epoch are kept; there is no
early stop, as the schedule ends at ``max_epochs``. Batches are length-bucketed as in the study, with the
same generator seeded from the run seed; ``seed`` also seeds the weight initialisation and dropout.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from medner.training import (DevScorer, EpochRecord, TrainingResult, clip_gradients, length_bucketed_batches,
                             resolve_progress, set_seeds, training_context)


@dataclass
class ReferenceTrainingConfig:
    """The fine-tuning schedule; every value a keyword default, MedMine's XLM-R setting where it has one."""

    learning_rate: float = 1e-4  # AdamW peak learning rate of the encoder (MedMine)
    head_learning_rate: float = 1e-3  # peak learning rate of the head trained from nothing (see module docstring)
    batch_size: int = 16  # sentences per mini-batch (MedMine)
    max_epochs: int = 8  # epochs; the schedule decays to 0 at their end (MedMine)
    weight_decay: float = 1e-5  # AdamW decoupled weight decay (MedMine)
    warmup_share: float = 0.1  # share of the steps with a linearly rising learning rate
    max_grad_norm: float = 1.0  # gradient norm clipping (the Hugging Face Trainer's default)
    pool_batches: int = 20  # batches per length-sorting pool (bucketing granularity, as the study)
    eval_batch_size: int = 64  # sentences per batch when predicting
    seed: int = 0  # seeds random, numpy and torch: initialisation, dropout, batch order
    num_threads: int | None = 1  # torch CPU threads; None = every core
    implementation: str = "fused"  # the CRF's loops: "fused" (compiled) or "nn.LSTM" (PyTorch's; medner.model.compute)
    precision: str = "float32"  # arithmetic of every product (the encoders run in float32)


def linear_schedule(step: int, total_steps: int, warmup_share: float) -> float:
    """The learning-rate factor at ``step`` (0-based): a linear rise over the warm-up, then a linear fall to 0."""
    warmup = int(math.ceil(warmup_share * total_steps))
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup))


def optimiser_of(model, config: ReferenceTrainingConfig) -> torch.optim.AdamW:
    """AdamW over four groups: encoder and head, each with and without weight decay (biases and norms have none)."""
    head = {id(p) for p in model.head_parameters()}
    groups: dict[tuple[bool, bool], list] = {(h, d): [] for h in (False, True) for d in (False, True)}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            decays = parameter.dim() > 1 and "norm" not in name.lower()
            groups[(id(parameter) in head, decays)].append(parameter)
    # fused: one pass over each weight per step, where the per-tensor loop reads and writes it about ten times
    # (the Hugging Face Trainer's default with torch >= 2.8); the same update, summed in another order
    return torch.optim.AdamW(
        [{"params": params, "lr": config.head_learning_rate if is_head else config.learning_rate,
          "weight_decay": config.weight_decay if decays else 0.0}
         for (is_head, decays), params in groups.items() if params],
        betas=(0.9, 0.999), eps=1e-8, fused=True)


def _padded(lengths: np.ndarray, tags: Sequence[Sequence[int]] | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """lengths (batch,) int64, mask (batch, seq_len) bool and gold tags (batch, seq_len) int64 (zeros without)."""
    lengths_t = torch.from_numpy(np.asarray(lengths, dtype=np.int64))
    mask = torch.arange(int(lengths_t.max())).unsqueeze(0) < lengths_t.unsqueeze(1)
    gold = torch.zeros(mask.shape, dtype=torch.int64)
    for b, row in enumerate(tags or ()):
        gold[b, : len(row)] = torch.as_tensor(row, dtype=torch.int64)
    return lengths_t, mask, gold


def predict_reference(model, examples: Sequence, lengths: np.ndarray, *, batch_size: int = 64) -> list[list[int]]:
    """Best tag indices for every sentence, in input order (model put in eval mode)."""
    model.eval()
    order = np.argsort(lengths, kind="stable")
    predicted: list[list[int] | None] = [None] * len(examples)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            lengths_t, mask, _ = _padded(lengths[idx], None)
            mask = mask.to(next(model.parameters()).device)
            for i, tags in zip(idx, model.predict([examples[i] for i in idx], lengths_t, mask)):
                predicted[i] = tags
    return predicted  # type: ignore[return-value]


def train_epoch(model, optimiser, examples, lengths, tags, batches, step: int, total_steps: int,
                config: ReferenceTrainingConfig) -> tuple[float, int]:
    """One pass over ``batches`` (lists of sentence indices), the learning rate following the schedule from
    ``step`` of ``total_steps``; returns the summed loss and the next step's index. Tags and masks go to the
    model's device; lengths stay on the CPU, where packing wants them."""
    model.train()
    device = next(model.parameters()).device
    peaks = [group["lr"] for group in optimiser.param_groups]
    total = torch.zeros((), device=device)  # summed on the device: reading it each step would wait for the step
    for batch in batches:
        factor = linear_schedule(step, total_steps, config.warmup_share)
        for group, peak in zip(optimiser.param_groups, peaks):
            group["lr"] = peak * factor
        lengths_t, mask, gold = _padded(lengths[batch], [tags[i] for i in batch])
        mask, gold = mask.to(device), gold.to(device)
        optimiser.zero_grad(set_to_none=True)
        summed = model.loss([examples[i] for i in batch], lengths_t, mask, gold)
        (summed / mask.sum()).backward()
        clip_gradients(model.parameters(), config.max_grad_norm)
        optimiser.step()
        total += summed.detach()
        step += 1
    for group, peak in zip(optimiser.param_groups, peaks):
        group["lr"] = peak
    return float(total), step


def train_reference(model, train_sentences: Sequence[Sequence[str]], train_tags: Sequence[Sequence[int]],
                    dev_sentences: Sequence[Sequence[str]], dev_scorer: DevScorer,
                    config: ReferenceTrainingConfig | None = None, *, progress: str = "auto",
                    log: Callable[[str], None] = print) -> TrainingResult:
    """Train a reference tagger (:mod:`medner.reference.finetune` or :mod:`.scratch`) in place and load the
    weights of its best dev epoch into it; returns the study's :class:`~medner.training.TrainingResult`."""
    config = config or ReferenceTrainingConfig()
    if len(train_sentences) != len(train_tags):
        raise ValueError(f"{len(train_sentences)} training sentences but {len(train_tags)} tag sequences")
    with training_context(config.num_threads) as threads:
        return _train(model, train_sentences, train_tags, dev_sentences, dev_scorer, config,
                      resolve_progress(progress), log, threads)


def _train(model, train_sentences, train_tags, dev_sentences, dev_scorer, config, mode, log, threads) -> TrainingResult:
    seeds = set_seeds(config.seed)
    rng = np.random.default_rng(config.seed)
    model.set_compute(config.implementation, config.precision)
    examples, dev_examples = model.examples(train_sentences), model.examples(dev_sentences)
    lengths = np.array([len(s) for s in train_sentences], dtype=np.int64)
    dev_lengths = np.array([len(s) for s in dev_sentences], dtype=np.int64)
    optimiser = optimiser_of(model, config)
    total_steps = config.max_epochs * math.ceil(len(examples) / config.batch_size)
    best = (-1.0, 0, copy.deepcopy(model.state_dict()))
    history, step, train_seconds, started = [], 0, 0.0, time.perf_counter()
    for epoch in range(1, config.max_epochs + 1):
        start = time.perf_counter()
        batches = length_bucketed_batches(lengths, config.batch_size, config.pool_batches, rng)
        loss, step = train_epoch(model, optimiser, examples, lengths, train_tags, batches, step, total_steps, config)
        train_seconds += time.perf_counter() - start
        dev_f1 = float(dev_scorer(predict_reference(model, dev_examples, dev_lengths, batch_size=config.eval_batch_size)))
        rate = config.learning_rate * linear_schedule(step - 1, total_steps, config.warmup_share)  # at the epoch's end
        record = EpochRecord(epoch, loss / int(lengths.sum()), dev_f1, rate, time.perf_counter() - start)
        history.append(record)
        if mode in ("lines", "bar"):
            log(f"epoch {epoch:3d}  loss {record.train_loss:.4f}  dev F1 {dev_f1:.4f}  lr {rate:g}  "
                f"{record.seconds:.1f} s")
        if dev_f1 > best[0]:
            best = (dev_f1, epoch, copy.deepcopy(model.state_dict()))
    seconds = time.perf_counter() - started
    model.load_state_dict(best[2])
    return TrainingResult(
        history=history, best_epoch=best[1], best_dev_f1=best[0], best_state=best[2], seconds=seconds,
        epochs=len(history), seconds_per_epoch=seconds / len(history),
        tokens_per_second=int(lengths.sum()) * len(history) / train_seconds if train_seconds > 0 else math.nan,
        trainable_parameters=model.trainable_parameters(), num_threads=threads, seeds=seeds,
        stopped_because=f"max_epochs ({config.max_epochs}): the schedule ends there", kernels=model.compute["implementation"],
        step_products="none")
