"""What a backend object holds, in memory and on disk, told to those who keep the accounts
(torch-free: the ONNX segmenters use it too)."""

from __future__ import annotations

import itertools
import os
import threading
import weakref
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

from . import disk

_serial = itertools.count()


def resident() -> int:
    """This process's resident memory in bytes (Linux; 0 elsewhere, where nothing is measured)."""
    try:
        with open("/proc/self/statm") as stats:
            return int(stats.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class Ledger:
    """What one backend object holds, charged to the network being loaded when it was built (the
    network manager's ``building``; nothing is counted outside a load) and the compiled cache
    entries it holds (never trimmed). ``close`` (when the object goes) gives all of it back."""

    def __init__(self) -> None:
        from ..manager import NETWORKS, building

        self.manager, self.owner = NETWORKS, building()
        self.tag = next(_serial)  # part names are this object's own
        self.names: set[Hashable] = set()
        self.held: list[Path] = []
        self.lock = threading.Lock()

    def charge(self, name: Hashable, nbytes: int, release: Callable[[], None] | None = None, transient: bool = False) -> None:
        with self.lock:
            self.names.add((self.tag, name))
        self.manager.charge(self.owner, (self.tag, name), nbytes, release, transient)

    def touch(self, name: Hashable) -> None:
        self.manager.touch(self.owner, (self.tag, name))

    def discharge(self, name: Hashable) -> None:
        with self.lock:
            self.names.discard((self.tag, name))
        self.manager.discharge(self.owner, (self.tag, name))

    def hold(self, entry: Path) -> None:
        disk.hold(entry)
        with self.lock:
            self.held.append(entry)

    def let_go(self, entry: Path) -> None:
        with self.lock:
            if entry not in self.held:
                return
            self.held.remove(entry)
        disk.let_go(entry)

    def close(self) -> None:
        with self.lock:
            names, held, self.names, self.held = list(self.names), list(self.held), set(), []
        for name in names:
            self.manager.discharge(self.owner, name)
        for entry in held:
            disk.let_go(entry)


def weakly(method: Callable[..., Any], *args: Any) -> Callable[..., None]:
    """``method`` with ``args`` first, as a callback that does not keep its object alive (the
    manager holds release callbacks); nothing happens once the object is gone."""
    ref = weakref.WeakMethod(method)

    def call(*more: Any) -> None:
        bound = ref()
        if bound is not None:
            bound(*args, *more)

    return call


