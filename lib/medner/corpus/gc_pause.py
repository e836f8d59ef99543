"""Python's cyclic garbage collector paused while a corpus is built into objects.

Why: reading, tokenising and tagging a corpus creates a few objects per token (``Token``,
``Sentence``, ``Entity``, their lists and dicts) that all stay alive until the call returns.
CPython's collector runs a full collection, which visits every live object, each time the
objects that survived since the last one reach a quarter of the old ones; while millions of
them pile up it keeps doing so, and the collector's share of the work grows with the corpus.
``medner bench-growth`` measured it on demo corpora of 1x, 3x and 10x PHEE's tokens: the
corpus report's CPU seconds grew as tokens^1.07 (tokens^0.97-1.02 with the collector off), the
collector's own as tokens^1.2-1.7, from a tenth of the report to a quarter.

These objects form no reference cycles, so reference counting frees each of them the moment
it is no longer used, and the collector finds nothing to do for them. Pausing it while they are
built loses nothing; any cycle made meanwhile is collected by its first run afterwards.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the ``with`` block (or the decorated function).

    The collector is switched back on only if it was on when the block began, so nested
    pauses, and a caller that had switched it off itself, keep their state; an exception
    leaves it as it found it too.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
