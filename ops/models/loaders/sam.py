"""Segment Anything: the official checkpoint in its ``SamPredictor``."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import Built, Loader, Request


@dataclass(frozen=True)
class Sam(Loader):
    kind = "sam"
    architecture: str = "vit_b"

    def load(self, request: Request) -> Built:
        from ...runtime.device import device
        from ...runtime.torchvision_compat import install

        install()
        from segment_anything import SamPredictor as Predictor
        from segment_anything import sam_model_registry

        return Built(Predictor(sam_model_registry[self.architecture](checkpoint=str(request.files.first())).to(device()).eval()))
