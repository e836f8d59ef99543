"""How the study's steps grow with the corpus: ``medner bench-growth``.

Three steps are measured, each the library calls its notebook makes:

- ``corpus report`` (notebook 00, ``medner corpus stats``): :func:`~medner.corpus.registry.load_corpus`,
  :func:`~medner.corpus.stats.corpus_statistics` and writing the statistics JSON (the label
  figure, whose size does not depend on the corpus, is left out);
- ``glove preparation`` (notebook 01 with ``embedding=glove``): loading the corpus and
  :func:`~medner.embeddings.preparation.prepare_embedding`, which trains in-domain GloVe on the
  training text and fills the vector cache for every split;
- ``N-epoch run`` (notebook 02, ``medner train ... --epochs N``): its five stages, ``begin_run``,
  ``prepare_inputs``, ``train_model``, ``predict``, ``score`` and ``write_run``, on the vectors the
  preparation cached.

They run on synthetic demo corpora of ``scale`` times PHEE's token count. The demo generator
is sized in sentences, so a probe corpus of :data:`PROBE_SENTENCES` sentences gives its tokens
per sentence and each scale asks for ``round(scale * PHEE tokens / that)`` sentences; the
tokens each corpus really has (counted by the corpus report) are the ones every figure uses.

Each step of each scale runs in its own Python process, with ``MEDNER_ROOT`` in a fresh
temporary folder per scale (so GloVe is trained and the cache filled anew), so its peak
resident memory is its own. A step's seconds are those of its library calls, timed inside the
process after the imports, as wall-clock seconds and as CPU seconds of the process; the process's
wall seconds (interpreter start and imports included) are in the JSON too, and so are the CPU
seconds of each part and of Python's cyclic garbage collector (whose full collections traverse
every live object, so that a step holding a whole corpus in objects pays more per token the
larger the corpus; the table shows them as ``GC CPU s``). Growth is the
exponent k of seconds ~ tokens^k between consecutive scales, ``log(t2 / t1) / log(n2 / n1)``,
and fitted by least squares over all of them; a step whose CPU-seconds exponent between any two
consecutive scales, or whose fit, exceeds :data:`SUPERLINEAR_EXPONENT` is flagged as superlinear
(fixed costs pull the exponents of the smallest scales below 1, so one above the threshold
there is a sign too: the first measurement's corpus report grew as tokens^1.16, then 1.01).
CPU seconds decide because on a shared machine wall seconds also measure the other work that
the cores do meanwhile; a step whose wall seconds alone grow too fast is named as such.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from medner import files, paths
from medner.memory import peak_rss_mb

#: PHEE as this project's loader reads it (``load_corpus("phee")``, every split, tokens as the tagger
#: sees them), for machines without the corpus; counted on ../shared/data/phee.
PHEE_FALLBACK: dict[str, int] = {"documents": 4827, "sentences": 4832, "tokens": 106_910}
#: Sentences of the demo corpus that measures the generator's tokens per sentence.
PROBE_SENTENCES = 2000
#: Above this exponent of CPU seconds in tokens a step is flagged as growing faster than linearly.
SUPERLINEAR_EXPONENT = 1.15
#: Seconds between "still running" lines while a step runs.
HEARTBEAT_SECONDS = 30.0
STAGES: tuple[str, ...] = ("report", "glove", "run")
SEED = 1


def stage_title(stage: str, epochs: int) -> str:
    """How the table names a step."""
    return {"report": "corpus report", "glove": "glove preparation", "run": f"{epochs}-epoch run"}[stage]


def corpus_size(corpus) -> dict[str, int]:
    """Documents, sentences and tokens (as the tagger sees them) of every split of a loaded corpus."""
    from medner.corpus.tokenize import sentences_of

    documents = [doc for docs in corpus.splits.values() for doc in docs]
    sentences = [sentence for doc in documents for sentence in sentences_of(doc)]
    return {"documents": len(documents), "sentences": len(sentences),
            "tokens": sum(len(sentence.tokens) for sentence in sentences)}


def reference_size(phee: str | Path | None) -> tuple[dict[str, int], str]:
    """PHEE's size read with the project's loader, and where it came from; the documented
    :data:`PHEE_FALLBACK` when the corpus is not there."""
    from medner.corpus.registry import load_corpus

    folder = Path(phee) if phee else paths.default_phee_path()
    if not (folder / "train").is_dir():
        return dict(PHEE_FALLBACK), f"PHEE not found at {folder}: its size counted earlier (PHEE_FALLBACK)"
    return corpus_size(load_corpus("phee", path=folder)), f"PHEE read from {folder}"


def demo_tokens_per_sentence(scratch: Path, seed: int = SEED) -> float:
    """Tokens per generated sentence, from a probe demo corpus of :data:`PROBE_SENTENCES` sentences."""
    from medner.corpus.demo import generate_demo_corpus
    from medner.corpus.registry import load_corpus

    folder = generate_demo_corpus(scratch / "probe", n_sentences=PROBE_SENTENCES, seed=seed)
    return corpus_size(load_corpus("demo", path=folder))["tokens"] / PROBE_SENTENCES


def demo_sentences_for(tokens: float, tokens_per_sentence: float) -> int:
    """Sentences to ask the demo generator for to get about ``tokens`` tokens (at least its minimum)."""
    from medner.corpus.demo import MIN_SENTENCES

    return max(MIN_SENTENCES, round(tokens / tokens_per_sentence))


def growth_exponents(tokens: Sequence[float], values: Sequence[float]) -> dict[str, Any]:
    """Exponents k of ``values ~ tokens^k``: between consecutive points (``pairs``) and a least-squares
    fit in log-log over all of them (``fit``; None with fewer than two distinct sizes). Points must be
    in increasing ``tokens``; a non-positive value gives None where it takes part."""
    def exponent(n1, n2, v1, v2):
        if n1 <= 0 or n2 <= 0 or n1 == n2 or v1 <= 0 or v2 <= 0:
            return None
        return math.log(v2 / v1) / math.log(n2 / n1)

    pairs = [exponent(tokens[i], tokens[i + 1], values[i], values[i + 1]) for i in range(len(tokens) - 1)]
    points = [(math.log(n), math.log(v)) for n, v in zip(tokens, values) if n > 0 and v > 0]
    fit = None
    if len({x for x, _ in points}) >= 2:
        mean_x = sum(x for x, _ in points) / len(points)
        mean_y = sum(y for _, y in points) / len(points)
        fit = (sum((x - mean_x) * (y - mean_y) for x, y in points)
               / sum((x - mean_x) ** 2 for x, _ in points))
    return {"pairs": pairs, "fit": fit}


def is_superlinear(growth: dict[str, Any], threshold: float = SUPERLINEAR_EXPONENT) -> bool:
    """Whether the exponent between any two consecutive scales, or the fit, exceeds ``threshold``."""
    return any(k is not None and k > threshold for k in (*growth["pairs"], growth["fit"]))


# ------------------------------------------------------------------------------------------- one step, in its process


class StepClock:
    """Wall and CPU seconds of a step's named parts (``wall``, ``cpu``), and the CPU seconds Python's cyclic
    garbage collector took while it was running (``gc_cpu``, ``gc_full``: its full collections)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.gc_cpu = 0.0
        self.gc_full = 0
        self._gc_started = 0.0

    def time(self, name: str, call: Callable[[], Any]) -> Any:
        """``call()``, its seconds recorded under ``name``."""
        started, cpu_started = time.perf_counter(), time.process_time()
        value = call()
        self.wall[name] = time.perf_counter() - started
        self.cpu[name] = time.process_time() - cpu_started
        return value

    def on_collection(self, phase: str, info: dict[str, int]) -> None:
        """A ``gc.callbacks`` entry: the collector's CPU seconds add up here."""
        if phase == "start":
            self._gc_started = time.process_time()
        else:
            self.gc_cpu += time.process_time() - self._gc_started
            self.gc_full += info["generation"] == 2


