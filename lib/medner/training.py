"""Training the BiLSTM-CRF on cached token vectors, with flair's ``ModelTrainer`` schedule.

No embedder runs here: the inputs are the per-sentence arrays of the embedding
cache (``CachedVectors`` or any sequence of ``(n_tokens, dim)`` arrays). They are
copied once into one contiguous tensor; a batch is then one gather into a padded
``(batch, max_len, dim)`` tensor, and batches are built once per epoch.

Schedule, as flair's ``ModelTrainer.train`` defaults (Akbik et al. 2018, and the
BiLSTM-CRF literature that used it): SGD with learning rate 0.1, mini-batches of
32 sentences, the loss summed over a batch's sentences, gradient norm clipped at
5; the learning rate is multiplied by 0.5 when the dev score has not improved for
more than ``patience`` (3) epochs, and training stops when it falls below 1e-4 or
at ``max_epochs``. The weights of the epoch with the best dev score are kept.

Batches are length-bucketed: each epoch the sentences are shuffled, cut into
pools of ``pool_batches`` batches, sorted by length inside each pool and cut into
batches, and the batch order is shuffled. Padding is then small while every epoch
still sees different batches.

Determinism: ``seed`` seeds Python's, numpy's and torch's generators; torch runs
with deterministic algorithms; the number of CPU threads is recorded because
floating-point sums (and so the last digits) depend on it.
"""

from __future__ import annotations

import copy
import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import torch
from torch.nn.utils import clip_grad_norm_, clip_grads_with_norm_, get_total_norm

from medner.model.fused import kernels
from medner.model.tagger import BiLSTMCRFTagger

#: How per-epoch progress is shown: a tqdm bar, one plain line per epoch, or chosen from the environment.
Progress = Literal["auto", "bar", "lines", "none"]

#: Receives the predicted tag indices of every dev sentence, returns the dev score (micro-F1) to maximise.
DevScorer = Callable[[list[list[int]]], float]


@dataclass
class TrainingConfig:
    """The training schedule; every value a keyword default, flair's ModelTrainer defaults."""

    learning_rate: float = 0.1  # SGD step size at the start
    batch_size: int = 32  # sentences per mini-batch
    anneal_factor: float = 0.5  # learning rate multiplier when dev stops improving
    patience: int = 3  # epochs without dev improvement tolerated before annealing
    min_learning_rate: float = 1e-4  # stop when the rate falls below this
    max_epochs: int = 20  # hard limit on epochs
    max_grad_norm: float = 5.0  # gradient norm clipping, as flair
    pool_batches: int = 20  # batches per length-sorting pool (bucketing granularity)
    eval_batch_size: int = 64  # sentences per batch when predicting (larger batches allocate past malloc's reuse threshold)
    seed: int = 0  # seeds random, numpy and torch
    num_threads: int | None = 1  # torch CPU threads; None = all available cores (see train_tagger)
    implementation: str = "fused"  # how the tagger computes: "fused" or "nn.LSTM" (medner.model.compute)
    precision: str = "float32"  # the LSTM's matrix products: "float32" or "bfloat16" (fused only)


@dataclass
class EpochRecord:
    """One line of history.csv."""

    epoch: int
    train_loss: float  # summed loss / tokens, as flair reports it
    dev_f1: float
    learning_rate: float
    seconds: float


@dataclass
class TrainingResult:
    """What training returns: the history, the best epoch and its weights, and what it cost."""

    history: list[EpochRecord]
    best_epoch: int
    best_dev_f1: float
    best_state: dict
    seconds: float
    epochs: int
    seconds_per_epoch: float
    tokens_per_second: float
    trainable_parameters: int
    num_threads: int
    seeds: dict = field(default_factory=dict)
    stopped_because: str = ""
    kernels: str = ""  # the LSTM's and CRF's loops: "compiled", "torch" (medner.model.fused.kernels) or "nn.LSTM"
    step_products: str = ""  # the LSTM's step products: "packed" (the kernels' own), "bmm" or "nn.LSTM"

    def history_rows(self) -> list[dict]:
        return [asdict(r) for r in self.history]


