"""Hypothesis strategies for the bad-input campaign (issue 16): valid files, then mutated as a user's files go wrong.

A file is handled as a ``str`` decoded with ``surrogateescape``, so a mutation may put any byte
into it (a byte that is not UTF-8 becomes a lone surrogate ``\\udc80``-``\\udcff``) and the next
mutation still works on its lines; :func:`as_bytes` gives the bytes written to disk. Each
strategy draws one valid seed file (or pair), applies one to three mutations and returns a
:class:`Case` that names them, so a failure says what was done.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from medner.corpus.labelmap import PHEE_LABEL_MAP

BOM = "\ufeff"
#: Size of the "5 MB single-line document" mutations.
HUGE = 5_000_000
#: Bytes and characters that break decoders and line splitting: not UTF-8, an encoded surrogate,
#: a cut multi-byte sequence, NUL, a BOM in the middle, and characters some splitters treat as breaks.
NASTY = ["\udcff", "\udce9", "\udc80", "\udced\udca0\udc80", "\udcc3", "\x00", BOM, "\r", "\x0b", "\x0c", "\x1c",
         "\x85", "\u2028", "\t", " ", "\udc92"]


@dataclass(frozen=True)
class Case:
    """One mutated input: the seed it came from, the mutations applied and the resulting files (None: absent)."""

    seed: str
    mutations: tuple[str, ...]
    files: dict[str, str | None]

    def describe(self) -> str:
        sizes = {name: None if text is None else len(text) for name, text in self.files.items()}
        return f"seed {self.seed}, mutations {', '.join(self.mutations)}, sizes {sizes}"


def as_bytes(text: str) -> bytes:
    """The bytes of a file held as a surrogateescape string."""
    return text.encode("utf-8", "surrogateescape")


def from_bytes(data: bytes) -> str:
    """A file's bytes as a surrogateescape string."""
    return data.decode("utf-8", "surrogateescape")


# -- valid seeds ----------------------------------------------------------------------------------------


def _fragments(text: str, pieces: list[str]) -> str:
    """``start end;start end`` of each piece: the first occurrence of each (after the previous one when possible)."""
    spans, cursor = [], 0
    for piece in pieces:
        start = text.find(piece, cursor)
        if start < 0:
            start = text.index(piece)
        spans.append((start, start + len(piece)))
        cursor = start + len(piece)
    return ";".join(f"{s} {e}" for s, e in spans)


def t_line(text: str, ann_id: str, label: str, *pieces: str, suffix: str = "") -> str:
    """A valid ``T`` line for the pieces of ``text`` in the order given (fragments joined by a space)."""
    return f"{ann_id}\t{label} {_fragments(text, list(pieces))}\t{' '.join(pieces)}{suffix}\n"


def _n2c2_pair() -> tuple[str, str, str]:
    text = ("Admission Date:\r\n[**2101-3-4**]\r\nStarted metoprolol succinate 25 mg PO daily for hypertension;\r\n"
            "aspirin 81 mg and 325 mg tablets were held. Lisinopril stopped due to cough.\r\n")
    ann = "".join([
        t_line(text, "T1", "Drug", "metoprolol succinate"), t_line(text, "T2", "Strength", "25 mg"),
        t_line(text, "T3", "Route", "PO"), t_line(text, "T4", "Frequency", "daily"),
        t_line(text, "T5", "Reason", "hypertension"), t_line(text, "T6", "Drug", "aspirin", "tablets"),
        t_line(text, "T7", "Strength", "81 mg"), t_line(text, "T8", "Drug", "Lisinopril"),
        t_line(text, "T9", "ADE", "cough"),
        "R1\tStrength-Drug Arg1:T2 Arg2:T1\n", "R2\tReason-Drug Arg1:T5 Arg2:T1\n", "R3\tADE-Drug Arg1:T9 Arg2:T8\n",
        "A1\tNegated T6\n", "M1\tConfidence T8 High\n", "#1\tAnnotatorNotes T1\tlong acting\n",
        "N1\tReference T8 RxNorm:29046\tlisinopril\n", "*\tEquiv T1 T6\n", "E1\tStop:T8 Theme:T9\n",
    ])
    return "n2c2-crlf", text, ann


