"""Flair contextual string embeddings: forward and backward character LMs, concatenated.

Akbik, Blythe and Vollgraf (2018), "Contextual String Embeddings for Sequence Labeling"
(COLING): a word's vector is the forward LM's hidden state after its last character joined
with the backward LM's hidden state before its first character. The vectors come from
flair's own ``FlairEmbeddings``; this module adds what the study needs around it:

- :class:`FlairCharLMEmbedder`: the :class:`~medner.embeddings.base.TokenEmbedder` view
  (our tokens in, one vector per token out, never flair's tokenizer), a fingerprint from
  the LM files' contents, and one-sentence errors for pretrained names that cannot be
  downloaded here.
- :func:`train_flair_lm`: an in-domain character LM trained with flair's
  ``LanguageModelTrainer``, with the character dictionary built from the text itself
  (flair's ``Dictionary.load('chars')`` downloads, so it cannot be used offline).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import shutil
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from medner.embeddings.base import EmbeddingUnavailableError, TokenEmbedder, file_identity, fingerprint_of
from medner.embeddings.transformer import host_reachable, offline_requested

#: Where flair's pretrained LMs are downloaded from (the host asked before any download).
_FLAIR_MODEL_HOST = "flair.informatik.hu-berlin.de"


class _UrlIntercepted(Exception):
    """Raised in place of flair's download to learn which URL a model name maps to."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def flair_model_url(name: str) -> str | None:
    """The download URL flair uses for a pretrained LM name (``pubmed-forward``), or None if unknown.

    flair keeps its name -> URL table inside ``FlairEmbeddings.__init__``; its download call
    is intercepted to read the table without touching the network.
    """
    import flair.embeddings.token as flair_token

    def intercept(url_or_filename: str, cache_dir: object) -> Path:
        raise _UrlIntercepted(str(url_or_filename))

    original = flair_token.cached_path
    flair_token.cached_path = intercept
    try:
        flair_token.FlairEmbeddings(name)
    except _UrlIntercepted as caught:
        return caught.url
    except (ValueError, FileNotFoundError):
        return None
    finally:
        flair_token.cached_path = original
    return None


def resolve_flair_model(model: str | Path) -> Path:
    """A local ``.pt`` file for a flair LM given as a path or a flair model name.

    Names are looked up in flair's download cache first; they are downloaded only when the
    network allows, otherwise EmbeddingUnavailableError says in one sentence what to fetch.
    """
    import flair

    path = Path(model).expanduser()
    if path.is_file():
        return path
    url = flair_model_url(str(model))
    if url is None:
        raise EmbeddingUnavailableError(
            f"the Flair language model '{model}' is neither a file nor a flair model name "
            f"(expected a best-lm.pt path or a name such as 'pubmed-forward')"
        )
    cached = flair.cache_root / "embeddings" / url.rsplit("/", 1)[-1]
    if cached.is_file():
        return cached
    short = Path(url).name
    message = (
        f"the Flair language model '{model}' is not stored locally and cannot be downloaded here: "
        f"download {url} to embeddings/pretrained/{short} and set the spec's source to that file"
    )
    if offline_requested() or not host_reachable(_FLAIR_MODEL_HOST):
        raise EmbeddingUnavailableError(message)
    from flair.file_utils import cached_path

    try:
        return Path(cached_path(url, cache_dir=Path("embeddings")))
    except Exception as exc:  # requests/OS errors of every kind mean "not available here"
        raise EmbeddingUnavailableError(f"{message} ({type(exc).__name__}: {exc})") from exc


@contextlib.contextmanager
def _flair_device(device: torch.device) -> Iterator[None]:
    """Run flair code on ``device``: flair reads its module-level ``flair.device`` everywhere."""
    import flair

    previous = flair.device
    flair.device = device
    try:
        yield
    finally:
        flair.device = previous


