"""Every default location the study reads or writes, in one place.

Notebooks and the Makefile pass explicit paths; these are only the defaults.
Set ``MEDNER_ROOT`` to move all of them at once (tests do, to write into a
temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root (the folder holding ``lib/``), unless MEDNER_ROOT says otherwise.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def root() -> Path:
    """The folder under which results/, figures/ and embeddings/ live."""
    return Path(os.environ.get("MEDNER_ROOT", PROJECT_ROOT))


def results_dir() -> Path:
    """Run folders, executed notebooks, summaries (git-ignored)."""
    return root() / "results"


def figures_dir() -> Path:
    """Paper figures and tables (git-ignored)."""
    return root() / "figures"


def embeddings_dir() -> Path:
    """Embedding specs (*.yaml, committed) and trained artefacts and caches (git-ignored)."""
    return root() / "embeddings"


def embedding_specs_dir() -> Path:
    """The committed embedding specs; always those of the checkout, not of MEDNER_ROOT."""
    return PROJECT_ROOT / "embeddings"


def cache_dir() -> Path:
    """The on-disk token vector cache."""
    return embeddings_dir() / "cache"


def default_phee_path() -> Path:
    """Where the PHEE corpus sits beside a checkout of this project (``../shared/data/phee``)."""
    return PROJECT_ROOT.parent / "shared" / "data" / "phee"


def path_part(name: str, what: str) -> str:
    """``name``, checked to be usable as one folder or file name inside a folder the study owns.

    Corpus names, embedding spec names and document ids become parts of paths under results/ (and
    the embeddings folder); one holding ``/`` or ``\\``, or being ``.``, ``..`` or empty, would put a
    file outside its folder, so it is a ValueError naming ``what`` it was and what was given.
    """
    text = str(name)
    if text.strip(".") == "" or any(c in text for c in "/\\\0"):
        raise ValueError(f"{what}: expected a name that can be one folder or file name (not empty, '.' or '..', "
                         f"no '/' or '\\'); given {text!r}")
    return text
