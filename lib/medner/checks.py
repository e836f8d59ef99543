"""Checks of the notebooks' parameters (and the command line's): one clear sentence naming what was
expected and what was given, raised before any work starts."""

from __future__ import annotations

import ast
import difflib
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from medner import CORPUS_NAMES, paths
from medner.corpus.textfile import excerpt

#: The comment papermill opens the cell it injects with (papermill.translators.Translator.codify).
PAPERMILL_CELL_HEADER = "# Parameters"
#: Parameter types by name, for annotations recorded as strings.
_TYPES: dict[object, type] = {"str": str, "int": int, "float": float, "bool": bool}

#: Progress modes the notebooks accept: ``auto`` picks ``bar`` or ``lines``.
PROGRESS_MODES: tuple[str, ...] = ("auto", "bar", "lines", "none")


def check_parameters(namespace: Mapping[str, object]) -> None:
    """Refuse a parameter the notebook does not declare, or a declared one of the wrong type; the validation cell's first call.

    ``namespace`` is the notebook's ``globals()``. The declared parameters are the annotated assignments
    of its ``parameters`` cell (``seed: int = 1  # ...``), which Python records in ``__annotations__``;
    the names papermill set are the assignments of the cell it injects after that one, found in the
    kernel's input history ``In`` by the comment papermill opens it with. papermill itself only warns
    about a name the notebook does not declare, so a typo (``-p max_epoch 0``) would run with the default.
    """
    declared = {name: _TYPES.get(kind, kind) for name, kind in dict(namespace.get("__annotations__", {})).items()}
    unknown = [name for name in injected_parameter_names(namespace.get("In", ())) if name not in declared]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(declared), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ValueError(f"{unknown[0]}: not a parameter of this notebook{hint}; expected one of {', '.join(declared)}")
    for name, kind in declared.items():
        check_type(name, namespace[name], kind)


def injected_parameter_names(history: Sequence[str]) -> list[str]:
    """The names assigned by the last cell of ``history`` that papermill injected (none when it injected none)."""
    injected = [source for source in history if source.startswith(PAPERMILL_CELL_HEADER + "\n")]
    if not injected:
        return []
    return [target.id for statement in ast.parse(injected[-1]).body if isinstance(statement, ast.Assign)
            for target in statement.targets if isinstance(target, ast.Name)]


def check_type(name: str, value: object, kind: type) -> None:
    """Raise ValueError unless ``value`` is a ``kind``: an int passes for a float, a bool never passes for a number."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = {bool: isinstance(value, bool), int: number and isinstance(value, int), float: number}.get(kind)
    if not (isinstance(value, kind) if ok is None else ok):
        words = {bool: "True or False", int: "an integer", float: "a number", str: "a string"}.get(kind, kind.__name__)
        given = excerpt(value) if isinstance(value, str) else repr(value)
        type_name = type(value).__name__
        raise ValueError(f"{name}: expected {words}; given {given} ({'an' if type_name[0] in 'aeiou' else 'a'} {type_name})")


def check_choice(name: str, value: object, allowed: Iterable[object]) -> None:
    """Raise ValueError unless ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, allowed))}; given {value!r}")


def check_positive_int(name: str, value: object, *, allow_zero: bool = False) -> int:
    """Return ``value`` when it is an int > 0 (>= 0 with ``allow_zero``), else raise ValueError."""
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}; given {value!r}")
    return value


def check_fraction(name: str, value: object) -> float:
    """Return ``value`` as a float when 0 < value <= 1, else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) <= 1.0:
        raise ValueError(f"{name}: expected a number in (0, 1]; given {value!r}")
    return float(value)


def check_existing(name: str, path: str | os.PathLike[str], *, kind: str = "file") -> Path:
    """Return ``path`` when it exists as a ``kind`` ("file" or "folder"), else raise FileNotFoundError."""
    resolved = Path(path).expanduser()
    ok = resolved.is_file() if kind == "file" else resolved.is_dir()
    if not ok:
        raise FileNotFoundError(f"{name}: expected an existing {kind}; given {str(path)!r} (looked at {resolved.resolve()})")
    return resolved


def folder_or_default(value: str | os.PathLike[str] | None, default: Path) -> Path:
    """A path parameter: empty means the project default from :mod:`medner.paths`."""
    return Path(value).expanduser() if value not in (None, "") else default


def known_embeddings() -> list[str]:
    """Names of the committed embedding specs (``embeddings/*.yaml``)."""
    return sorted(p.stem for p in paths.embedding_specs_dir().glob("*.yaml"))


def check_embedding(name: str) -> str:
    """Return ``name`` when it names a committed spec or an existing spec file, else raise ValueError."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"embedding: expected a spec name or a .yaml path; given {name!r}")
    if name in known_embeddings() or (name.endswith((".yaml", ".yml")) and Path(name).is_file()):
        return name
    raise ValueError(
        f"embedding: expected one of {', '.join(known_embeddings()) or '(no specs found)'} "
        f"(the specs in {paths.embedding_specs_dir()}) or a path to a spec .yaml file; given {name!r}"
    )


def check_corpus(corpus: str, corpus_path: str, label_map: str) -> tuple[Path | None, Path | None]:
    """Check a corpus choice; return (corpus folder or None, label map file or None).

    ``demo`` needs no folder; ``phee`` defaults to the copy beside the checkout; ``n2c2-2018``
    and any other name need ``corpus_path``.
    """
    if not isinstance(corpus, str) or not corpus:
        raise ValueError(f"corpus: expected a name such as {', '.join(CORPUS_NAMES)}; given {corpus!r}")
    folder: Path | None = None
    if corpus_path:
        folder = check_existing("corpus_path", corpus_path, kind="folder")
    elif corpus == "phee":
        folder = check_existing("corpus_path (default PHEE location)", paths.default_phee_path(), kind="folder")
    elif corpus not in CORPUS_NAMES:
        raise ValueError(f"corpus: expected one of {', '.join(CORPUS_NAMES)}, or another name together with corpus_path "
                         f"(the folder of its brat files); given {excerpt(corpus)} and no corpus_path")
    elif corpus != "demo":
        raise ValueError(
            f"corpus_path: corpus {corpus!r} is read from disk, so expected the folder holding its brat files; given ''"
        )
    mapping = check_existing("label_map", label_map, kind="file") if label_map else None
    return folder, mapping


def progress_mode(requested: str = "auto") -> str:
    """The progress mode to use: ``bar`` (a live tqdm bar), ``lines`` (one line per step) or ``none``.

    ``auto`` is ``bar`` in a Jupyter kernel or a terminal and ``lines`` otherwise, as the
    training loop decides it (:func:`medner.training.resolve_progress`); batch runs
    (papermill, make) pass ``lines`` so logs get one line per step instead of
    carriage-return updates.
    """
    check_choice("progress", requested, PROGRESS_MODES)
    from medner.training import resolve_progress

    return resolve_progress(requested)
