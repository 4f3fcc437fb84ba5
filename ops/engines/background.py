"""What remove-, replace- and blur-background do with the subject's matte (``COMPOSITES``, which
their segmenter engines look up by the parameters they are given)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..imageio import Picture, decode
from ..imageio.pixels import flatten_alpha
from ..imageio.writer import FORMAT_ALIASES
from ..masks import decontaminate
from ..operations.background import BlurBackgroundParams, RemoveBackgroundParams, ReplaceBackgroundParams
from ..params import Params
from .base import RunContext
from .generate import generate_background, pipeline


def _float(picture: Picture) -> tuple[np.ndarray, float]:
    top = 65535.0 if picture.bit_depth == 16 else 255.0
    return picture.rgb.astype(np.float32) / top, top


def _pack(rgb: np.ndarray, alpha: np.ndarray | None, top: float, dtype: np.dtype) -> np.ndarray:
    layers = [rgb] if alpha is None else [rgb, alpha[..., None]]
    out = np.clip(np.rint(np.concatenate(layers, axis=2) * top), 0, top).astype(dtype)
    if alpha is not None:
        out[out[..., 3] == 0, :3] = 0  # invisible pixels carry no old background (and compress far better)
    return out


def _cutout(picture: Picture, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Decontaminated foreground colours and the final alpha (an input alpha is respected)."""
    rgb, top = _float(picture)
    if picture.has_alpha:
        alpha = alpha * (picture.pixels[..., -1].astype(np.float32) / top)
    radius = max(3, round(max(alpha.shape) / 150))
    return decontaminate(rgb, alpha, radius), alpha, top


def remove_background(picture: Picture, alpha: np.ndarray, params: RemoveBackgroundParams, ctx: RunContext) -> Picture:
    foreground, alpha, top = _cutout(picture, alpha)
    pixels = _pack(foreground, alpha, top, picture.pixels.dtype)
    fmt = FORMAT_ALIASES[params.output_format]
    if fmt == "jpeg":
        pixels = flatten_alpha(pixels)
        ctx.warn("jpg output: the cut-out is flattened onto white")
    return picture.with_pixels(pixels).with_changes(target_format=fmt)


def replace_background(picture: Picture, alpha: np.ndarray, params: ReplaceBackgroundParams, ctx: RunContext) -> Picture:
    foreground, alpha, top = _cutout(picture, alpha)
    height, width = alpha.shape
    kind = params.background_type
    if kind == "transparent":
        return picture.with_pixels(_pack(foreground, alpha, top, picture.pixels.dtype)).with_changes(target_format="png")
    if kind == "color":
        colour = np.array([int(params.background_color[i : i + 2], 16) for i in (1, 3, 5)], np.float32) / 255.0
        background = np.broadcast_to(colour, (height, width, 3))
    elif kind == "image":
        background = _cover(decode(ctx.resolve(params.background_image_key)), width, height)
    else:
        background = generate_background(foreground, alpha, params.background_prompt, ctx)
    a = alpha[..., None]
    result = foreground * a + background * (1.0 - a)
    return picture.with_pixels(_pack(result, None, top, picture.pixels.dtype))


def _cover(background: Picture, width: int, height: int) -> np.ndarray:
    """Scale to cover width x height (no distortion), centred crop: like CSS background-size: cover."""
    rgb, _ = _float(background)
    scale = max(width / rgb.shape[1], height / rgb.shape[0])
    size = (max(width, round(rgb.shape[1] * scale)), max(height, round(rgb.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LANCZOS4
    scaled = np.clip(cv2.resize(rgb, size, interpolation=interpolation), 0, 1)
    x, y = (size[0] - width) // 2, (size[1] - height) // 2
    return scaled[y : y + height, x : x + width]


def blur_background(picture: Picture, alpha: np.ndarray, params: BlurBackgroundParams, ctx: RunContext) -> Picture:
    """Lens-like background blur: subject colours never bleed into the blur, the edge fades softly."""
    rgb, top = _float(picture)
    sigma = params.blur_radius / 2.0
    weight = (1.0 - alpha).astype(np.float32)
    coverage = cv2.GaussianBlur(weight, (0, 0), sigma)[..., None]
    blurred = cv2.GaussianBlur(rgb * weight[..., None], (0, 0), sigma) / np.maximum(coverage, 1e-4)
    # where the background is hidden behind the subject, fall back to a plain blur
    blurred = np.where(coverage > 0.05, blurred, cv2.GaussianBlur(rgb, (0, 0), sigma))
    soft = cv2.GaussianBlur(alpha, (0, 0), max(1.0, sigma / 6))[..., None]  # the soft transition
    result = rgb * soft + blurred * (1.0 - soft)
    pixels = _pack(result, None, top, picture.pixels.dtype)
    if picture.has_alpha:
        pixels = np.concatenate([pixels, picture.pixels[..., -1:]], axis=2)
    fmt = FORMAT_ALIASES[params.output_format]
    return picture.with_pixels(flatten_alpha(pixels) if fmt == "jpeg" else pixels).with_changes(target_format=fmt)


def _check_replace(picture: Picture, params: ReplaceBackgroundParams, ctx: RunContext) -> None:
    if params.background_type == "prompt":
        pipeline(ctx, picture.width, picture.height)  # loaded (or what is missing said, or its work refused) before any segmentation


def _nothing_to_check(picture: Picture, params: Any, ctx: RunContext) -> None:
    return None


@dataclass(frozen=True)
class Composite:
    compose: Callable[[Picture, np.ndarray, Any, RunContext], Picture]
    check: Callable[[Picture, Any, RunContext], None] = _nothing_to_check  # before segmenting: a job fails fast


COMPOSITES: Mapping[type[Params], Composite] = {
    RemoveBackgroundParams: Composite(remove_background),
    ReplaceBackgroundParams: Composite(replace_background, _check_replace),
    BlurBackgroundParams: Composite(blur_background),
}
