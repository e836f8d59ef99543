"""Tag new texts with a finished run's model: ``medner predict RUN_FOLDER TEXT_DIR --out DIR``.

The predict stage of a run (:func:`medner.runs.predict`), standing alone. Every ``.txt``
file of a folder goes through what the run itself used:

* the same tokeniser and sentence splitter (:func:`medner.corpus.tokenize.sentences_of`);
* the same embedding: the spec recorded in the run's ``metrics.json`` is rebuilt for the
  run's corpus (in-domain vectors and language models are reused from where the run left
  them, or trained again from the same text) and must give the embedder fingerprint the
  run recorded, or nothing is tagged;
* the same model: ``model.pt`` loaded with ``weights_only=True`` (tensors and plain data,
  so a results folder from elsewhere cannot run code here), computing as the run did.

Each text gets a brat ``<id>.ann`` of predicted entities and a copy ``<id>.txt`` of the
text its offsets refer to (a byte-order mark is not copied) in the output folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from medner.run_folder import RunFolder


def load_model(folder: RunFolder):
    """The run's tagger with its best epoch's weights, in evaluation mode, computing as the run did."""
    from medner.model import BiLSTMCRFTagger

    checkpoint = folder.load_checkpoint()
    config = dict(checkpoint["config"])
    compute = checkpoint.get("compute") or {"implementation": "fused", "precision": config.get("precision", "float32")}
    config.pop("precision", None)  # a model setting before metrics schema 2, a compute setting since
    model = BiLSTMCRFTagger(config.pop("embedding_dim"), config.pop("n_tags"), **config)
    model.load_state_dict(_renamed(checkpoint["state_dict"]))
    return model.set_compute(**compute).eval(), checkpoint


def _renamed(state: dict) -> dict:
    """A state dict of the tagger before it was split into encoder and head (metrics schema 1), renamed."""
    if any(key.startswith(("encoder.", "head.")) for key in state):
        return state
    moved = {"reproject.": "encoder.reproject.", "lstm.": "encoder.lstm.", "to_tags.": "head.to_tags.", "crf.": "head.crf."}
    out = {}
    for key, value in state.items():
        prefix = next((p for p in moved if key.startswith(p)), None)
        out[moved[prefix] + key[len(prefix):] if prefix else key] = value
    return out


def rebuild_embedder(metrics: dict, fingerprint: str, *, progress: bool = False):
    """The run's embedder, rebuilt from the spec and corpus its metrics.json records; it must have ``fingerprint``."""
    from medner.corpus.registry import load_corpus
    from medner.embeddings.specs import build_embedder, spec_from_dict

    recorded = metrics["config"]["embedding"]
    spec = spec_from_dict({"family": recorded["family"], "source": recorded["source"], "options": recorded["options"]},
                          name=recorded["name"])
    corpus = load_corpus(metrics["corpus"]["name"], path=metrics["corpus"]["source"],
                         label_map=metrics["corpus"].get("label_map"))
    embedder = build_embedder(spec, corpus, progress=progress)
    if embedder.fingerprint != fingerprint:
        raise ValueError(f"the {spec.name} embedder built now (fingerprint {embedder.fingerprint[:12]}) is not the one "
                         f"the run used ({fingerprint[:12]}): its model files or in-domain artefacts changed; "
                         "predictions with other vectors would be meaningless")
    return embedder


def read_texts(folder: str | Path) -> list:
    """Every ``<id>.txt`` of ``folder`` as a Document without entities, sorted by id."""
    from medner.corpus.document import Document

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: expected a folder of .txt files to tag")
    paths = sorted(folder.glob("*.txt"))
    if not paths:
        raise FileNotFoundError(f"{folder}: expected .txt files to tag, found none")
    documents = []
    for path in paths:
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"{path}: byte {error.start}: expected UTF-8 text ({error.reason})") from None
        documents.append(Document(id=path.stem, text=text.removeprefix("\ufeff"), source=str(path)))
    return documents


def predict_folder(run_folder: str | Path, text_dir: str | Path, out: str | Path, *, batch_size: int = 64,
                   progress: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Tag every ``.txt`` of ``text_dir`` with the run in ``run_folder``; write brat files to ``out``.

    Returns a summary: documents, sentences, tokens and predicted entities per label.
    """
    from medner.corpus.brat import write_brat_folder
    from medner.corpus.tagging import decode_documents
    from medner.corpus.tokenize import sentences_of
    from medner.embeddings.base import progress_bar
    from medner.files import atomic_folder
    from medner.training import predict_tags

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out}: expected a new or empty folder for the predictions")
    folder = RunFolder(run_folder)
    metrics = folder.read_metrics()
    kind = metrics["run"].get("kind", "bilstm-crf")
    if kind != "bilstm-crf":
        raise ValueError(f"{folder.path}: a reference run ({kind}); medner predict tags with the study's BiLSTM-CRF "
                         "runs only (a run of kind bilstm-crf)")
    model, checkpoint = load_model(folder)
    documents = read_texts(text_dir)
    sentences = [s for doc in documents for s in sentences_of(doc) if len(s) > 0]
    log(f"{len(documents)} documents, {len(sentences)} sentences; embedding with {checkpoint['embedding']['name']}")
    embedder = rebuild_embedder(metrics, checkpoint["embedding"]["fingerprint"], progress=progress)
    vectors = []
    for start in progress_bar(range(0, len(sentences), batch_size), total=-(-len(sentences) // batch_size),
                              desc="embedding", enabled=progress, unit="batch"):
        vectors.extend(embedder.embed([s.words for s in sentences[start:start + batch_size]]))
    tags = [[checkpoint["tags"][i] for i in row] for row in predict_tags(model, vectors)] if sentences else []
    predicted = decode_documents(documents, sentences, tags, scheme=checkpoint["tag_scheme"])
    with atomic_folder(out) as staging:
        write_brat_folder(predicted, staging.path, write_text=True)
    labels: dict[str, int] = {}
    for doc in predicted:
        for entity in doc.entities:
            labels[entity.label] = labels.get(entity.label, 0) + 1
    return {"documents": len(documents), "sentences": len(sentences), "tokens": sum(len(s) for s in sentences),
            "entities": labels, "out": str(out)}
