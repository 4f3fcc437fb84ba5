"""Generative upscaling: latent diffusion super-resolution (CompVis LDM 4x, Apache-2.0) through
diffusers, used by the ``generative`` model names. It invents detail rather than recovering it,
so ``auto`` never picks it for ``enhance``; a model name asks for it by name, and without its
weights the job fails before any work (and before any coins are taken).

Large images go through in tiles (seamless blending, as the other upscalers); fp16 on CUDA.
Diffusion drifts in colour, so the output keeps the input's low-frequency colour (the "wavelet
colour fix" of StableSR and SUPIR, ops.restore.colour); a blocky input is deblocked first.
"""

from __future__ import annotations

import numpy as np

from ..imageio import Picture
from ..models import use
from ..params import Params
from .base import Engine, RunContext, register

WEIGHTS = "ldm-sr-4x"
STEPS = 50  # DDIM steps: about where extra steps stop changing the result
TILE = 128  # low-resolution tile side: the network's training size


class LatentDiffusionSR(Engine):
    name = "ldm-sr-4x"
    description = "Latent diffusion super-resolution 4x (generative: invents plausible detail; download)"
    uses_device = True
    deblocks = True  # blocks would be invented into texture
    keeps_colour = True
    models = (WEIGHTS,)

    def run(self, picture: Picture, params: Params, ctx: RunContext) -> Picture:
        import cv2
        import torch

        from ..runtime.apply import from_float_rgb, infer_tiled, to_float_rgb
        from ..runtime.tiling import TileConfig

        pipe = use(WEIGHTS, ctx, pixels=picture.width * picture.height, calls=STEPS).net  # the UNet runs at the input's size
        native = 2 ** (len(pipe.vqvae.config.block_out_channels) - 1)  # the autoencoder's upsampling
        generator = torch.Generator("cpu").manual_seed(0)  # the same picture gives the same result

        def tile(x: torch.Tensor) -> torch.Tensor:
            out = pipe(image=(x.float() * 2 - 1).to(pipe.device, pipe.unet.dtype), num_inference_steps=STEPS, eta=1.0,
                       generator=generator, output_type="np").images[0]  # fmt: skip
            return torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1)))[None]

        image = to_float_rgb(picture.pixels)
        target = (picture.width * ctx.enlargement, picture.height * ctx.enlargement)

        big = infer_tiled(tile, image, ctx.report, label="diffusion", scale=native, config=TileConfig(tile=TILE, overlap=16, context=8))
        if (big.shape[1], big.shape[0]) != target:
            big = cv2.resize(big, target, interpolation=cv2.INTER_AREA if big.shape[1] > target[0] else cv2.INTER_LANCZOS4)
        ctx.detail(weights=WEIGHTS, steps=STEPS, native_scale=native)
        return picture.with_pixels(from_float_rgb(np.clip(big, 0, 1), _resized_like(picture.pixels, target)))


def _resized_like(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A template with the target size, dtype and channels (alpha resized with Lanczos)."""
    from ..imageio.resample import resize

    return resize(pixels, *size)


register(LatentDiffusionSR())
