"""The pinned environment is described once for pip and once for conda; the two must agree."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from medner.paths import PROJECT_ROOT

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)$")


def read_requirements(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = PIN.match(line)
        assert match, f"{path}:{number}: expected 'name==version', found {raw!r}"
        pins[match.group(1).lower()] = match.group(2)
    return pins


def test_environment_yml_matches_requirements():
    pins = read_requirements(PROJECT_ROOT / "requirements.txt")
    env = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml needs exactly one pip section"
    conda_pins = {}
    for item in pip_sections[0]:
        match = PIN.match(item.strip())
        assert match, f"environment.yml: expected 'name==version' in the pip section, found {item!r}"
        conda_pins[match.group(1).lower()] = match.group(2)
    assert conda_pins == pins
    assert any(str(d).startswith("python=") for d in env["dependencies"]), "environment.yml must pin python"


def test_requirements_are_pinned_in_constraints():
    """Every direct pin appears with the same version in the full constraints list."""
    pins = read_requirements(PROJECT_ROOT / "requirements.txt")
    constraints = read_requirements(PROJECT_ROOT / "constraints.txt")
    for name, version in pins.items():
        assert constraints.get(name.replace("_", "-"), constraints.get(name)) == version, name


def test_torch_is_pinned_to_the_cpu_wheel_version():
    assert read_requirements(PROJECT_ROOT / "requirements.txt")["torch"] == "2.13.0"


def test_installed_versions_match_pins():
    """The .venv running the tests holds exactly the pinned versions."""
    from importlib.metadata import version

    for name, pinned in read_requirements(PROJECT_ROOT / "requirements.txt").items():
        installed = version(name).split("+")[0]
        assert installed == pinned, f"{name}: pinned {pinned}, installed {installed}"


def test_console_command_help():
    out = subprocess.run([sys.executable, "-m", "medner.cli", "--help"], capture_output=True, text=True, check=True)
    assert "usage: medner" in out.stdout
