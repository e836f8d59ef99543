"""Label maps: which source label becomes which study label, and which are ignored.

A label map file is either

* YAML (``.yaml`` / ``.yml``): a mapping ``source: target``, or
* a two-column text file (any other name, e.g. ``.tsv``): ``source<TAB>target`` per
  line (columns may also be separated by spaces, as brat labels hold none);
  blank lines and lines starting with ``#`` are skipped.

A target that is empty, ``-`` or (YAML) ``null`` means *ignore this label*. A
source label that the map does not list is ignored too: a map is the whole
list of labels to keep. Every ignored entity is counted per source label
(``Corpus.ignored``), never dropped silently.

Example (the built-in PHEE map, :data:`PHEE_LABEL_MAP`)::

    Drug            Drug
    Dosage          Dosage
    Freq            Frequency
    Treat-Disorder  Reason
    Effect          ADE
    Treatment       -
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from medner.corpus.document import Document, Entity

IGNORE_TARGETS = {"", "-"}

#: PHEE entity types mapped to n2c2-2018 labels; every other PHEE type is ignored and counted.
PHEE_LABEL_MAP: dict[str, str] = {
    "Drug": "Drug",
    "Dosage": "Dosage",
    "Route": "Route",
    "Freq": "Frequency",
    "Duration": "Duration",
    "Treat-Disorder": "Reason",
    "Effect": "ADE",
}


def read_label_map(path: str | Path) -> dict[str, str | None]:
    """Read a label map file (see the module docstring); ``None`` targets mean *ignore*."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: expected a label map file (YAML 'source: target' or two columns 'source<TAB>target'), found nothing there")
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in {".yaml", ".yml"}:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: expected YAML 'source: target' lines, found invalid YAML ({' '.join(str(exc).split())})") from exc
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}:1: expected a YAML mapping 'source: target', found a {type(data).__name__}")
        mapping: dict[str, str | None] = {}
        for source, target in data.items():
            if target is not None and not isinstance(target, str):
                raise ValueError(f"{path}: expected a label or '-' as the target of {source!r}, found {target!r}")
            mapping[str(source)] = None if target is None or target.strip() in IGNORE_TARGETS else target.strip()
        return mapping
    mapping = {}
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        columns = line.split("\t") if "\t" in line else line.split()
        columns = [c.strip() for c in columns]
        if len(columns) > 2 or not columns[0]:
            raise ValueError(f"{path}:{line_number}: expected 'source<TAB>target' (target empty or '-' to ignore), found {line!r}")
        if columns[0] in mapping:
            raise ValueError(f"{path}:{line_number}: expected each source label once, found {columns[0]!r} again")
        target = columns[1] if len(columns) == 2 else ""
        mapping[columns[0]] = None if target in IGNORE_TARGETS else target
    return mapping


def as_label_map(label_map: str | Path | Mapping[str, str | None] | None) -> dict[str, str | None] | None:
    """A label map from a file path, a mapping (``None``/``""``/``"-"`` targets ignore) or None."""
    if label_map is None:
        return None
    if isinstance(label_map, Mapping):
        return {str(k): (None if v is None or str(v).strip() in IGNORE_TARGETS else str(v).strip()) for k, v in label_map.items()}
    return read_label_map(label_map)


def apply_label_map(docs: Iterable[Document], label_map: Mapping[str, str | None], ignored: Counter) -> list[Document]:
    """Documents with mapped labels; every entity whose label maps to nothing (or is unlisted) is counted in ``ignored``."""
    out = []
    for doc in docs:
        entities = []
        for entity in doc.entities:
            target = label_map.get(entity.label)
            if target is None:
                ignored[entity.label] += 1
                continue
            entities.append(Entity(id=entity.id, label=target, fragments=entity.fragments, text=entity.text))
        out.append(Document(id=doc.id, text=doc.text, entities=entities, source=doc.source))
    return out
