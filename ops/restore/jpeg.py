"""Is a picture blocky (once a JPEG, whatever its file type now), where is its grid, and how hard to deblock.

A clean photo's pixel steps are alike at every column and row; JPEG compression makes the columns
and rows of its 8x8 block grid stand out. The block-edge ratio (boundary steps over interior
steps, horizontal and vertical together) is about 1 for clean pictures and grows with the
blocking. A crop of a JPEG keeps the blocks but not the grid's origin, so the phase (where the
blocks start, per axis) is found as the column and row positions whose steps stand out.

Deblocking is waifu2x's photo UpConv7 at JPEG-noise level 3 (it doubles the size; area averaging
brings it back), repeated while the blocks stay visible: on the example photos and two unseen ones
(JPEG q10-q50 saved losslessly, see ``bench/quality_fidelity.py``) one level-3 pass beat the milder
levels at every quality that shows blocks, a second pass gained 0.1-0.4 dB more where one pass
left a ratio above about 1.25, a third only below q15. Level 2 is kept for faint blocking.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..engines.base import RunContext
    from ..imageio import Picture

GRID = 8
VISIBLE = 1.25  # from which ratio blocking shows at normal viewing
DEBLOCK = 1.2  # from which ratio the pre-pass runs (clean photos measure 0.9-1.1; JPEG q75 1.05-1.3)
DISTINCT = 1.08  # the grid position must also beat the next strongest one (periodic resampling does not)
CAP_PERCENTILE = 80  # steps above it count as this much: a few strong edges in one column do not make a grid
STRONG = 1.25  # from which ratio level 3 is used (below, faint blocking: level 2)
PASSES = 3  # at most; another pass runs while the ratio stays above VISIBLE and keeps falling
MEASURED_SIDE = 1024  # the ratio is measured on a centre crop at most this big: cheap on huge pictures
WEIGHTS = "waifu2x-photo-jpeg"
MODEL = "waifu2x-photo"  # its UpConv7 at a JPEG-noise level (ops.models)


@dataclass(frozen=True)
class Blocking:
    ratio: float  # boundary-to-interior step ratio at the phase, both axes (``blockiness``)
    phase: tuple[int, int]  # (x, y): the first column and row of a block, 0-7
    robust: float  # the same ratio with every step capped at the 80th percentile (edges do not dominate)
    distinct: float  # the weaker axis: its grid position's capped step over the next strongest position's

    @property
    def blocky(self) -> bool:
        """Blocky enough to deblock: a strong ratio on a grid that stands out on both axes."""
        return self.ratio >= DEBLOCK and self.robust >= DEBLOCK and self.distinct >= DISTINCT


Profiles = tuple[np.ndarray, np.ndarray]  # per axis (x, y): mean absolute step at each position mod 8


def _profiles(luma: np.ndarray) -> tuple[Profiles, Profiles]:
    """Plain and capped step profiles; step i is between pixel i and i+1."""
    luma = luma.astype(np.float32, copy=False)
    plain, capped = [], []
    for axis in (1, 0):
        diff = np.abs(np.diff(luma, axis=axis))
        cap = max(float(np.percentile(diff, CAP_PERCENTILE)) if diff.size else 0.0, 1e-6 * max(float(luma.max(initial=0)), 1.0))
        for profiles, steps in ((plain, diff), (capped, np.minimum(diff, cap))):
            lines = steps.mean(axis=1 - axis) if steps.size else np.zeros(GRID)
            profiles.append(np.array([lines[k::GRID].mean() if lines[k::GRID].size else 0.0 for k in range(GRID)]))
    return (plain[0], plain[1]), (capped[0], capped[1])


def _ratio(profiles: Profiles, phase: tuple[int, int]) -> float:
    boundary = interior = 0.0
    for profile, start in zip(profiles, phase, strict=True):
        edge = (start - 1) % GRID  # the step from a block's last pixel to the next block's first
        boundary += float(profile[edge])
        interior += float(np.delete(profile, edge).mean())
    return boundary / max(interior, 1e-9)


def blockiness(luma: np.ndarray, phase: tuple[int, int] = (0, 0)) -> float:
    """Boundary-to-interior step ratio of a float luminance image (any range) on the grid at ``phase``."""
    return _ratio(_profiles(luma)[0], phase)


def _centre(height: int, width: int) -> tuple[int, int]:
    """(top, left) of the measured centre crop, on the grid of the whole picture."""
    return max(0, (height - MEASURED_SIDE) // 2), max(0, (width - MEASURED_SIDE) // 2)


def measure(luma: np.ndarray) -> Blocking:
    """The grid's phase (per axis, the position whose capped steps stand out most) and the ratios
    there, on a centre crop of a float luminance image (any range)."""
    top, left = _centre(*luma.shape)
    plain, capped = _profiles(luma[top : top + MEASURED_SIDE, left : left + MEASURED_SIDE])
    edges = [int(np.argmax(p)) for p in capped]
    local = ((edges[0] + 1) % GRID, (edges[1] + 1) % GRID)
    distinct = min(float(p[e] / max(np.delete(p, e).max(), 1e-9)) for p, e in zip(capped, edges, strict=True))
    return Blocking(round(_ratio(plain, local), 3), ((local[0] + left) % GRID, (local[1] + top) % GRID),
                    round(_ratio(capped, local), 3), round(distinct, 3))  # fmt: skip


def centre_crop(pixels: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(the centre crop a picture is measured on, at most MEASURED_SIDE square, its top, its left): a
    view, so measuring a huge picture copies nothing (also the faithful upscaler's noise estimate)."""
    top, left = _centre(*pixels.shape[:2])
    return pixels[top : top + MEASURED_SIDE, left : left + MEASURED_SIDE], top, left


