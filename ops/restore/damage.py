"""Scratches and dust on scanned prints, found under film grain without repairing the picture.

Grain is as strong as a faint scratch pixel by pixel, so nothing is decided pixel by pixel:
every decision is about a whole structure, measured where the grain has been averaged away.
- Scratches are long, thin, straight-ish ridges. For each of ``ANGLES`` orientations a line
  filter averages the luminance along a segment (grain falls by the square root of its length)
  and compares it with the parallel segments on either side: a ridge stands out from *both*
  sides, so a step edge does not respond. Ridges are opened with a line element in the same
  orientation and must then span ``min_extent``: eye glints, specular highlights, a glasses
  frame or a helmet's rim (short, or curved) are never scratches. A stretch whose two sides
  differ about as much as it stands out (a highlight along an object's edge) is dropped; a
  scratch found is followed along its direction where it grows faint.
- Dust is a small outlier of a lightly smoothed copy against a robust local background (a
  median over a window much larger than a speck), strong against a floor and the local texture,
  small, compact, alone on an even surround (a highlight on a shaded object is not), on a
  background that is the same at a wider scale (a glint inside a dark iris is not). None is
  taken on faces (``faces``).
Each core then grows over its soft sides (same polarity, a share of its contrast) and a margin.
What cannot be told apart: long, straight, thin lines of the picture itself (wires, the beams
of a tower, a tripod's legs) look like scratches and may be taken.
``repair`` fills the mask by OpenCV's Navier-Stokes inpainting (its docstring says why without
smoothing and without grain put back).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..imageio.pixels import luma as luminance
from ..masks import to_data_url
from .noise import estimate_sigma

ANGLES = 16  # orientations of the line filter, 11.25 degrees apart
DRIFT = 2  # pixels a line between two filter angles drifts off either one over the opening's length
SHORT = 7  # pixels: the segment that measures how the two sides of a ridge differ (a long one drifts)
SMOOTHING = 0.8  # Gaussian sigma of the working copy: grain falls to about a third, a scratch stays


@dataclass(frozen=True)
class DamageTuning:
    """Sizes in pixels of a 512 px picture (scaled with it), contrasts in 0-255 levels. Set by
    ``bench/old_photo.py``: damage fixed under grain against pixels changed on clean photos."""

    segment: int = 21  # length of the line filter
    side: float = 3.0  # distance of the side segments from the centre line (never less)
    min_length: int = 41  # straight runs shorter than this are not scratch pieces
    min_extent: float = 81.0  # nor are connected pieces spanning less than this: a scratch is long
    ridge_contrast: float = 26.0  # a scratch's least contrast to both sides ...
    ridge_noise: float = 5.0  # ... and how many of the grain's deviations (after the filter)
    ridge_asymmetry: float = 0.5  # the most a stretch's two sides may differ, against its contrast
    follow: float = 0.5  # a scratch is followed along its direction while it clears this share of that ...
    follow_steps: int = 3  # ... for this many half opening lengths
    dust_window: int = 11  # median window of the local background (a speck covers under half of it)
    dust_contrast: float = 30.0  # a speck's least contrast ...
    dust_texture: float = 6.0  # ... and how many of the local texture's deviations it must clear
    dust_peak: float = 40.0  # the least contrast of a speck's strongest pixel
    dust_area: int = 48  # largest speck (pixels)
    dust_min_area: int = 3  # smallest: a pixel or two above the threshold is grain or texture
    dust_isolation: float = 0.35  # the most a speck's surround may vary (std), against its contrast
    dust_context: float = 0.4  # the most its background changes at a 3x wider window, against its contrast
    rim_contrast: float = 10.0  # cores grow over neighbours at least this far off the local median ...
    rim_share: float = 0.35  # ... and at least this share of the core's own contrast ...
    rim: float = 3.0  # ... up to this many pixels
    margin: float = 1.0  # then every damage grows this many pixels (its soft edge)


TUNING = DamageTuning()


@dataclass(frozen=True)
class Damage:
    """bool HxW maps: the cores found, and the mask to fill (cores grown over their soft edges)."""

    scratches: np.ndarray
    dust: np.ndarray
    mask: np.ndarray

    @property
    def fraction(self) -> float:
        return float(self.mask.mean())


def restore(rgb: np.ndarray, sigma: float) -> tuple[np.ndarray, Damage]:
    """The repair stage of restore-old-photo: float RGB [0, 1] with its damage filled, and the
    damage found (no dust on faces). ``sigma``: the grain, 0-255 levels."""
    grey = luminance(rgb)
    damage = find_damage(grey, sigma, spare=faces(grey))
    return repair(rgb, damage.mask), damage


def faces(luma: np.ndarray) -> np.ndarray:
    """bool HxW: frontal faces (OpenCV's Haar cascade: fast, boxes are enough), where no dust is
    taken. Pupils, eye glints, nostrils and mouth corners are small isolated specks to a dust
    detector; a speck left on a face costs less than an erased eye. Empty where OpenCV ships no
    cascades (its 5.x wheels)."""
    spare = np.zeros(luma.shape, bool)
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if folder is None:
        return spare
    cascade = cv2.CascadeClassifier(folder + "haarcascade_frontalface_default.xml")
    grey = cv2.equalizeHist(np.clip(np.rint(luma * 255), 0, 255).astype(np.uint8))
    side = max(24, min(luma.shape) // 12)
    if cascade.empty():
        return spare
    for x, y, w, h in cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=6, minSize=(side, side)):
        spare[y : y + h, x : x + w] = True
    return spare


def find_damage(
    luma: np.ndarray, sigma: float | None = None, tuning: DamageTuning = TUNING, spare: np.ndarray | None = None
) -> Damage:
    """Scratches and dust of a float luminance image in [0, 1]; ``sigma`` is the grain in 0-255
    levels (estimated when not given); no dust is taken where ``spare`` is set."""
    image = luma.astype(np.float32) * 255.0
    if sigma is None:
        sigma = estimate_sigma(np.ascontiguousarray(image[..., None] / 255.0))
    scale = max(0.5, min(image.shape) / 512)
    smooth = cv2.GaussianBlur(image, (0, 0), SMOOTHING)
    eight = np.clip(np.rint(smooth), 0, 255).astype(np.uint8)
    bright, dark = scratches(image, sigma, scale, tuning)
    specks = dust(smooth, scale, tuning)
    if spare is not None:
        specks &= ~spare
    residual = smooth - cv2.medianBlur(eight, max(5, round(tuning.dust_window * scale)) | 1).astype(np.float32)
    floor = max(tuning.rim_contrast, 3.5 * sigma * _gain(0, 0.0))
    steps = max(1, round(tuning.rim * scale))
    grown = _grow(bright | (specks & (residual > 0)), residual, floor, steps, tuning.rim_share)
    grown |= _grow(dark | (specks & (residual < 0)), -residual, floor, steps, tuning.rim_share)
    margin = max(1, round(tuning.margin * scale))
    mask = cv2.dilate(grown.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=margin).astype(bool)
    return Damage(bright | dark, specks, mask)


def damage_mask(luma: np.ndarray, sigma: float | None = None, tuning: DamageTuning = TUNING) -> np.ndarray:
    """bool HxW: what ``repair`` should fill (see ``find_damage``)."""
    return find_damage(luma, sigma, tuning).mask


def scratches(image: np.ndarray, sigma: float, scale: float, tuning: DamageTuning) -> tuple[np.ndarray, np.ndarray]:
    """(bright, dark) scratch cores of the luminance (0-255). Not smoothed first: the line filter
    averages the grain away along the scratch, and smoothing across it would halve a one-pixel
    scratch's contrast."""
    segment = max(15, round(tuning.segment * scale)) | 1
    side = max(tuning.side, tuning.side * scale)  # smoothing and anti-aliasing widen a thin line by a pixel or two
    length = max(15, round(tuning.min_length * scale)) | 1
    threshold = max(tuning.ridge_contrast, tuning.ridge_noise * sigma * _gain(segment, side))
    found = {1: np.zeros(image.shape, bool), -1: np.zeros(image.shape, bool)}
    for k in range(ANGLES):
        angle = math.pi * k / ANGLES
        centre = cv2.filter2D(image, -1, _line(segment, angle), borderType=cv2.BORDER_REFLECT)
        short = cv2.filter2D(image, -1, _line(SHORT, angle), borderType=cv2.BORDER_REFLECT)
        element, across = _element(length, angle), _element(2 * DRIFT + 1, angle + math.pi / 2)
        nx, ny = -math.sin(angle) * side, math.cos(angle) * side  # to the side
        left, right = _shift(centre, nx, ny), _shift(centre, -nx, -ny)
        uneven = np.abs(_shift(short, nx, ny) - _shift(short, -nx, -ny))
        for polarity in (1, -1):
            ridge = centre - np.maximum(left, right) if polarity > 0 else np.minimum(left, right) - centre
            candidate = (ridge > threshold).astype(np.uint8)
            if not candidate.any():
                continue
            # widened across first: a line between two filter angles drifts off a one-pixel band
            straight = cv2.morphologyEx(cv2.dilate(candidate, across), cv2.MORPH_OPEN, element) & candidate
            extent = tuning.min_extent * scale
            sure = _long(straight.astype(bool), ridge, uneven, angle, extent, tuning.ridge_asymmetry, length)
            if sure.any():  # followed along its own direction over fainter stretches (a bright sky, a busy crossing)
                weak, grown = (ridge > tuning.follow * threshold).astype(np.uint8), sure.astype(np.uint8)
                for _ in range(int(tuning.follow_steps)):
                    grown = cv2.dilate(grown, element) & weak
                sure |= grown.astype(bool)
            found[polarity] |= sure
    return found[1], found[-1]


def _long(
    found: np.ndarray, ridge: np.ndarray, uneven: np.ndarray, angle: float, extent: float, most: float, piece: int
) -> np.ndarray:
    """The connected parts of ``found`` spanning at least ``extent`` pixels along ``angle``, less the
    ``piece``-long stretches whose sides differ (``uneven``) by more than ``most`` times the
    ``ridge`` contrast (weighted to the ridge's middle, where a wide scratch's sides are clear of
    it): where a scratch crosses an edge of the picture only that stretch is lost."""
    count, labels = cv2.connectedComponents(found.astype(np.uint8), connectivity=8)
    if count <= 1:
        return found
    ys, xs = np.nonzero(labels)
    owner = labels[ys, xs]
    along = xs * math.cos(angle) + ys * math.sin(angle)
    low, high = np.full(count, np.inf), np.full(count, -np.inf)
    np.minimum.at(low, owner, along)
    np.maximum.at(high, owner, along)
    pieces = int(math.hypot(*found.shape) // piece) + 2
    stretch = owner * pieces + ((along - low[owner]) // piece).astype(np.int64)
    weight = ridge[ys, xs]
    differ = np.bincount(stretch, uneven[ys, xs] * weight, count * pieces)
    even = differ <= most * np.bincount(stretch, weight * weight, count * pieces)
    keep = (high - low >= extent)[owner] & even[stretch]
    out = np.zeros(found.shape, bool)
    out[ys[keep], xs[keep]] = True
    return out


def dust(smooth: np.ndarray, scale: float, tuning: DamageTuning) -> np.ndarray:
    """Speck cores of the smoothed luminance (0-255): small, compact, isolated outliers against
    its local median."""
    window = max(5, round(tuning.dust_window * scale)) | 1
    eight = np.clip(np.rint(smooth), 0, 255).astype(np.uint8)
    background = cv2.medianBlur(eight, window).astype(np.float32)
    wider = cv2.medianBlur(eight, 3 * window).astype(np.float32)
    residual = smooth - background
    magnitude = np.abs(residual)
    spread = cv2.medianBlur(np.clip(magnitude * 4, 0, 255).astype(np.uint8), 3 * window).astype(np.float32) / 4 * 1.4826
    candidate = (magnitude > np.maximum(tuning.dust_contrast, tuning.dust_texture * spread)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(candidate, connectivity=8)
    if count <= 1:
        return np.zeros(residual.shape, bool)
    area = stats[:, cv2.CC_STAT_AREA]
    extent = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    flat = labels.ravel()
    peak = np.zeros(count, np.float32)
    np.maximum.at(peak, flat, magnitude.ravel())
    context = np.zeros(count, np.float32)
    np.maximum.at(context, flat, np.abs(background - wider).ravel())
    # the surround: a ring two to three pixels out, owned by the nearest component
    near = cv2.dilate(labels.astype(np.float32), np.ones((7, 7), np.uint8))
    ring = cv2.dilate(candidate, np.ones((7, 7), np.uint8)) > cv2.dilate(candidate, np.ones((3, 3), np.uint8))
    owner = near[ring].astype(np.int64)
    pixels = np.maximum(np.bincount(owner, minlength=count), 1)
    mean = np.bincount(owner, smooth[ring], count) / pixels
    unevenness = np.sqrt(np.maximum(np.bincount(owner, smooth[ring] ** 2, count) / pixels - mean**2, 0))
    area_scale = scale * scale
    sized = (area >= tuning.dust_min_area * area_scale) & (area <= tuning.dust_area * area_scale)
    small = sized & (extent * extent <= 4 * area + 4)  # and compact
    alone = (unevenness <= tuning.dust_isolation * peak) & (context <= tuning.dust_context * peak)
    keep = small & alone & (peak >= tuning.dust_peak)
    keep[0] = False
    return keep[labels]


def _grow(seeds: np.ndarray, contrast: np.ndarray, floor: float, steps: int, share: float) -> np.ndarray:
    """``seeds`` grown, at most ``steps`` pixels, over neighbours whose ``contrast`` clears ``floor``
    and ``share`` of the nearest seed's own: a scratch's soft side, not the picture beside it."""
    local = cv2.dilate(np.where(seeds, contrast, 0).astype(np.float32), np.ones((2 * steps + 1,) * 2, np.uint8))
    allowed = ((contrast > np.maximum(floor, share * local)) | seeds).astype(np.uint8)
    grown = seeds.astype(np.uint8)
    for _ in range(steps):
        grown = cv2.dilate(grown, np.ones((3, 3), np.uint8)) & allowed
    return grown.astype(bool)


def _line(length: int, angle: float) -> np.ndarray:
    """An anti-aliased one-pixel line kernel through the centre of a square, summing to 1."""
    size = length | 1
    kernel = np.zeros((size, size), np.float32)
    c, half = size // 2, (length - 1) / 2
    dx, dy = math.cos(angle) * half, math.sin(angle) * half
    ends = [(round((c + sign * dx) * 16), round((c + sign * dy) * 16)) for sign in (-1, 1)]  # 4 fractional bits
    cv2.line(kernel, ends[0], ends[1], 1.0, 1, cv2.LINE_AA, 4)
    return kernel / kernel.sum()


def _element(length: int, angle: float) -> np.ndarray:
    """A one-pixel-wide line of ``length`` pixels: the structuring element of an oriented opening."""
    element = np.zeros((length, length), np.uint8)
    c, half = length // 2, (length - 1) / 2
    dx, dy = math.cos(angle) * half, math.sin(angle) * half
    cv2.line(element, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1, 1, cv2.LINE_8)
    return element


def _shift(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``image`` moved so that out[p] = image[p + (dx, dy)] (bilinear)."""
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(image, matrix, image.shape[::-1], flags=flags, borderMode=cv2.BORDER_REFLECT)


@functools.cache
def _gain(segment: int, side: float) -> float:
    """How strong unit grain is after the smoothing (``segment`` 0) or as a ridge response (the line
    filter less its side segment), measured once on white noise."""
    noise = np.random.default_rng(0).normal(0, 1, (160, 160)).astype(np.float32)
    if segment == 0:
        return float(np.std(cv2.GaussianBlur(noise, (0, 0), SMOOTHING)[16:-16, 16:-16]))
    centre = cv2.filter2D(noise, -1, _line(segment, 0.3))
    return float(np.std((centre - _shift(centre, 0, side))[segment:-segment, segment:-segment]))


def repair(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float RGB [0, 1] with ``mask`` filled by OpenCV's Navier-Stokes inpainting, grain and all.

    Thin damage needs no texture synthesis: the fill is a few pixels across. Measured on grainy
    damage followed by the denoiser (bench/old_photo.py's photos): filling from a smoothed copy,
    or putting grain back into the fill, both fix 2-4 points fewer damage pixels than this, and
    the denoiser that follows whenever there is grain makes the fill as smooth as the rest."""
    if not mask.any():
        return rgb
    eight = np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)
    radius = max(2, round(min(rgb.shape[:2]) / 256))
    filled = cv2.inpaint(eight, mask.astype(np.uint8), radius, cv2.INPAINT_NS).astype(np.float32) / 255
    out = rgb.copy()
    out[mask] = filled[mask]
    return out


def preview(mask: np.ndarray, side: int = 256) -> str:
    """The mask as a small PNG data URL (longest side at most ``side``) for the job's details;
    shrunk by area so a one-pixel scratch stays visible."""
    height, width = mask.shape
    factor = max(height, width) / side
    if factor > 1:
        size = (max(1, round(width / factor)), max(1, round(height / factor)))
        mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    return to_data_url(mask)
