"""Scratches and dust on scanned prints, found under film grain without touching the picture.

Film grain is as strong as a faint scratch pixel by pixel, so nothing is decided per pixel:
- scratches are long, thin, oriented ridges. For each of ``ANGLES`` orientations a line filter
  averages the (lightly smoothed) luminance along a segment, which beats the grain down by the
  square root of its length, and compares it with the two parallel segments beside it: a ridge
  is brighter (or darker) than *both* sides, so a step edge of the picture does not respond.
  What stays above the noise floor is then opened with a line element of the minimum scratch
  length in the same orientation: only straight-ish runs longer than that survive, so eye glints,
  specular highlights and short curved edges (a glasses frame) are never taken.
- dust is a small outlier against a robust local background: the median of a window much larger
  than a speck ignores the speck, and the residual must clear both an absolute contrast and the
  local texture's own spread (fur, gravel and foliage are busy everywhere, dust is not), in a
  blob small and compact enough to be a speck.
``repair`` fills the mask from a smoothed copy (Telea), then puts back grain of the measured
strength so the fill does not read as a smooth patch before the denoiser sees it.
"""

from __future__ import annotations

import base64
import io
import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from .noise import estimate_sigma

ANGLES = 16  # orientations of the line filter, 11.25 degrees apart
DRIFT = 2  # pixels a line between two filter angles drifts off either one over the minimum length
SMOOTHING = 0.8  # Gaussian sigma of the working copy (grain falls to about a third)


@dataclass(frozen=True)
class DamageTuning:
    """Sizes in pixels of a 512 px picture (scaled with the picture), contrasts in 0-255 levels."""

    segment: int = 21  # length of the line filter: the grain falls by sqrt(segment)
    side: float = 3.0  # distance of the side segments from the centre line: wider scratches are not scratches
    min_length: int = 41  # straight runs shorter than this (in the filter's direction) are not scratch pieces
    min_extent: float = 81.0  # nor are connected pieces spanning less than this: a scratch is long
    ridge_contrast: float = 14.0  # absolute floor of a scratch's contrast to both sides
    ridge_noise: float = 5.0  # ... and how many grain-floor deviations it must clear
    dust_window: int = 11  # median window of the local background (a speck must be under half of it)
    dust_contrast: float = 30.0  # absolute floor of a speck's contrast
    dust_texture: float = 6.0  # ... and how many local texture spreads it must clear
    dust_area: int = 48  # largest speck (pixels)
    dust_isolation: float = 0.15  # the most a speck's surroundings may stand out, against its own peak
    rim_contrast: float = 10.0  # damage cores grow over neighbours at least this far off the local median ...
    rim: float = 3.0  # ... up to this many pixels


TUNING = DamageTuning()


def damage_mask(luma: np.ndarray, sigma: float | None = None, tuning: DamageTuning = TUNING) -> np.ndarray:
    """bool HxW: scratches and dust of a float luminance image in [0, 1]; ``sigma`` is the grain in
    0-255 levels (estimated when not given)."""
    image = luma.astype(np.float32) * 255.0
    if sigma is None:
        sigma = estimate_sigma(np.ascontiguousarray(image[..., None] / 255.0))
    scale = max(0.5, min(image.shape) / 512)
    smooth = cv2.GaussianBlur(image, (0, 0), SMOOTHING)
    window = max(5, round(tuning.dust_window * scale)) | 1
    residual = smooth - cv2.medianBlur(np.clip(smooth, 0, 255).astype(np.uint8), window).astype(np.float32)
    bright, dark = scratches(smooth, sigma, scale, tuning)
    specks = dust(residual, scale, tuning)
    # the cores grow over the rest of the damage (a wide scratch's sides, a speck's rim), same polarity only
    loose = max(tuning.rim_contrast, 3.5 * sigma * _smooth_gain())
    steps = max(2, round(tuning.rim * scale))
    mask = _grow(bright | (specks & (residual > 0)), residual > loose, steps) | _grow(dark | (specks & (residual < 0)), residual < -loose, steps)
    return cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=max(1, round(scale))).astype(bool)