def set_seeds(seed: int) -> dict:
    """Seed every generator the training touches; returns what was set, for the record."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return {"python": seed, "numpy": seed, "torch": seed}


def resolve_progress(progress: Progress) -> Literal["bar", "lines", "none"]:
    """``auto`` becomes a bar in a terminal or a Jupyter kernel, one line per epoch otherwise (make, logs).

    Papermill also runs a kernel, so notebooks executed in batch should pass ``"lines"`` explicitly.
    """
    if progress in ("bar", "lines", "none"):
        return progress
    if progress != "auto":
        raise ValueError(f"progress must be 'auto', 'bar', 'lines' or 'none', got {progress!r}")
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None and getattr(shell, "kernel", None) is not None:
            return "bar"
    except ImportError:
        pass
    return "bar" if sys.stdout.isatty() else "lines"


class PackedVectors:
    """Sentence vectors copied into one tensor, with a zero row for padding.

    ``flat`` has shape (total_tokens + 1, dim); sentence ``i`` is rows ``offsets[i]:offsets[i] + lengths[i]``.
    """

    def __init__(self, vectors: Sequence[np.ndarray]) -> None:
        if len(vectors) == 0:
            raise ValueError("no sentences to train or predict on")
        lengths = np.array([len(v) for v in vectors], dtype=np.int64)
        if (lengths == 0).any():
            empty = int(np.flatnonzero(lengths == 0)[0])
            raise ValueError(f"sentence {empty} has no token vectors; every sentence needs at least one token")
        dims = {int(np.asarray(v).shape[1]) for v in (vectors[0], vectors[-1])}
        self.dim = dims.pop()
        self.lengths = lengths
        self.offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        flat = np.empty((int(lengths.sum()) + 1, self.dim), dtype=np.float32)
        for i, v in enumerate(vectors):
            v = np.asarray(v)
            if v.ndim != 2 or v.shape[1] != self.dim:
                raise ValueError(f"sentence {i}: expected vectors of shape (n_tokens, {self.dim}), got {v.shape}")
            flat[self.offsets[i] : self.offsets[i] + lengths[i]] = v
        flat[-1] = 0.0
        self.flat = torch.from_numpy(flat)
        self.pad_row = len(flat) - 1

    def __len__(self) -> int:
        return len(self.lengths)

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Padded vectors of the given sentences.

        Returns:
            vectors (batch, max_len, dim), lengths (batch,) int64, mask (batch, max_len) bool,
            and the flat token positions (batch, max_len) (padding points at the zero row).
        """
        idx = np.asarray(indices)
        lengths = self.lengths[idx]
        max_len = int(lengths.max())
        steps = np.arange(max_len)
        mask = steps[None, :] < lengths[:, None]
        positions = np.where(mask, self.offsets[idx][:, None] + steps[None, :], self.pad_row)
        positions_t = torch.from_numpy(positions)
        return self.flat[positions_t], torch.from_numpy(lengths), torch.from_numpy(mask), positions_t


