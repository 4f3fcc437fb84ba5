"""Subject segmentation with rembg's sessions, refined to full resolution with clean edges.

The network's low-resolution matte is tidied (specks, pinholes, a half-transparent interior),
upsampled, snapped to the image's edges with a guided filter, and the fringe is
colour-decontaminated so no halo of the old background remains.
The background operations (remove/replace/blur) share these engines and differ only in how
they composite (``background.COMPOSITES``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..imageio import Picture
from ..imageio.pixels import to_8bit
from ..masks import guided_filter, tidy_matte
from ..models import model, use
from ..params import Params
from ..run_config import RunConfig
from .background import COMPOSITES
from .base import Engine, RunContext, register

if TYPE_CHECKING:
    from rembg.sessions.base import BaseSession


class Segmenter(Engine):
    """A rembg network; ``weights`` is its manifest name, its model's name and rembg's session name."""

    uses_device = True

    def __init__(self, weights: str, description: str, input_side: int) -> None:
        self.name = weights  # type: ignore[misc]
        self.weights = weights
        self.models = (weights,)  # type: ignore[misc]
        self.input_side = input_side  # the network's own input size: rembg resizes to it anyway
        self.description = description  # type: ignore[misc]

    def session(self) -> BaseSession:
        return model(self.weights).net

    def warm(self, run: RunConfig) -> None:
        if self.unavailable_reason() is None:
            self.session()

    def alpha(self, picture: Picture, ctx: RunContext) -> np.ndarray:
        """float32 HxW matte in [0, 1] at the picture's full resolution."""
        from PIL import Image

        rgb = picture.rgb
        small = _preview(rgb, self.input_side)
        ctx.report(0.1, f"segmenting with {self.weights}")
        session = use(self.weights, ctx).net
        matte = np.asarray(session.predict(Image.fromarray(small))[0], np.float32) / 255.0
        ctx.report(0.6, "refining edges")
        ctx.detail(backend=getattr(session, "backend", "onnxruntime"))  # chosen by measurement (ops.runtime.backends.onnx_sessions)
        ctx.detail(matte="specks dropped, pinholes filled, interior opaque, edges snapped to the photo")
        return refine(rgb, tidy_matte(matte))

    def run(self, picture: Picture, params: Params, ctx: RunContext) -> Picture:
        composite = COMPOSITES[type(params)]
        composite.check(picture, params, ctx)
        chosen = ctx.hints.get("subject_mask")
        if isinstance(chosen, np.ndarray) and chosen.shape == (picture.height, picture.width):
            ctx.detail(segmentation="selected in the UI")
            return composite.compose(picture, refine(picture.rgb, chosen.astype(np.float32)), params, ctx)
        ctx.detail(segmentation=self.weights)
        return composite.compose(picture, self.alpha(picture, ctx), params, ctx)


def _preview(rgb: np.ndarray, side: int) -> np.ndarray:
    """8-bit, at most ``side`` px: what the network sees anyway (its matte is refined at full size)."""
    eight = to_8bit(rgb)
    scale = side / max(eight.shape[:2])
    if scale >= 1:
        return np.ascontiguousarray(eight)
    return cv2.resize(eight, (round(eight.shape[1] * scale), round(eight.shape[0] * scale)), interpolation=cv2.INTER_AREA)


def refine(rgb: np.ndarray, matte: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    matte = cv2.resize(matte, (width, height), interpolation=cv2.INTER_LINEAR)
    top = 65535.0 if rgb.dtype == np.uint16 else 255.0
    guide = cv2.cvtColor(rgb.astype(np.float32) / top, cv2.COLOR_RGB2GRAY)
    radius = max(2, round(max(height, width) / 400))
    refined = guided_filter(guide, matte, radius, eps=1e-3)
    # keep confident regions confident: the filter only reshapes the uncertain band
    refined = np.where(matte > 0.97, 1.0, np.where(matte < 0.03, 0.0, refined))
    return refined.astype(np.float32)


for _engine in (
    Segmenter("birefnet-general", "BiRefNet general: the finest hair and edges (download)", 1024),
    Segmenter("isnet-general-use", "IS-Net general use: sharper than u2netp (download)", 1024),
    Segmenter("u2net_human_seg", "U^2-Net trained on people (download)", 320),
    Segmenter("u2netp", "U^2-Net portable: small, offline, from the package registry", 320),
):
    register(_engine)