def _report_step(folder: Path, clock: StepClock, options: argparse.Namespace) -> dict[str, Any]:
    from medner.corpus.registry import load_corpus
    from medner.corpus.stats import corpus_statistics

    corpus = clock.time("load", lambda: load_corpus("demo", path=folder))
    stats = clock.time("statistics", lambda: corpus_statistics(corpus, progress=False))
    stats_file = paths.results_dir() / "demo" / "corpus-stats.json"
    clock.time("write", lambda: files.write_json(stats_file, stats, indent=2))
    overall = stats["overall"]
    return {"documents": overall["documents"], "sentences": overall["sentences"], "tokens": overall["tokens"]}


def _glove_step(folder: Path, clock: StepClock, options: argparse.Namespace) -> dict[str, Any]:
    from medner.corpus.registry import load_corpus
    from medner.embeddings.preparation import prepare_embedding

    corpus = clock.time("load", lambda: load_corpus("demo", path=folder))
    report = clock.time("prepare", lambda: prepare_embedding(corpus, "glove", progress="lines"))
    files.write_json(paths.results_dir() / "demo" / "embeddings" / "glove.json", report, indent=2)
    clock.wall["build embedder (GloVe training)"] = report["build_seconds"]
    clock.wall["fill cache"] = sum(entry["seconds"] for entry in report["splits"].values())
    summary = (report.get("training") or {}).get("summary") or {}
    if "seconds_counting" in summary:
        clock.wall["count co-occurrences"] = summary["seconds_counting"]
    return {key: summary[key] for key in ("tokens", "vocabulary", "nonzero_cooccurrences") if key in summary}


