"""Is a restored face still the same person? dlib's ResNet face descriptor, and the guard.

A face restorer invents detail; past some point it invents a different person (eyes behind
glasses erased, another mouth). dlib's 128-d descriptor (``dlib_face_recognition_resnet_model_v1``,
CC0, in the same package-registry sdist as the landmarks) measures that: Euclidean distance under
0.6 is the same person in dlib's own tests. Both faces are scored on the same chip: the 5-point
landmarks are found once, on the input face, and the restored face is read through them too, so
only the pixels differ, never the geometry.

The guard blends the input face back (less of the restoration) until the restored face is within
:data:`THRESHOLD` of the input face. The threshold is measured (``python bench/faces.py``): on six
portraits brought to 128 px with JPEG q40 and Lanczos-upscaled, the input face is 0.14-0.31 from
the original; faithful restorations move 0.03-0.08 from that input, Real-ESRGAN on the aligned face
0.09-0.25 (and loses the eyes behind glasses). 0.12 keeps every faithful result whole and pulls a
restorer that changes the person back towards the input, whose own distance to the truth is the
best identity this photo can promise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..runtime.manager import file_bytes, network
from ..weights import entry, find, require

WEIGHTS = "dlib-face-landmarks"
DESCRIPTOR = "dlib_face_recognition_resnet_model_v1.dat"
LANDMARKS = "shape_predictor_5_face_landmarks.dat"
SAME_PERSON = 0.6  # dlib's own threshold between two photos of one person
THRESHOLD = 0.12  # restored face to input face, measured (module docstring)
STEPS = (0.8, 0.6, 0.4, 0.2, 0.0)  # fractions of the restoration tried, most first
#: where dlib's face detector puts the face in the 512 FFHQ frame (measured on aligned faces)
CHIP_BOX = (116, 156, 396, 436)


def available() -> bool:
    """Whether the descriptor and the landmark model are installed."""
    files = {f.file: f for f in entry(WEIGHTS).files}
    return all(name in files and find(files[name]) is not None for name in (DESCRIPTOR, LANDMARKS))


def _models() -> tuple[Any, Any]:
    """(5-point shape predictor, ResNet descriptor), loaded once by the network manager."""
    weights = entry(WEIGHTS)
    paths = require(weights.model_copy(update={"files": tuple(f for f in weights.files if f.file in (DESCRIPTOR, LANDMARKS))}))

    def load() -> tuple[Any, Any]:
        import dlib

        return dlib.shape_predictor(str(paths[LANDMARKS])), dlib.face_recognition_model_v1(str(paths[DESCRIPTOR]))

    return network(f"dlib:{DESCRIPTOR}", load, file_bytes(*paths.values()))


def _eight(chip: np.ndarray) -> np.ndarray:
    """uint8 RGB, contiguous, as dlib takes it (float input is 0-1)."""
    if chip.dtype != np.uint8:
        chip = np.clip(np.round(chip * 255.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(chip[..., :3])


def landmarks(chip: np.ndarray) -> Any:
    """dlib's 5 points on a face already aligned to the 512 FFHQ frame (``ops.restore.align``)."""
    import dlib

    predictor, _ = _models()
    scale = chip.shape[0] / 512
    return predictor(_eight(chip), dlib.rectangle(*(int(round(v * scale)) for v in CHIP_BOX)))


def descriptor(chip: np.ndarray, shape: Any | None = None) -> np.ndarray:
    """The 128-d descriptor of an aligned face, read through ``shape`` (default: its own landmarks).
    Deterministic: no jitter."""
    _, model = _models()
    return np.asarray(model.compute_face_descriptor(_eight(chip), shape if shape is not None else landmarks(chip), 0), np.float64)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


@dataclass(frozen=True)
class Guarded:
    """What the guard decided for one face."""

    amount: float  # how much of the restored face to blend in (0: the input face)
    before: float  # distance of the restored face (as the restorer asked) to the input face
    after: float  # the same, at ``amount``
    action: str

    def fraction(self, asked: float) -> float:
        return self.amount / asked if asked > 0 else 1.0


def guard(aligned: np.ndarray, restored: np.ndarray, amount: float, threshold: float = THRESHOLD) -> Guarded:
    """The largest share of ``amount`` (from :data:`STEPS`) at which ``aligned`` blended with
    ``restored`` stays within ``threshold`` of ``aligned``; both are float RGB in the 512 frame."""
    shape = landmarks(aligned)
    reference = descriptor(aligned, shape)

    def drift(share: float) -> float:
        return distance(descriptor(aligned + (restored - aligned) * share, shape), reference)

    before = drift(amount)
    if before <= threshold or amount <= 0:
        return Guarded(amount, round(before, 4), round(before, 4), "kept")
    for step in STEPS:
        after = drift(amount * step) if step > 0 else 0.0
        if after <= threshold:
            action = f"blended {step:.1f}" if step > 0 else "input face kept"
            return Guarded(amount * step, round(before, 4), round(after, 4), action)
    raise AssertionError("unreachable: share 0 is the input face itself")