def _phee_like_pair() -> tuple[str, str, str]:
    text = "Intravenous azithromycin-induced ototoxicity after 500 mg daily, not seen with oral dosing.\n"
    ann = "".join([
        t_line(text, "T3", "Treatment", "Intravenous azithromycin"), t_line(text, "T5", "Effect", "ototoxicity"),
        t_line(text, "T6", "Drug", "azithromycin", suffix="\t"), t_line(text, "T4", "Adverse_event", "induced"),
        t_line(text, "T7", "Dosage", "daily", "500 mg"),  # fragments out of order, as PHEE writes some
        t_line(text, "T8", "Route", "oral"), "E1\tAdverse_event:T4 Treatment:T3 Effect:T5\n",
        "R1\thas Arg1:T3 Arg2:T6\n", "R2\thas_cue Arg1:E1 Arg2:T8\n",  # PHEE links events too
    ])
    return "phee-like", text, ann


def _bom_pair() -> tuple[str, str, str]:
    text = BOM + "Patient took 5 µg of fentanyl — no nausea. Ünïcödé\tdose.\n"
    body = text[1:]
    ann = t_line(body, "T1", "Strength", "5 µg") + t_line(body, "T2", "Drug", "fentanyl") + t_line(body, "T3", "ADE", "nausea")
    return "bom-utf8", text, ann


def _multiline_pair() -> tuple[str, str, str]:
    text = "Reason: chest\npain today.\n\nPlan: heparin drip\n"
    ann = ("T1\tReason 8 18\tchest pain\n" + t_line(text, "T2", "Drug", "heparin") + "\n"
           + t_line(text, "T3", "Route", "drip") + "#1\tAnnotatorNotes T1\tline break inside\n")
    return "multiline", text, ann


SEED_PAIRS: list[tuple[str, str, str]] = [
    _n2c2_pair(), _phee_like_pair(), _bom_pair(), _multiline_pair(), ("no-entities", "Nothing to see here.\n", ""),
]


def phee_pairs(folder: Path | None, every: int = 200) -> list[tuple[str, str, str]]:
    """Every ``every``-th ``.ann`` of PHEE's train folder (sorted) with its text: real seeds beside the built-in ones."""
    if folder is None or not (folder / "train").is_dir():
        return []
    anns = sorted((folder / "train").glob("*.ann"))[::every]
    return [(f"phee/{p.stem}", from_bytes(p.with_suffix(".txt").read_bytes()), from_bytes(p.read_bytes())) for p in anns]


# -- mutations shared by every kind of file --------------------------------------------------------------

Draw = Callable


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _pick_line(draw: Draw, text: str, pattern: str = "") -> tuple[list[str], int | None]:
    lines = _lines(text)
    candidates = [i for i, line in enumerate(lines) if re.match(pattern, line) and line]
    if not candidates:
        return lines, None
    return lines, draw(st.sampled_from(candidates))


def truncate_line(draw: Draw, text: str) -> str:
    lines, i = _pick_line(draw, text)
    if i is not None:
        lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
    return "\n".join(lines)


def truncate_file(draw: Draw, text: str) -> str:
    data = as_bytes(text)
    return from_bytes(data[: draw(st.integers(0, len(data)))])  # may cut a multi-byte character


def drop_field(draw: Draw, text: str) -> str:
    lines, i = _pick_line(draw, text)
    if i is not None:
        fields = lines[i].split("\t")
        del fields[draw(st.integers(0, len(fields) - 1))]
        lines[i] = "\t".join(fields)
    return "\n".join(lines)


def add_field(draw: Draw, text: str) -> str:
    lines, i = _pick_line(draw, text)
    if i is not None:
        fields = lines[i].split("\t")
        fields.insert(draw(st.integers(0, len(fields))), draw(st.text(max_size=6)))
        lines[i] = "\t".join(fields)
    return "\n".join(lines)


def insert_nasty(draw: Draw, text: str) -> str:
    at = draw(st.integers(0, len(text)))
    piece = draw(st.one_of(st.sampled_from(NASTY), st.text(min_size=1, max_size=4)))
    return text[:at] + piece + text[at:]


