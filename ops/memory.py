"""A process-wide budget for the pixels being decoded or processed at once.

Every door decodes and processes through here, so four simultaneous 9000x9000 uploads cannot
take the machine's memory: work that does not fit waits for the budget, and is refused with a
retry hint when the wait runs out. When the last reservation ends, freed memory is handed back
to the system (glibc keeps freed heap pages otherwise, and RSS would stay at its peak).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import BusyError
from .host import host

#: bytes per decoded pixel a decode may hold at its peak (file, RGBA/16-bit buffers, conversions)
DECODE_BYTES_PER_PIXEL = 24
#: bytes per output pixel held while an operation runs (float working copies and the result)
OUTPUT_BYTES_PER_PIXEL = 16


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_LIBC = _libc()


def release_free_memory() -> None:
    """Return freed heap memory to the operating system (glibc only; elsewhere nothing to do)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def default_budget() -> int:
    """A quarter of physical memory, at least 1 GiB and at most 8 GiB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError):
        total = 8 << 30
    return max(1 << 30, min(total // 4, 8 << 30))


class MemoryBudget:
    def __init__(self, total: int) -> None:
        self.total = total
        self.reserved = 0
        self._changed = threading.Condition()
        self._mine = threading.local()  # nested reservations on one thread are already covered

    @contextmanager
    def reserve(self, nbytes: int, wait: float | None = None, what: str = "this image") -> Iterator[None]:
        if getattr(self._mine, "depth", 0):
            self._mine.depth += 1
            try:
                yield
            finally:
                self._mine.depth -= 1
            return
        wanted = min(max(0, int(nbytes)), self.total)  # one job larger than the budget still runs, alone
        deadline = time.monotonic() + (host().memory_wait_seconds if wait is None else wait)
        with self._changed:
            while self.reserved + wanted > self.total:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BusyError(
                        f"the server is busy with other large images ({wanted / 2**20:,.0f} MiB needed for {what}); try again shortly",
                        retry_after=5,
                    )
                self._changed.wait(left)
            self.reserved += wanted
        self._mine.depth = 1
        try:
            yield
        finally:
            self._mine.depth = 0
            with self._changed:
                self.reserved -= wanted
                idle = self.reserved == 0
                self._changed.notify_all()
            if idle and wanted >= 64 << 20:
                release_free_memory()


_BUDGET: MemoryBudget | None = None
_LOCK = threading.Lock()


def budget() -> MemoryBudget:
    global _BUDGET
    with _LOCK:
        configured = host().memory_budget_bytes or default_budget()
        if _BUDGET is None or (_BUDGET.total != configured and _BUDGET.reserved == 0):
            _BUDGET = MemoryBudget(configured)
        return _BUDGET
