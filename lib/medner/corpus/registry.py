"""Corpora by name: ``demo``, ``n2c2-2018``, ``phee``, or any brat folder given by path.

:func:`load_corpus` returns a :class:`Corpus` whose ``splits`` always hold
``train``, ``dev`` and ``test`` document lists and whose ``split_record`` says
how they were made, so the split can be written next to every result:

* ``{"method": "folders", ...}``: the corpus has ``train/``, ``dev/`` and ``test/`` folders;
* ``{"method": "folders+seeded-dev", "seed", "dev_fraction": 0.1, "dev_ids"}``: ``train/`` and
  ``test/`` folders, dev is a seeded 10% of the train documents (n2c2-2018 has no dev set);
* ``{"method": "seeded", "seed", "fractions": {"train": 0.8, "dev": 0.1, "test": 0.1}, "ids"}``:
  a flat folder of documents split 80/10/10 at the document level.

A seeded split shuffles the sorted document ids with ``random.Random(seed)``, so
a seed gives the same split on every machine.

Corpora
-------
``demo``
    The synthetic corpus of :mod:`medner.corpus.demo`, generated once per
    ``(generator version, size, seed)`` into ``paths.root()/data/demo-v<version>-n<size>-s<seed>/`` (written
    into a temporary sibling folder and renamed into place, so an interrupted or
    concurrent run never leaves half a corpus) and read back through the brat reader.
``n2c2-2018``
    The user's copy of the n2c2-2018 Track 2 corpus: a folder holding ``train/``
    and ``test/`` brat folders. Labels must be the nine n2c2 labels (or be mapped
    by ``label_map``).
``phee``
    PHEE (Sun et al., 2022), mapped to n2c2 labels by
    :data:`medner.corpus.labelmap.PHEE_LABEL_MAP`; every other type is ignored and
    counted in ``Corpus.ignored``. Defaults to :func:`medner.paths.default_phee_path`.
    Its relations come from the event structure in its ``json/`` folder, and the option
    ``phee_effects`` says whether an Effect of therapeutic events only is still an ADE
    (``"ade"``, the default) or is ignored (``"events"``): see :mod:`medner.corpus.phee`.
any folder
    ``load_corpus("path/to/folder")`` or ``load_corpus("brat", path=...)``: split
    by its ``train/``/``dev/``/``test/`` folders when present, else seeded 80/10/10;
    with ``label_map`` (see :mod:`medner.corpus.labelmap`) labels are mapped and
    the unlisted ones ignored and counted.

Relations
---------
Documents carry the relations of their brat ``R`` lines (n2c2-2018's as they are, the
demo's as generated), PHEE's are derived from its events. A relation whose argument the
label map ignores is dropped and counted per type and reason in ``Corpus.ignored_relations``;
``Corpus.relation_record`` says where the relations came from.
"""

from __future__ import annotations

import difflib
import inspect
import random
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from medner import CORPUS_NAMES, N2C2_LABELS, files, paths
from medner.checks import check_positive_int
from medner.corpus.brat import AnnotationCounts, read_brat_folder
from medner.corpus.document import Document
from medner.corpus.folds import DEV_FRACTION as FOLD_DEV_FRACTION
from medner.corpus.folds import assignment_sha256, check_folds, fold_assignment, fold_splits
from medner.corpus.gc_pause import collector_paused
from medner.corpus.labelmap import PHEE_LABEL_MAP, apply_label_map, as_label_map
from medner.corpus.phee import EFFECT_RULES, event_relations

SPLITS: tuple[str, ...] = ("train", "dev", "test")
DEV_FRACTION = 0.1
SEEDED_FRACTIONS = {"train": 0.8, "dev": 0.1, "test": 0.1}

N2C2_PATH_HELP = "n2c2-2018 needs --path to the folder holding train/ and test/ (obtained under the n2c2 data-use agreement)"
PHEE_PATH_HELP = (
    "phee needs --path to the PHEE brat folder holding train/, dev/ and test/ "
    "(public: github.com/ZhaoyueSun/PHEE, folder data/clean)"
)


