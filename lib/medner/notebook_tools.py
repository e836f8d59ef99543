"""What the study notebooks call besides the layers themselves.

Parameter checks (one clear sentence naming what was expected and what was given),
the progress mode of a notebook (a live bar in JupyterLab, one line per step in
batch), preparing one embedding for one corpus (the ``01-embeddings`` step),
and small display helpers that render a table or a figure in JupyterLab and
print plain text anywhere else.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from medner import paths

#: Progress modes the notebooks accept: ``auto`` picks ``bar`` or ``lines``.
PROGRESS_MODES: tuple[str, ...] = ("auto", "bar", "lines", "none")
SPLITS: tuple[str, ...] = ("train", "dev", "test")


# --------------------------------------------------------------------------- checks


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
    from medner.corpus.registry import CORPUS_NAMES

    if not isinstance(corpus, str) or not corpus:
        raise ValueError(f"corpus: expected a name such as {', '.join(CORPUS_NAMES)}; given {corpus!r}")
    folder: Path | None = None
    if corpus_path:
        folder = check_existing("corpus_path", corpus_path, kind="folder")
    elif corpus == "phee":
        folder = check_existing("corpus_path (default PHEE location)", paths.default_phee_path(), kind="folder")
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


# --------------------------------------------------------------------------- files


def write_text_atomic(text: str, path: str | os.PathLike[str]) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it there.

    A reader (or make, or another process) never sees half a file: the target appears only when complete.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)
    return target


def write_json_atomic(payload: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``payload`` as indented JSON to ``path`` atomically (see :func:`write_text_atomic`)."""
    return write_text_atomic(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n", path)


def read_json(path: str | os.PathLike[str]) -> Any:
    """The JSON document at ``path``; a broken file is a ValueError naming it and the line."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: line {error.lineno}: expected JSON ({error.msg})") from None


def write_file_list(files: Iterable[str | os.PathLike[str]], path: str | os.PathLike[str]) -> Path:
    """Write the paths in ``files``, one per line, atomically: the list make checks for deleted outputs."""
    return write_text_atomic("".join(f"{Path(f).resolve()}\n" for f in files), path)


def study_outputs(outputs: Any) -> list[Path]:
    """Every file a :class:`medner.comparison.StudyOutputs` names: figures (PDF and PNG) and tables."""
    files = [Path(p) for paths_of_figure in outputs.figures.values() for p in paths_of_figure]
    return files + [Path(p) for p in outputs.tables.values()]


def score_rows(scores: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of a ``score_documents`` dict: micro, macro, then every label; P/R/F1 strict and lenient."""
    schemas = [s for s in ("strict", "lenient") if s in scores]
    names = ["micro", "macro"] + list(scores[schemas[0]]["labels"]) if schemas else []
    rows = []
    for name in names:
        row: dict[str, Any] = {"": name}
        for schema in schemas:
            block = scores[schema]["labels"].get(name) if name not in ("micro", "macro") else scores[schema].get(name)
            for metric in ("precision", "recall", "f1"):
                row[f"{schema} {metric[0].upper() if metric != 'f1' else 'F1'}"] = (block or {}).get(metric)
        if name not in ("micro", "macro"):
            row["support"] = scores[schemas[0]]["labels"][name].get("support")
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- 01-embeddings


def prepare_embedding(
    corpus: Any,
    embedding: str,
    *,
    cache_root: str | os.PathLike[str] | None = None,
    workdir: str | os.PathLike[str] | None = None,
    progress: str = "auto",
) -> dict[str, Any]:
    """Build one embedding for one corpus (training in-domain vectors if its spec asks) and fill the cache.

    Every split is embedded once through :func:`medner.embeddings.cache.embed_corpus`, so the
    runs that follow only read the cache. Returns that function's report (per split:
    sentences, tokens, cache hit, seconds, MB, OOV report for static vectors; cache totals)
    plus ``embedding`` (the name asked for), ``build_seconds`` (building the embedder,
    in-domain training included) and ``training`` (the in-domain training record, or None). In ``lines`` mode each step prints one line.
    """
    from medner.embeddings.cache import EmbeddingCache, embed_corpus
    from medner.embeddings.specs import build_embedder, load_spec

    mode = progress_mode(progress)
    show_bars = mode == "bar"
    started = time.perf_counter()
    embedder = build_embedder(load_spec(embedding), corpus, workdir=Path(workdir) if workdir else None, progress=show_bars)
    build_seconds = time.perf_counter() - started
    if mode == "lines":
        print(f"{embedding}: embedder ready in {build_seconds:.1f} s ({embedder.dim} dimensions)", flush=True)
    cache = EmbeddingCache(Path(cache_root) if cache_root else None)
    report = embed_corpus(embedder, corpus, SPLITS, cache=cache, progress=show_bars)
    report["embedding"] = embedding
    report["build_seconds"] = build_seconds
    report["training"] = getattr(embedder, "training_record", None)
    if mode == "lines":
        for row in embedding_split_rows(report):
            oov = f", OOV {row['oov_rate']:.1%}" if row["oov_rate"] is not None else ""
            print(f"{embedding} {row['split']}: {row['tokens']} tokens, cache {'hit' if row['cache_hit'] else 'miss'}, "
                  f"{row['seconds']:.1f} s, {row['mb']:.1f} MB{oov}", flush=True)
    return report


def embedding_split_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One flat row per split of a :func:`prepare_embedding` report: sizes, OOV rate, cache hit, seconds, MB."""
    rows = []
    for split, entry in report["splits"].items():
        oov = entry.get("oov")
        rows.append({
            "split": split,
            "sentences": entry["sentences"],
            "tokens": entry["tokens"],
            "oov_rate": oov["oov_rate"] if oov else None,
            "cache_hit": entry["hit"],
            "seconds": entry["seconds"],
            "mb": entry["mb"],
        })
    return rows


def tagging_drop_rows(stats: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per split and label: gold entities, kept, and dropped per reason, from :func:`corpus_statistics` output.

    Every gold entity is in exactly one of the columns kept / dropped, so a row's drops
    plus kept equal its gold count. Labels with no gold entity in a split are left out.
    """
    rows = []
    for split, entry in stats["splits"].items():
        for label, counts in entry["tagging"]["per_label"].items():
            if not counts.get("gold"):
                continue
            row = {"split": split, "label": label, "gold": counts["gold"], "kept": counts["kept"]}
            drops = {key: value for key, value in counts.items() if key.startswith("dropped_")}
            if any(key.startswith("dropped_boundary_") for key in drops):
                drops.pop("dropped_boundary", None)  # the sum of its sub-reasons, which are shown
            row.update(drops)
            rows.append(row)
    return rows


# --------------------------------------------------------------------------- display


def _in_notebook() -> bool:
    return "ipykernel" in sys.modules


def show_table(rows: Sequence[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]], *, title: str = "",
               digits: int = 3, max_rows: int = 100) -> None:
    """Show a table: a list of row dicts, or a dict of rows keyed by their first column.

    HTML in a notebook, aligned plain text elsewhere; floats rounded to ``digits``; at most
    ``max_rows`` rows, with a last line saying how many were left out.
    """
    if isinstance(rows, Mapping):
        rows = [{"": key, **dict(value)} for key, value in rows.items()]
    rows = list(rows)
    left_out = max(0, len(rows) - max_rows)
    rows = rows[:max_rows]
    if left_out:
        title = f"{title} (first {max_rows} rows; {left_out} more not shown)".strip()
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.{digits}f}"
        return "" if value is None else str(value)

    widths = {c: max([len(c)] + [len(cell(r.get(c))) for r in rows]) for c in columns}
    lines = [title] if title else []
    lines.append("  ".join(c.ljust(widths[c]) for c in columns).rstrip())
    lines.extend("  ".join(cell(r.get(c)).ljust(widths[c]) for c in columns).rstrip() for r in rows)
    text = "\n".join(lines)
    if _in_notebook():
        import html

        from IPython.display import display

        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(cell(r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows)
        caption = f"<caption>{html.escape(title)}</caption>" if title else ""
        # Both forms: JupyterLab shows the HTML, batch logs (papermill --log-output) the text.
        display({"text/html": f"<table>{caption}<tr>{head}</tr>{body}</table>", "text/plain": text}, raw=True)
    else:
        print(text)


def show_html(markup: str, *, summary: str = "") -> None:
    """Render HTML in a notebook (batch logs get ``summary`` or its size); print the summary elsewhere."""
    text = summary or f"(HTML, {len(markup)} characters)"
    if _in_notebook():
        from IPython.display import display

        display({"text/html": markup, "text/plain": text}, raw=True)
    else:
        print(text)


def show_markdown_file(path: str | os.PathLike[str]) -> None:
    """Render a Markdown file (a table) in a notebook; print it anywhere else."""
    text = Path(path).read_text(encoding="utf-8")
    if _in_notebook():
        from IPython.display import display

        display({"text/markdown": text, "text/plain": text}, raw=True)
    else:
        print(text)


def show_figures(files: Iterable[str | os.PathLike[str]]) -> None:
    """Show the PNG files among ``files`` inline in a notebook; list every file's path anywhere."""
    for path in map(Path, files):
        print(path)
        if _in_notebook() and path.suffix == ".png":
            from IPython.display import Image, display

            display(Image(filename=str(path)))
