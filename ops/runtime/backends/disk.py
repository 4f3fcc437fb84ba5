"""The compiled cache on disk (``data/compiled``), bounded by ``STUDIO_COMPILED_CACHE_BYTES``.

It holds each network's OpenVINO IR (``<weights digest>.xml``/``.bin``, written once per weights)
and, in ``openvino-kernels/``, one folder per compiled shape (``<IR>@<precision>-<threads>t-<H>x<W>``:
OpenVINO's blob for that shape, its kernels and repacked weights, about 68 MB for x4plus). After
an entry is written the folder is trimmed to the bound, least recently used first. When an entry
was last used is its files' modification time, set here on every use (access times are
unreliable: noatime, relatime). Entries in use are never deleted: those this process holds
loaded (a network's IR, the shapes compiled in memory), and any entry used in the last
``RECENT_SECONDS`` (another process may be writing or reading it). Entries from older versions
(loose blobs, shape records) are entries like the others, never touched again, so they go first.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

KERNELS = "openvino-kernels"
KEPT = ("backends.json",)  # the verdicts: small, and measuring them again costs minutes
RECENT_SECONDS = 10.0
TOUCH_EVERY = 60.0  # seconds between two touches of an entry used again and again (every tile)

_held: Counter[Path] = Counter()
_touched: dict[Path, float] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Entry:
    path: Path  # a folder in openvino-kernels/, or the stem of files beside each other (IR: .xml and .bin)
    files: tuple[Path, ...]
    nbytes: int
    used: float  # last use: the latest modification time among its files


def folder() -> Path:
    """The compiled cache of this installation (``STUDIO_DATA_DIR``/compiled)."""
    from ...host import host

    return host().compiled_dir


def kernels(cache: Path, name: str) -> Path:
    """The folder one compiled shape's kernels are kept in (OpenVINO's CACHE_DIR for that compile)."""
    return cache / KERNELS / name


def hold(path: Path) -> None:
    """This process uses the entry at ``path`` (an IR's stem or a kernels folder): never trimmed."""
    with _lock:
        _held[path] += 1
    use(path, force=True)


def let_go(path: Path) -> None:
    with _lock:
        _held[path] -= 1
        if _held[path] <= 0:
            del _held[path]


def use(path: Path, force: bool = False) -> None:
    """Record a use of the entry at ``path`` (a kernels folder, or an IR's stem) now; repeated
    uses touch the files at most once a minute."""
    now = time.time()
    with _lock:
        if not force and now - _touched.get(path, 0.0) < TOUCH_EVERY:
            return
        _touched[path] = now
    for file in _files(path):
        try:
            os.utime(file, (now, now))
        except OSError:  # gone meanwhile (trimmed by another process), or not ours to touch
            pass


def entries(cache: Path) -> list[Entry]:
    """Every entry of the cache, least recently used first."""
    found: list[Entry] = []
    try:
        top = list(cache.iterdir())
    except OSError:
        return []
    stems: dict[Path, list[Path]] = {}
    for item in top:
        if item.name.startswith(".") or item.name in KEPT or item.name == KERNELS or not item.is_file():
            continue
        stems.setdefault(cache / item.name.split(".", 1)[0], []).append(item)
    groups = list(stems.items())
    try:
        groups += [(item, []) for item in (cache / KERNELS).iterdir() if not item.name.startswith(".")]
    except OSError:
        pass
    for path, files in groups:
        files = files or _files(path)
        sizes, times = [], []
        for file in files:
            try:
                stat = file.stat()
            except OSError:
                continue
            sizes.append(0 if file.is_dir() else stat.st_size)
            times.append(stat.st_mtime)
        if times:
            found.append(Entry(path, tuple(files), sum(sizes), max(times)))
    return sorted(found, key=lambda entry: entry.used)


def size(cache: Path) -> int:
    """Bytes the cache takes (every file under it)."""
    total = 0
    for root, _dirs, files in os.walk(cache):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def trim(cache: Path, bound: int | None = None) -> list[Path]:
    """Delete least recently used entries until the cache takes at most ``bound`` bytes (the
    setting when None); entries in use are kept even when that leaves it over. Returns what went."""
    if bound is None:
        from ...host import host

        bound = host().compiled_cache_bytes
    total, removed = size(cache), []
    if total <= bound:
        return removed
    recent = time.time() - RECENT_SECONDS
    with _lock:
        held = set(_held)
    for entry in entries(cache):
        if total <= bound:
            break
        if entry.path in held or entry.used > recent:
            continue
        _remove(entry)
        total -= entry.nbytes
        removed.append(entry.path)
        with _lock:
            _touched.pop(entry.path, None)
    if removed:
        log.info("compiled cache trimmed to %.0f MB (bound %.0f MB): %d entries removed", total / 1e6, bound / 1e6, len(removed))
    return removed


def _files(path: Path) -> list[Path]:
    """The files of the entry at ``path``: a folder (itself and what is in it), or the files of a stem."""
    if path.is_dir():
        return [path, *(p for p in path.rglob("*") if p.is_file())]
    if path.is_file():
        return [path]
    return [p for p in path.parent.glob(f"{path.name}.*") if p.is_file()] if path.parent.is_dir() else []


def _remove(entry: Entry) -> None:
    if entry.path.is_dir():
        shutil.rmtree(entry.path, ignore_errors=True)
        return
    for file in entry.files:
        try:
            file.unlink()
        except OSError:
            pass