class FlairCharLMEmbedder(TokenEmbedder):
    """Forward + backward Flair character LMs -> one vector per token (dim = sum of both LMs' sizes).

    Args:
        forward: a forward LM as a ``best-lm.pt`` path or a flair name (``pubmed-forward``).
        backward: the backward LM, likewise.
        device: torch device; flair's default (CUDA when present) if None.
        batch_size: sentences per LM pass (sentences are sorted by length first).
        name: display name (default ``flair``).
    """

    def __init__(
        self,
        forward: str | Path,
        backward: str | Path,
        *,
        device: str | None = None,
        batch_size: int = 32,
        name: str = "flair",
    ) -> None:
        import flair
        from flair.embeddings import FlairEmbeddings

        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.device = torch.device(device) if device is not None else flair.device
        self.batch_size = batch_size
        self.forward_path = resolve_flair_model(forward)
        self.backward_path = resolve_flair_model(backward)
        with _flair_device(self.device):
            self.forward_lm = FlairEmbeddings(str(self.forward_path), name="forward")
            self.backward_lm = FlairEmbeddings(str(self.backward_path), name="backward")
        for role, embedding, expected in (("forward", self.forward_lm, True), ("backward", self.backward_lm, False)):
            if embedding.is_forward_lm != expected:
                source = self.forward_path if expected else self.backward_path
                raise ValueError(f"{source} is a {'forward' if not expected else 'backward'} LM, given as the {role} one")
        self.name = name
        self.dim = int(self.forward_lm.embedding_length + self.backward_lm.embedding_length)
        self.fingerprint = fingerprint_of(
            {
                "family": "flair",
                "forward": file_identity(self.forward_path),
                "backward": file_identity(self.backward_path),
                # FlairEmbeddings options that change which hidden state a token reads
                "with_whitespace": self.forward_lm.with_whitespace,
                "tokenized_lm": self.forward_lm.tokenized_lm,
                "is_lower": [self.forward_lm.is_lower, self.backward_lm.is_lower],
                "flair": flair.__version__,
            }
        )

    def embed(self, sentences: list[list[str]]) -> list[np.ndarray]:
        """One float32 array of shape (n_tokens, dim) per sentence: [forward state; backward state]."""
        from flair.data import Sentence, Token

        result: list[np.ndarray] = [np.zeros((len(sentence), self.dim), dtype=np.float32) for sentence in sentences]
        # Long sentences together: the LM pads every sentence of a batch to the longest one.
        order = sorted(
            (i for i, sentence in enumerate(sentences) if sentence),
            key=lambda i: sum(len(token) + 1 for token in sentences[i]),
        )
        with _flair_device(self.device), torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                indices = order[start : start + self.batch_size]
                # Built from Token objects so flair's tokenizer never runs; flair drops
                # empty tokens, so an empty string is read as one space (it still gets a vector).
                batch = [Sentence([Token(token if token else " ") for token in sentences[i]]) for i in indices]
                for i, flair_sentence in zip(indices, batch):
                    if len(flair_sentence) != len(sentences[i]):
                        raise ValueError(
                            f"sentence {i}: flair kept {len(flair_sentence)} of its {len(sentences[i])} tokens"
                        )
                self.forward_lm.embed(batch)
                self.backward_lm.embed(batch)
                for i, flair_sentence in zip(indices, batch):
                    # shape: (n_tokens, dim); asked one name at a time because flair's
                    # get_embedding(names) concatenates in sorted name order (backward first)
                    vectors = torch.stack(
                        [
                            torch.cat([token.get_embedding(["forward"]), token.get_embedding(["backward"])])
                            for token in flair_sentence.tokens
                        ]
                    )
                    result[i] = vectors.float().cpu().numpy()
        return result