def length_bucketed_batches(
    lengths: np.ndarray, batch_size: int, pool_batches: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Shuffle, sort by length inside pools of ``pool_batches * batch_size`` sentences, cut, shuffle batch order."""
    order = rng.permutation(len(lengths))
    pool = batch_size * pool_batches
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def loops_of(model: BiLSTMCRFTagger) -> str:
    """Which loops the LSTM and the CRF run: ``"compiled"`` or ``"torch"`` (the fused implementation on a CPU,
    as :mod:`medner.model.fused.kernels` decides; this compiles them on first use), or ``"nn.LSTM"``."""
    on_cpu = all(p.device.type == "cpu" for p in model.parameters())
    if model.compute["implementation"] != "fused" or not on_cpu:
        return "nn.LSTM"
    return kernels.in_use()


def step_products_of(model: BiLSTMCRFTagger, loops: str) -> str:
    """How the LSTM's recurrent step products are computed: ``"packed"`` (the compiled kernels' own, on
    AVX-512; see :func:`medner.model.fused.kernels.packed_products`), ``"bmm"`` (ATen's) or ``"nn.LSTM"``.
    They sum in different orders, so the last digits of a run depend on it."""
    if loops == "nn.LSTM":
        return loops
    packed = loops == "compiled" and kernels.packed_products(model.compute["precision"], model.config["hidden_size"])
    return "packed" if packed else "bmm"


def clip_gradients(parameters, max_norm: float) -> None:
    """Gradient-norm clipping as flair's trainer does it (``clip_grad_norm_``), with the same results.

    ``clip_grad_norm_`` multiplies every gradient by min(1, max_norm / (norm + 1e-6)), by exactly 1 in
    most batches, so as never to wait for a GPU to say whether to. On the CPU there is nothing to wait
    for, and that pass over every gradient is skipped when the factor is 1.
    """
    parameters = [p for p in parameters if p.grad is not None]
    if not parameters:
        return
    if any(p.grad.device.type != "cpu" for p in parameters):
        clip_grad_norm_(parameters, max_norm)
        return
    norm = get_total_norm([p.grad for p in parameters])
    if max_norm / (norm + 1e-6) < 1.0:
        clip_grads_with_norm_(parameters, max_norm, norm)


def predict_tags(model: BiLSTMCRFTagger, vectors: PackedVectors | Sequence[np.ndarray], *, batch_size: int = 64) -> list[list[int]]:
    """Best tag indices for every sentence, in input order (model put in eval mode)."""
    packed = vectors if isinstance(vectors, PackedVectors) else PackedVectors(vectors)
    model.eval()
    order = np.argsort(packed.lengths, kind="stable")
    predicted: list[list[int] | None] = [None] * len(packed)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            x, lengths, mask, _ = packed.batch(idx)
            for i, tags in zip(idx, model.predict(x, lengths, mask)):
                predicted[i] = tags
    return predicted  # type: ignore[return-value]


def token_f1(gold: Sequence[Sequence[int]], pred: Sequence[Sequence[int]], outside: int = 0) -> float:
    """Micro F1 over tokens whose gold or predicted tag is not ``outside``: a quick score for plain-array use."""
    tp = fp = fn = 0
    for g_row, p_row in zip(gold, pred):
        for g, p in zip(g_row, p_row):
            if p != outside and p == g:
                tp += 1
            else:
                fp += p != outside
                fn += g != outside
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def train_tagger(
    model: BiLSTMCRFTagger,
    train_vectors: Sequence[np.ndarray],
    train_tags: Sequence[Sequence[int]],
    dev_vectors: Sequence[np.ndarray],
    dev_scorer: DevScorer,
    config: TrainingConfig | None = None,
    *,
    progress: Progress = "auto",
    log: Callable[[str], None] = print,
) -> TrainingResult:
    """Train ``model`` in place and load the weights of its best dev epoch into it.

    Args:
        model: a fresh tagger whose ``embedding_dim`` matches the vectors.
        train_vectors: one (n_tokens, dim) float array per training sentence.
        train_tags: one list of tag indices per training sentence, as long as the sentence.
        dev_vectors: one array per dev sentence.
        dev_scorer: maps the predicted dev tag indices to the score to maximise (span micro-F1 in a run).
        config: the schedule; ``TrainingConfig()`` when omitted.
        progress: "bar" (tqdm per epoch), "lines" (one line per epoch through ``log``), "none" or "auto".
        log: where epoch lines go.

    Threads: one by default, because the study runs several trainings at once (``make -j2``),
    and when other processes share the cores OpenMP threads waiting on each other made an
    epoch about five times slower with two threads than with one on the 2-core machine this
    was built on. A run alone on the machine gains from more: with two threads the LSTM's
    directions run side by side and the big products split, and a PHEE bfloat16 epoch took
    2.9-3.3 s against 5.0-5.2 s on one thread, a float32 one 4.9-5.2 s against 8.5-9.0 s (``medner bench``).
    """
    config = config or TrainingConfig()
    if len(train_vectors) != len(train_tags):
        raise ValueError(f"{len(train_vectors)} training sentences but {len(train_tags)} tag sequences")
    mode = resolve_progress(progress)
    # Deterministic mode also fills every new uninitialised tensor with NaN, a guard against
    # code that reads memory it never wrote. Nothing here does (the fused LSTM writes each
    # buffer before reading it, and its tests compare every output and gradient), so the
    # fills are switched off while training. The profiler put a fifth of a PHEE epoch in them,
    # mostly first touches of fresh memory; wall time did not change beyond run-to-run noise.
    with training_context(config.num_threads, fill_uninitialised=False) as threads:
        return _train(model, train_vectors, train_tags, dev_vectors, dev_scorer, config, mode, log, threads)


@contextmanager
def training_context(num_threads: int | None, *, fill_uninitialised: bool = True) -> Iterator[int]:
    """While training: ``num_threads`` torch threads (None: every core this process may use), deterministic
    algorithms, and torch's NaN fill of new uninitialised tensors on or off; yields the thread count and puts
    every setting back on leaving."""
    threads = num_threads or max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    previous = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(),
                torch.utils.deterministic.fill_uninitialized_memory)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = fill_uninitialised
    try:
        yield threads
    finally:
        torch.set_num_threads(previous[0])
        torch.use_deterministic_algorithms(previous[1])
        torch.utils.deterministic.fill_uninitialized_memory = previous[2]


def _flat_tags(train: PackedVectors, train_tags: Sequence[Sequence[int]]) -> torch.Tensor:
    """The gold tags of every training token in the rows of ``train.flat`` (0 in the padding row)."""
    flat_tags = np.zeros(len(train.flat), dtype=np.int64)
    for i, tags in enumerate(train_tags):
        if len(tags) != train.lengths[i]:
            raise ValueError(f"training sentence {i}: {train.lengths[i]} vectors but {len(tags)} tags")
        flat_tags[train.offsets[i] : train.offsets[i] + len(tags)] = tags
    return torch.from_numpy(flat_tags)


class _PlateauSchedule:
    """flair's ``AnnealOnPlateau`` with model selection: the best dev epoch's weights are kept; the learning
    rate is multiplied by ``anneal_factor`` once the epochs without improvement exceed ``patience`` (then they
    are counted afresh), and training stops when the rate falls below ``min_learning_rate``."""

    def __init__(self, model: BiLSTMCRFTagger, optimiser: torch.optim.Optimizer, config: TrainingConfig) -> None:
        self.model, self.optimiser, self.config = model, optimiser, config
        self.lr = config.learning_rate
        self.best_f1, self.best_epoch, self.best_state = -1.0, 0, copy.deepcopy(model.state_dict())
        self.bad_epochs = 0
        self.stopped = f"max_epochs ({config.max_epochs})"

    def step(self, epoch: int, dev_f1: float) -> bool:
        """Record one epoch's dev score; returns whether training goes on."""
        if dev_f1 > self.best_f1:
            self.best_f1, self.best_epoch, self.bad_epochs = dev_f1, epoch, 0
            self.best_state = copy.deepcopy(self.model.state_dict())
            return True
        self.bad_epochs += 1
        if self.bad_epochs > self.config.patience:
            self.lr *= self.config.anneal_factor
            self.bad_epochs = 0
            for group in self.optimiser.param_groups:
                group["lr"] = self.lr
            if self.lr < self.config.min_learning_rate:
                self.stopped = f"learning rate {self.lr:g} below {self.config.min_learning_rate:g}"
                return False
        return True


def _train_epoch(model, optimiser, train: PackedVectors, flat_tags: torch.Tensor, batches: list, config: TrainingConfig,
                 bar) -> float:
    """One pass over ``batches`` of training sentences; returns the summed loss."""
    model.train()
    total_loss = 0.0
    # Each batch is padded when its turn comes: the same memory serves batch after batch, where
    # padding the whole epoch up front wrote (and page-faulted) a fresh copy of the training set.
    for x, lengths, mask, positions in map(train.batch, batches):
        optimiser.zero_grad(set_to_none=True)
        total_loss += optimise(model, optimiser, model.loss(x, lengths, mask, flat_tags[positions]), config.max_grad_norm)
        if bar is not None:
            bar.update(1)
    return total_loss


def optimise(model, optimiser: torch.optim.Optimizer, loss: torch.Tensor, max_grad_norm: float) -> float:
    """One SGD step on ``loss`` (gradients cleared before it was computed): backward, flair's gradient clipping,
    the step; returns the loss as a number."""
    loss.backward()
    clip_gradients(model.parameters(), max_grad_norm)
    optimiser.step()
    return loss.item()


def _train(model, train_vectors, train_tags, dev_vectors, dev_scorer, config, mode, log, threads) -> TrainingResult:
    seeds = set_seeds(config.seed)
    rng = np.random.default_rng(config.seed)
    train = PackedVectors(train_vectors)
    dev = PackedVectors(dev_vectors)
    if train.dim != model.config["embedding_dim"]:
        raise ValueError(f"vectors have dimension {train.dim}, the model expects {model.config['embedding_dim']}")
    flat_tags = _flat_tags(train, train_tags)
    n_tokens = int(train.lengths.sum())
    model.set_compute(config.implementation, config.precision)
    # Which loops the LSTM and the CRF run; on a CPU this compiles them on first use, before any timing starts.
    loops = loops_of(model)
    optimiser = torch.optim.SGD(model.parameters(), lr=config.learning_rate)
    schedule = _PlateauSchedule(model, optimiser, config)
    history: list[EpochRecord] = []
    train_seconds = 0.0
    start_all = time.perf_counter()
    for epoch in range(1, config.max_epochs + 1):
        start = time.perf_counter()
        batches = length_bucketed_batches(train.lengths, config.batch_size, config.pool_batches, rng)
        bar = _epoch_bar(epoch, len(batches)) if mode == "bar" else None
        total_loss = _train_epoch(model, optimiser, train, flat_tags, batches, config, bar)
        train_seconds += time.perf_counter() - start
        dev_f1 = float(dev_scorer(predict_tags(model, dev, batch_size=config.eval_batch_size)))
        record = EpochRecord(epoch, total_loss / n_tokens, dev_f1, schedule.lr, time.perf_counter() - start)
        history.append(record)
        _report_epoch(record, bar, mode, log)
        if not schedule.step(epoch, dev_f1):
            break
    seconds_total = time.perf_counter() - start_all
    model.load_state_dict(schedule.best_state)
    return TrainingResult(
        history=history,
        best_epoch=schedule.best_epoch,
        best_dev_f1=schedule.best_f1,
        best_state=schedule.best_state,
        seconds=seconds_total,
        epochs=len(history),
        seconds_per_epoch=seconds_total / len(history),
        tokens_per_second=n_tokens * len(history) / train_seconds if train_seconds > 0 else math.nan,
        trainable_parameters=model.trainable_parameters(),
        num_threads=threads,
        seeds=seeds,
        stopped_because=schedule.stopped,
        kernels=loops,
        step_products=step_products_of(model, loops),
    )


def _epoch_bar(epoch: int, batches: int):
    from tqdm.auto import tqdm

    return tqdm(total=batches, desc=f"epoch {epoch}", unit="batch", leave=True)


def _report_epoch(record: EpochRecord, bar, mode: str, log: Callable[[str], None]) -> None:
    """The epoch's loss, dev F1, learning rate and seconds: on its bar, or as one line in ``lines`` mode."""
    if bar is not None:
        bar.set_postfix(loss=f"{record.train_loss:.4f}", dev_f1=f"{record.dev_f1:.4f}", lr=f"{record.learning_rate:g}")
        bar.close()
    elif mode == "lines":
        log(f"epoch {record.epoch:3d}  loss {record.train_loss:.4f}  dev F1 {record.dev_f1:.4f}  "
            f"lr {record.learning_rate:g}  {record.seconds:.1f} s")
