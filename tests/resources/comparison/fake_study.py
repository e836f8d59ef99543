"""A small generated study for the comparison, figure and table tests.

Gold test documents are built from templates; each run's predictions are the gold
entities perturbed at random (missed, boundary cut, relabelled, plus spurious ones)
with a per-embedding quality, written as brat files, and scored with the real span
scorer, so metrics.json, the predictions and the gold agree with each other as in a
real study. Confusion matrices and costs are random but well formed.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from pathlib import Path

from medner.corpus.brat import read_brat_folder, write_brat_folder
from medner.corpus.document import Document, Entity
from medner.corpus.tagging import tag_documents
from medner.evaluation.semeval import score_semeval
from medner.evaluation.span import score_documents
from medner.evaluation.token import score_bio_strict
from medner.study_order import system_name

LABELS: tuple[str, ...] = ("Drug", "Strength", "Frequency", "Route", "Reason", "ADE")
#: Chance that a sentence mentions the label: an imbalanced corpus, like the real ones.
LABEL_RATE = {"Drug": 1.0, "Strength": 0.7, "Frequency": 0.6, "Route": 0.4, "Reason": 0.25, "ADE": 0.1}
WORDS = {
    "Drug": ["aspirin", "warfarin", "metformin", "lisinopril"],
    "Strength": ["40 mg", "5 mg", "500 mg"],
    "Frequency": ["daily", "twice daily", "q6h"],
    "Route": ["by mouth", "iv", "topically"],
    "Reason": ["for pain", "for headache"],
    "ADE": ["causing rash", "causing nausea"],
}
QUALITY = {"glove": 0.55, "flair": 0.7, "bert": 0.85, "finetune-bert": 0.9, "finetune-crf-bert": 0.92, "scratch-crf": 0.8}


@dataclass
class FakeStudy:
    results_root: Path
    corpus: str
    #: the corpus as brat folders train/, dev/, test/ (load_corpus(corpus, path=corpus_path) reads it)
    corpus_path: Path
    gold: list[Document]
    train_counts: dict[str, int]
    run_dirs: list[Path]


def make_gold_documents(n_docs: int = 10, sentences: int = 6, seed: int = 0, prefix: str = "doc") -> list[Document]:
    """Documents of template sentences ("Patient took aspirin 40 mg daily ."), entities at their offsets."""
    rng = random.Random(seed)
    docs = []
    for d in range(n_docs):
        text = ""
        entities = []
        for _ in range(sentences):
            text += "Patient took "
            for label in LABELS:
                if rng.random() < LABEL_RATE[label]:
                    phrase = rng.choice(WORDS[label])
                    start = len(text)
                    text += phrase
                    entities.append(Entity(f"T{len(entities) + 1}", label, ((start, len(text)),), phrase))
                    text += " "
            text += ".\n"
        docs.append(Document(id=f"{prefix}{d:02d}", text=text, entities=entities))
    return docs


def perturb(gold: list[Document], quality: float, rng: random.Random) -> list[Document]:
    """Predictions: each gold entity kept with probability ``quality``, else missed, cut or relabelled."""
    docs = []
    for doc in gold:
        entities = []
        for ent in doc.entities:
            draw = rng.random()
            start, end = ent.start, ent.end
            if draw < quality:
                label = ent.label
            elif draw < quality + (1 - quality) / 3:
                continue  # missed
            elif draw < quality + 2 * (1 - quality) / 3 and end - start > 1:
                label, end = ent.label, end - 1  # boundary cut: a lenient but not a strict match
            else:
                label = rng.choice([lab for lab in LABELS if lab != ent.label])
            entities.append(Entity(f"T{len(entities) + 1}", label, ((start, end),), doc.text[start:end]))
        if rng.random() < 1 - quality:
            # a spurious prediction on the word "Patient"
            entities.append(Entity(f"T{len(entities) + 1}", "Drug", ((0, 7),), doc.text[0:7]))
        entities.sort(key=lambda e: (e.start, e.end))
        docs.append(Document(id=doc.id, text=doc.text, entities=entities))
    return docs


def _random_matrix(rows: list[str], columns: list[str], rng: random.Random, diagonal: int, last: int | None = None) -> dict:
    counts = [[(diagonal + rng.randrange(diagonal)) if i == j else rng.randrange(4) for j in range(len(columns))] for i in range(len(rows))]
    if last is not None:
        counts[-1][-1] = last + rng.randrange(last)  # the O/O cell of a token matrix dwarfs the rest
    else:
        counts[-1][-1] = 0  # a span matrix has no SPURIOUS x MISSED cell
    normalised = [[c / sum(row) if sum(row) else 0.0 for c in row] for row in counts]
    return {"rows": rows, "columns": columns, "counts": counts, "normalised": normalised}


def paper_scores(gold: list[Document], pred: list[Document]) -> dict:
    """``semeval`` and ``token_bio`` as a run scores them: SemEval-2013 on the documents, BIO-strict on their tags."""
    gold_tags = [s.tags for s in tag_documents(gold)[0]]
    pred_tags = [s.tags for s in tag_documents(pred)[0]]
    return {"semeval": score_semeval(gold, pred, labels=list(LABELS)),
            "token_bio": score_bio_strict(gold_tags, pred_tags, labels=list(LABELS))}


def write_fake_study(
    results_root: str | Path,
    *,
    corpus: str = "fake",
    embeddings: tuple[str, ...] = ("glove", "flair", "bert"),
    seeds: tuple[int, ...] = (1, 2, 3),
    fractions: tuple[float, ...] = (1.0,),
    n_docs: int = 10,
    references: tuple[str, ...] = (),
) -> FakeStudy:
    """Write one run folder per embedding x seed x fraction, as medner.runs lays them out, and one per reference
    kind (``references``: fine-tuning ``bert``, or scratch-crf) x seed x fraction."""
    results_root = Path(results_root)
    # the gold is read back from brat files, as a real corpus is (prediction folders are checked against its files)
    corpus_path = results_root / f"{corpus}-corpus"
    write_brat_folder(make_gold_documents(n_docs, seed=1, prefix="train"), corpus_path / "train")
    write_brat_folder(make_gold_documents(3, seed=2, prefix="dev"), corpus_path / "dev")
    gold = read_brat_folder(write_brat_folder(make_gold_documents(n_docs), corpus_path / "test"))
    train_counts = {label: int(round(400 * LABEL_RATE[label])) for label in LABELS}
    run_dirs = []
    systems = [(e, "bilstm-crf", e) for e in embeddings]
    systems += [(system_name(kind, "bert"), kind, "none" if kind == "scratch-crf" else "bert") for kind in references]
    for embedding, kind, spec in systems:
        for seed in seeds:
            for fraction in fractions:
                rng = random.Random(f"{embedding}-{seed}-{fraction}")
                quality = QUALITY.get(embedding, 0.65) * (0.6 + 0.4 * fraction) + rng.uniform(-0.05, 0.05)
                pred = perturb(gold, quality, rng)
                folder = results_root / corpus / embedding / f"seed-{seed}"
                if fraction != 1.0:
                    folder = folder / f"frac-{fraction:g}"
                write_brat_folder(pred, folder / "predictions" / "brat")
                scores = score_documents(gold, pred, labels=list(LABELS))
                epochs = 4 + seed
                with (folder / "history.csv").open("w", newline="") as handle:
                    writer = csv.writer(handle)
                    writer.writerow(["epoch", "train_loss", "dev_f1", "learning_rate", "seconds"])
                    for epoch in range(1, epochs + 1):
                        dev = quality * (1 - 0.6 ** epoch) + rng.uniform(-0.02, 0.02)
                        writer.writerow([epoch, 10.0 / epoch, round(dev, 4), 0.1, 2.5])
                metrics = {
                    "schema_version": 1,
                    "run": {"corpus": corpus, "embedding": spec, "seed": seed, "fraction": fraction,
                            **({} if kind == "bilstm-crf" else {"kind": kind})},
                    "config": {},
                    "corpus": {},
                    "environment": {"versions": {}, "hardware": {}},
                    "cost": {
                        "embedding_seconds": {"glove": 3.0, "flair": 60.0, "bert": 25.0}.get(embedding, 10.0)
                        * (1 if seed == seeds[0] else 0.01),
                        "embedding_cache_hit": seed != seeds[0],
                        "training_seconds": 2.5 * epochs * {"glove": 1.0, "flair": 2.0, "bert": 1.5}.get(embedding, 1.0),
                        "epochs": epochs,
                        "seconds_per_epoch": 2.5,
                        "tokens_per_second": 1000.0,
                        "trainable_parameters": {"glove": 900_000, "flair": 2_500_000, "bert": 1_300_000}.get(embedding, 1_000_000),
                        "peak_rss_mb": 500.0,
                    },
                    "best_epoch": epochs - 1,
                    "scores": {"test": scores, "dev": scores},
                    **paper_scores(gold, pred),
                    "confusion": {
                        "span": _random_matrix(list(LABELS) + ["SPURIOUS"], list(LABELS) + ["MISSED"], rng, 30),
                        "token": _random_matrix(list(LABELS) + ["O"], list(LABELS) + ["O"], rng, 60, last=20000),
                    },
                }
                (folder / "metrics.json").write_text(json.dumps(metrics))
                run_dirs.append(folder)
    return FakeStudy(results_root=results_root, corpus=corpus, corpus_path=corpus_path, gold=gold,
                     train_counts=train_counts, run_dirs=run_dirs)
