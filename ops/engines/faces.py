"""Faces: the detectors, best first: YuNet (a box and five landmarks per face; by download), dlib's
MMOD detector with its 5-point landmarks (from the package registry), OpenCV's Haar cascade (boxes
only: with dlib installed the MMOD detector runs instead). The first that can run here is chosen
by ``choice.pick``, which says so when a better one cannot. smart-crop uses the boxes; aligning a
face for restoration needs the landmarks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from ..imageio.pixels import to_8bit
from ..models import model, unavailable_reason
from .choice import pick

if TYPE_CHECKING:
    from .base import RunContext

Box = tuple[int, int, int, int]  # x0, y0, x1, y1
DLIB = "dlib-faces"  # the detector, the landmarks and the identity guard's descriptor, one model


@dataclass(frozen=True)
class Face:
    box: Box
    landmarks: np.ndarray | None = None  # 5x2 float, image pixels, image-left first: eyes, nose, mouth corners (NaN: unknown)
    score: float | None = None


class Detector(ABC):
    name: str
    runs: str | None = None  # the model it runs (ops.models): one that cannot load here and it cannot run

    def unavailable_reason(self) -> str | None:
        return unavailable_reason(self.runs) if self.runs else None

    @abstractmethod
    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an 8-bit RGB picture of at most 640 px a side."""


class YuNet(Detector):
    name, runs = "yunet", "yunet"

    def detect(self, rgb: np.ndarray) -> list[Face]:
        found = model("yunet").net(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        if found is None:
            return []
        return [
            Face((int(x), int(y), int(x + w), int(y + h)), row[4:14].reshape(5, 2).astype(np.float32), float(row[14]))
            for row in found
            for x, y, w, h in [row[:4]]
        ]


class DlibMMOD(Detector):
    name, runs = "dlib-mmod", DLIB

    def detect(self, rgb: np.ndarray) -> list[Face]:
        detector = model(DLIB).net.detector
        upsample = 1 if max(rgb.shape[:2]) < 400 else 0  # small pictures: look for small faces too
        return [_with_landmarks(rgb, Face(_box(found.rect), score=float(found.confidence))) for found in detector(np.ascontiguousarray(rgb), upsample)]


class Haar(Detector):
    name = "haar-cascade"

    def detect(self, rgb: np.ndarray) -> list[Face]:
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        grey = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        side = max(24, min(rgb.shape[:2]) // 12)
        found = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=6, minSize=(side, side))
        return [Face((int(x), int(y), int(x + w), int(y + h))) for x, y, w, h in (found if len(found) else [])]


DETECTORS: tuple[Detector, ...] = (YuNet(), DlibMMOD(), Haar())


def detect_faces(rgb: np.ndarray, ctx: RunContext | None = None) -> tuple[list[Box], str]:
    """(boxes in image pixels, detector name)."""
    faces, name = find_faces(rgb, ctx)
    return [face.box for face in faces], name


def find_faces(rgb: np.ndarray, ctx: RunContext | None = None) -> tuple[list[Face], str]:
    """(faces in image pixels, detector name); a fallback from a better detector is warned in ``ctx``."""
    detector, warnings, _ = pick(DETECTORS, "face detectors")
    for warning in warnings if ctx is not None else ():
        ctx.warn(warning)
    eight = to_8bit(rgb)
    scale = min(1.0, 640 / max(eight.shape[:2]))
    small = cv2.resize(eight, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else eight
    return [_scaled(face, 1 / scale) for face in detector.detect(small)], detector.name


def _with_landmarks(rgb: np.ndarray, face: Face) -> Face:
    """dlib's 5 points (two corners per eye, the base of the nose) as eye centres and the nose;
    the mouth corners are not among them, so they stay NaN and alignment uses the eyes and nose."""
    import dlib

    x0, y0, x1, y1 = face.box
    shape = model(DLIB).net.predictor(np.ascontiguousarray(rgb), dlib.rectangle(x0, y0, x1, y1))
    points = np.array([(shape.part(i).x, shape.part(i).y) for i in range(5)], np.float32)
    eyes = sorted([points[0:2].mean(axis=0), points[2:4].mean(axis=0)], key=lambda p: p[0])
    landmarks = np.array([eyes[0], eyes[1], points[4], (np.nan, np.nan), (np.nan, np.nan)], np.float32)
    return Face(face.box, landmarks, face.score)


def _box(rect: Any) -> Box:
    return (int(rect.left()), int(rect.top()), int(rect.right()), int(rect.bottom()))


def _scaled(face: Face, factor: float) -> Face:
    box = tuple(int(round(v * factor)) for v in face.box)
    return Face(box, None if face.landmarks is None else face.landmarks * factor, face.score)  # type: ignore[arg-type]