def windows_1252(draw: Draw, text: str) -> str:
    """The file as a Windows-1252 editor saves it (characters it cannot hold become '?')."""
    return from_bytes(text.encode("cp1252", "replace")) if text.isascii() is False else text


def crlf_or_cr(draw: Draw, text: str) -> str:
    """Every line ending CRLF, every one a lone CR, or one LF turned into a lone CR (a line hidden in another)."""
    how = draw(st.sampled_from(["crlf", "cr", "one-cr"]))
    if how == "crlf":
        return text.replace("\r\n", "\n").replace("\n", "\r\n")
    if how == "cr":
        return text.replace("\n", "\r")
    positions = [m.start() for m in re.finditer("\n", text)]
    if not positions:
        return text
    at = draw(st.sampled_from(positions))
    return text[:at] + "\r" + text[at + 1:]


def add_bom(draw: Draw, text: str) -> str:
    return BOM + text


def insert_line(draw: Draw, text: str) -> str:
    lines = _lines(text)
    lines.insert(draw(st.integers(0, len(lines))), draw(st.text(max_size=30)))
    return "\n".join(lines)


def duplicate_line(draw: Draw, text: str) -> str:
    lines, i = _pick_line(draw, text)
    if i is not None:
        lines.insert(draw(st.integers(0, len(lines))), lines[i])
    return "\n".join(lines)


def delete_line(draw: Draw, text: str) -> str:
    lines, i = _pick_line(draw, text)
    if i is not None:
        del lines[i]
    return "\n".join(lines)


def swap_lines(draw: Draw, text: str) -> str:
    lines = _lines(text)
    if len(lines) > 1:
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def whitespace_noise(draw: Draw, text: str) -> str:
    lines, i = _pick_line(draw, text)
    if i is not None:
        noise = draw(st.sampled_from([" ", "\t", "  ", " \t"]))
        lines[i] = noise + lines[i] if draw(st.booleans()) else lines[i] + noise
    return "\n".join(lines)


def empty(draw: Draw, text: str) -> str:
    return ""


