"""Label maps: which source label becomes which study label, and which are ignored.

A label map file is either

* YAML (``.yaml`` / ``.yml``): a mapping ``source: target``, or
* a two-column text file (any other name, e.g. ``.tsv``): ``source<TAB>target`` per
  line (columns may also be separated by spaces, as brat labels hold none);
  blank lines and lines starting with ``#`` are skipped.

A target that is empty, ``-`` or (YAML) ``null`` means *ignore this label*. A
source label that the map does not list is ignored too: a map is the whole
list of labels to keep. Every ignored entity is counted per source label
(``Corpus.ignored``), never dropped silently, and :func:`~medner.corpus.registry.load_corpus`
refuses a map that keeps none of the corpus's labels and warns about a kept label that never
occurs (a typo such as ``Frq`` for ``Freq``).

Relations follow their arguments: a relation one of whose entities the map ignores is
dropped and counted per relation type with the reason ``argument_ignored``
(``Corpus.ignored_relations``). A map may also list relation types (``Strength-Drug
Strength-Drug``, ``has -``): a listed type is renamed or, with an empty target, ignored
(reason ``type_ignored``). A relation type the map does not list is kept as it is, unlike
an entity label, so that a map written for the entity labels keeps the corpus's relations.

Labels are as brat writes them: no whitespace, no control character. A file that is not
UTF-8, a malformed line, a source listed twice or a map without any entry raises
:class:`LabelMapError` with one line ``file:line: expected ..., found ...``.

Example (the built-in PHEE map, :data:`PHEE_LABEL_MAP`)::

    Drug            Drug
    Dosage          Dosage
    Freq            Frequency
    Treat-Disorder  Reason
    Effect          ADE
    Treatment       -
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from medner.corpus.document import Document, Entity, Relation
from medner.corpus.textfile import excerpt, read_utf8, split_lines

IGNORE_TARGETS = {"", "-"}
_LABEL = re.compile(r"[^\s\x00-\x1f\x7f-\x9f]+")  # as brat labels: no whitespace, no control character
#: Longest line a label map may hold: labels are short, and PyYAML's parser would take seconds on a 5 MB line.
MAX_LINE = 1000

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


class LabelMapError(ValueError):
    """A label map file that does not say ``source -> target`` (message: ``file:line: expected ..., found ...``)."""


def read_label_map(path: str | Path) -> dict[str, str | None]:
    """Read a label map file (see the module docstring); ``None`` targets mean *ignore*.

    Raises :class:`LabelMapError` naming the file and line for a file that is not UTF-8, a line that is not
    ``source target`` or longer than :data:`MAX_LINE` characters, a label holding whitespace or control characters, a source listed twice, or a map
    with no entry at all.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: expected a label map file (YAML 'source: target' or two columns 'source<TAB>target'), found nothing there")
    text = read_utf8(path, LabelMapError).removeprefix("\ufeff")
    for line_number, line in enumerate(split_lines(text), start=1):
        if len(line) > MAX_LINE:
            raise LabelMapError(f"{path}:{line_number}: expected a line of at most {MAX_LINE} characters, "
                                f"found {excerpt(line)}")
    entries = _yaml_entries(path, text) if path.suffix.lower() in {".yaml", ".yml"} else _column_entries(path, text)
    mapping: dict[str, str | None] = {}
    first_line: dict[str, int] = {}
    for line_number, source, target in entries:
        for label in (source, target):
            if label is not None and not _LABEL.fullmatch(label):
                raise LabelMapError(f"{path}:{line_number}: expected a label without whitespace or control characters, "
                                    f"found {excerpt(label)}")
        if source in mapping:
            raise LabelMapError(f"{path}:{line_number}: expected each source label once, found {excerpt(source)} again "
                                f"(first on line {first_line[source]})")
        mapping[source], first_line[source] = target, line_number
    if not mapping:
        raise LabelMapError(f"{path}:1: expected at least one 'source target' entry, found none (every label would be ignored)")
    return mapping


def _target(value: str | None) -> str | None:
    """A target as written, or None when it means *ignore* (empty, ``-``, YAML null)."""
    return None if value is None or value.strip() in IGNORE_TARGETS else value.strip()


