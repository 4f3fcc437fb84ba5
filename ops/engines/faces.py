"""Face boxes for smart-crop: YuNet when its weights are installed, else OpenCV's Haar cascade."""

from __future__ import annotations

import cv2
import numpy as np

from ..imageio.pixels import to_8bit
from ..weights import entry, find

Box = tuple[int, int, int, int]  # x0, y0, x1, y1


def detect_faces(rgb: np.ndarray) -> tuple[list[Box], str]:
    """(boxes in image pixels, detector name)."""
    eight = to_8bit(rgb)
    scale = min(1.0, 640 / max(eight.shape[:2]))
    small = cv2.resize(eight, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else eight
    path = find(entry("yunet").files[0])
    if path is not None:
        boxes = _yunet(str(path), small)
        name = "yunet"
    else:
        boxes = _haar(small)
        name = "haar-cascade"
    return [tuple(int(round(v / scale)) for v in box) for box in boxes], name  # type: ignore[misc]


def _yunet(model: str, rgb: np.ndarray) -> list[Box]:
    height, width = rgb.shape[:2]
    detector = cv2.FaceDetectorYN.create(model, "", (width, height), score_threshold=0.7)
    _, faces = detector.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if faces is None:
        return []
    return [(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h in faces[:, :4]]


def _haar(rgb: np.ndarray) -> list[Box]:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    grey = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    side = max(24, min(rgb.shape[:2]) // 12)
    found = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=6, minSize=(side, side))
    return [(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h in (found if len(found) else [])]
