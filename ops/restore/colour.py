"""Colour fidelity: an upscaler's or restorer's output keeps the input's low-frequency colour.

Networks drift in colour: Real-ESRGAN x4plus moved channel means by up to 7 levels on the example
photos; diffusion upscalers drift too, which is why StableSR and SUPIR end with a "wavelet colour
fix" (the output's high frequencies over the input's low ones). This is that fix (a Gaussian
low-pass rather than a wavelet stack: the same split, one blur), made safe for restorers, whose
point is to change some low frequencies of brightness (deblurring, denoising):

- only colour is taken from the input: chroma (Cb, Cr) below a Gaussian of ``SIGMA`` input pixels,
  and brightness (Y) only at a four times coarser scale (its overall level, region by region), so
  detail, sharpness and local contrast from the network are kept;
- a noisy input (a denoiser's) gives its colour at a coarser scale, 1.2 pixels per level of noise,
  where its noise averages out (at 8 px, sigma-25 noise left 0.2 dB of colour blotches behind),
  and its local means are taken back through the clipping its noise went through (a noisy black
  area averages well above black);
- it is computed on a coarse grid (area averages of ``SIGMA / 2`` input pixels) and the correction,
  a smooth field, is interpolated up and added channel by channel: a 48 MP output needs one float
  plane at a time, not copies of the whole image;
- alpha weights the averages (invisible pixels say nothing about colour) and is left as it is;
  grey stays grey (its level alone is fixed); 16-bit stays 16-bit.

Measured with ``bench/quality_fidelity.py`` (256 px crops of the example photos taken down 4x):
enhance x4 with x4plus moved the largest channel mean by 2.5-5.6 levels, 0.03-0.10 after the fix,
and PSNR rose 0.07-0.48 dB. Denoising (FFDNet, 192 px crops, sigma 15-50) gained 0-1.7 dB from it,
the most on dark photos where clipped noise had lifted the network's output; deblurring: +-0.01 dB.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from ..engines.base import RunContext
    from ..imageio import Picture

SIGMA = 8.0  # chroma low-pass, in input pixels: above JPEG's 16 px chroma blocks, below objects' colour
NOISE_SCALE = 1.2  # a noisy input's colour is trusted only where its noise averages out (under 1/4 level)
NOISY = 5.0  # levels: below, the estimate reads mostly texture (clean photos: 1.5-5.4) and clipping is no matter
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


def unclipped(mean: np.ndarray, noise: float) -> np.ndarray:
    """True levels in [0, 1] behind local ``mean``s of pixels with Gaussian ``noise`` clipped to [0, 1]:
    clipping lifts a noisy dark area's mean (sigma 25 on black: +10 levels) and the fix must not
    put that back into the denoised output."""
    if noise <= 0:
        return mean
    level = np.linspace(-4 * noise, 1 + 4 * noise, 1024)
    erf = np.vectorize(math.erf)

    def above(t: np.ndarray) -> np.ndarray:  # E[max(t + noise * z, 0)], z standard normal
        z = t / noise
        return t * 0.5 * (1 + erf(z / math.sqrt(2))) + noise * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)

    expected = above(level) - above(level - 1)  # E[clip(level + noise, 0, 1)]: increasing in level
    return np.clip(np.interp(mean, expected, level), 0.0, 1.0).astype(np.float32)


def correction(output: np.ndarray, reference: np.ndarray, sigma: float = SIGMA, noise: float = 0.0) -> np.ndarray:
    """The colour correction on a coarse grid: float (gh, gw, C) in [0, 1] units, C = 3 (RGB) or 1 (grey).

    ``output`` (H, W, C) and ``reference`` (h, w, C) are pixels in one layout (grey, grey + alpha,
    RGB, RGBA), [0, 1] floats or any integer dtype (scaled by its maximum). Alpha weights the
    averages (premultiplied) and is not corrected; ``noise`` (in [0, 1] units) is the reference's,
    undone from its clipped means."""
    h, w = reference.shape[:2]
    colours = 3 if reference.shape[2] >= 3 else 1
    cell = max(1.0, sigma / 2)  # input pixels per grid cell
    grid = (max(1, round(w / cell)), max(1, round(h / cell)))

    def coarse(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean colour per grid cell, mean alpha per cell)."""
        top = float(np.iinfo(image.dtype).max) if image.dtype.kind in "ui" else 1.0

        def area(plane: np.ndarray) -> np.ndarray:
            return cv2.resize(np.ascontiguousarray(plane), grid, interpolation=cv2.INTER_AREA).astype(np.float32).reshape(grid[1], grid[0], -1) / top

        if image.shape[2] not in (2, 4):
            return area(image[..., :colours]), np.ones((grid[1], grid[0]), np.float32)
        alpha = image[..., -1:].astype(np.float32)  # a float copy only for pictures with alpha
        weight = area(alpha)[..., 0]
        return area(image[..., :colours] * alpha) / np.maximum(weight, 1e-6)[..., None] / top, weight

    out, _ = coarse(output)
    ref, weights = coarse(reference)
    ref = unclipped(ref, noise)
    cells = sigma / cell
    if colours == 1:
        return _weighted_blur(ref - out, weights, cells * LUMA_FACTOR)
    diff = _yuv(ref) - _yuv(out)
    delta = np.concatenate([_weighted_blur(diff[..., :1], weights, cells * LUMA_FACTOR), _weighted_blur(diff[..., 1:], weights, cells)], axis=-1)
    return _rgb_delta(delta)