def _column_entries(path: Path, text: str) -> list[tuple[int, str, str | None]]:
    """(line, source, target) of each line ``source<TAB>target`` (or separated by spaces) of a column file."""
    entries = []
    for line_number, line in enumerate(split_lines(text), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        columns = [c.strip() for c in (line.split("\t") if "\t" in line else line.split())]
        if len(columns) > 2 or not columns[0]:
            raise LabelMapError(f"{path}:{line_number}: expected 'source<TAB>target' (target empty or '-' to ignore), found {excerpt(line)}")
        entries.append((line_number, columns[0], _target(columns[1] if len(columns) == 2 else "")))
    return entries


def _yaml_entries(path: Path, text: str) -> list[tuple[int, str, str | None]]:
    """(line, source, target) of each ``source: target`` of a YAML mapping; keys are taken as written."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise LabelMapError(f"{path}:{mark.line + 1 if mark else 1}: expected YAML 'source: target' lines, "
                            f"found invalid YAML ({excerpt(' '.join(str(problem).split()))})") from exc
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        raise LabelMapError(f"{path}:{root.start_mark.line + 1}: expected a YAML mapping 'source: target', found a {root.id}")
    entries = []
    for key, value in root.value:
        line_number = key.start_mark.line + 1
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            raise LabelMapError(f"{path}:{line_number}: expected a source label as the key, found a YAML {key.id}")
        if isinstance(value, yaml.ScalarNode) and value.tag == "tag:yaml.org,2002:null":
            entries.append((line_number, key.value, None))
        elif isinstance(value, yaml.ScalarNode) and value.tag == "tag:yaml.org,2002:str":
            entries.append((line_number, key.value, _target(value.value)))
        else:
            found = excerpt(value.value) if isinstance(value, yaml.ScalarNode) else f"a YAML {value.id}"
            raise LabelMapError(f"{path}:{value.start_mark.line + 1}: expected a label or '-' as the target of "
                                f"{excerpt(key.value)}, found {found}")
    return entries


def as_label_map(label_map: str | Path | Mapping[str, str | None] | None) -> dict[str, str | None] | None:
    """A label map from a file path, a mapping (``None``/``""``/``"-"`` targets ignore) or None."""
    if label_map is None:
        return None
    if isinstance(label_map, Mapping):
        return {str(k): (None if v is None or str(v).strip() in IGNORE_TARGETS else str(v).strip()) for k, v in label_map.items()}
    return read_label_map(label_map)


#: Why the label map dropped a relation, as counted in ``ignored_relations``.
RELATION_IGNORE_REASONS: tuple[str, ...] = ("argument_ignored", "type_ignored")


def apply_label_map(docs: Iterable[Document], label_map: Mapping[str, str | None], ignored: Counter,
                    ignored_relations: Counter | None = None) -> list[Document]:
    """Documents with mapped labels; every entity whose label maps to nothing (or is unlisted) is counted in ``ignored``.

    Relations follow the module docstring; each one dropped is counted in ``ignored_relations`` under
    ``(relation type, reason)`` (a reason of :data:`RELATION_IGNORE_REASONS`).
    """
    ignored_relations = ignored_relations if ignored_relations is not None else Counter()
    out = []
    for doc in docs:
        entities = []
        for entity in doc.entities:
            target = label_map.get(entity.label)
            if target is None:
                ignored[entity.label] += 1
                continue
            entities.append(Entity(id=entity.id, label=target, fragments=entity.fragments, text=entity.text))
        kept_ids = {entity.id for entity in entities}
        relations = []
        for relation in doc.relations:
            relation_type = label_map.get(relation.type, relation.type)
            if relation_type is None:
                ignored_relations[(relation.type, "type_ignored")] += 1
            elif relation.arg1 not in kept_ids or relation.arg2 not in kept_ids:
                ignored_relations[(relation.type, "argument_ignored")] += 1
            else:
                relations.append(Relation(id=relation.id, type=relation_type, arg1=relation.arg1, arg2=relation.arg2))
        out.append(Document(id=doc.id, text=doc.text, entities=entities, source=doc.source, relations=relations))
    return out
