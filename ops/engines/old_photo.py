"""restore-old-photo: damage repair, denoising, faces, colourisation and colour, in that order.

1. Scratches (long thin straight-ish ridges) and dust (small isolated specks, none on faces),
   found under the grain (ops.restore.damage), are filled by Navier-Stokes inpainting; the
   details carry the damaged fraction and the mask (``damage_mask``, a PNG data URL at most
   256 px) for the UI. 2. Grain is removed by FFDNet at the measured noise level. 3. Faces go
   through enhance-face's best engine at ``face_enhancement_level``. 4. With colourisation on,
   DDColor colours the photo, blended by ``colorization_strength``; without its weights the job
   fails before any work, naming the fetch command. 5. ``color_boost`` scales chroma in Lab.
"""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from ..errors import EngineUnavailableError
from ..imageio import Picture
from ..imageio.pixels import luma
from ..models import unavailable_reason, use
from ..operations.restore import EnhanceFaceParams, RestoreOldPhotoParams
from ..restore.colour import match_colour
from ..restore.damage import preview, restore
from ..restore.noise import estimate_sigma
from ..weights import entry
from .base import Engine, RunContext, register
from .choice import needed

COLORIZER = "ddcolor"


class OldPhoto(Engine):
    name = "old-photo-pipeline"
    description = "Scratch/dust detection + inpainting, FFDNet denoising, enhance-face, DDColor colourisation (download), Lab colour boost"
    uses_device = True
    weights = "ffdnet-color"
    models = ("ffdnet",)
    needs: ClassVar[dict[str, str]] = {"faces": "enhance-face"}
    deblocks = True  # a scan saved as a blocky JPEG is deblocked first (ops.restore.jpeg)

    def run(self, picture: Picture, params: RestoreOldPhotoParams, ctx: RunContext) -> Picture:  # type: ignore[override]
        from ..runtime.apply import from_float_rgb, infer_tiled, to_float_rgb

        if params.enable_colorization and (reason := unavailable_reason(COLORIZER)) is not None:  # before any work
            raise EngineUnavailableError(f"colourisation needs DDColor: {reason} ({entry(COLORIZER).size_hint})")
        stages: list[str] = []
        if params.auto_repair_damage:
            repaired, damage = restore(to_float_rgb(picture.pixels), estimate_sigma(picture.pixels))
            ctx.detail(damage_fraction=round(damage.fraction, 4), damage_mask=preview(damage.mask))
            if damage.mask.any():
                picture = picture.with_pixels(from_float_rgb(repaired, picture.pixels))
                stages.append("repair (navier-stokes)")
        # the colour the restoration keeps (after the repair: before it, scratches would come back as a glow);
        # colourisation and the colour boost below change colour on purpose, so they come after the fix
        reference = to_float_rgb(picture.pixels)
        ctx.report(0.3, "denoising")
        image = to_float_rgb(picture.pixels)
        sigma = estimate_sigma(image)
        if sigma > 1.5:
            net = use("ffdnet", ctx, pixels=image.shape[0] * image.shape[1]).net
            image = infer_tiled(lambda t: net(t, sigma / 255), image)
            stages.append(f"denoise (ffdnet, sigma {sigma:.1f})")
        picture = picture.with_pixels(from_float_rgb(image, picture.pixels))
        if params.face_enhancement_level > 0:
            ctx.report(0.5, "faces")
            choice = needed(self, "faces")
            restorer = choice.engine
            for warning in choice.warnings:
                ctx.warn(warning)
            face_ctx = RunContext(hints=ctx.hints)
            picture = restorer.run(picture, EnhanceFaceParams(enhancement_level=params.face_enhancement_level), face_ctx)
            ctx.detail(faces=face_ctx.details.get("faces", 0), face_engine=restorer.name,
                       **{k: v for k, v in face_ctx.details.items() if k.startswith("identity_")})  # what the identity guard measured and did
            stages.append(f"faces ({restorer.name})")
            for warning in face_ctx.warnings:
                ctx.warn(warning)
        image = match_colour(to_float_rgb(picture.pixels), reference)
        stages.append("colour kept (low-frequency fix)")
        if params.enable_colorization:
            ctx.report(0.8, "colourising")
            image = colorize(image, params.colorization_strength, ctx)
            stages.append(f"colourise ({COLORIZER}, {params.colorization_strength:g})")
        if params.color_boost != 1.0:
            image = boost_colour(image, params.color_boost)
            stages.append(f"colour boost x{params.color_boost:g}")
        ctx.detail(stages=stages)
        return picture.with_pixels(from_float_rgb(image, picture.pixels))


def boost_colour(image: np.ndarray, factor: float) -> np.ndarray:
    """Chroma scaled in Lab (lightness untouched, hues kept), clipped back into sRGB."""
    lab = cv2.cvtColor(np.clip(image, 0, 1).astype(np.float32), cv2.COLOR_RGB2LAB)
    lab[..., 1:] *= factor
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB), 0, 1)


def colorize(image: np.ndarray, strength: float, ctx: RunContext) -> np.ndarray:
    import torch

    from ..runtime.device import device

    network = use(COLORIZER, ctx).net
    grey = torch.from_numpy(np.ascontiguousarray(luma(image)))[None, None].to(device())
    with torch.inference_mode():
        coloured = network.call(grey)[0].float().clamp(0, 1).cpu().numpy().transpose(1, 2, 0)
    return image + (coloured - image) * strength


register(OldPhoto())
