"""A click on the subject -> its mask: Segment Anything when installed, else the salient-object matte."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ..errors import InputError
from ..imageio import Picture
from ..imageio.pixels import to_8bit
from ..runtime.manager import DEVICE_SLOT, network
from ..weights import entry, installed, require
from .base import RunContext
from .choice import best

WEIGHTS = "sam-vit-b"


def point_to_mask(picture: Picture, x: int, y: int) -> tuple[np.ndarray, str]:
    """(bool mask at full resolution, the method that made it)."""
    if not (0 <= x < picture.width and 0 <= y < picture.height):
        raise InputError(f"the point ({x}, {y}) is outside the {picture.width}x{picture.height} image")
    with DEVICE_SLOT:  # a network on the shared device, like any model job
        return _select(picture, x, y)


def _select(picture: Picture, x: int, y: int) -> tuple[np.ndarray, str]:
    eight = to_8bit(picture.rgb)
    if installed(entry(WEIGHTS)):
        return _sam(eight, x, y), WEIGHTS
    alpha = best("remove-background").alpha(picture, RunContext())
    labels = cv2.connectedComponents((alpha > 0.5).astype(np.uint8))[1]
    if labels[y, x] == 0:
        raise InputError(
            "no subject at that point: without Segment Anything (python -m ops weights fetch sam-vit-b) "
            "a click can only select the main subject"
        )
    return labels == labels[y, x], "salient-object"


def _sam(rgb: np.ndarray, x: int, y: int) -> np.ndarray:
    path = next(iter(require(entry(WEIGHTS)).values()))
    predictor = network(WEIGHTS, lambda: _load(path))
    predictor.set_image(rgb)
    masks, scores, _ = predictor.predict(point_coords=np.array([[x, y]]), point_labels=np.array([1]), multimask_output=True)
    return masks[int(np.argmax(scores))].astype(bool)


def _load(path: Any) -> Any:
    from ..runtime.device import device
    from ..runtime.torchvision_compat import install

    install()
    from segment_anything import SamPredictor, sam_model_registry

    return SamPredictor(sam_model_registry["vit_b"](checkpoint=str(path)).to(device()).eval())