def huge_line(draw: Draw, text: str) -> str:
    """A 5 MB line of junk (one character repeated) inserted as a line of its own or into a line."""
    piece = draw(st.sampled_from(["x", " ", "\t", "é", "9"])) * HUGE
    at = draw(st.sampled_from([0, len(text) // 2, len(text)]))
    return text[:at] + piece + text[at:]


def number_change(draw: Draw, text: str, pattern: str = r"(?<![0-9])[0-9]+(?![0-9])") -> str:
    """One number of the file replaced: negative, off by one, past any end, huge, non-ASCII digits, a float, empty."""
    numbers = list(re.finditer(pattern, text))
    if not numbers:
        return text
    match = draw(st.sampled_from(numbers))
    value = int(match.group()) if len(match.group()) < 19 else 0
    new = draw(st.sampled_from([
        f"-{value}", str(value + 1), str(max(value - 1, 0)), str(value + 10**6), "9" * draw(st.integers(16, 6000)),
        "٣", "３", "²", f"{value}.0", "", "0", f"{value} ", f" {value}",
    ]))
    return text[: match.start()] + new + text[match.end():]


COMMON_MUTATIONS = [truncate_line, truncate_file, drop_field, add_field, insert_nasty, windows_1252, crlf_or_cr,
                    add_bom, insert_line, duplicate_line, delete_line, swap_lines, whitespace_noise, empty, huge_line,
                    number_change]


# -- brat pairs ----------------------------------------------------------------------------------------


def _t_parts(line: str) -> tuple[str, str, str, str] | None:
    """(id, label, spans, text) of a well-formed T line, else None."""
    match = re.fullmatch(r"(T\w*)\t(\S+) ([0-9 ;]+)\t(.*)", line, re.DOTALL)
    return match.groups() if match else None


def reorder_fragments(draw: Draw, ann: str) -> str:
    """A T line's fragments shuffled, one duplicated, or one grown to overlap its neighbour."""
    lines, i = _pick_line(draw, ann, r"T\w*\t\S+ [0-9 ;]+\t")
    if i is None:
        return ann
    ann_id, label, spans, text = _t_parts(lines[i])
    fragments = [tuple(map(int, piece.split())) for piece in spans.split(";") if len(piece.split()) == 2 and len(piece) < 40]
    if not fragments:
        return ann
    how = draw(st.sampled_from(["shuffle", "duplicate", "overlap", "reverse-one"]))
    if how == "shuffle":
        fragments = draw(st.permutations(fragments))
    elif how == "duplicate":
        fragments = fragments + [fragments[0]]
    elif how == "overlap":
        fragments = fragments + [(max(fragments[0][0] - 2, 0), fragments[0][0] + 1)]
    else:
        fragments = [(e, s) for s, e in fragments[:1]] + fragments[1:]
    lines[i] = f"{ann_id}\t{label} {';'.join(f'{s} {e}' for s, e in fragments)}\t{text}"
    return "\n".join(lines)


def change_entity_text(draw: Draw, ann: str) -> str:
    """A T line's text field that no longer matches its offsets (or matches only up to whitespace)."""
    lines, i = _pick_line(draw, ann, r"T\w*\t")
    if i is None:
        return ann
    head, _, text = lines[i].rpartition("\t")
    new = draw(st.one_of(st.sampled_from([text[:-1], text + "x", text.upper(), "", text.replace(" ", "  "),
                                          text.replace(" ", "\t"), " " + text]), st.text(max_size=12)))
    lines[i] = f"{head}\t{new}" if head else new
    return "\n".join(lines)


def change_id_or_label(draw: Draw, ann: str) -> str:
    """An id whose kind letter changed or reuses another line's id, or a label with spaces or control characters."""
    lines, i = _pick_line(draw, ann, r"\S+\t")
    if i is None:
        return ann
    ann_id, rest = lines[i].split("\t", 1)
    ids = [line.split("\t", 1)[0] for line in lines if "\t" in line]
    how = draw(st.sampled_from(["kind", "reuse", "label"]))
    if how == "kind":
        ann_id = draw(st.sampled_from(list("TREAMN#*XYt 1") + ["", "T1 "])) + ann_id[1:]
    elif how == "reuse":
        ann_id = draw(st.sampled_from(ids))
    else:
        label = draw(st.one_of(st.sampled_from(["", "Dr ug", "Dr\x00ug", "Drug\x0b", "Drug\u2028"]), st.text(max_size=8)))
        rest = label + rest[rest.find(" "):] if " " in rest else label
    lines[i] = f"{ann_id}\t{rest}"
    return "\n".join(lines)


def dangling_reference(draw: Draw, ann: str) -> str:
    """An R/E/A/M/N/#/* line naming an id that no line defines."""
    missing = draw(st.sampled_from(["T999", "E77", "T", "X1"]))
    line = draw(st.sampled_from([
        f"R99\tStrength-Drug Arg1:T1 Arg2:{missing}", f"E99\tStop:{missing}", f"A99\tNegated {missing}",
        f"M99\tConfidence {missing} Low", f"N99\tReference {missing} RxNorm:1\tx", f"#99\tAnnotatorNotes {missing}\tnote",
        f"*\tEquiv T1 {missing}",
    ]))
    lines = _lines(ann)
    lines.insert(draw(st.integers(0, len(lines))), line)
    return "\n".join(lines)


def change_relation(draw: Draw, ann: str) -> str:
    """An R line whose roles are swapped or renamed, whose argument names another line (an event, an
    attribute, itself), or whose type holds a space or a control character."""
    lines, i = _pick_line(draw, ann, r"R\w*\t")
    if i is None:
        return ann
    ann_id, rest = lines[i].split("\t", 1)
    parts = rest.split(" ")
    ids = [line.split("\t", 1)[0] for line in lines if "\t" in line]
    how = draw(st.sampled_from(["swap", "rename", "argument", "type"]))
    if how == "swap" and len(parts) >= 3:
        parts[1], parts[2] = parts[2], parts[1]
    elif how == "rename" and len(parts) >= 3:
        parts[1:3] = [f"{draw(st.sampled_from(['Theme', 'Cause', 'Arg1', '']))}:{p.partition(':')[2]}" for p in parts[1:3]]
    elif how == "argument" and len(parts) >= 2:
        parts[draw(st.integers(1, len(parts) - 1))] = f"Arg2:{draw(st.sampled_from(ids + [ann_id]))}"
    else:
        parts[0] = draw(st.sampled_from(["Strength Drug", "Strength\x00Drug", "ADE\u2028Drug", "", "Reason-Drug"]))
    lines[i] = f"{ann_id}\t{' '.join(parts)}"
    return "\n".join(lines)


def huge_entity(draw: Draw, txt: str | None, ann: str | None) -> tuple[str | None, str | None]:
    """A 5 MB one-line text appended to the document, annotated as one entity (read) or with wrong text (refused)."""
    if txt is None:
        return txt, ann
    body = txt[1:] if txt.startswith(BOM) else txt
    start = len(body) + 1
    piece = "y" * HUGE
    text_field = piece if draw(st.booleans()) else piece[:-1] + "z"
    return txt + " " + piece, (ann or "") + f"T999\tDrug {start} {start + HUGE}\t{text_field}\n"


def shift_offsets_for_bom(draw: Draw, txt: str | None, ann: str | None) -> tuple[str | None, str | None]:
    """A BOM added to the text and every offset counted from it, as some tools write them."""
    if txt is None or ann is None:
        return txt, ann
    shifted = re.sub(r"(?<=[ ;])([0-9]+)(?=[ ;\t])", lambda m: str(int(m.group()) + 1), ann)
    return BOM + txt.removeprefix(BOM), shifted


def _on_ann(mutation):
    def apply(draw, txt, ann):
        return txt, mutation(draw, ann if ann is not None else "")
    apply.__name__ = f"ann:{mutation.__name__}"
    return apply


def _on_txt(mutation):
    def apply(draw, txt, ann):
        return mutation(draw, txt if txt is not None else ""), ann
    apply.__name__ = f"txt:{mutation.__name__}"
    return apply


def without_txt(draw: Draw, txt: str | None, ann: str | None) -> tuple[str | None, str | None]:
    return None, ann if ann is not None else ""


def without_ann(draw: Draw, txt: str | None, ann: str | None) -> tuple[str | None, str | None]:
    return txt, None


_TXT_MUTATIONS = [truncate_file, insert_nasty, windows_1252, crlf_or_cr, add_bom, empty, huge_line]
BRAT_MUTATIONS = (
    [_on_ann(m) for m in COMMON_MUTATIONS + [reorder_fragments, change_entity_text, change_id_or_label, dangling_reference,
                                             change_relation]]
    + [_on_txt(m) for m in _TXT_MUTATIONS]
    + [huge_entity, shift_offsets_for_bom, without_txt, without_ann]
)


@st.composite
def brat_cases(draw: Draw, seeds: list[tuple[str, str, str]]) -> Case:
    """A seed pair with one to three mutations; files ``doc.txt`` and ``doc.ann`` (None: not written)."""
    name, txt, ann = draw(st.sampled_from(seeds))
    applied = []
    for mutation in draw(st.lists(st.sampled_from(BRAT_MUTATIONS), min_size=1, max_size=3)):
        if txt is None and mutation.__name__.startswith("txt:"):
            continue
        txt, ann = mutation(draw, txt, ann)
        applied.append(mutation.__name__)
    return Case(name, tuple(applied), {"doc.txt": txt, "doc.ann": ann})


# -- CoNLL files ---------------------------------------------------------------------------------------

CONLL_SEEDS: list[tuple[str, str]] = [
    ("written-offsets", "-DOCSTART-\tnote-1\n\nTake\t0\t4\tO\naspirin\t5\t12\tB-Drug\n81\t13\t15\tB-Strength\n"
                        "mg\t16\t18\tI-Strength\n.\t18\t19\tO\n\nStop\t20\t24\tO\n.\t24\t25\tO\n\n"
                        "-DOCSTART-\tnote 2\n\nMetoprolol\t0\t10\tB-Drug\nBID\t11\t14\tB-Frequency\n\n"),
    ("written-tags", "-DOCSTART-\tnote-1\n\nTake\tO\naspirin\tB-Drug\n81\tB-Strength\nmg\tI-Strength\n\n"
                     "Stop\tO\nit\tO\n\n"),
    ("conll-2003", "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n"
                   "call NN I-NP O\n. . O O\n\n-DOCSTART- -X- -X- O\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n"),
    ("tokens-only", "Ünïcödé\nµg\ndose\n\nsecond\nsentence\n"),
]


def token_change(draw: Draw, text: str) -> str:
    """A token or tag column emptied, or given spaces, or a -DOCSTART- line repeated with the same id."""
    lines, i = _pick_line(draw, text, r"(?!-DOCSTART-)\S")
    if i is None:
        return text
    columns = lines[i].split("\t") if "\t" in lines[i] else lines[i].split(" ")
    how = draw(st.sampled_from(["empty-token", "empty-tag", "space-token", "docstart"]))
    if how == "empty-token":
        columns[0] = ""
    elif how == "empty-tag":
        columns[-1] = draw(st.sampled_from(["", " ", "B- Drug"]))
    elif how == "space-token":
        columns[0] = " " + columns[0]
    else:
        starts = [line for line in lines if line.startswith("-DOCSTART-")]
        lines.insert(i, starts[0] if starts else "-DOCSTART-\tx")
        return "\n".join(lines)
    lines[i] = ("\t" if "\t" in lines[i] else " ").join(columns)
    return "\n".join(lines)


CONLL_MUTATIONS = COMMON_MUTATIONS + [token_change]


@st.composite
def conll_cases(draw: Draw) -> Case:
    """A CoNLL seed with one to three mutations, as ``data.conll``."""
    name, text = draw(st.sampled_from(CONLL_SEEDS))
    applied = []
    for mutation in draw(st.lists(st.sampled_from(CONLL_MUTATIONS), min_size=1, max_size=3)):
        text = mutation(draw, text)
        applied.append(mutation.__name__)
    return Case(name, tuple(applied), {"data.conll": text})


# -- label maps ----------------------------------------------------------------------------------------

LABEL_MAP_SEEDS: list[tuple[str, str, str]] = [
    ("phee.tsv", "phee.tsv", "# PHEE to n2c2\n" + "".join(f"{s}\t{t}\n" for s, t in PHEE_LABEL_MAP.items()) + "Treatment\t-\n"),
    ("spaces.txt", "spaces.txt", "Drug Drug\n\nFreq   Frequency\nOther\n"),
    ("phee.yaml", "phee.yaml", "# PHEE to n2c2\n" + "".join(f"{s}: {t}\n" for s, t in PHEE_LABEL_MAP.items())
     + "Treatment: null\nSubject: '-'\nRace:\n"),
    ("umlaut.yml", "umlaut.yml", "Dösis: Dosage\n\"Treat-Disorder\": Reason\n"),
]


def yaml_change(draw: Draw, text: str) -> str:
    """YAML that is not a flat mapping of labels: a list, a scalar, nested values, numbers, duplicate keys, bad syntax."""
    return text + draw(st.sampled_from([
        "- Drug\n", "just a string\n", "Drug: {a: b}\n", "Drug: [Drug]\n", "Route: 1\n", "Route: yes\n", "Drug: Drug\n",
        ": Drug\n", "Drug: : x\n", "{\n", "Drug: !!python/object:os.system x\n", "? [a, b]\n: c\n", "---\nb: c\n",
        "Freq: Frequency\n", "&a Drug: *a\n", "Route: My Route\n", "Route: \"\\x00\"\n",
    ]))


LABEL_MAP_MUTATIONS = COMMON_MUTATIONS + [yaml_change]


@st.composite
def label_map_cases(draw: Draw) -> Case:
    """A label map seed (TSV or YAML) with one to three mutations."""
    name, filename, text = draw(st.sampled_from(LABEL_MAP_SEEDS))
    applied = []
    for mutation in draw(st.lists(st.sampled_from(LABEL_MAP_MUTATIONS), min_size=1, max_size=3)):
        text = mutation(draw, text)
        applied.append(mutation.__name__)
    return Case(name, tuple(applied), {filename: text})
