"""Measure every backend on a calibration tile, keep those true to fp32, use the fastest.

The verdict is stored in ``backends.json`` in the cache folder under a fingerprint of what
decides it: the CPU's flags, the thread count, the library versions and the network's own
weights (a digest of its tensors). A new machine, a library upgrade or other weights measure
again; everything else reads the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import torch

from . import openvino_cpu, torch_cpu  # noqa: F401  (register the backends)
from ..throughput import best_time
from .base import BACKENDS, Compiled
from .openvino_cpu import SHAPE_STEP
from .samples import photo_tile

CALIBRATION_SIDE = 128  # input pixels per side: large enough that kernels run as on production tiles
OPT_IN_MIN_PSNR = 38.0  # the bar of the opt-in speed mode (int8): visible only on flat areas, looked at closely


@dataclass(frozen=True)
class Trial:
    backend: str
    seconds: float | None  # best of two, after a warm-up; None when it could not run
    quality: float | None  # against the reference: PSNR in dB (8-bit RGB) for networks, mask IoU for segmenters
    verdict: str  # "reference", "passed", "below N dB", "opt-in only", or why it could not run


@dataclass(frozen=True)
class Choice:
    backend: str
    call: Compiled
    trials: tuple[Trial, ...]

    @property
    def speedup(self) -> float:
        """The chosen backend's speed over plain fp32 PyTorch on the calibration tile."""
        seconds = {t.backend: t.seconds for t in self.trials}
        return (seconds.get("torch-fp32") or 0.0) / (seconds.get(self.backend) or 1.0) or 1.0

    def notes(self, int8_asked: bool) -> tuple[str, ...]:
        """Why the opt-in mode asked for did not run, in words for the job's warnings."""
        if not int8_asked or BACKENDS[self.backend].opt_in:
            return ()
        why = next((f"{t.backend}: {t.verdict}" + (f" ({t.quality:g} dB to fp32)" if t.quality is not None else "") for t in self.trials if BACKENDS.get(t.backend) and BACKENDS[t.backend].opt_in), "no int8 backend here")
        return (f"int8 speed mode asked for but not used ({why}); ran {self.backend}",)


def choose(module: torch.nn.Module, channels: int, cache: Path, *, min_psnr: float = 50.0, wanted: str = "auto", opt_in: bool = False) -> Choice:
    """The backend to run ``module`` with here. ``wanted`` names one (no measuring) or is "auto"."""
    digest = weights_digest(module)
    if wanted != "auto":
        backend = BACKENDS[wanted]
        return Choice(wanted, backend.build(module, channels, cache, digest), (Trial(wanted, None, None, "asked for"),))
    record = cache / "backends.json"
    key = fingerprint(digest, min_psnr, opt_in)
    known = _read(record).get(key)
    if known and known["backend"] in BACKENDS and BACKENDS[known["backend"]].unavailable_reason() is None:
        trials = tuple(Trial(**t) for t in known["trials"])
        return Choice(known["backend"], BACKENDS[known["backend"]].build(module, channels, cache, digest), trials)
    choice = calibrate(module, channels, cache, digest, min_psnr, opt_in)
    _write(record, key, {"backend": choice.backend, "trials": [asdict(t) for t in choice.trials]})
    return choice


def calibrate(module: torch.nn.Module, channels: int, cache: Path, digest: str, min_psnr: float, opt_in: bool) -> Choice:
    tile = calibration_tile(channels)
    reference_call = BACKENDS["torch-fp32"].build(module, channels, cache, digest)
    reference_seconds, reference = best_time(reference_call, tile)
    trials = [Trial("torch-fp32", round(reference_seconds, 4), None, "reference")]
    best: tuple[float, str, Compiled] = (reference_seconds, "torch-fp32", reference_call)
    for name, backend in BACKENDS.items():
        if name == "torch-fp32":
            continue
        if backend.opt_in and not opt_in:
            trials.append(Trial(name, None, None, "opt-in only"))
            continue
        reason = backend.unavailable_reason()
        if reason:
            trials.append(Trial(name, None, None, reason))
            continue
        try:
            call = backend.build(module, channels, cache, digest)
            call.prepare([tuple(tile.shape[-2:])])  # static-shape backends are timed as requests run them
            seconds, out = best_time(call, tile)
        except Exception as exc:  # a backend that cannot take this network is skipped, with why
            trials.append(Trial(name, None, None, f"failed: {type(exc).__name__}: {str(exc)[:200]}"))
            continue
        quality, bar = psnr(out, reference), OPT_IN_MIN_PSNR if backend.opt_in else min_psnr
        passed = quality >= bar
        trials.append(Trial(name, round(seconds, 4), round(quality, 2), "passed" if passed else f"below {bar:g} dB"))
        if passed and seconds < best[0]:
            best = (seconds, name, call)
    return Choice(best[1], best[2], tuple(trials))


def calibration_tile(channels: int) -> torch.Tensor:
    return photo_tile(channels, CALIBRATION_SIDE)


def psnr(out: torch.Tensor, reference: torch.Tensor) -> float:
    a = (out.float().clamp(0, 1) * 255).round()
    b = (reference.float().clamp(0, 1) * 255).round()
    mse = float(((a - b) ** 2).mean())
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


def weights_digest(module: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def fingerprint(digest: str, min_psnr: float, opt_in: bool) -> str:
    parts = {"cpu": cpu_flags(), "threads": torch.get_num_threads(), "libs": library_versions(), "weights": digest, "bar": min_psnr, "opt_in": opt_in, "tile": CALIBRATION_SIDE, "step": SHAPE_STEP}
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
    for package in ("torch", "openvino", "nncf"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "-"
    return found


def _read(record: Path) -> dict:
    try:
        return json.loads(record.read_text())
    except (OSError, ValueError):
        return {}


def _write(record: Path, key: str, value: dict) -> None:
    """Merge one verdict in, atomically (processes sharing the folder never see half a file)."""
    record.parent.mkdir(parents=True, exist_ok=True)
    data = _read(record)
    data[key] = value
    draft = record.with_name(f".{record.name}.{os.getpid()}")
    draft.write_text(json.dumps(data, indent=1, sort_keys=True))
    draft.replace(record)
