"""Colour fidelity: an upscaler's or restorer's output keeps the input's low-frequency colour.

Networks drift in colour: Real-ESRGAN x4plus moved channel means by up to 7 levels on the example
photos, and diffusion upscalers worse, which is why StableSR and SUPIR end with a "wavelet colour
fix" (the output's high frequencies over the input's low ones). This is that fix, made safe for
restorers, whose point is to change some low frequencies of brightness (deblurring, denoising):

- only colour is taken from the input: chroma (Cb, Cr) below a Gaussian of ``SIGMA`` input pixels,
  and brightness (Y) only at a four times coarser scale (its overall level, region by region), so
  detail, sharpness and local contrast from the network are kept;
- it is computed on a coarse grid (area averages of ``SIGMA / 2`` input pixels) and the correction,
  a smooth field, is interpolated up and added channel by channel: a 48 MP output needs one float
  plane at a time, not copies of the whole image;
- alpha weights the averages (invisible pixels say nothing about colour) and is left as it is;
  grey stays grey (its level alone is fixed); 16-bit stays 16-bit.

Measured on the example photos, ``bench/quality_fidelity.py``: enhance x4 with x4plus, channel-mean
shifts of 1.0-6.9 levels before, under 0.3 after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from ..engines.base import RunContext
    from ..imageio import Picture

SIGMA = 8.0  # chroma low-pass, in input pixels: above JPEG's 16 px chroma blocks, below objects' colour
LUMA_FACTOR = 4.0  # brightness is matched at a scale this much coarser (its level, not its detail)
#: RGB -> (Y, Cb, Cr) with Cb = B - Y and Cr = R - Y (BT.601 weights; linear, so deltas convert too)
_Y = np.array([0.299, 0.587, 0.114], np.float32)


def _yuv(rgb: np.ndarray) -> np.ndarray:
    y = rgb @ _Y
    return np.stack([y, rgb[..., 2] - y, rgb[..., 0] - y], axis=-1)


def _rgb_delta(yuv: np.ndarray) -> np.ndarray:
    y, cb, cr = yuv[..., 0], yuv[..., 1], yuv[..., 2]
    return np.stack([y + cr, y - (_Y[0] * cr + _Y[2] * cb) / _Y[1], y + cb], axis=-1)


def _weighted_blur(values: np.ndarray, weights: np.ndarray, sigma: float) -> np.ndarray:
    """Normalised convolution: a Gaussian average of each plane of ``values`` (h, w, C), counting each cell by its weight."""

    def blur(plane: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(np.ascontiguousarray(plane), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)

    total = np.maximum(blur(weights), 1e-6)
    return np.stack([blur(values[..., c] * weights) / total for c in range(values.shape[2])], axis=-1)


def correction(output: np.ndarray, reference: np.ndarray, alpha: np.ndarray | None = None, sigma: float = SIGMA) -> np.ndarray:
    """The colour correction on a coarse grid: float (gh, gw, C) in [0, 1] units, C = 3 (RGB) or 1 (grey).

    ``reference`` (h, w, C) holds colour channels only, ``output`` (H, W, C or more: alpha is left
    out) the same, in [0, 1] floats or any integer dtype (scaled by its maximum); ``alpha`` (h, w)
    weights the reference's pixels."""
    h, w = reference.shape[:2]
    cell = max(1.0, sigma / 2)  # input pixels per grid cell
    grid = (max(1, round(w / cell)), max(1, round(h / cell)))

    def coarse(image: np.ndarray) -> np.ndarray:
        small = cv2.resize(np.ascontiguousarray(image), grid, interpolation=cv2.INTER_AREA).astype(np.float32)
        small = small.reshape(grid[1], grid[0], -1)
        return small / float(np.iinfo(image.dtype).max) if image.dtype.kind in "ui" else small

    out, ref = coarse(output[..., : reference.shape[2]]), coarse(reference)
    weights = coarse(alpha)[..., 0] if alpha is not None else np.ones(ref.shape[:2], np.float32)
    cells = sigma / cell
    if ref.shape[2] == 1:
        return _weighted_blur(ref - out, weights, cells * LUMA_FACTOR)
    diff = _yuv(ref) - _yuv(out)
    delta = np.concatenate([_weighted_blur(diff[..., :1], weights, cells * LUMA_FACTOR), _weighted_blur(diff[..., 1:], weights, cells)], axis=-1)
    return _rgb_delta(delta)


def apply_correction(pixels: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """``pixels`` (H, W, C[+alpha]) with the coarse ``delta`` interpolated up and added to each colour channel, in place when possible."""
    out = np.array(pixels, copy=True) if not pixels.flags.writeable else pixels
    height, width = out.shape[:2]
    top = float(np.iinfo(out.dtype).max) if out.dtype.kind in "ui" else 1.0
    for channel in range(delta.shape[2]):
        field = cv2.resize(np.ascontiguousarray(delta[..., channel]), (width, height), interpolation=cv2.INTER_LINEAR)
        for start in range(0, height, 512):  # in bands: one float band beside the field, not a float image
            band = out[start : start + 512, :, channel].astype(np.float32) + field[start : start + 512] * top
            out[start : start + 512, :, channel] = np.clip(np.rint(band) if top > 1 else band, 0, top)
    return out


def match_colour(output: np.ndarray, reference: np.ndarray, alpha: np.ndarray | None = None, sigma: float = SIGMA) -> np.ndarray:
    """``output``'s colour channels moved to ``reference``'s low-frequency colour (any sizes; see the module docstring)."""
    return apply_correction(output, correction(output, reference, alpha, sigma))


def channel_means(pixels: np.ndarray) -> np.ndarray:
    """Mean of each colour channel in 0-255 levels (alpha left out)."""
    colour = pixels[..., : 3 if pixels.shape[2] >= 3 else 1]
    top = float(np.iinfo(pixels.dtype).max) if pixels.dtype.kind in "ui" else 1.0
    return colour.reshape(-1, colour.shape[2]).mean(axis=0, dtype=np.float64) * 255 / top


def keep_colour(result: Picture, source: Picture, ctx: RunContext, sigma: float = SIGMA) -> Picture:
    """``result`` with ``source``'s low-frequency colour, the shift of the channel means (levels of 255)
    before and after in the job details. What the chain runs after engines that declare ``keeps_colour``."""
    colours = 3 if source.channels >= 3 else 1
    if result.channels != source.channels or result.pixels.dtype != source.pixels.dtype:
        return result  # a layout change is the engine's own business
    before = channel_means(result.pixels) - channel_means(source.pixels)
    alpha = source.pixels[..., -1] if source.has_alpha else None
    fixed = match_colour(np.array(result.pixels), source.pixels[..., :colours], alpha, sigma)
    after = channel_means(fixed) - channel_means(source.pixels)
    ctx.detail(colour_fix=f"gaussian, chroma {sigma:g} px, brightness {sigma * LUMA_FACTOR:g} px (input pixels)",
               colour_shift_before=[round(float(v), 2) for v in before], colour_shift_after=[round(float(v), 2) for v in after])  # fmt: skip
    return result.with_pixels(fixed)
