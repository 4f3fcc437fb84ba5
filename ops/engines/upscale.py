"""Super-resolution engines: Real-ESRGAN networks run by the shared tiled runtime.

Scales the network lacks are made for quality, not ease: 2x runs the 4x network and
downsamples its output with Lanczos (sharper than any 2x interpolation of the input, and
the same way Real-ESRGAN's own ``outscale`` works); 8x runs the 4x network, brings its output
to 2x with Lanczos and runs the network again (exactly 8x, 5/17 of the cost of two full
4x passes, and the second pass sees a clean, detailed 2x image instead of GAN texture at 4x).
A blocky input is deblocked first and the output keeps the input's low-frequency colour
(``deblocks``, ``keeps_colour``: ops.restore.jpeg, ops.restore.colour).

The faithful engine, waifu2x's photo UpConv7, is trained for PSNR (no GAN): it invents no texture,
so it is the high-fidelity names' engine where realesr-general-x4v3 is not installed, and the first
step of the face names (``bench/fidelity.py``: +1.1 dB over Lanczos at 2x, +0.7 dB at 4x, where the
GAN networks score below Lanczos). It is native 2x; 4x and 8x are two and three 2x passes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..imageio import Picture
from ..imageio.limits import check_dimensions
from ..imageio.pixels import luma
from ..imageio.resample import resize
from ..params import Params
from ..restore.jpeg import WEIGHTS as WAIFU2X
from ..run_config import RunConfig
from .base import Engine, RunContext, register

if TYPE_CHECKING:
    from collections.abc import Callable

    import torch

    from ..runtime.tiling import TileConfig

    Network = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Pass:
    input_size: tuple[int, int]


class SuperResolution(Engine):
    """One Real-ESRGAN model (``ops.models``: its weights are tried best first, official fp32 then ncnn fp16)."""

    uses_device = True
    deblocks = True  # blocks would be enlarged as detail: removed first when the input shows them
    keeps_colour = True  # the GAN's colour drift (up to 7 levels of channel mean) is taken back

    def __init__(self, name: str, description: str) -> None:
        self.name = name  # type: ignore[misc]
        self.models = (name,)  # type: ignore[misc]
        self.description = description  # type: ignore[misc]

    def warm(self, run: RunConfig) -> None:
        from ..models import model

        if self.unavailable_reason() is None:
            model(self.name, int8=run.int8).net.warm(run.tiles)

    def prepare(self, sizes: Sequence[tuple[int, int]], enlargement: int, run: RunConfig) -> None:
        from ..models import model

        if self.unavailable_reason() is None:
            network = model(self.name, int8=run.int8).net
            passes = [p.input_size for width, height in sizes for p in plan_passes(width, height, enlargement, network.scale)]
            network.prepare(passes, run.tiles)

    def run(self, picture: Picture, params: Params, ctx: RunContext) -> Picture:
        from ..models import use, work
        from ..runtime.device import device  # torch loads on first model use, not for free operations

        scale = ctx.enlargement
        ready = use(self.name, ctx)
        network = ready.net
        target = (picture.width * scale, picture.height * scale)
        check_dimensions(*target, what="the result would be")
        passes = plan_passes(picture.width, picture.height, scale, network.scale)
        flops = network.flops_per_pixel * sum(w * h for w, h in (p.input_size for p in passes))
        config = ctx.tiles
        sizes, calibration = [p.input_size for p in passes], network.calibration()
        seconds, compiling = calibration.estimate(sizes, config), calibration.compiling(sizes, config)
        work.check(ready.spec, flops, ctx.run.max_job_seconds, seconds, device().type)  # its own measured speed, not a FLOP rate
        ctx.detail(
            weights=ready.weights,
            device=device().type,
            backend=network.backend,  # how it ran there: chosen by measurement on the CPU (ops.runtime.backends)
            passes=len(passes),
            estimated_seconds=round(seconds, 1),
        )
        ctx.report(0.0, f"about {seconds:.0f} s on {device().type}")
        started = time.perf_counter()
        upscaled = _upscale(picture.pixels, target, passes, network.call, network.scale, network.half, config, ctx)
        calibration.observe(sizes, config, time.perf_counter() - started - compiling)
        return picture.with_pixels(upscaled)


def plan_passes(width: int, height: int, scale: int, native: int) -> list[Pass]:
    """Input size of each network pass (see the module docstring for why)."""
    count = max(1, math.ceil(math.log(scale) / math.log(native) - 1e-9))
    sizes, current = [], (width, height)
    for index in range(count):
        remaining = count - index
        if index > 0:  # bring the previous pass's output to the size the remaining passes need
            factor = scale / native**remaining
            current = (round(width * factor), round(height * factor))
        sizes.append(Pass(current))
        current = (current[0] * native, current[1] * native)
    return sizes


def _upscale(
    pixels: np.ndarray, target: tuple[int, int], passes: list[Pass], call: Network, native: int, half: bool, config: TileConfig, ctx: RunContext,
) -> np.ndarray:
    """Every pass of ``call`` (a ``native``-times network) over the colour, grey and 16-bit kept,
    alpha resized with Lanczos."""
    from ..runtime.device import device
    from ..runtime.tiling import upscale_array

    top = float(np.iinfo(pixels.dtype).max)
    channels = pixels.shape[2]
    colour = pixels[..., : 3 if channels >= 3 else 1]
    image = colour.astype(np.float32) / top
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    for index, step in enumerate(passes):
        if (image.shape[1], image.shape[0]) != step.input_size:
            image = _resize_float(image, step.input_size)
        share = index / len(passes)

        def progress(done: int, total: int, share: float = share) -> None:
            ctx.report(share + done / total / len(passes), f"tile {done}/{total}, pass {index + 1}/{len(passes)}")

        image = upscale_array(call, image, native, device(), half, config, progress)
    if (image.shape[1], image.shape[0]) != target:
        image = _resize_float(image, target)
    if colour.shape[2] == 1:
        image = luma(image)[..., None]
    image *= top  # in place: at 8000x6000 every float copy is 576 MB
    np.rint(image, out=image)
    np.clip(image, 0, top, out=image)
    out = image.astype(pixels.dtype)
    del image
    if channels in (2, 4):  # alpha: Lanczos, which keeps edges clean without inventing texture
        alpha = resize(pixels[..., -1:], *target)
        out = np.concatenate([out, alpha], axis=2)
    return out


def _resize_float(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    deep = np.clip(np.rint(image * 65535), 0, 65535).astype(np.uint16)
    return resize(deep, *size).astype(np.float32) / 65535


class FaithfulUpscaler(Engine):
    """waifu2x photo UpConv7 in 2x passes (see the module docstring); a noisy input (Immerkær's
    estimate of 6 levels or more) runs its strongest noise level, which beat level 0 by 1.6-2.9 dB
    on Gaussian noise of sigma 6-10 and lost 1.9 dB on clean photos."""

    name = "waifu2x-photo"
    description = "waifu2x photo UpConv7 (7 convs, no GAN), 2x passes: the most faithful upscaler, about 1.1 MFLOP per input pixel per pass"
    uses_device = True
    deblocks = True
    keeps_colour = True
    weights = WAIFU2X
    models = ("waifu2x-photo",)

    def run(self, picture: Picture, params: Params, ctx: RunContext) -> Picture:
        from ..imageio.pixels import colour
        from ..models import use
        from ..restore.jpeg import centre_crop
        from ..restore.noise import estimate_sigma
        from ..runtime.device import device

        scale = ctx.enlargement
        target = (picture.width * scale, picture.height * scale)
        check_dimensions(*target, what="the result would be")
        passes = plan_passes(picture.width, picture.height, scale, 2)
        sigma = estimate_sigma(colour(centre_crop(picture.pixels)[0]))
        level = NOISY_LEVEL if sigma >= NOISY else 0
        ready = use("waifu2x-photo", ctx, pixels=sum(w * h for w, h in (p.input_size for p in passes)), level=level)
        ctx.detail(weights=f"{ready.weights} (noise level {level})", device=device().type, passes=len(passes), estimated_noise=round(sigma, 1))
        upscaled = _upscale(picture.pixels, target, passes, ready.net, 2, False, ctx.tiles, ctx)
        return picture.with_pixels(upscaled)


NOISY = 6.0  # Immerkær sigma (0-255) from which the noise level runs: clean photos measure 2-5 (texture)
NOISY_LEVEL = 3


X4PLUS = "Real-ESRGAN x4plus (RRDBNet, 23 blocks): the strongest general photo model, about 36 MFLOP per input pixel"
ANIME6B = "Real-ESRGAN x4plus-anime-6B (RRDBNet, 6 blocks): line art and flat colour"
ANIMEVIDEO = "Real-ESRGAN animevideov3 (SRVGGNetCompact, 16 convs): about 30x less work than x4plus"
GENERAL_V3 = (
    "Real-ESRGAN general-x4v3 (SRVGGNetCompact, 32 convs), blended 50/50 with its weak-denoise companion when "
    "installed: keeps texture and hallucinates least (the high-fidelity engine)"
)

for _engine in (
    SuperResolution("realesrgan-x4plus", X4PLUS),
    SuperResolution("realesrgan-x2plus", "Real-ESRGAN x2plus"),
    SuperResolution("realesr-general-x4v3", GENERAL_V3),
    SuperResolution("realesrgan-x4plus-anime-6b", ANIME6B),
    SuperResolution("realesr-animevideov3", ANIMEVIDEO),
    FaithfulUpscaler(),
):
    register(_engine)
