"""deblur: NAFNet trained on GoPro motion blur (download), or offline: the blur is estimated
(Gaussian/defocus or straight motion) and removed by half-quadratic splitting with FFDNet as the
prior. ``strength`` scales the regularisation: 1.5 lets more detail through, 0.5 stays safe.
Both deblock a blocky input first (deconvolution sharpens blocks too) and keep the input's
low-frequency colour (``deblocks``, ``keeps_colour``). The offline one leaves a sharp photo alone
and clamps overshoot next to edges (a denoised photo is mostly sharp: sharpen_denoise rang)."""

from __future__ import annotations

import numpy as np

from ..imageio import Picture
from ..models import use
from ..operations.restore import DeblurParams
from ..restore import blur
from ..restore.deconvolve import ITERATIONS, clamp_halos, deblur
from ..restore.noise import estimate_sigma
from .base import Engine, RunContext, register

#: the prior's noise floor (0-255 units) by blur kind: motion kernels have spectral zeros and
#: need a firmer prior than the smooth Gaussian one (measured on the examples, see tests)
PRIOR_FLOOR = {"gaussian": 2.0, "motion": 7.65}
#: a Gaussian blur read below this sigma (px) is left alone: the photo is sharp, and deconvolving a blur that
#: is not there only rings. On bench/sharpen_denoise.py sharp photos read 0.46-0.85, 1.05 at most once
#: denoised (noise 15-25), and a 1.5 px blur, denoised, 1.3-1.9; deconvolving the sharp ones cost 2-20 dB.
#: A 1 px blur reads 0.9-1.4: about half of those are left as they are
SHARP = 1.1
#: anti-ringing: the result stays within the input's range over the kernel's footprint, widened by this many
#: levels (0-255), so what overshoots stays under the 8 levels bench/sharpen_denoise.py counts as visible
#: (the input's range is a little wider than the photo's). There, at blur 1.5, it cut the edge band's share
#: past that from 0.87% to 0.05% (denoising alone: 0.00%) for 0.45 of 2.3 dB gained. bench/quality.py --quick:
#: gaussian sigma 2 -0.6 dB, an unrecognised 15 px motion +1.4 dB; 8 levels: -0.4 / +1.3 dB, but a clean
#: step edge then over- and undershoots by 11 levels (tests/test_deblur.py), 4: by 6
HALO_MARGIN = 4.0


class Deblurrer(Engine):
    uses_device = True
    deblocks = True
    keeps_colour = True


class PlugAndPlay(Deblurrer):
    name = "hqs-ffdnet"
    description = "Blur estimated (Gaussian re-blur ratio or motion cepstrum), then HQS deconvolution with the FFDNet prior; offline"
    weights = "ffdnet-color"

    def run(self, picture: Picture, params: DeblurParams, ctx: RunContext) -> Picture:  # type: ignore[override]
        from ..runtime.apply import from_float_rgb, infer_tiled, to_float_rgb

        image = to_float_rgb(picture.pixels)
        found = blur.estimate(image)
        noise = max(estimate_sigma(image), PRIOR_FLOOR[found.kind]) / params.strength
        ctx.detail(blur=found.describe(), kernel_size=int(found.kernel().shape[0]), prior="ffdnet-color", prior_noise=round(noise, 2))
        if found.kind == "gaussian" and found.size < SHARP:
            ctx.warn(f"the photo looks sharp already ({found.describe()}); left as it is")
            ctx.detail(deconvolved=False)
            return picture
        net = use("ffdnet", ctx, pixels=image.shape[0] * image.shape[1], calls=ITERATIONS).net  # one prior pass per HQS iteration

        def denoise(x: np.ndarray, sigma: float) -> np.ndarray:
            return infer_tiled(lambda t: net(t, sigma), x)

        out = deblur(image, found.kernel(), denoise, noise=noise / 255, report=ctx.report)
        out, moved = clamp_halos(out, image, found.kernel(), HALO_MARGIN / 255)
        ctx.detail(deconvolved=True, halo_clamp_levels=HALO_MARGIN, halo_clamped_pct=round(100 * moved, 2))
        return picture.with_pixels(from_float_rgb(out, picture.pixels))


class NAFNetDeblur(Deblurrer):
    name = "nafnet-gopro"
    description = "NAFNet width-64 trained on GoPro motion blur (download)"
    weights = "nafnet-gopro-width64"

    def run(self, picture: Picture, params: DeblurParams, ctx: RunContext) -> Picture:  # type: ignore[override]
        from ..runtime.apply import from_float_rgb, infer_tiled, to_float_rgb

        network = use("nafnet-gopro", ctx, pixels=picture.width * picture.height).net
        image = to_float_rgb(picture.pixels)
        out = infer_tiled(network.call, image, ctx.report, network.half, "deblurring", config=ctx.tiles)
        out = image + (out - image) * params.strength  # strength 1 is the network's result; more sharpens further
        ctx.detail(weights="nafnet-gopro-width64", strength=params.strength, backend=network.backend)
        return picture.with_pixels(from_float_rgb(np.clip(out, 0, 1), picture.pixels))


for _engine in (NAFNetDeblur(), PlugAndPlay()):
    register(_engine)