def _grow(seeds: np.ndarray, allowed: np.ndarray, steps: int) -> np.ndarray:
    """``seeds`` grown into connected ``allowed`` pixels, at most ``steps`` pixels."""
    grown, allowed = seeds.astype(np.uint8), (allowed | seeds).astype(np.uint8)
    for _ in range(steps):
        grown = cv2.dilate(grown, np.ones((3, 3), np.uint8)) & allowed
    return grown.astype(bool)


@functools.cache
def _smooth_gain() -> float:
    """The spread of unit grain after the working copy's smoothing."""
    return float(np.std(cv2.GaussianBlur(np.random.default_rng(0).normal(0, 1, (128, 128)).astype(np.float32), (0, 0), SMOOTHING)[8:-8, 8:-8]))


def _line(length: int, angle: float, size: int | None = None) -> np.ndarray:
    """A one-pixel anti-aliased line kernel (sums to 1) through the centre of a square."""
    size = size or length | 1
    kernel = np.zeros((size, size), np.float32)
    c, half = size // 2, (length - 1) / 2
    dx, dy = math.cos(angle) * half, math.sin(angle) * half
    scale = 16  # sub-pixel end points
    cv2.line(kernel, (round((c - dx) * scale), round((c - dy) * scale)), (round((c + dx) * scale), round((c + dy) * scale)), 1.0, 1, cv2.LINE_AA, 4)
    return kernel / kernel.sum()


def _element(length: int, angle: float) -> np.ndarray:
    """A one-pixel-wide line of ``length`` pixels: the structuring element of an oriented opening."""
    element = np.zeros((length, length), np.uint8)
    c, half = length // 2, (length - 1) / 2
    dx, dy = math.cos(angle) * half, math.sin(angle) * half
    cv2.line(element, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1, 1, cv2.LINE_8)
    return element