class _EpochProgress(logging.Filter):
    """Turns flair's trainer log into one progress bar over epochs (and keeps the rest quiet).

    The trainer logs a line per batch group, a generated text sample per epoch and an
    "end of split" summary at INFO level; the summary advances the bar and shows the
    validation perplexity, the INFO lines are dropped, warnings and errors pass.
    """

    def __init__(self, bar) -> None:
        super().__init__()
        self.bar = bar
        self.valid_losses: list[float] = []

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage() if isinstance(record.msg, str) else ""
        if message.startswith("| end of split"):
            loss = float(message.split("valid loss")[1].split("|")[0])
            self.valid_losses.append(loss)
            if self.bar is not None:
                self.bar.update(1)
                self.bar.set_postfix(valid_ppl=f"{math.exp(loss):.2f}")
        return record.levelno >= logging.WARNING


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def character_dictionary(texts: list[str]):
    """A flair character Dictionary holding every character of ``texts``, most frequent first.

    Also holds the newline (flair's document delimiter) and the space (its padding), and
    an unknown entry for characters met later.
    """
    from flair.data import Dictionary

    counts = Counter(character for text in texts for character in text)
    counts.update({"\n": 0, " ": 0})
    dictionary = Dictionary(add_unk=True)
    for character, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        dictionary.add_item(character)
    return dictionary


def write_lm_corpus(texts: list[str], folder: Path, *, seed: int = 0, held_out: float = 0.05,
                    min_held_out_chars: int = 2000) -> dict[str, int]:
    """Write ``texts`` as the corpus folder flair's TextCorpus reads: train/train.txt, valid.txt, test.txt.

    One text per line (inner newlines become spaces, since the newline separates documents);
    a seeded shuffle decides which lines are held out for validation and test: ``held_out``
    of the lines each, at least ``min_held_out_chars`` characters each. Returns line counts.
    """
    lines = [" ".join(text.split("\n")).strip() for text in texts]
    lines = [line for line in lines if line]
    if not lines:
        raise ValueError("train_flair_lm needs some non-empty text, got none")
    random.Random(seed).shuffle(lines)

    def take(start: int) -> int:
        end, size = start, 0
        while end < len(lines) and (end - start < held_out * len(lines) or size < min_held_out_chars):
            size += len(lines[end]) + 1
            end += 1
        return end

    valid_end = take(0)
    test_end = take(valid_end)
    if test_end >= len(lines):
        raise ValueError(
            f"train_flair_lm needs more text: {sum(map(len, lines))} characters in {len(lines)} lines leave nothing "
            f"to train on after holding out {min_held_out_chars} characters each for validation and test"
        )
    (folder / "train").mkdir(parents=True, exist_ok=True)
    (folder / "valid.txt").write_text("\n".join(lines[:valid_end]) + "\n", encoding="utf-8")
    (folder / "test.txt").write_text("\n".join(lines[valid_end:test_end]) + "\n", encoding="utf-8")
    (folder / "train" / "train.txt").write_text("\n".join(lines[test_end:]) + "\n", encoding="utf-8")
    return {"valid": valid_end, "test": test_end - valid_end, "train": len(lines) - test_end}


