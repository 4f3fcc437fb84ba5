"""Run an image network (denoisers, deblurrers, the JPEG and diffusion upscalers) over a whole
picture: float RGB in, tiled with seamless blending, grey and 16-bit kept, alpha untouched."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..imageio.pixels import luma
from .device import device
from .tiling import TileConfig, upscale_array

Report = Callable[[float, str], None]


def to_float_rgb(pixels: np.ndarray) -> np.ndarray:
    """float32 HxWx3 in [0, 1] (grey repeated, alpha left out)."""
    top = float(np.iinfo(pixels.dtype).max)
    colour = pixels[..., : 3 if pixels.shape[2] >= 3 else 1].astype(np.float32) / top
    return np.repeat(colour, 3, axis=2) if colour.shape[2] == 1 else colour


def from_float_rgb(image: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Back to ``like``'s dtype and channel layout (grey stays grey; ``like``'s alpha is kept)."""
    top = float(np.iinfo(like.dtype).max)
    channels = like.shape[2]
    if channels in (1, 2):
        image = luma(image)[..., None]
    out = np.clip(np.rint(image * top), 0, top).astype(like.dtype)
    return np.concatenate([out, like[..., -1:]], axis=2) if channels in (2, 4) else out


def infer_tiled(
    call: Callable[[torch.Tensor], torch.Tensor], image: np.ndarray, report: Report | None = None, half: bool = False, label: str = "",
    scale: int = 1, config: TileConfig | None = None,
) -> np.ndarray:
    """float RGB [0, 1] in, ``scale`` times larger out, tiled (by default at the default tile size;
    a job passes its own, ``ctx.tiles``) on the shared device, each tile reported as progress."""

    def progress(done: int, total: int) -> None:
        if report:
            report(done / total, f"{label} tile {done}/{total}".strip())

    return upscale_array(call, image, scale, device(), half, config or TileConfig(), progress)