def _run_step(folder: Path, clock: StepClock, options: argparse.Namespace) -> dict[str, Any]:
    from medner.runs import RunSettings, begin_run, predict, prepare_inputs, score, train_model, write_run

    settings = RunSettings("demo", "glove", SEED, corpus_path=folder, results_root=paths.results_dir(),
                           max_epochs=options.epochs, num_threads=options.threads)
    run_folder = clock.time("begin", lambda: begin_run(settings, force=True))
    inputs = clock.time("prepare", lambda: prepare_inputs(settings, progress="lines"))
    trained = clock.time("train", lambda: train_model(inputs, settings, progress="lines"))
    predictions = clock.time("predict", lambda: predict(trained.model, inputs, scheme=settings.tag_scheme))
    scores = clock.time("score", lambda: score(inputs, predictions))
    metrics = clock.time("write", lambda: write_run(run_folder, settings, inputs, trained, predictions, scores))
    return {"epochs": len(trained.result.history), "kernels": trained.result.kernels,
            "test_strict_micro_f1": metrics["scores"]["test"]["strict"]["micro"]["f1"]}


STEPS: dict[str, Callable[[Path, StepClock, argparse.Namespace], dict[str, Any]]] = {
    "report": _report_step, "glove": _glove_step, "run": _run_step}
#: What each step imports, imported before its clock starts: a step's seconds are its work, not Python's start.
STEP_IMPORTS: dict[str, tuple[str, ...]] = {
    "report": ("medner.corpus.registry", "medner.corpus.stats"),
    "glove": ("medner.corpus.registry", "medner.embeddings.preparation", "medner.embeddings.cache",
              "medner.embeddings.specs", "medner.embeddings.static", "medner.embeddings.glove_training"),
    "run": ("medner.runs", "medner.training", "medner.model", "medner.corpus.registry", "medner.corpus.tagging",
            "medner.embeddings.cache", "medner.embeddings.specs", "medner.embeddings.static",
            "medner.evaluation.span", "medner.evaluation.confusion", "medner.evaluation.semeval",
            "medner.evaluation.token"),
}