def _bayer(size: int = 8) -> np.ndarray:
    """Ordered-dither thresholds in [0, 1): a correction of a quarter level lifts a quarter of the pixels by one."""
    matrix = np.zeros((1, 1))
    while matrix.shape[0] < size:
        matrix = np.block([[4 * matrix, 4 * matrix + 2], [4 * matrix + 3, 4 * matrix + 1]])
    return ((matrix + 0.5) / matrix.size).astype(np.float32)


def apply_correction(pixels: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """``pixels`` (H, W, C[+alpha]) with the coarse ``delta`` interpolated up and added to each colour
    channel, in place when possible. Integer pixels are dithered, not rounded: most corrections are
    under half a level, and rounding would drop them whole."""
    out = np.array(pixels, copy=True) if not pixels.flags.writeable else pixels
    height, width = out.shape[:2]
    integer = out.dtype.kind in "ui"
    top = float(np.iinfo(out.dtype).max) if integer else 1.0
    band = 512  # rows at a time: one float band beside the field, not a float image
    threshold = np.tile(_bayer(), (band // 8, -(-width // 8)))[:, :width] - 0.5
    for channel in range(delta.shape[2]):
        field = cv2.resize(np.ascontiguousarray(delta[..., channel]), (width, height), interpolation=cv2.INTER_LINEAR)
        for start in range(0, height, band):
            rows = out[start : start + band, :, channel].astype(np.float32) + field[start : start + band] * top
            if integer:
                rows = np.rint(rows + threshold[: rows.shape[0]])
            out[start : start + band, :, channel] = np.clip(rows, 0, top)
    return out


def channel_means(pixels: np.ndarray) -> np.ndarray:
    """Mean of each colour channel in 0-255 levels (alpha left out)."""
    colour = pixels[..., : 3 if pixels.shape[2] >= 3 else 1]
    top = float(np.iinfo(pixels.dtype).max) if pixels.dtype.kind in "ui" else 1.0
    return colour.reshape(-1, colour.shape[2]).mean(axis=0, dtype=np.float64) * 255 / top


def scales_for(reference: np.ndarray) -> tuple[float, float]:
    """(low-pass sigma in input pixels, noise in levels of 255 to undo from clipped means) for this input:
    ``SIGMA``, coarser where it is noisy (noise measured on a centre crop: it says enough, cheaply)."""
    from .noise import estimate_sigma

    height, width = reference.shape[:2]
    top, left = max(0, (height - 512) // 2), max(0, (width - 512) // 2)
    noise = estimate_sigma(np.ascontiguousarray(reference[top : top + 512, left : left + 512, : 3 if reference.shape[2] >= 3 else 1]))
    return max(SIGMA, round(NOISE_SCALE * noise, 1)), noise if noise >= NOISY else 0.0


def match_colour(output: np.ndarray, reference: np.ndarray, scales: tuple[float, float] | None = None) -> np.ndarray:
    """``output``'s colour channels moved to ``reference``'s low-frequency colour, in place when
    writeable: any sizes, one layout (alpha kept), float [0, 1] or integer pixels. The one colour
    fix every upscaler and restorer uses (see the module docstring); ``scales``: ``scales_for(reference)``."""
    sigma, noise = scales or scales_for(reference)
    return apply_correction(output, correction(output, reference, sigma, noise / 255))


def keep_colour(result: Picture, source: Picture, ctx: RunContext) -> Picture:
    """``result`` with ``source``'s low-frequency colour, the shift of the channel means (levels of 255)
    before and after in the job details. What the chain runs after engines that declare ``keeps_colour``."""
    if result.channels != source.channels or result.pixels.dtype != source.pixels.dtype:
        return result  # a layout change is the engine's own business
    before = channel_means(result.pixels) - channel_means(source.pixels)
    scales = scales_for(source.pixels)
    fixed = match_colour(np.array(result.pixels), source.pixels, scales)  # a copy: the engine may have returned its input
    after = channel_means(fixed) - channel_means(source.pixels)
    sigma = scales[0]
    ctx.detail(colour_fix=f"gaussian, chroma {sigma:g} px, brightness {sigma * LUMA_FACTOR:g} px (input pixels)",
               colour_shift_before=[round(float(v), 2) for v in before], colour_shift_after=[round(float(v), 2) for v in after])  # fmt: skip
    return result.with_pixels(fixed)
