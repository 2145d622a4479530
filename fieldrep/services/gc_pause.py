"""Python's automatic garbage collection, paused while bulk work runs.

A bulk job (an import, the re-filing of duplicate keys) holds hundreds of thousands of live objects
for a few seconds. Python walks every one of them in a full collection, 50-80 ms in one call that
holds the GIL, each time the heap has grown by a quarter: 8-10 times in a 20,000-row import, and the
window cannot paint during any of them. The job's objects are freed by reference counting (they form
no cycles), so pausing the automatic collector while it runs loses nothing. It resumes when the last
paused job ends (jobs on several threads nest), unless it was off before the first one.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Automatic collection off for the block (and any other block still running)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
