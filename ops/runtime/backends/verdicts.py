"""Measured verdicts and where they are kept (no torch here: ONNX-only work must not import it).

A verdict is stored in ``backends.json`` in the cache folder under a fingerprint of what decides
it: the CPU's flags, the thread count, the library versions, the network's own weights and the
bar it was held to. A new machine, a library upgrade or other weights measure again; everything
else reads the file, shared by every process using the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

RECORD = "backends.json"


@dataclass(frozen=True)
class Trial:
    backend: str
    seconds: float | None  # best of two, after a warm-up; None when it could not run
    quality: float | None  # against the reference: PSNR in dB (8-bit RGB) for networks, mask IoU for segmenters
    verdict: str  # "reference", "passed", "below N dB", "opt-in only", or why it could not run


def best_time(run: Callable[[], Any], repeats: int = 2, sync: Callable[[], None] = lambda: None) -> tuple[float, Any]:
    """(best seconds of ``repeats`` runs after a warm-up, the output): the one way networks are timed."""
    out = run()  # warm up: kernel selection, caches
    best = float("inf")
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        out = run()
        sync()
        best = min(best, time.perf_counter() - start)
    return best, out


def fingerprint(weights: str, bar: float, threads: int, **more: object) -> str:
    parts = {"cpu": cpu_flags(), "threads": threads, "libs": library_versions(), "weights": weights, "bar": bar, **more}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


@lru_cache(maxsize=1)
def cpu_flags() -> str:
    """The flags that decide which kernels exist (AVX-512, its bf16/VNNI parts, AMX)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return " ".join(sorted(f for f in flags if f.startswith(("avx512", "amx", "avx2", "avx_vnni", "fma"))))


def library_versions() -> dict[str, str]:
    found = {}
    for package in ("torch", "openvino", "nncf", "onnxruntime"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "-"
    return found


def read(cache: Path) -> dict:
    try:
        return json.loads((cache / RECORD).read_text())
    except (OSError, ValueError):
        return {}


def write(cache: Path, key: str, value: dict) -> None:
    """Merge one verdict in, atomically (processes sharing the folder never see half a file)."""
    cache.mkdir(parents=True, exist_ok=True)
    data = read(cache)
    data[key] = value
    draft = cache / f".{RECORD}.{os.getpid()}"
    draft.write_text(json.dumps(data, indent=1, sort_keys=True))
    draft.replace(cache / RECORD)
