"""deblur: NAFNet trained on GoPro motion blur (download), or offline: the blur is estimated
(Gaussian/defocus or straight motion) and removed by half-quadratic splitting with FFDNet as the
prior. ``strength`` scales the regularisation: 1.5 lets more detail through, 0.5 stays safe.
Both deblock a blocky input first (deconvolution sharpens blocks too) and keep the input's
low-frequency colour (``deblocks``, ``keeps_colour``)."""

from __future__ import annotations

import numpy as np

from ..imageio import Picture
from ..operations.restore import DeblurParams
from ..restore import blur
from ..restore.deconvolve import deblur
from ..restore.noise import estimate_sigma
from ..weights import WeightsSource
from .base import Engine, RunContext, register
from .denoise import ffdnet

#: the prior's noise floor (0-255 units) by blur kind: motion kernels have spectral zeros and
#: need a firmer prior than the smooth Gaussian one (measured on the examples, see tests)
PRIOR_FLOOR = {"gaussian": 2.0, "motion": 7.65}


class Deblurrer(Engine):
    uses_device = True
    deblocks = True
    keeps_colour = True


class PlugAndPlay(Deblurrer):
    name = "hqs-ffdnet"
    description = "Blur estimated (Gaussian re-blur ratio or motion cepstrum), then HQS deconvolution with the FFDNet prior; offline"
    weights = "ffdnet-color"

    def run(self, picture: Picture, params: DeblurParams, ctx: RunContext) -> Picture:  # type: ignore[override]
        from ..runtime.apply import apply_network, from_float_rgb, to_float_rgb

        image = to_float_rgb(picture.pixels)
        found = blur.estimate(image)
        noise = max(estimate_sigma(image), PRIOR_FLOOR[found.kind]) / params.strength
        ctx.detail(blur=found.describe(), kernel_size=int(found.kernel().shape[0]), prior="ffdnet-color", prior_noise=round(noise, 2))
        if found.kind == "gaussian" and found.size < 0.6:
            ctx.warn(f"the photo looks sharp already ({found.describe()}); little changes")
        net = ffdnet()

        def denoise(x: np.ndarray, sigma: float) -> np.ndarray:
            return apply_network(lambda t: net(t, sigma), x)

        out = deblur(image, found.kernel(), denoise, noise=noise / 255, report=ctx.report)
        return picture.with_pixels(from_float_rgb(out, picture.pixels))


class NAFNetDeblur(Deblurrer):
    name = "nafnet-gopro"
    description = "NAFNet width-64 trained on GoPro motion blur (download)"
    weights = "nafnet-gopro-width64"

    def run(self, picture: Picture, params: DeblurParams, ctx: RunContext) -> Picture:  # type: ignore[override]
        from ..runtime.apply import apply_network, from_float_rgb, to_float_rgb
        from ..runtime.loader import load

        network = load(WeightsSource("nafnet-gopro-width64"))
        image = to_float_rgb(picture.pixels)
        out = apply_network(network.call, image, ctx.report, network.half, "deblurring")
        out = image + (out - image) * params.strength  # strength 1 is the network's result; more sharpens further
        ctx.detail(weights="nafnet-gopro-width64", strength=params.strength, backend=network.backend)
        return picture.with_pixels(from_float_rgb(np.clip(out, 0, 1), picture.pixels))


for _engine in (NAFNetDeblur(), PlugAndPlay()):
    register(_engine)
