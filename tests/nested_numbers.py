"""A helper the score tests share: nested score dicts flattened for ``pytest.approx``."""

from __future__ import annotations


def flat(nested: dict, prefix: str = "") -> dict[str, float]:
    """A nested dict of numbers as {dotted key: number}, for pytest.approx."""
    out: dict[str, float] = {}
    for key, value in nested.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