def run_step_here(stage: str, folder: Path, options: argparse.Namespace) -> dict[str, Any]:
    """One step in this process: seconds of its library calls (imports excluded), per part, the garbage
    collector's share, and peak memory."""
    for module in STEP_IMPORTS[stage]:
        importlib.import_module(module)
    imported_mb = peak_rss_mb()
    clock = StepClock()
    gc.callbacks.append(clock.on_collection)
    try:
        details = clock.time("step", lambda: STEPS[stage](folder, clock, options))
    finally:
        gc.callbacks.remove(clock.on_collection)
    wall, cpu = clock.wall.pop("step"), clock.cpu.pop("step")
    return {"stage": stage, "seconds": wall, "cpu_seconds": cpu, "gc_cpu_seconds": clock.gc_cpu,
            "gc_full_collections": clock.gc_full, "parts": clock.wall, "cpu_parts": clock.cpu, "details": details,
            "peak_rss_mb": peak_rss_mb(), "imports_rss_mb": imported_mb}


def _step_in_subprocess(stage: str, folder: Path, root: Path, *, epochs: int, threads: int,
                        say: Callable[[str], None]) -> dict[str, Any]:
    """Run one step in a fresh Python process under ``MEDNER_ROOT=root``; its figures and wall seconds.
    Its output is passed on indented, and a line comes every :data:`HEARTBEAT_SECONDS` while it runs."""
    out = root / f"{stage}.json"
    command = [sys.executable, "-m", "medner.bench.growth", stage, str(folder), str(out),
               "--epochs", str(epochs), "--threads", str(threads)]
    started = time.perf_counter()
    environment = {**os.environ, "MEDNER_ROOT": str(root), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               bufsize=1)
    tail: list[str] = []

    def pass_on() -> None:
        for line in process.stdout:
            tail[:] = (tail + [line.rstrip()])[-20:]
            say(f"    {line.rstrip()}")

    reader = threading.Thread(target=pass_on, daemon=True)
    reader.start()
    while True:
        try:
            process.wait(timeout=HEARTBEAT_SECONDS)
            break
        except subprocess.TimeoutExpired:
            say(f"    ... {stage_title(stage, epochs)} still running ({time.perf_counter() - started:.0f} s)")
    reader.join()
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"the {stage_title(stage, epochs)} step failed (exit {process.returncode}): "
                           f"{' '.join(command)}; its last lines:\n" + "\n".join(tail))
    figures = json.loads(out.read_text(encoding="utf-8"))
    figures["process_seconds"] = wall
    return figures


# ------------------------------------------------------------------------------------------- the benchmark


def _corpus_at(scale: float, scratch: Path, reference_tokens: int, per_sentence: float,
               say: Callable[[str], None]) -> dict[str, Any]:
    """Generate the demo corpus of one scale under ``scratch``; its folder, sentences asked and seconds."""
    from medner.corpus.demo import generate_demo_corpus

    n_sentences = demo_sentences_for(scale * reference_tokens, per_sentence)
    say(f"{scale:g}x: generating a demo corpus of {n_sentences:,} sentences "
        f"(about {scale * reference_tokens:,.0f} tokens)")
    started = time.perf_counter()
    folder = generate_demo_corpus(scratch / f"corpus-{scale:g}x", n_sentences=n_sentences, seed=SEED)
    return {"scale": scale, "folder": folder, "n_sentences": n_sentences,
            "generate_seconds": time.perf_counter() - started}


