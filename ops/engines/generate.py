"""Generated backgrounds: Stable Diffusion inpainting (diffusers) paints a new scene around the subject."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ..errors import EngineUnavailableError
from ..models import unavailable_reason, use
from ..weights import entry
from .base import RunContext

WEIGHTS = "sd-inpainting"
WORKING_SIDE = 512  # SD 1.5 was trained at 512 px
STEPS = 25
GUIDED = 2  # classifier-free guidance runs the UNet twice a step


def working_size(width: int, height: int) -> tuple[int, int]:
    """The size the pipeline paints at: the long side at ``WORKING_SIDE``, both sides multiples of 8."""
    scale = WORKING_SIDE / max(height, width)
    return max(8, round(width * scale / 8) * 8), max(8, round(height * scale / 8) * 8)


def pipeline(ctx: RunContext, width: int, height: int) -> Any:
    """The inpainting pipeline for a ``width`` x ``height`` picture, its work checked (or why it
    cannot run, with the command that installs it)."""
    if unavailable_reason(WEIGHTS) is not None:
        raise EngineUnavailableError(
            f"background_type prompt needs the Stable Diffusion inpainting model: run "
            f"`python -m ops weights fetch {WEIGHTS}` ({entry(WEIGHTS).size_hint}, needs network)"
        )
    size = working_size(width, height)
    return use(WEIGHTS, ctx, pixels=size[0] * size[1] / 64, calls=STEPS * GUIDED).net  # the UNet works on 8x smaller latents


def generate_background(rgb: np.ndarray, alpha: np.ndarray, prompt: str, ctx: RunContext) -> np.ndarray:
    """A new background (float RGB in [0, 1], full size) painted where the subject is not."""
    from PIL import Image

    height, width = alpha.shape
    pipe = pipeline(ctx, width, height)
    size = working_size(width, height)
    image = Image.fromarray(np.clip(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) * 255, 0, 255).astype(np.uint8))
    hole = cv2.dilate((cv2.resize(alpha, size, interpolation=cv2.INTER_AREA) < 0.5).astype(np.uint8) * 255, np.ones((5, 5), np.uint8))
    # paint the background only: the subject (not masked) is kept and composited back at full resolution
    mask = Image.fromarray(hole)

    def step(_pipe: Any, index: int, _timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        ctx.report(0.6 + 0.4 * (index + 1) / STEPS, f"generating background, step {index + 1}/{STEPS}")
        return kwargs

    result = pipe(prompt=prompt, image=image, mask_image=mask, height=size[1], width=size[0], num_inference_steps=STEPS,
                  output_type="np", callback_on_step_end=step).images[0]  # fmt: skip
    ctx.detail(generator=WEIGHTS, generator_steps=STEPS, generator_size=list(size))
    return np.clip(cv2.resize(result.astype(np.float32), (width, height), interpolation=cv2.INTER_LANCZOS4), 0.0, 1.0)
