"""dlib's face models (CC0, run by dlib-bin): the MMOD CNN detector, the 5-point landmarks and the
ResNet face descriptor, loaded as one network: one manager slot for a whole face job, not three."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..spec import Built, Loader, Request

DESCRIPTOR = "dlib_face_recognition_resnet_model_v1.dat"
LANDMARKS = "shape_predictor_5_face_landmarks.dat"
DETECTOR = "mmod_human_face_detector.dat"


@dataclass(frozen=True)
class DlibModels:
    detector: Any  # MMOD CNN face detector
    predictor: Any  # 5-point landmarks
    descriptor: Any | None  # ResNet descriptor; None on an install from before it joined the entry


class DlibFaces(Loader):
    kind = "dlib"

    def load(self, request: Request) -> Built:
        import dlib

        paths = request.files.of(request.source.weights)
        models = DlibModels(
            dlib.cnn_face_detection_model_v1(str(paths[DETECTOR])),
            dlib.shape_predictor(str(paths[LANDMARKS])),
            dlib.face_recognition_model_v1(str(paths[DESCRIPTOR])) if DESCRIPTOR in paths else None,
        )
        return Built(models, "dlib", nbytes=sum(path.stat().st_size for path in paths.values()))