def _centre_luma(pixels: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(luminance of the centre crop ``measure`` reads, its top, its left): any dtype, grey or RGB."""
    from ..imageio.pixels import colour, luma

    crop, top, left = centre_crop(pixels)
    return luma(colour(crop).astype(np.float32)), top, left


def measure_pixels(pixels: np.ndarray) -> Blocking:
    """``measure`` on a picture's pixels (H x W x C, any dtype), converting only the centre crop."""
    crop, top, left = _centre_luma(pixels)
    found = measure(crop)
    return Blocking(found.ratio, ((found.phase[0] + left) % GRID, (found.phase[1] + top) % GRID), found.robust, found.distinct)


def _ratio_at(pixels: np.ndarray, phase: tuple[int, int]) -> float:
    crop, top, left = _centre_luma(pixels)
    return round(blockiness(crop, ((phase[0] - left) % GRID, (phase[1] - top) % GRID)), 3)


def level_for(ratio: float) -> int:
    """waifu2x JPEG-noise level for the measured block-edge ratio (see the module docstring)."""
    return 3 if ratio >= STRONG else 2


def deblock(
    image: np.ndarray, report: Callable[[float, str], None] | None = None, before: Blocking | None = None, ctx: RunContext | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Float RGB [0, 1] -> (deblocked, facts for the job details); the same array (facts say why) when
    not blocky. ``before``: the measurement, if made already; ``ctx``: the job whose speed mode and
    warnings the network's use goes to. Needs the waifu2x photo weights (``available()``)."""
    import cv2

    from ..models import model, use
    from ..runtime.apply import infer_tiled
    from ..runtime.tiling import TileConfig

    before = before or measure_pixels(image)
    facts: dict[str, Any] = {"blockiness": before.ratio, "block_phase": list(before.phase)}
    if not before.blocky:
        return image, facts
    out, levels, ratio = image, [], before.ratio
    while len(levels) < PASSES and (not levels or ratio >= VISIBLE):
        level = level_for(ratio)
        net = (use(MODEL, ctx, pixels=image.shape[0] * image.shape[1], level=level) if ctx else model(MODEL, level=level)).net
        big = infer_tiled(net, out, report, label=f"removing JPEG blocks (pass {len(levels) + 1}),", scale=2,
                            config=TileConfig(tile=256))  # fmt: skip
        candidate = np.clip(cv2.resize(big, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_AREA), 0.0, 1.0)
        after = _ratio_at(candidate, before.phase)
        if levels and after > ratio - 0.05:  # another pass would only soften
            break
        out, ratio = candidate, after
        levels.append(level)
    facts.update(blockiness_after=ratio, deblock_levels=levels, deblock_weights=WEIGHTS)
    return out, facts


def available() -> bool:
    from ..models import unavailable_reason

    return unavailable_reason(MODEL) is None


def prepass(picture: Picture, ctx: RunContext) -> Picture:
    """Deblock a blocky picture before an engine that declares ``deblocks`` (denoise, the upscalers,
    face restorers, deblur, old photos); the job details record what was measured and done."""
    from ..runtime.apply import from_float_rgb, to_float_rgb

    if not available():
        return picture
    before = measure_pixels(picture.pixels)  # from a crop: no float copy of a picture that is not blocky
    if not before.blocky:
        ctx.detail(blockiness=before.ratio, block_phase=list(before.phase))
        return picture
    out, facts = deblock(to_float_rgb(picture.pixels), lambda _fraction, message: ctx.report(0.0, message), before, ctx)
    ctx.detail(**facts)
    levels = facts["deblock_levels"]
    ctx.warn(f"JPEG blocking found (block-edge ratio {facts['blockiness']:.2f}, grid phase {tuple(facts['block_phase'])}): removed first "
             f"by waifu2x photo UpConv7, {len(levels)} pass(es) at JPEG-noise level {'/'.join(map(str, levels))}; ratio now {facts['blockiness_after']:.2f}")  # fmt: skip
    return picture.with_pixels(from_float_rgb(out, picture.pixels))
