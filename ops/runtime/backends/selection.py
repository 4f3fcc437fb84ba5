"""Measure every backend on a calibration tile, keep those true to fp32, use the fastest.

The verdict is kept per machine and per weights (a digest of the network's tensors): see
``verdicts``."""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..throughput import best_time
from . import openvino_cpu, torch_cpu  # noqa: F401  (register the backends)
from .base import BACKENDS, IMAGE, Compiled, Signature
from .openvino_cpu import SHAPE_STEP
from .samples import compared, photo_tile
from .verdicts import Trial, read, write
from .verdicts import fingerprint as _fingerprint

CALIBRATION_SIDE = IMAGE.side  # input pixels per side: large enough that kernels run as on production tiles
OPT_IN_MIN_PSNR = 38.0  # the bar of the opt-in speed mode (int8): visible only on flat areas, looked at closely


@dataclass(frozen=True)
class BackendChoice:
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


def choose(module: torch.nn.Module, signature: Signature, cache: Path, *, min_psnr: float = 50.0, wanted: str = "auto", opt_in: bool = False) -> BackendChoice:
    """The backend to run ``module`` (called as ``signature`` says) with here. ``wanted`` names one
    (no measuring) or is "auto"."""
    digest = weights_digest(module)
    if wanted != "auto":
        backend = BACKENDS[wanted]
        return BackendChoice(wanted, backend.build(module, signature, cache, digest), (Trial(wanted, None, None, "asked for"),))
    key = fingerprint(digest, signature, min_psnr, opt_in)
    known = read(cache).get(key)
    if known and known["backend"] in BACKENDS and BACKENDS[known["backend"]].unavailable_reason() is None:
        trials = tuple(Trial(**t) for t in known["trials"])
        return BackendChoice(known["backend"], BACKENDS[known["backend"]].build(module, signature, cache, digest), trials)
    choice = calibrate(module, signature, cache, digest, min_psnr, opt_in)
    write(cache, key, {"backend": choice.backend, "trials": [asdict(t) for t in choice.trials]})
    return choice


def calibrate(module: torch.nn.Module, signature: Signature, cache: Path, digest: str, min_psnr: float, opt_in: bool) -> BackendChoice:
    tile = calibration_tile(signature)
    judged = compared(signature, tile)
    reference_call = BACKENDS["torch-fp32"].build(module, signature, cache, digest)
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
            call = backend.build(module, signature, cache, digest)
            call.prepare([tuple(tile.shape[-2:])])  # static-shape backends are timed as requests run them
            seconds, out = best_time(call, tile)
        except Exception as exc:  # a backend that cannot take this network is skipped, with why
            trials.append(Trial(name, None, None, f"failed: {type(exc).__name__}: {str(exc)[:200]}"))
            continue
        quality, bar = psnr(out, reference, judged), OPT_IN_MIN_PSNR if backend.opt_in else min_psnr
        passed = quality >= bar
        trials.append(Trial(name, round(seconds, 4), round(quality, 2), "passed" if passed else f"below {bar:g} dB"))
        if passed and seconds < best[0]:
            best = (seconds, name, call)
    return BackendChoice(best[1], best[2], tuple(trials))


def calibration_tile(signature: Signature = IMAGE) -> torch.Tensor:
    return photo_tile(signature, signature.side)


def psnr(out: torch.Tensor, reference: torch.Tensor, where: torch.Tensor | None = None) -> float:
    """In 8-bit levels, over the pixels ``where`` marks (1x1xHxW, all of them if None)."""
    a = (out.float().clamp(0, 1) * 255).round()
    b = (reference.float().clamp(0, 1) * 255).round()
    squared = (a - b) ** 2
    mse = float(squared.mean() if where is None else squared[where.expand_as(squared)].mean())
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


def weights_digest(module: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def fingerprint(digest: str, signature: Signature, min_psnr: float, opt_in: bool) -> str:
    called = {} if signature == IMAGE else {"signature": asdict(signature)}  # verdicts kept before signatures stay valid
    return _fingerprint(digest, min_psnr, torch.get_num_threads(), opt_in=opt_in, tile=CALIBRATION_SIDE, step=SHAPE_STEP, **called)