def measure_scale(scale: float, scratch: Path, reference_tokens: int, per_sentence: float, *, epochs: int,
                  threads: int, say: Callable[[str], None]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every step on the corpus of one scale, each in its own process: (the corpus, one row per step)."""
    corpus = _corpus_at(scale, scratch, reference_tokens, per_sentence, say)
    root = scratch / f"root-{scale:g}x"
    root.mkdir()
    rows = []
    for stage in STAGES:
        say(f"{scale:g}x: {stage_title(stage, epochs)} ...")
        figures = _step_in_subprocess(stage, corpus["folder"], root, epochs=epochs, threads=threads, say=say)
        if stage == "report":
            corpus.update(figures["details"])
        rows.append({**figures, "step": stage, "stage": stage_title(stage, epochs), "scale": scale,
                     "tokens": corpus["tokens"], "seconds_per_1k_tokens": 1000 * figures["seconds"] / corpus["tokens"]})
        say(f"{scale:g}x: {stage_title(stage, epochs)}: {figures['seconds']:.1f} s "
            f"({figures['cpu_seconds']:.1f} s CPU), peak {figures['peak_rss_mb']:.0f} MiB")
    corpus["folder"] = str(corpus["folder"])
    return corpus, rows


def growth_by_stage(rows: list[dict[str, Any]], threshold: float = SUPERLINEAR_EXPONENT) -> dict[str, dict[str, Any]]:
    """Per step: exponents in tokens of wall seconds, CPU seconds and memory above the imports (peak - imports);
    ``superlinear`` judged on CPU seconds, ``wall_superlinear`` on wall seconds."""
    growth = {}
    for stage in dict.fromkeys(row["stage"] for row in rows):
        own = sorted((row for row in rows if row["stage"] == stage), key=lambda row: row["tokens"])
        tokens = [row["tokens"] for row in own]
        seconds = growth_exponents(tokens, [row["seconds"] for row in own])
        cpu = growth_exponents(tokens, [row["cpu_seconds"] for row in own])
        memory = growth_exponents(tokens, [row["peak_rss_mb"] - row["imports_rss_mb"] for row in own])
        growth[stage] = {"scales": [row["scale"] for row in own], "seconds": seconds, "cpu_seconds": cpu,
                         "memory_above_imports": memory, "superlinear": is_superlinear(cpu, threshold),
                         "wall_superlinear": is_superlinear(seconds, threshold)}
    return growth


def benchmark(scales: Sequence[float], *, phee: str | Path | None = None, epochs: int = 2, threads: int = 1,
              out: str | Path | None = None, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure every step at every scale; write the figures as JSON to ``out`` and return them."""
    scales = sorted(set(scales))
    if not scales or any(scale <= 0 for scale in scales):
        raise ValueError(f"scales must be positive numbers, got {' '.join(map(str, scales)) or 'none'}")
    if epochs < 1 or threads < 1:
        raise ValueError(f"epochs and threads must be at least 1, got {epochs} and {threads}")
    out = Path(out) if out else paths.results_dir() / "bench" / "growth.json"
    reference, source = reference_size(phee)
    say(f"reference: {source}: {reference['documents']:,} documents, {reference['sentences']:,} sentences, "
        f"{reference['tokens']:,} tokens")
    corpora, rows = [], []
    with tempfile.TemporaryDirectory(prefix="medner-growth-") as folder:
        scratch = Path(folder)
        per_sentence = demo_tokens_per_sentence(scratch)
        say(f"demo generator: {per_sentence:.2f} tokens per sentence (probe of {PROBE_SENTENCES} sentences)")
        for scale in scales:
            corpus, scale_rows = measure_scale(scale, scratch, reference["tokens"], per_sentence, epochs=epochs,
                                               threads=threads, say=say)
            corpora.append(corpus)
            rows.extend(scale_rows)
    figures = {"reference": {**reference, "source": source}, "demo_tokens_per_sentence": per_sentence,
               "epochs": epochs, "threads": threads, "seed": SEED, "scales": scales, "corpora": corpora,
               "measurements": rows, "growth": growth_by_stage(rows), "superlinear_above": SUPERLINEAR_EXPONENT,
               "environment": {"python": platform.python_version(), "cpu_count": os.cpu_count(),
                               "processor": platform.processor() or platform.machine(),
                               "load_average": os.getloadavg()}}
    files.write_json(out, figures, indent=1)
    figures["out"] = str(out)
    return figures


def _exponent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_figures(figures: dict[str, Any]) -> str:
    """The measurements as a table, then each step's growth exponents and verdict."""
    lines = [f"{'stage':<18} {'scale':>6} {'tokens':>10} {'seconds':>9} {'CPU s':>9} {'GC CPU s':>9} {'peak MiB':>9} "
             f"{'s/1k tokens':>12}"]
    order = {stage: i for i, stage in enumerate(figures["growth"])}
    for row in sorted(figures["measurements"], key=lambda row: (order[row["stage"]], row["scale"])):
        lines.append(f"{row['stage']:<18} {row['scale']:>5g}x {row['tokens']:>10,} {row['seconds']:>9.2f} "
                     f"{row['cpu_seconds']:>9.2f} {row['gc_cpu_seconds']:>9.2f} {row['peak_rss_mb']:>9.0f} "
                     f"{row['seconds_per_1k_tokens']:>12.4f}")
    scales = figures["scales"]
    pairs = [f"{a:g}x->{b:g}x" for a, b in zip(scales, scales[1:])]
    columns = " ".join(f"{p:>11}" for p in pairs) + f" {'fit':>6}"
    lines += ["", "growth: k in seconds ~ tokens^k between scales and fitted; CPU seconds decide (memory: the fit "
              "of the peak above the imports)",
              f"{'':<18} {'wall seconds':^{len(columns)}} | {'CPU seconds':^{len(columns)}} |",
              f"{'stage':<18} {columns} | {columns} | {'memory':>6}  verdict"]
    for stage, growth in figures["growth"].items():
        if growth["superlinear"]:
            verdict = f"SUPERLINEAR (k > {figures['superlinear_above']:g})"
        elif growth["wall_superlinear"]:
            verdict = "linear in CPU seconds; wall seconds grew faster (the machine's load?)"
        else:
            verdict = "linear or better"
        wall, cpu = (" ".join(f"{_exponent(k):>11}" for k in growth[key]["pairs"])
                     + f" {_exponent(growth[key]['fit']):>6}" for key in ("seconds", "cpu_seconds"))
        lines.append(f"{stage:<18} {wall} | {cpu} | {_exponent(growth['memory_above_imports']['fit']):>6}  {verdict}")
    return "\n".join(lines)


def register_bench(subparsers) -> None:
    """Add ``medner bench-growth``."""
    parser = subparsers.add_parser(
        "bench-growth",
        help="seconds and peak memory of the corpus report, GloVe preparation and a short run on demo corpora "
        "of 1x, 3x, 10x PHEE's tokens, and how each grows",
        description=__doc__.split("\n\n")[0] + " Each step runs in its own process on demo corpora of SCALES times "
        "PHEE's token count; prints seconds, peak MiB and seconds per 1k tokens per step and scale, the growth "
        f"exponent of each step, and flags a step growing faster than linearly (k > {SUPERLINEAR_EXPONENT:g}).",
    )
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 3.0, 10.0],
                        help="corpus sizes in multiples of PHEE's tokens (default: 1 3 10)")
    parser.add_argument("--path", default=None, help="PHEE folder whose tokens are 1x (default ../shared/data/phee; "
                        f"absent: {PHEE_FALLBACK['tokens']:,} tokens)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the run step (default 2)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads of the run step (default 1, as medner train)")
    parser.add_argument("--out", default=None, help="JSON output (default results/bench/growth.json)")
    parser.set_defaults(func=_bench_growth_command)


def _bench_growth_command(args: argparse.Namespace) -> int:
    def say(line: str) -> None:
        print(line, flush=True)

    figures = benchmark(args.scales, phee=args.path, epochs=args.epochs, threads=args.threads, out=args.out, say=say)
    print()
    print(format_figures(figures))
    print(f"wrote {figures['out']}")
    return 0


def main(argv: list[str]) -> int:
    """Subprocess entry: ``python -m medner.bench.growth STAGE CORPUS_FOLDER OUT.json --epochs N --threads T``."""
    parser = argparse.ArgumentParser(prog="python -m medner.bench.growth")
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("folder", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    options = parser.parse_args(argv)
    figures = run_step_here(options.stage, options.folder, options)
    files.write_json(options.out, figures, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
