"""Is a restored face still the same person? dlib's ResNet face descriptor, and the guard.

A face restorer invents detail; past some point it invents a different person (eyes behind
glasses erased, another mouth). dlib's 128-d descriptor (``dlib_face_recognition_resnet_model_v1``,
CC0, in the same package-registry sdist as the landmarks) measures that: Euclidean distance under
0.6 is the same person in dlib's own tests. Both faces are scored on the same chip: the 5-point
landmarks are found once, on the input face, and the restored face is read through them too, so
only the pixels differ, never the geometry.

The guard blends the input face back (less of the restoration) until the restored face is within
:data:`THRESHOLD` of the input face. Measured (``python bench/faces.py``: six portraits brought to
128 px with JPEG q40 and Lanczos-upscaled): the input face is 0.20-0.33 from the original; the
faithful restorer moves 0.06-0.21 from its input (while moving closer to the original), Real-ESRGAN
on the aligned face 0.08-0.31. The threshold is dlib's 0.6 less the worst input measured (0.33),
with a margin: 0.25. By the triangle inequality a guarded face is then within 0.58 of the person for
inputs degraded that much, under dlib's same-person line, and faithful results pass whole.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..models import model
from ..weights import MissingWeightsError, entry, installed

WEIGHTS = "dlib-face-landmarks"
MODEL = "dlib-faces"  # the detector, the landmarks and the descriptor, loaded as one network (ops.models)
DESCRIPTOR = "dlib_face_recognition_resnet_model_v1.dat"
SAME_PERSON = 0.6  # dlib's own threshold between two photos of one person
THRESHOLD = 0.25  # restored face to input face, measured (module docstring)
STEPS = (0.8, 0.6, 0.4, 0.2, 0.0)  # fractions of the restoration tried, most first
#: where dlib's face detector puts the face in the 512 FFHQ frame (measured on aligned faces)
CHIP_BOX = (116, 156, 396, 436)
_LOCK = threading.RLock()  # dlib's networks keep their activations in the object: one call at a time


def available() -> bool:
    """Whether the descriptor is installed (with the landmark and detector models of its entry)."""
    return installed(entry(WEIGHTS))


def _eight(chip: np.ndarray) -> np.ndarray:
    """uint8 RGB, contiguous, as dlib takes it (float input is 0-1)."""
    if chip.dtype != np.uint8:
        chip = np.clip(np.round(chip * 255.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(chip[..., :3])


def landmarks(chip: np.ndarray) -> Any:
    """dlib's 5 points on a face already aligned to the 512 FFHQ frame (``ops.restore.align``)."""
    import dlib

    scale = chip.shape[0] / 512
    with _LOCK:
        return model(MODEL).net.predictor(_eight(chip), dlib.rectangle(*(int(round(v * scale)) for v in CHIP_BOX)))


def descriptor(chip: np.ndarray, shape: Any | None = None) -> np.ndarray:
    """The 128-d descriptor of an aligned face, read through ``shape`` (default: its own landmarks).
    Deterministic: no jitter."""
    network = model(MODEL).net.descriptor
    if network is None:
        raise MissingWeightsError(f"{DESCRIPTOR} is not installed: run `python -m ops weights fetch {WEIGHTS}`")
    shape = shape if shape is not None else landmarks(chip)
    with _LOCK:
        return np.asarray(network.compute_face_descriptor(_eight(chip), shape, 0), np.float64)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


@dataclass(frozen=True)
class Guarded:
    """What the guard decided for one face."""

    amount: float  # how much of the restored face to blend in (0: the input face)
    before: float  # distance of the restored face (as the restorer asked) to the input face
    after: float  # the same, at ``amount``
    action: str  # "kept", "blended 0.6" (that share of the restoration kept), or "input face kept"


def guard(aligned: np.ndarray, restored: np.ndarray, amount: float, threshold: float = THRESHOLD) -> Guarded:
    """The largest share of ``amount`` (from :data:`STEPS`) at which ``aligned`` blended with
    ``restored`` stays within ``threshold`` of ``aligned``; both are float RGB in the 512 frame."""
    if amount <= 0:
        return Guarded(0.0, 0.0, 0.0, "kept")
    shape = landmarks(aligned)
    reference = descriptor(aligned, shape)

    def drift(share: float) -> float:
        return distance(descriptor(aligned + (restored - aligned) * share, shape), reference)

    before = drift(amount)
    if before <= threshold:
        return Guarded(amount, round(before, 4), round(before, 4), "kept")
    for step in STEPS:
        after = drift(amount * step) if step > 0 else 0.0
        if after <= threshold:
            action = f"blended {step:.1f}" if step > 0 else "input face kept"
            return Guarded(amount * step, round(before, 4), round(after, 4), action)
    raise AssertionError("unreachable: share 0 is the input face itself")
