"""ReportFolder: what a notebook wrote, and what it could not write and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from medner.report_folder import NotDrawable, ReportFolder


def _two_files(data: str, stem: Path, *, suffixes=(".a", ".b")) -> list[Path]:
    paths = [stem.with_suffix(s) for s in suffixes]
    for path in paths:
        path.write_text(data)
    return paths


def _not_drawable(data: str, stem: Path) -> list[Path]:
    raise NotDrawable(f"cannot draw {data}")


def test_write_records_the_files_and_the_reasons(tmp_path, capsys):
    report = ReportFolder(tmp_path)
    assert report.write(_two_files, "x", name="one", suffixes=(".pdf", ".png")) == [tmp_path / "one.pdf", tmp_path / "one.png"]
    assert report.write(_not_drawable, "a curve", name="two") == []
    assert "two: not written: cannot draw a curve" in capsys.readouterr().out
    assert report.written == [tmp_path / "one.pdf", tmp_path / "one.png"]
    assert report.not_written == {"two": "cannot draw a curve"}
    assert report.not_written_rows() == [{"output": "two", "why": "cannot draw a curve"}]
    listing = report.write_file_list()
    assert listing.read_text().split() == [str((tmp_path / "one.pdf").resolve()), str((tmp_path / "one.png").resolve())]


def test_other_errors_are_not_swallowed(tmp_path):
    def broken(data, stem):
        raise KeyError("mean")

    with pytest.raises(KeyError):
        ReportFolder(tmp_path).write(broken, {}, name="three")