def train_flair_lm(
    texts: list[str],
    out_dir: Path,
    *,
    is_forward: bool,
    hidden_size: int = 128,
    nlayers: int = 1,
    sequence_length: int = 100,
    mini_batch_size: int = 32,
    max_epochs: int = 10,
    learning_rate: float = 20.0,
    seed: int = 0,
    progress: bool = True,
    threads: int | None = 1,
) -> Path:
    """Train a character LM on ``texts`` with flair's LanguageModelTrainer; return ``out_dir/best-lm.pt``.

    The character dictionary comes from the texts. The trainer validates after every
    epoch (the training text is one file, i.e. one split per epoch) and keeps the model
    with the best validation loss. Seeded: the same texts and seed give the same LM on the
    same machine. ``threads`` sets torch's CPU threads while training (None: leave as is);
    one is the default because a small LSTM's per-character matrix products are too small
    to gain from intra-op threads, which then only wait on each other (measured: 0.05 s vs
    0.3-0.5 s per batch on 2 busy cores). Writes ``training.json`` (seconds, epochs, losses, sizes) beside the model;
    the corpus folder and flair's per-epoch checkpoints are removed afterwards.
    """
    import flair

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    direction = "forward" if is_forward else "backward"
    corpus_dir = out_dir / "corpus"
    if corpus_dir.exists():
        shutil.rmtree(corpus_dir)
    held_out_chars = 2 * mini_batch_size * sequence_length  # validation needs >= 2 rows of a batch
    line_counts = write_lm_corpus(texts, corpus_dir, seed=seed, min_held_out_chars=held_out_chars)
    for stale in ("best-lm.pt", "loss.txt", "training.log"):
        (out_dir / stale).unlink(missing_ok=True)

    start = time.perf_counter()
    dictionary, valid_losses = _run_lm_trainer(texts, corpus_dir, out_dir, is_forward=is_forward, hidden_size=hidden_size,
                                               nlayers=nlayers, sequence_length=sequence_length,
                                               mini_batch_size=mini_batch_size, max_epochs=max_epochs,
                                               learning_rate=learning_rate, seed=seed, progress=progress, threads=threads)
    seconds = time.perf_counter() - start

    best = out_dir / "best-lm.pt"
    if not best.is_file():
        raise RuntimeError(f"flair's LanguageModelTrainer wrote no {best}; see {out_dir / 'loss.txt'}")
    for checkpoint in out_dir.glob("epoch_*.pt"):
        checkpoint.unlink()
    shutil.rmtree(corpus_dir)
    record = {
        "direction": direction,
        "seconds": seconds,
        "epochs": len(valid_losses),
        "valid_losses": valid_losses,
        "best_valid_loss": min(valid_losses) if valid_losses else None,
        "characters": sum(len(text) for text in texts),
        "lines": line_counts,
        "dictionary_size": len(dictionary),
        "hyperparameters": {
            "hidden_size": hidden_size,
            "nlayers": nlayers,
            "sequence_length": sequence_length,
            "mini_batch_size": mini_batch_size,
            "max_epochs": max_epochs,
            "learning_rate": learning_rate,
            "seed": seed,
            "threads": threads,
        },
        "device": str(flair.device),
    }
    (out_dir / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    if progress:
        best_ppl = math.exp(record["best_valid_loss"]) if record["best_valid_loss"] is not None else float("nan")
        print(f"trained the {direction} character LM in {seconds:.1f} s ({record['epochs']} epochs, "
              f"best validation perplexity {best_ppl:.2f}): {best}")
    return best


def _run_lm_trainer(texts: list[str], corpus_dir: Path, out_dir: Path, *, is_forward: bool, hidden_size: int,
                    nlayers: int, sequence_length: int, mini_batch_size: int, max_epochs: int, learning_rate: float,
                    seed: int, progress: bool, threads: int | None):
    """Seed, build the character dictionary and the LM, and run flair's LanguageModelTrainer into ``out_dir``.

    Returns the dictionary and the validation loss of every epoch. Torch's thread count is restored afterwards.
    """
    from flair.models import LanguageModel
    from flair.trainers.language_model_trainer import LanguageModelTrainer, TextCorpus

    flair_log = logging.getLogger("flair")
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=max_epochs, desc=f"flair {'forward' if is_forward else 'backward'} LM", unit="epoch")
    epoch_progress = _EpochProgress(bar)
    flair_log.addFilter(epoch_progress)
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        _seed_everything(seed)
        dictionary = character_dictionary(texts)
        corpus = TextCorpus(corpus_dir, dictionary, forward=is_forward, character_level=True)
        model = LanguageModel(dictionary, is_forward_lm=is_forward, hidden_size=hidden_size, nlayers=nlayers)
        trainer = LanguageModelTrainer(model, corpus)
        with warnings.catch_warnings():
            # flair 0.15 builds torch.cuda.amp.GradScaler, deprecated in torch; nothing to act on.
            warnings.filterwarnings("ignore", category=FutureWarning, module="flair")
            warnings.filterwarnings("ignore", message=".*GradScaler.*")
            trainer.train(
                out_dir,
                sequence_length=sequence_length,
                learning_rate=learning_rate,
                mini_batch_size=mini_batch_size,
                max_epochs=max_epochs,
                num_workers=0,  # worker processes would only add start-up time and nondeterminism
            )
    finally:
        torch.set_num_threads(previous_threads)
        flair_log.removeFilter(epoch_progress)
        if bar is not None:
            bar.close()
    return dictionary, epoch_progress.valid_losses
