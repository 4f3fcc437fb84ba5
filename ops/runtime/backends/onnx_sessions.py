"""ONNX networks (rembg's segmenters) on onnxruntime or OpenVINO, chosen by measurement.

OpenVINO reads the ONNX file itself and compiles it for the fixed input shape rembg feeds. Each
candidate stands in for onnxruntime's session inside rembg's own session class, runs the
example photos, and its masks (rembg's output thresholded at half) must overlap onnxruntime's
with IoU >= the bar on every photo; the fastest that passes is used. The verdict is cached with
the upscalers' (same file, same fingerprint of the machine), keyed by the ONNX file's digest.
"""

from __future__ import annotations

import hashlib
import os
import threading
import weakref
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from . import disk
from .ledger import Ledger, resident
from .openvino_setup import compile_options, openvino_core
from .samples import EXAMPLES
from .verdicts import Trial, best_time, fingerprint, read, write

CANDIDATES = ("onnxruntime", "openvino-f32", "openvino-bf16")
PHOTOS = ("cat.jpg", "cup.jpg", "portrait.jpg", "rocket.jpg")


@dataclass(frozen=True)
class SessionChoice:
    backend: str
    trials: tuple[Trial, ...]


class OpenVinoSession:
    """Stands in for onnxruntime's InferenceSession where rembg calls it (``run``, ``get_inputs``)."""

    def __init__(self, path: Path, precision: str, shape: tuple[int, ...], cache: Path) -> None:
        core = openvino_core()
        model = core.read_model(path)
        self._inputs = [_Input(port.get_any_name(), list(shape)) for port in model.inputs]
        model.reshape({model.inputs[0].get_any_name(): list(shape)})  # the one size rembg feeds: a static compile
        entry = disk.kernels(cache, f"{file_digest(path)}@{precision}-{_threads()}t-{'x'.join(map(str, shape))}")
        before = resident()
        compiled = core.compile_model(model, "CPU", compile_options(precision, _threads(), entry))
        self.request = compiled.create_infer_request()
        self.busy = threading.Lock()
        self.ledger = Ledger()  # its compiled model counted with the session (the manager counts the ONNX file)
        self.ledger.hold(entry)
        self.ledger.charge("compiled", resident() - before)
        weakref.finalize(self, self.ledger.close)
        disk.trim(cache)

    def get_inputs(self) -> list[_Input]:
        return self._inputs

    def run(self, output_names: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        with self.busy:
            results = self.request.infer({name: np.ascontiguousarray(value) for name, value in feed.items()})
            return [np.array(results[port], copy=True) for port in self.request.model_outputs]


@dataclass(frozen=True)
class _Input:
    name: str
    shape: list[int]


class _Recorder:
    """onnxruntime's session, keeping what rembg fed it (the calibration replays exactly that)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.feeds = inner, []

    def get_inputs(self) -> Any:
        return self.inner.get_inputs()

    def run(self, output_names: Any, feed: dict[str, np.ndarray]) -> Any:
        self.feeds.append(feed)
        return self.inner.run(output_names, feed)


def choose_session(session: Any, path: Path, cache: Path, *, min_iou: float = 0.99, wanted: str = "auto") -> SessionChoice:
    """Swap the fastest faithful runtime into a rembg ``session`` (its ``inner_session``)."""
    if wanted == "onnxruntime":
        return SessionChoice(wanted, (Trial(wanted, None, None, "asked for"),))
    digest = file_digest(path)
    key = fingerprint(digest, min_iou, _threads(), runtime="onnx")
    known = None if wanted != "auto" else read(cache).get(key)
    if wanted != "auto" or known:
        backend = wanted if wanted != "auto" else known["backend"]
        if backend != "onnxruntime":
            shape = tuple(known["shape"]) if known else _fed_shape(session)
            session.inner_session = OpenVinoSession(path, backend.removeprefix("openvino-"), shape, cache)
        trials = tuple(Trial(**t) for t in known["trials"]) if known else (Trial(backend, None, None, "asked for"),)
        return SessionChoice(backend, trials)
    choice, shape = _calibrate(session, path, cache, min_iou)
    write(cache, key, {"backend": choice.backend, "shape": list(shape), "trials": [asdict(t) for t in choice.trials]})
    return choice


def _calibrate(session: Any, path: Path, cache: Path, min_iou: float) -> tuple[SessionChoice, tuple[int, ...]]:
    from PIL import Image

    photos = [Image.open(EXAMPLES / name).convert("RGB") for name in PHOTOS if (EXAMPLES / name).exists()]
    reference = session.inner_session
    recorder = session.inner_session = _Recorder(reference)
    masks = [_mask(session, photo) for photo in photos]
    session.inner_session = reference
    feeds = recorder.feeds[: len(photos)]
    shape = tuple(next(iter(feeds[0].values())).shape)
    seconds = _timed(reference, feeds[0])
    trials = [Trial("onnxruntime", round(seconds, 4), None, "reference")]
    best = (seconds, "onnxruntime", reference)
    for name in CANDIDATES[1:]:
        try:
            candidate = OpenVinoSession(path, name.removeprefix("openvino-"), shape, cache)
            seconds = _timed(candidate, feeds[0])
            session.inner_session = candidate
            overlap = min(iou(_mask(session, photo), mask) for photo, mask in zip(photos, masks))
        except Exception as exc:  # a runtime that cannot take this network is skipped, with why
            trials.append(Trial(name, None, None, f"failed: {type(exc).__name__}: {str(exc)[:200]}"))
            continue
        finally:
            session.inner_session = reference
        passed = overlap >= min_iou
        trials.append(Trial(name, round(seconds, 4), round(overlap, 4), "passed" if passed else f"IoU below {min_iou:g}"))
        if passed and seconds < best[0]:
            best = (seconds, name, candidate)
    session.inner_session = best[2]
    return SessionChoice(best[1], tuple(trials)), shape


def _mask(session: Any, photo: Any) -> np.ndarray:
    return np.asarray(session.predict(photo)[0]) >= 128


def _timed(runner: Any, feed: dict[str, np.ndarray]) -> float:
    return best_time(lambda: runner.run(None, feed))[0]


def _threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _fed_shape(session: Any) -> tuple[int, ...]:
    """The input shape rembg feeds this session (one run on a small picture tells)."""
    from PIL import Image

    recorder = session.inner_session = _Recorder(session.inner_session)
    try:
        session.predict(Image.new("RGB", (64, 64), (128, 96, 64)))
    finally:
        session.inner_session = recorder.inner
    return tuple(next(iter(recorder.feeds[0].values())).shape)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def file_digest(path: Path) -> str:
    stat = path.stat()
    return _digest(path, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=32)
def _digest(path: Path, size: int, mtime: int) -> str:  # read once per file version
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]