@dataclass
class Corpus:
    """A corpus ready for the study: documents per split with study labels.

    ``labels``: the labels present, n2c2 order first, any others after in alphabetical order.
    ``ignored``: source label -> number of entities the label map ignored.
    ``split_record``: how the splits were made (see the module docstring).
    ``source``: the folder read. ``annotation_lines``: what the brat reader read and tolerated
    (:meth:`medner.corpus.brat.AnnotationCounts.as_dict`).
    ``ignored_relations``: source relation type -> {reason: number of relations the label map dropped}
    (reasons: :data:`medner.corpus.labelmap.RELATION_IGNORE_REASONS`).
    ``options``: the corpus options that change what is read, as given (``phee_effects`` for PHEE).
    ``relation_record``: where the relations came from and, for PHEE, what the events gave
    (:func:`medner.corpus.phee.event_relations`).
    """

    name: str
    splits: dict[str, list[Document]]
    labels: tuple[str, ...]
    ignored: dict[str, int]
    split_record: dict
    source: str
    annotation_lines: dict = field(default_factory=dict)
    ignored_relations: dict[str, dict[str, int]] = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    relation_record: dict = field(default_factory=dict)

    def documents(self) -> list[Document]:
        """Every document of every split, train then dev then test."""
        return [doc for split in SPLITS for doc in self.splits.get(split, [])]


def _labels_present(splits: Mapping[str, list[Document]]) -> tuple[str, ...]:
    present = {entity.label for docs in splits.values() for doc in docs for entity in doc.entities}
    return tuple(label for label in N2C2_LABELS if label in present) + tuple(sorted(present - set(N2C2_LABELS)))


def _seeded_shuffle(ids: list[str], seed: int) -> list[str]:
    shuffled = sorted(ids)
    random.Random(seed).shuffle(shuffled)
    return shuffled


def _take_dev(train: list[Document], seed: int) -> tuple[list[Document], list[Document], list[str]]:
    """Split ``train`` into (train, dev): a seeded DEV_FRACTION of the documents, at least one when there are two or more."""
    n_dev = round(DEV_FRACTION * len(train))
    if n_dev == 0 and len(train) >= 2:
        n_dev = 1
    dev_ids = set(_seeded_shuffle([doc.id for doc in train], seed)[:n_dev])
    return [d for d in train if d.id not in dev_ids], [d for d in train if d.id in dev_ids], sorted(dev_ids)


def _find_split_folders(folder: Path) -> dict[str, Path]:
    return {split: folder / split for split in SPLITS if (folder / split).is_dir()}


def _read_brat_splits(folder: Path, seed: int, counts: AnnotationCounts, *, require_folders: bool = False) -> tuple[dict, dict]:
    """Documents per split and the split record for a brat corpus folder."""
    found = _find_split_folders(folder)
    if found:
        if "train" not in found or "test" not in found:
            raise FileNotFoundError(
                f"{folder}: expected train/ and test/ folders (dev/ optional), found only {', '.join(f + '/' for f in found)}"
            )
        splits = {split: read_brat_folder(path, counts=counts) for split, path in found.items()}
        record: dict = {"method": "folders", "folders": {split: str(path) for split, path in found.items()}}
        if "dev" not in found:
            splits["train"], splits["dev"], dev_ids = _take_dev(splits["train"], seed)
            record.update(method="folders+seeded-dev", seed=seed, dev_fraction=DEV_FRACTION, dev_ids=dev_ids)
        return {split: splits[split] for split in SPLITS}, record
    if require_folders:
        raise FileNotFoundError(f"{folder}: expected train/ and test/ folders of brat files, found neither")
    docs = read_brat_folder(folder, counts=counts)
    if not docs:
        raise FileNotFoundError(f"{folder}: expected brat .txt/.ann files or train/ dev/ test/ folders, found neither")
    shuffled = _seeded_shuffle([doc.id for doc in docs], seed)
    n_test = round(SEEDED_FRACTIONS["test"] * len(docs))
    n_dev = round(SEEDED_FRACTIONS["dev"] * len(docs))
    if len(docs) >= 3:
        n_test, n_dev = max(n_test, 1), max(n_dev, 1)
    ids = {
        "test": sorted(shuffled[:n_test]),
        "dev": sorted(shuffled[n_test : n_test + n_dev]),
        "train": sorted(shuffled[n_test + n_dev :]),
    }
    by_id = {doc.id: doc for doc in docs}
    splits = {split: [by_id[i] for i in ids[split]] for split in SPLITS}
    return splits, {"method": "seeded", "seed": seed, "fractions": dict(SEEDED_FRACTIONS), "ids": ids}


