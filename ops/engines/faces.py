"""Faces: YuNet when its weights are installed (a box and five landmarks per face), else dlib's
MMOD detector with its 5-point landmark model (from the package registry), else OpenCV's Haar
cascade (boxes; landmarks from dlib's predictor when it is installed). smart-crop uses the boxes;
aligning a face for restoration needs the landmarks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..imageio.pixels import to_8bit
from ..weights import entry, find

Box = tuple[int, int, int, int]  # x0, y0, x1, y1


@dataclass(frozen=True)
class Face:
    box: Box
    landmarks: np.ndarray | None = None  # 5x2 float, image pixels, image-left first: eyes, nose, mouth corners (NaN: unknown)
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
    if path is not None:
        faces, name = _yunet(str(path), small), "yunet"
    elif _detector_installed():
        faces, name = _dlib(small), "dlib-mmod"
    else:
        faces, name = _haar(small), "haar-cascade"
    return [_scaled(face, 1 / scale) for face in faces], name


DLIB = "dlib-face-landmarks"
DETECTOR_FILES = ("mmod_human_face_detector.dat", "shape_predictor_5_face_landmarks.dat")  # the entry also holds the descriptor


def _detector_installed() -> bool:
    """The files that find faces (an install from before the descriptor joined the entry still
    detects; the identity guard then says what is missing)."""
    return all(find(f) is not None for f in entry(DLIB).files if f.file in DETECTOR_FILES)


def _dlib_models() -> tuple[Any, Any]:
    """(MMOD CNN detector, 5-point shape predictor), loaded once with the descriptor (``ops.restore.identity``)."""
    from ..restore.identity import dlib_models

    models = dlib_models()
    return models.detector, models.predictor


def _dlib(rgb: np.ndarray) -> list[Face]:
    detector, _ = _dlib_models()
    upsample = 1 if max(rgb.shape[:2]) < 400 else 0  # small pictures: look for small faces too
    return [_with_landmarks(rgb, Face(_box(found.rect), score=float(found.confidence))) for found in detector(np.ascontiguousarray(rgb), upsample)]


def _with_landmarks(rgb: np.ndarray, face: Face) -> Face:
    """dlib's 5 points (two corners per eye, the base of the nose) as eye centres and the nose;
    the mouth corners are not among them, so they stay NaN and alignment uses the eyes and nose."""
    import dlib

    _, predictor = _dlib_models()
    x0, y0, x1, y1 = face.box
    shape = predictor(np.ascontiguousarray(rgb), dlib.rectangle(x0, y0, x1, y1))
    points = np.array([(shape.part(i).x, shape.part(i).y) for i in range(5)], np.float32)
    eyes = sorted([points[0:2].mean(axis=0), points[2:4].mean(axis=0)], key=lambda p: p[0])
    landmarks = np.array([eyes[0], eyes[1], points[4], (np.nan, np.nan), (np.nan, np.nan)], np.float32)
    return Face(face.box, landmarks, face.score)


def _box(rect: Any) -> Box:
    return (int(rect.left()), int(rect.top()), int(rect.right()), int(rect.bottom()))


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
    faces = [Face((int(x), int(y), int(x + w), int(y + h))) for x, y, w, h in (found if len(found) else [])]
    return [_with_landmarks(rgb, face) for face in faces] if _detector_installed() else faces
