"""The folder the comparison's figures and tables are written to, and the list of what was written there.

Figure and table functions take comparison data and an output path and return the files they
wrote. Some cannot be made from some data (a learning curve from one training fraction,
significance from one embedding): they raise :class:`NotDrawable` before writing anything, and
:meth:`ReportFolder.write` records why instead of failing, so one notebook draws what the runs
allow and says what it left out. ``files.txt`` lists what was written: ``make`` re-runs the
notebook when one of those files goes missing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from medner import files


class NotDrawable(ValueError):
    """The data cannot make this figure or table (the message says why); nothing was written."""


class ReportFolder:
    """Where figures and tables go (``path``), what was written there (``written``) and what was not, and why
    (``not_written``: file name -> reason)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.written: list[Path] = []
        self.not_written: dict[str, str] = {}

    def write(self, make: Callable[..., list[Path]], *data, name: str, **options) -> list[Path]:
        """``make(*data, self.path / name, **options)``: the files it wrote, or [] when it raised :class:`NotDrawable`.

        ``name`` is a file name (``summary.csv``) or a stem (``02-per-label-f1``) to which the
        function adds its suffixes.
        """
        try:
            written = list(make(*data, self.path / name, **options))
        except NotDrawable as reason:
            self.not_written[name] = str(reason)
            print(f"{name}: not written: {reason}")
            return []
        self.written += written
        return written

    def not_written_rows(self) -> list[dict[str, str]]:
        """What was not written and why, as table rows."""
        return [{"output": name, "why": why} for name, why in self.not_written.items()]

    def write_file_list(self, name: str = "files.txt") -> Path:
        """Write ``<path>/<name>``: every file written, absolute, one per line; returns its path."""
        return files.write_file_list(self.written, self.path / name)