def _map_labels(splits: dict, label_map: Mapping[str, str | None] | None, map_name: str, folder: Path
                ) -> tuple[dict, dict[str, int], dict[str, dict[str, int]]]:
    """The splits with mapped labels, the count of each ignored source label and of the relations dropped per
    type and reason (see :func:`_check_map_is_used`)."""
    if label_map is None:
        return splits, {}, {}
    ignored: Counter = Counter()
    ignored_relations: Counter = Counter()
    present = {entity.label for docs in splits.values() for doc in docs for entity in doc.entities}
    types = {relation.type for docs in splits.values() for doc in docs for relation in doc.relations}
    mapped = {split: apply_label_map(docs, label_map, ignored, ignored_relations) for split, docs in splits.items()}
    _check_map_is_used(label_map, present, types, ignored, map_name, folder)
    by_type: dict[str, dict[str, int]] = {}
    for (relation_type, reason), n in sorted(ignored_relations.items()):
        by_type.setdefault(relation_type, {})[reason] = n
    return mapped, dict(sorted(ignored.items())), by_type


def _check_map_is_used(label_map: Mapping[str, str | None], present: set[str], relation_types: set[str], ignored: Counter,
                       map_name: str, folder: Path) -> None:
    """Refuse a label map that keeps none of the corpus's labels; warn about each label (or relation type) it
    keeps that never occurs.

    A typo (``Frq`` for ``Freq``) would otherwise ignore every entity of the real label silently,
    visible only in ``Corpus.ignored``; the message names the closest ignored label.
    """
    kept = [source for source, target in label_map.items() if target is not None]
    absent = [source for source in kept if source not in present and source not in relation_types]
    if not absent:
        return
    labels = ", ".join(sorted(present)) or "none"
    if present and not any(source in present for source in kept):
        raise ValueError(f"{map_name}: expected some of the labels it keeps ({', '.join(kept)}) in {folder}, found none "
                         f"(the corpus's labels: {labels}), so every entity would be ignored; fix the label map")
    for source in absent:
        close = difflib.get_close_matches(source, list(ignored), n=1)
        hint = f"; did you mean {close[0]!r}, whose {ignored[close[0]]} entities are ignored?" if close else ""
        warnings.warn(f"{map_name}: label {source!r} (kept as {label_map[source]!r}) occurs nowhere in {folder} "
                      f"(the corpus's labels: {labels}){hint}", UserWarning, stacklevel=5)


def _check_splits(splits: dict, record: dict, folder: Path) -> None:
    """Refuse a split without documents: there would be nothing to train on, to stop early on, or to score."""
    empty = [split for split in SPLITS if not splits[split]]
    if not empty:
        return
    n_docs = sum(len(docs) for docs in splits.values())
    reasons = {
        "folders": f"its {empty[0]}/ folder holds no .txt file",
        "folders+seeded-dev": f"a seeded dev split needs at least two documents in train/, found "
                              f"{n_docs - len(splits['test'])} (add documents or a dev/ folder)",
        "seeded": f"a seeded 80/10/10 split needs at least three documents, found {n_docs}",
    }
    raise ValueError(f"{folder}: expected documents in each of train, dev and test, found none in {', '.join(empty)}: "
                     f"{reasons[record['method']]}")


def _check_n2c2_labels(name: str, splits: dict, has_map: bool) -> None:
    for docs in splits.values():
        for doc in docs:
            for entity in doc.entities:
                if entity.label not in N2C2_LABELS:
                    hint = "fix the label map" if has_map else "pass --label-map FILE to map or ignore it"
                    raise ValueError(
                        f"{doc.source or doc.id}: entity {entity.id} has label {entity.label!r}, expected one of "
                        f"{', '.join(N2C2_LABELS)} for {name}; {hint}"
                    )


def demo_folder(n_sentences: int, seed: int) -> Path:
    """Where the demo corpus of that size and seed is materialised.

    The generator version is part of the name, so a changed generator never
    reuses a corpus an older one wrote.
    """
    from medner.corpus.demo import GENERATOR_VERSION

    return paths.root() / "data" / f"demo-v{GENERATOR_VERSION}-n{n_sentences}-s{seed}"


