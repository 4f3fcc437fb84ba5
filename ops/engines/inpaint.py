"""Inpainting: LaMa (by download) and an offline multi-scale fill, behind one crop-and-paste frame.

Large images are never inpainted whole: a crop around the mask is taken, brought to the
model's working scale, filled, scaled back, and only the masked pixels are pasted in.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable

import cv2
import numpy as np

from ..errors import InputError
from ..imageio import Picture
from ..imageio.pixels import colour, to_8bit
from ..masks import decode_data_url
from ..models import model, use
from ..params import Params
from ..restore import patchmatch
from ..run_config import RunConfig
from .base import Engine, RunContext, register


class Inpainter(Engine):
    """Fills ``mask`` (bool HxW) in an 8-bit RGB crop; the frame around it is shared."""

    working_side = 512  # the crop's long side at which the fill runs
    context = 0.5  # context around the mask's box, in its (width + height); exemplar fills want more

    @abstractmethod
    def fill(self, rgb: np.ndarray, mask: np.ndarray, progress: Callable[[float], None] | None = None, int8: bool = False) -> np.ndarray:
        """``progress`` (share done, 0..1) is for fills that take long enough to be watched; ``int8``
        is the job's speed mode (for networks on a CPU)."""

    def run(self, picture: Picture, params: Params, ctx: RunContext) -> Picture:
        mask = decode_data_url(params.mask_data_url, (picture.width, picture.height))  # type: ignore[attr-defined]
        return self.inpaint(picture, mask, ctx)

    def inpaint(self, picture: Picture, mask: np.ndarray, ctx: RunContext) -> Picture:
        if not mask.any():
            raise InputError("the mask marks no pixels: paint over what should be removed")
        x0, y0, x1, y1 = crop_around(mask, picture.width, picture.height, self.context)
        pixels = picture.pixels
        top = 65535 if pixels.dtype == np.uint16 else 255
        crop = pixels[y0:y1, x0:x1]
        rgb8 = to_8bit(colour(crop))
        hole = mask[y0:y1, x0:x1]
        scale = min(1.0, self.working_side / max(rgb8.shape[:2]))
        size = (max(8, round(rgb8.shape[1] * scale)), max(8, round(rgb8.shape[0] * scale)))
        small = cv2.resize(rgb8, size, interpolation=cv2.INTER_AREA) if scale < 1 else rgb8
        small_hole = cv2.resize(hole.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool) if scale < 1 else hole
        small_hole |= cv2.dilate(small_hole.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & (scale < 1)
        message = f"filling {int(hole.sum()):,} px with {self.name}"
        ctx.report(0.2, message)
        filled = self.fill(small, small_hole, progress=lambda share: ctx.report(0.2 + 0.75 * share, message), int8=ctx.int8)
        if scale < 1:
            filled = cv2.resize(filled, (rgb8.shape[1], rgb8.shape[0]), interpolation=cv2.INTER_CUBIC)
        ctx.detail(crop=[x0, y0, x1 - x0, y1 - y0], working_scale=round(scale, 3))
        out = pixels.copy()
        patch = filled.astype(np.float32) * (top / 255.0)
        region = out[y0:y1, x0:x1]
        channels = region[..., :3] if region.shape[2] >= 3 else region[..., :1]
        values = patch if channels.shape[2] == 3 else patch.mean(axis=2, keepdims=True)
        channels[hole] = np.clip(np.rint(values[hole]), 0, top).astype(pixels.dtype)  # only the masked pixels change
        return picture.with_pixels(out)


def crop_around(mask: np.ndarray, width: int, height: int, context: float) -> tuple[int, int, int, int]:
    """The mask's bounding box with ``context`` x (its width + height) around it (at least 32 px)."""
    ys, xs = np.nonzero(mask)
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    margin = max(32, int((x1 - x0 + y1 - y0) * context))
    return max(0, x0 - margin), max(0, y0 - margin), min(width, x1 + margin), min(height, y1 + margin)


class PatchFill(Inpainter):
    """Offline: the photo's own nearby patches, matched coarse-to-fine from a membrane fill and blended in.

    Diffusion alone (one cv2.inpaint call) streaks the rim across anything bigger than a scratch;
    a patch search over the whole photo pastes what happens to match from anywhere. This one
    (``ops.restore.patchmatch``) takes colours from the rim and texture from the hole's
    surroundings, and blends the copy in by solving Poisson's equation: no seams.
    """

    name = "patchmatch"
    working_side = 768
    context = 1.0
    description = "exemplar fill: nearby patches (PatchMatch) guided by a membrane fill, Poisson-blended (OpenCV + numpy, no weights)"

    def fill(self, rgb: np.ndarray, mask: np.ndarray, progress: Callable[[float], None] | None = None, int8: bool = False) -> np.ndarray:
        return patchmatch.fill(rgb, mask, progress=progress)


class Lama(Inpainter):
    """LaMa (big-lama): a spandrel state dict or the TorchScript export, on the shared device."""

    name = "big-lama"
    description = "LaMa big-lama (Fourier convolutions), the best fill for large regions"
    uses_device = True
    weights = "big-lama"
    models = ("big-lama",)

    def warm(self, run: RunConfig) -> None:
        model(self.name, int8=run.int8).net.call.prepare([])

    def inpaint(self, picture: Picture, mask: np.ndarray, ctx: RunContext) -> Picture:
        ready = use(self.name, ctx, pixels=self.working_side**2)  # at most one working-size crop
        ctx.detail(backend=ready.backend)  # chosen by measurement on the CPU (ops.runtime.backends)
        return super().inpaint(picture, mask, ctx)

    def fill(self, rgb: np.ndarray, mask: np.ndarray, progress: Callable[[float], None] | None = None, int8: bool = False) -> np.ndarray:
        import torch

        height, width = rgb.shape[:2]
        ph, pw = (-height) % 8, (-width) % 8
        image = np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="reflect").astype(np.float32) / 255
        hole = np.pad(mask, ((0, ph), (0, pw)), mode="reflect").astype(np.float32)
        x = torch.from_numpy(np.concatenate([image, hole[..., None]], axis=2).transpose(2, 0, 1))[None]
        out = model(self.name, int8=int8).net.call(x)[0].float().clamp(0, 1).cpu().numpy().transpose(1, 2, 0)
        return np.rint(out[:height, :width] * 255).astype(np.uint8)


for _engine in (Lama(), PatchFill()):
    register(_engine)

