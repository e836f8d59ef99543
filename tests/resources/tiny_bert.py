"""A tiny random BERT saved as a Hugging Face model folder: what the transformer tests load instead of a real model."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch


def tiny_bert_folder(folder: Path, words: Iterable[str], *, seed: int = 0, max_positions: int = 64,
                     layers: int = 4, hidden: int = 32) -> Path:
    """A random BERT (``layers`` layers of ``hidden`` units, 4 heads) with a WordPiece vocabulary of ``words``
    (lowercased), ``asp ##ir ##in`` and single characters, saved with its fast tokenizer in ``folder``."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    characters = list("abcdefghijklmnopqrstuvwxyz0123456789.,")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, "asp", "##ir", "##in", *characters,
             *[f"##{c}" for c in characters]]
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    tokenizer.save_pretrained(folder)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
                        intermediate_size=2 * hidden, max_position_embeddings=max_positions)
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(folder)
    return folder