def materialise_demo(n_sentences: int | None = None, seed: int = 13) -> Path:
    """Generate the demo corpus into :func:`demo_folder` unless it is already there; returns the folder.

    Generation writes into a temporary sibling folder that is renamed into place, so a
    half-written corpus is never read; when another process finished first, its copy is kept.
    """
    try:
        from medner.corpus.demo import generate_demo_corpus
    except ImportError as exc:
        raise ValueError(f"the demo corpus generator medner.corpus.demo cannot be imported ({exc})") from exc
    if n_sentences is None:
        n_sentences = inspect.signature(generate_demo_corpus).parameters["n_sentences"].default
    if n_sentences <= 0:
        raise ValueError(f"demo corpus size must be a positive number of sentences, got {n_sentences}")
    target = demo_folder(n_sentences, seed)
    if target.is_dir():
        return target
    with files.atomic_folder(target, if_exists="keep") as scratch:  # another process's copy is the same corpus
        generate_demo_corpus(scratch.path, n_sentences=n_sentences, seed=seed)
    return target


def corpus_name(name: str, path: str | Path | None = None) -> str:
    """The name :func:`load_corpus` gives the corpus it reads for these arguments (results go under it):
    the name asked for, or the folder's own name for ``brat`` and for a folder given as the name."""
    if name in CORPUS_NAMES or (name != "brat" and path is not None):
        return name
    return Path(path if name == "brat" and path is not None else name).resolve().name


@collector_paused()  # a corpus is millions of objects: see medner.corpus.gc_pause
def load_corpus(
    name: str,
    *,
    path: str | Path | None = None,
    label_map: str | Path | Mapping[str, str | None] | None = None,
    seed: int = 13,
    demo_size: int | None = None,
    folds: int | None = None,
    fold: int | None = None,
    stratified: bool = True,
    phee_effects: str = EFFECT_RULES[0],
) -> Corpus:
    """Load a corpus by name (``demo``, ``n2c2-2018``, ``phee``, ``brat``) or by folder path; see the module docstring.

    ``path``: the corpus folder (required for ``n2c2-2018`` and ``brat``). ``label_map``: a
    label map file or mapping. ``seed``: seeds the dev/80-10-10 splits, the fold assignment and the
    demo generator. ``demo_size``: sentences in the demo corpus (default: the generator's default).
    ``folds`` and ``fold``: fold ``fold`` (1-based) of a k-fold cross-validation over all the corpus's
    documents, ``stratified`` by label or not (:mod:`medner.corpus.folds`); the splits are then that
    fold's train, dev and test. ``phee_effects``: PHEE only, ``"ade"`` (every Effect an ADE, the default)
    or ``"events"`` (an Effect of therapeutic events only is ignored), see :mod:`medner.corpus.phee`; it is
    recorded in ``Corpus.options``. Raises FileNotFoundError / ValueError with one line saying what to pass,
    also for a split without documents and for a label map that keeps none of the corpus's labels (a kept
    label that never occurs is a warning).
    """
    check_folds(folds, fold)
    check_positive_int("seed", seed, allow_zero=True)
    if phee_effects not in EFFECT_RULES:
        raise ValueError(f"phee_effects: expected one of {', '.join(EFFECT_RULES)}, given {phee_effects!r}")
    if name != "phee" and phee_effects != EFFECT_RULES[0]:
        raise ValueError(f"phee_effects={phee_effects!r} applies to the phee corpus only, given for {name!r}")
    mapping = as_label_map(label_map)
    counts = AnnotationCounts()
    options = {"phee_effects": phee_effects} if name == "phee" else {}
    folder, splits, record, read = _read_named(name, path, (mapping, _map_name(label_map)), seed, demo_size, counts,
                                               options)
    if folds is not None:
        splits, record = _fold_of(splits, record, folds, fold, seed, stratified)
    else:
        _check_splits(splits, record, folder)
    return Corpus(
        name=corpus_name(name, path),
        splits=splits,
        labels=_labels_present(splits),
        ignored=read.ignored,
        split_record=record,
        source=str(folder),
        annotation_lines=counts.as_dict(),
        ignored_relations=read.ignored_relations,
        options=options,
        relation_record=read.relation_record,
    )


