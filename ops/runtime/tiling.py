"""Tiled inference for image-to-image networks, with no visible seams and bounded memory.

Each tile is cut with extra context around it, sent to the device alone, and its output
(without the context) is blended into float accumulators on the host with raised-cosine
ramps across the overlaps. On CUDA out-of-memory the tile size is halved and the pass retried.

Static-shape backends (``shape_step`` > 1) compile every input shape they meet, so for them
tiles are cut in multiples of the step (as is the context): a few shapes from a small set. Every
window of an image has one size: with three tiles or more a side, the edge tiles' windows (no
context outside) reach a context further inwards, so an image's tiles are one shape, not four
(corner, two edges, inner), each compiled, kept on disk and holding memory (activations: 0.77 GB
for an x4plus 416 px tile). That runs up to 6% more pixels (800x600: 3.4%, 1024x768: 6.3%,
2000x1500: 3.1%, 4000x3000: 1.6%; none with one or two tiles a side). A side shorter than a tile
is taken whole, never padded: padding changes what the network computes near the edge (measured
on x4plus, a 250 px photo reflected to 256 px: 41 dB to plain fp32 along that edge, 46.9 dB over
the image, under the 50 dB bar); its shape is compiled once per machine (kept on disk) or, for a
command-line batch, before the first file.

Memory: the output is the one full-size float array; the blending weights are one row and one
column (the ramps of a tile grid multiply, so their sums do too), not a second image. When the
pass ends the network manager frees the activations networks keep between runs (``idle``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ProcessingError

Progress = Callable[[int, int], None]  # tiles done, tiles total


@dataclass(frozen=True)
class TileConfig:
    tile: int = 384  # largest input tile side (0: the whole image in one go); tiles are split evenly
    overlap: int = 32  # input pixels shared by neighbouring tiles, blended with raised-cosine ramps
    context: int = 16  # extra input pixels each side, run but discarded (GAN texture needs the room)
    minimum: int = 32  # smallest tile the OOM fallback will try


def upscale_array(
    model: Callable[[torch.Tensor], torch.Tensor],
    image: np.ndarray,
    scale: int,
    device: torch.device,
    half: bool = False,
    config: TileConfig = TileConfig(),
    progress: Progress | None = None,
) -> np.ndarray:
    """float32 HxWxC in [0, 1] -> float32 (H*scale)x(W*scale)xC in [0, 1]."""
    tile = config.tile
    while True:
        try:
            return _run(model, image, scale, device, half, config, tile, progress)
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            if tile == 0:
                tile = max(image.shape[0], image.shape[1])
            tile //= 2
            if tile < config.minimum:
                raise ProcessingError("out of GPU memory even with the smallest tile") from None


def plan_tiles(length: int, tile: int, overlap: int, step: int = 1) -> tuple[list[int], int]:
    """Start offsets and one size for the fewest tiles of at most ``tile`` covering [0, length).

    Tiles are shrunk to split the length evenly, so no work is wasted on oversized overlaps. For
    static-shape backends (``step`` > 1) the size is rounded up to a multiple of ``step`` (the
    tiles overlap a little more): with a context that is a multiple of it too, every image's
    tiles come in a few shapes from a small set, each compiled once.
    """
    if tile <= 0 or tile >= length:
        return [0], length
    tile = max(tile, 2 * overlap + 1)  # a tile must be larger than the overlaps it shares
    count = math.ceil((length - overlap) / (tile - overlap))
    if count == 1:
        return [0], length
    size = math.ceil((length + (count - 1) * overlap) / count)
    size = min(length, -size % step + size)
    stride = (length - size) / (count - 1)
    return [round(i * stride) for i in range(count)], size


@dataclass(frozen=True)
class AxisPlan:
    """One side's cut: tiles of one ``size`` at ``starts`` (kept, blended where they overlap), each
    inside its window (what the network sees: the tile and up to ``context`` pixels each side)."""

    starts: list[int]
    size: int
    windows: list[tuple[int, int]]

    @property
    def window_sides(self) -> list[int]:
        return [hi - lo for lo, hi in self.windows]


def plan_axis(length: int, tile: int, config: TileConfig, step: int = 1) -> AxisPlan:
    """Windows of one side each: the tile and up to ``context`` pixels each side, as wide as the
    widest (an inner tile's), the edge tiles' reaching further inwards (two tiles a side: both
    edge tiles, nothing added)."""
    starts, size = plan_tiles(length, tile, config.overlap, step)
    natural = [(max(0, s - config.context), min(length, s + size + config.context)) for s in starts]
    side = max(hi - lo for lo, hi in natural)
    return AxisPlan(starts, size, [(lo, lo + side) for lo in (min(lo, length - side) for lo, _ in natural)])


def _ramp(size: int, fade_in: int, fade_out: int) -> np.ndarray:
    """1 inside, raised-cosine fades over the overlaps; complementary fades of neighbours sum to 1."""
    weights = np.ones(size, np.float32)
    if fade_in:
        weights[:fade_in] = _rise(fade_in)
    if fade_out:
        weights[size - fade_out :] = np.minimum(weights[size - fade_out :], _rise(fade_out)[::-1])
    return weights


def _rise(n: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)


def _run(model, image, scale, device, half, config, tile, progress) -> np.ndarray:
    try:
        return _tiles(model, image, scale, device, half, config, tile, progress)
    finally:
        from .manager import NETWORKS

        NETWORKS.idle()


def _tiles(model, image, scale, device, half, config, tile, progress) -> np.ndarray:
    height, width, channels = image.shape
    step = getattr(model, "shape_step", 1)
    down, across = plan_axis(height, tile, config, step), plan_axis(width, tile, config, step)
    ys, th, rows = down.starts, down.size, down.windows
    xs, tw, cols = across.starts, across.size, across.windows
    out = np.zeros((height * scale, width * scale, channels), np.float32)
    ramps_y = [_ramp(th * scale, *(_overlap(ys, i, th) * scale)) for i in range(len(ys))]
    ramps_x = [_ramp(tw * scale, *(_overlap(xs, i, tw) * scale)) for i in range(len(xs))]
    total, done = len(ys) * len(xs), 0
    dtype = torch.float16 if half else torch.float32
    for iy, y in enumerate(ys):
        for ix, x in enumerate(xs):
            (cy0, cy1), (cx0, cx1) = rows[iy], cols[ix]
            patch = torch.from_numpy(np.ascontiguousarray(image[cy0:cy1, cx0:cx1].transpose(2, 0, 1)))[None]
            patch = patch.to(device=device, dtype=dtype, memory_format=torch.channels_last)
            with torch.inference_mode():
                result = model(patch)[0].float().clamp_(0, 1)
            result = result.cpu().numpy().transpose(1, 2, 0)
            oy, ox = (y - cy0) * scale, (x - cx0) * scale
            core = result[oy : oy + th * scale, ox : ox + tw * scale] * ramps_y[iy][:, None, None]  # a copy: the result may be the input
            core *= ramps_x[ix][None, :, None]
            out[y * scale : (y + th) * scale, x * scale : (x + tw) * scale] += core
            del result, core
            done += 1
            if progress:
                progress(done, total)
    out /= np.maximum(_coverage(ys, ramps_y, height * scale, scale), 1e-8)[:, None, None]
    out /= np.maximum(_coverage(xs, ramps_x, width * scale, scale), 1e-8)[None, :, None]
    return out


def _coverage(starts: list[int], ramps: list[np.ndarray], length: int, scale: int) -> np.ndarray:
    """The blending weights' sum along one side: the whole grid's is the product of the two."""
    total = np.zeros(length, np.float32)
    for start, ramp in zip(starts, ramps):
        total[start * scale : start * scale + len(ramp)] += ramp
    return total


def _overlap(starts: list[int], index: int, size: int) -> np.ndarray:
    """Overlap (input px) with the previous and the next tile."""
    before = starts[index - 1] + size - starts[index] if index > 0 else 0
    after = starts[index] + size - starts[index + 1] if index + 1 < len(starts) else 0
    return np.array([max(0, before), max(0, after)])
