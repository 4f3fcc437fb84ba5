"""ONNX models: a plain onnxruntime session (PP-OCR's text detector), rembg's session classes (the
segmenters), OpenCV's YuNet face detector. Their memory is their files."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..spec import Built, Loader, Request


class OnnxSession(Loader):
    kind = "onnx"

    def load(self, request: Request) -> Built:
        import onnxruntime

        path = request.files.first()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return Built(session, "onnxruntime", nbytes=path.stat().st_size)


class RembgSession(Loader):
    """rembg's session class of the same name as the model, reading our verified file instead of its
    own folder, on the runtime measured fastest here whose masks match onnxruntime's."""

    kind = "rembg"

    def load(self, request: Request) -> Built:
        path = request.files.first()
        session = rembg_session(request.spec.name, path)
        return Built(session, session.backend, nbytes=path.stat().st_size)


def rembg_session(name: str, path: Path) -> Any:
    import onnxruntime
    from rembg.sessions import sessions_class  # imported late: its first import compiles pymatting

    from ...host import host
    from ...runtime.backends.onnx_sessions import choose_session

    base = next(cls for cls in sessions_class if cls.name() == name)
    pinned = type(f"Pinned{base.__name__}", (base,), {"download_models": classmethod(lambda cls, *a, **k: str(path))})
    session = pinned(name, onnxruntime.SessionOptions(), providers=["CPUExecutionProvider"])
    settings = host()  # onnxruntime's CPU provider, or OpenVINO where it is faster and as faithful
    wanted, bar = settings.segmenter_backend, settings.segmenter_min_iou
    session.backend = choose_session(session, path, settings.compiled_dir, min_iou=bar, wanted=wanted).backend
    return session


class YuNetDetector(Loader):
    """OpenCV's ``FaceDetectorYN`` on the YuNet file, kept loaded: each call sets the picture's size."""

    kind = "opencv"

    def load(self, request: Request) -> Built:
        path = request.files.first()
        return Built(YuNet(path), "opencv", nbytes=path.stat().st_size)


class YuNet:
    SCORE = 0.7  # OpenCV zoo's demo threshold

    def __init__(self, path: Path) -> None:
        import cv2

        self._detector = cv2.FaceDetectorYN.create(str(path), "", (320, 320), score_threshold=self.SCORE)
        self._lock = threading.Lock()  # the input size is the detector's state: one picture at a time

    def __call__(self, bgr: np.ndarray) -> np.ndarray | None:
        """One row per face: box (x, y, w, h), five landmarks (x, y), score; None when none is found."""
        with self._lock:
            self._detector.setInputSize((bgr.shape[1], bgr.shape[0]))
            return self._detector.detect(bgr)[1]