def _fold_of(splits: dict, record: dict, k: int, fold: int, seed: int, stratified: bool) -> tuple[dict, dict]:
    """The splits of one fold of the pooled documents, and the record of how they were made."""
    documents = [doc for split in SPLITS for doc in splits[split]]
    assignment = fold_assignment(documents, k, seed, stratified=stratified)
    fold_docs, dev_ids = fold_splits(documents, assignment, fold, seed)
    pooled = {key: value for key, value in record.items() if key not in ("ids", "dev_ids")}
    return fold_docs, {
        "method": "k-fold", "k": k, "fold": fold, "seed": seed, "stratified": stratified,
        "pooled": f"every document of the corpus's own split ({record['method']}: train, dev and test together)",
        "pooled_from": pooled, "folds": assignment, "assignment_sha256": assignment_sha256(assignment),
        "dev_fraction": FOLD_DEV_FRACTION, "dev_ids": dev_ids,
    }


def _map_name(label_map: str | Path | Mapping[str, str | None] | None) -> str:
    """How messages name a label map: its file, or "the label map" for a mapping given in code."""
    return "the label map" if label_map is None or isinstance(label_map, Mapping) else f"label map {label_map}"


@dataclass
class _Read:
    """What reading and mapping a corpus set aside, and where its relations came from."""

    ignored: dict[str, int]
    ignored_relations: dict[str, dict[str, int]]
    relation_record: dict


def _read_named(name: str, path, named_map: tuple, seed: int, demo_size: int | None, counts: AnnotationCounts,
                options: dict) -> tuple[Path, dict, dict, _Read]:
    """(folder, splits, split record, what was set aside) of the corpus ``name``, labels mapped by ``named_map``
    (the mapping or None, and how messages name it)."""
    mapping, map_name = named_map
    relation_record = {"from": "brat R lines"}
    if name == "demo":
        folder = materialise_demo(demo_size, seed) if path is None else Path(path)
        splits, record = _read_brat_splits(folder, seed, counts, require_folders=True)
        splits, ignored, ignored_relations = _map_labels(splits, mapping, map_name, folder)
        _check_n2c2_labels("the demo corpus", splits, mapping is not None)
    elif name == "n2c2-2018":
        if path is None:
            raise FileNotFoundError(N2C2_PATH_HELP)
        folder = Path(path)
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} does not exist: {N2C2_PATH_HELP}")
        if not {"train", "test"} <= set(_find_split_folders(folder)):
            raise FileNotFoundError(f"{folder} has no train/ and test/ folders: {N2C2_PATH_HELP}")
        splits, record = _read_brat_splits(folder, seed, counts, require_folders=True)
        splits, ignored, ignored_relations = _map_labels(splits, mapping, map_name, folder)
        _check_n2c2_labels("n2c2-2018", splits, mapping is not None)
    elif name == "phee":
        folder = Path(path) if path is not None else paths.default_phee_path()
        if not (folder / "train").is_dir():
            if path is None:
                raise FileNotFoundError(f"{PHEE_PATH_HELP}; it is not at the default place {folder}")
            raise FileNotFoundError(f"{folder} has no train/ folder: {PHEE_PATH_HELP}")
        splits, record = _read_brat_splits(folder, seed, counts, require_folders=True)
        splits, relation_record = event_relations(splits, folder, effects=options["phee_effects"])
        if mapping is None:
            mapping, map_name = PHEE_LABEL_MAP, "the PHEE label map (medner.corpus.labelmap.PHEE_LABEL_MAP)"
        splits, ignored, ignored_relations = _map_labels(splits, mapping, map_name, folder)
    else:
        if name == "brat":
            if path is None:
                raise FileNotFoundError("brat needs --path to a folder of brat .txt/.ann files (or train/ dev/ test/ folders of them)")
            folder = Path(path)
        else:
            folder = Path(path) if path is not None else Path(name)
            if not folder.is_dir():
                raise FileNotFoundError(
                    f"unknown corpus {name!r}: expected one of {', '.join(CORPUS_NAMES)} or a path to a brat folder"
                )
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: expected a folder of brat .txt/.ann files, found no such folder")
        splits, record = _read_brat_splits(folder, seed, counts)
        splits, ignored, ignored_relations = _map_labels(splits, mapping, map_name, folder)
    return folder, splits, record, _Read(ignored, ignored_relations, relation_record)
