"""Peak resident memory of this process, the one measure every run and benchmark records.

Linux: ``VmHWM`` of /proc/self/status, the high-water mark of this program alone. ``ru_maxrss`` is
not: it keeps the mark of the parent copy the process was forked from before it ran this program
(a ``medner`` parent that imported torch would lend every child step its 290 MiB). Elsewhere
(macOS) ``ru_maxrss`` is all there is. Standard library only, so measuring imports no torch.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text(encoding="ascii", errors="replace").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # macOS reports bytes, Linux KiB
