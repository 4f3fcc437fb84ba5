"""Faces: YuNet when its weights are installed (a box and five landmarks per face), else OpenCV's
Haar cascade (a box only). smart-crop uses the boxes; aligning a face for restoration needs the
landmarks (eyes, nose tip, mouth corners)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..imageio.pixels import to_8bit
from ..weights import entry, find

Box = tuple[int, int, int, int]  # x0, y0, x1, y1


@dataclass(frozen=True)
class Face:
    box: Box
    landmarks: np.ndarray | None = None  # 5x2 float, image pixels: right eye, left eye, nose tip, mouth corners
    score: float | None = None


def detect_faces(rgb: np.ndarray) -> tuple[list[Box], str]:
    """(boxes in image pixels, detector name)."""
    faces, name = find_faces(rgb)
    return [face.box for face in faces], name


def find_faces(rgb: np.ndarray) -> tuple[list[Face], str]:
    """(faces in image pixels, detector name)."""
    eight = to_8bit(rgb)
    scale = min(1.0, 640 / max(eight.shape[:2]))
    small = cv2.resize(eight, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else eight
    path = find(entry("yunet").files[0])
    faces, name = (_yunet(str(path), small), "yunet") if path is not None else (_haar(small), "haar-cascade")
    return [_scaled(face, 1 / scale) for face in faces], name


def _scaled(face: Face, factor: float) -> Face:
    box = tuple(int(round(v * factor)) for v in face.box)
    return Face(box, None if face.landmarks is None else face.landmarks * factor, face.score)  # type: ignore[arg-type]


def _yunet(model: str, rgb: np.ndarray) -> list[Face]:
    height, width = rgb.shape[:2]
    detector = cv2.FaceDetectorYN.create(model, "", (width, height), score_threshold=0.7)
    _, found = detector.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if found is None:
        return []
    return [
        Face((int(x), int(y), int(x + w), int(y + h)), row[4:14].reshape(5, 2).astype(np.float32), float(row[14]))
        for row in found
        for x, y, w, h in [row[:4]]
    ]


def _haar(rgb: np.ndarray) -> list[Face]:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    grey = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    side = max(24, min(rgb.shape[:2]) // 12)
    found = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=6, minSize=(side, side))
    return [Face((int(x), int(y), int(x + w), int(y + h))) for x, y, w, h in (found if len(found) else [])]