def _shift(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``image`` moved so that out[p] = image[p + (dx, dy)]."""
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, matrix, image.shape[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)


@functools.cache
def _ridge_gain(segment: int, side: float) -> float:
    """The spread of a ridge response on grain of unit strength (measured once on white noise)."""
    noise = cv2.GaussianBlur(np.random.default_rng(0).normal(0, 1, (128, 128)).astype(np.float32), (0, 0), SMOOTHING)
    centre = cv2.filter2D(noise, -1, _line(segment, 0.3))
    return float(np.std((centre - _shift(centre, 0, side))[segment:-segment, segment:-segment]))


def scratches(smooth: np.ndarray, sigma: float, scale: float, tuning: DamageTuning) -> tuple[np.ndarray, np.ndarray]:
    """(bright, dark) scratch cores of the smoothed luminance (0-255)."""
    segment = max(9, round(tuning.segment * scale)) | 1
    side = tuning.side * scale
    length = max(15, round(tuning.min_length * scale)) | 1
    extent = tuning.min_extent * scale
    found = {True: np.zeros(smooth.shape, bool), False: np.zeros(smooth.shape, bool)}
    responses = []
    for k in range(ANGLES):
        angle = math.pi * k / ANGLES
        centre = cv2.filter2D(smooth, -1, _line(segment, angle), borderType=cv2.BORDER_REFLECT)
        nx, ny = -math.sin(angle) * side, math.cos(angle) * side  # the normal
        left, right = _shift(centre, nx, ny), _shift(centre, -nx, -ny)
        bright = np.minimum(centre - left, centre - right)
        dark = np.minimum(left - centre, right - centre)
        responses.append((angle, bright, dark))
    threshold = max(tuning.ridge_contrast, tuning.ridge_noise * sigma * _ridge_gain(segment, side))
    for angle, bright, dark in responses:
        element = _element(length, angle)
        across = _element(2 * DRIFT + 1, angle + math.pi / 2)
        for polarity, ridge in ((True, bright), (False, dark)):
            candidate = (ridge > threshold).astype(np.uint8)
            if candidate.any():  # widened across first: a line between two filter angles drifts off a thin band
                widened = cv2.dilate(candidate, across)
                straight = cv2.morphologyEx(widened, cv2.MORPH_OPEN, element).astype(bool) & candidate.astype(bool)
                found[polarity] |= _long(straight, angle, extent)
    return found[True], found[False]


def _long(found: np.ndarray, angle: float, extent: float) -> np.ndarray:
    """The connected parts of ``found`` that span at least ``extent`` pixels along ``angle``."""
    count, labels = cv2.connectedComponents(found.astype(np.uint8), connectivity=8)
    if count <= 1:
        return found
    ys, xs = np.nonzero(labels)
    owner = labels[ys, xs]
    along = xs * math.cos(angle) + ys * math.sin(angle)
    low, high = np.full(count, np.inf), np.full(count, -np.inf)
    np.minimum.at(low, owner, along)
    np.maximum.at(high, owner, along)
    keep = high - low >= extent
    keep[0] = False
    return keep[labels]


def dust(residual: np.ndarray, scale: float, tuning: DamageTuning) -> np.ndarray:
    """Speck cores: small, compact, isolated outliers of the residual against the local median."""
    window = max(5, round(tuning.dust_window * scale)) | 1
    magnitude = np.abs(residual)
    spread = cv2.medianBlur(np.clip(magnitude * 4, 0, 255).astype(np.uint8), 3 * window).astype(np.float32) / 4 * 1.4826
    candidate = (magnitude > np.maximum(tuning.dust_contrast, tuning.dust_texture * spread)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(candidate, connectivity=8)
    if count <= 1:
        return np.zeros(residual.shape, bool)
    area = stats[:, cv2.CC_STAT_AREA]
    extent = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    # isolation: the ring two to three pixels out is calm (a piece of a line or of texture is not)
    near = cv2.dilate(labels.astype(np.float32), np.ones((7, 7), np.uint8))
    ring = (cv2.dilate(candidate, np.ones((7, 7), np.uint8)) > 0) & (cv2.dilate(candidate, np.ones((3, 3), np.uint8)) == 0)
    owner = near[ring].astype(np.int64)
    ring_mean = np.bincount(owner, magnitude[ring], count) / np.maximum(np.bincount(owner, minlength=count), 1)
    peak = np.zeros(count, np.float32)
    np.maximum.at(peak, labels.ravel(), magnitude.ravel())
    keep = (area <= tuning.dust_area * scale * scale) & (extent * extent <= 4 * area + 4) & (ring_mean <= tuning.dust_isolation * peak)
    keep[0] = False
    return keep[labels]


def repair(rgb: np.ndarray, mask: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """float RGB [0, 1] with ``mask`` filled (Telea from a smoothed copy) and grain of ``sigma``
    (0-255 levels) put back inside the fill, so it reads like its surroundings."""
    if not mask.any():
        return rgb
    smooth = cv2.GaussianBlur(rgb, (0, 0), 1.0) if sigma > 1.5 else rgb
    eight = np.clip(np.rint(smooth * 255), 0, 255).astype(np.uint8)
    radius = max(3, round(min(rgb.shape[:2]) / 170))
    filled = cv2.inpaint(eight, mask.astype(np.uint8), radius, cv2.INPAINT_TELEA).astype(np.float32) / 255
    if sigma > 1.5:
        grain = np.random.default_rng(seed).normal(0.0, sigma / 255, rgb.shape[:2]).astype(np.float32)
        filled += grain[..., None]
    out = rgb.copy()
    out[mask] = np.clip(filled[mask], 0, 1)
    return out


def preview(mask: np.ndarray, side: int = 256) -> str:
    """The mask as a small PNG data URL (longest side ``side``) for the job's details: a damaged
    pixel stays visible when the mask is shrunk (max over each cell)."""
    from PIL import Image

    height, width = mask.shape
    factor = max(height, width) / side
    if factor > 1:
        size = (max(1, round(width / factor)), max(1, round(height / factor)))
        small = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    else:
        small = mask
    buffer = io.BytesIO()
    Image.fromarray(small.astype(np.uint8) * 255, "L").save(buffer, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
