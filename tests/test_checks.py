"""Parameter checks shared by the notebooks and the command line (medner.checks)."""

from __future__ import annotations

import pytest

from medner.checks import check_parameters, check_type, injected_parameter_names

DECLARED = {"corpus": str, "seed": int, "fraction": float, "force": bool}
DEFAULTS = {"corpus": "demo", "seed": 1, "fraction": 1.0, "force": False}


def namespace(injected: str | None = None, **values) -> dict:
    """A notebook's globals after its parameters cell and, when given, papermill's injected cell."""
    history = ["", "from medner.checks import check_parameters", "corpus: str = 'demo'  # ..."]
    if injected is not None:
        history.append("# Parameters\n" + injected)
    return {"__annotations__": dict(DECLARED), "In": history, **DEFAULTS, **values}


def test_declared_parameters_of_their_type_pass():
    check_parameters(namespace())
    check_parameters(namespace("seed = 3\nfraction = 1\n", seed=3, fraction=1))  # an int is a number


def test_an_unknown_injected_name_is_refused_with_the_closest_declared_one():
    with pytest.raises(ValueError, match=r"^seeds: not a parameter of this notebook \(did you mean seed\?\); "
                                         r"expected one of corpus, seed, fraction, force$"):
        check_parameters(namespace("seeds = 3\n", seeds=3))
    with pytest.raises(ValueError, match=r"^zzz: not a parameter of this notebook; expected one of"):
        check_parameters(namespace("zzz = 3\n", zzz=3))


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("force", "maybe", "force: expected True or False; given 'maybe' (a str)"),
        ("force", 1, "force: expected True or False; given 1 (an int)"),
        ("seed", True, "seed: expected an integer; given True (a bool)"),
        ("seed", 2.0, "seed: expected an integer; given 2.0 (a float)"),
        ("fraction", "0.5", "fraction: expected a number; given '0.5' (a str)"),
        ("corpus", 3, "corpus: expected a string; given 3 (an int)"),
        ("corpus", None, "corpus: expected a string; given None (a NoneType)"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_in_one_sentence(name, value, message):
    with pytest.raises(ValueError) as info:
        check_parameters(namespace(f"{name} = {value!r}\n", **{name: value}))
    assert str(info.value) == message


def test_a_long_string_is_quoted_as_an_excerpt():
    with pytest.raises(ValueError, match=r"given 'xxx.*'\.\.\. \(5000 characters\) \(a str\)$") as info:
        check_type("seed", "x" * 5000, int)
    assert len(str(info.value)) < 200


def test_only_papermills_last_injected_cell_counts():
    assert injected_parameter_names(["", "x = 1"]) == []
    assert injected_parameter_names(["# Parameters\na = 1\n", "# Parameters\nb = 2\nc = 'x'\n"]) == ["b", "c"]


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "demo", "glove", "--seed", "-1", "--epochs", "1"],
        ["runs", "folders", "demo", "--results", "{tmp}", "--embeddings", "glove", "--seeds", "-1"],
        ["corpus", "stats", "demo", "--seed", "-1"],
    ],
    ids=["train", "runs-folders", "corpus-stats"],
)
def test_a_negative_seed_is_refused_by_every_command(argv, medner_root, capsys):
    """Issue 16: `medner train ... --seed -1` once trained into seed--1/; every entry point now refuses it
    (notebooks 02 and 04: tests/test_notebook_parameters.py)."""
    from medner.cli import main

    assert main([arg.format(tmp=medner_root) for arg in argv]) == 2
    assert "seed: expected an integer >= 0; given -1" in capsys.readouterr().err
    assert not list(medner_root.rglob("seed--1")) and not (medner_root / "data").exists()
