"""Exemplar fill: coarse-to-fine PatchMatch (Barnes et al. 2009) with Wexler-style EM voting.

Diffusion fills (Telea, Navier-Stokes) continue edges but leave a flat, plastic smear;
copying patches of the photo itself gives real texture but, left alone, drifts toward the
smoothest sources (a blurry estimate matches flat patches best) and breaks edges. Here the
patch distance also compares a blurred Telea fill, the *structure map*: sources must agree
with where the edges run, and their own texture comes along. What is copied is then brought
to the border's colour (a smooth offset field) and mixed with a little of the diffusion fill,
which keeps a wrong guess deep inside a big hole from standing out.

Pure numpy + OpenCV, vectorised over all target patches of a level at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

RADIUS = 3  # 7x7 patches
OFFSETS = [(dy, dx) for dy in range(-RADIUS, RADIUS + 1) for dx in range(-RADIUS, RADIUS + 1)]


@dataclass(frozen=True)
class Tuning:
    """Measured with ``python bench/inpaint.py``; see the README's table."""

    known_weight: float = 10.0  # a target patch's known pixels count this much more than guessed ones
    window: float = 4.0  # sources within this many hole extents of the hole's bounding box
    structure: float = 1.0  # weight of the blurred Telea map in the patch distance
    structure_blur: float = 2.0
    structure_reach: float = 4.0  # the map is trusted near the rim (diffusion smears deeper in): weight exp(-depth / reach)
    diffusion_mix: float = 0.15  # share of the Telea fill in the result
    offset_blur: float = 2.0
    coarse_iterations: int = 6  # EM iterations at the coarsest level; finer levels refine
    fine_iterations: int = 2
    search_iterations: int = 3  # propagation + random search rounds per EM iteration
    coarsest_extent: float = 4.0  # go down the pyramid until the hole is about this deep


def fill(rgb: np.ndarray, hole: np.ndarray, tuning: Tuning = Tuning(), seed: int = 0, progress: Callable[[float], None] | None = None) -> np.ndarray:
    """``rgb`` uint8 HxWx3 with ``hole`` (bool HxW) filled; known pixels are returned unchanged.

    ``progress`` gets the finished share of the work after each pyramid level (finer levels cost 4x).
    """
    rng = np.random.default_rng(seed)
    diffusion = cv2.inpaint(rgb, hole.astype(np.uint8), 5, cv2.INPAINT_TELEA).astype(np.float32)
    pyramid = _pyramid(rgb.astype(np.float32), hole, tuning.coarsest_extent)
    image, mask = pyramid[-1]
    current = np.where(mask[..., None], _resize(diffusion, mask.shape), image)
    field: tuple[Level, np.ndarray, np.ndarray] | None = None
    for depth, (image, mask) in enumerate(reversed(pyramid)):
        if depth:
            current = np.where(mask[..., None], _resize(current, mask.shape, cv2.INTER_LINEAR), image)
        structure = tuning.structure * cv2.GaussianBlur(_resize(diffusion, mask.shape), (0, 0), tuning.structure_blur)
        level = Level(image, mask, structure, tuning)
        sy, sx = level.upsampled(field, rng) if field else level.random_field(rng)
        for _ in range(tuning.coarse_iterations if depth == 0 else tuning.fine_iterations):
            cost = level.search(current, sy, sx, tuning.search_iterations, rng)
            current = level.vote(current, sy, sx, cost)
        field = (level, sy, sx)
        if progress:
            progress(sum(4.0**d for d in range(depth + 1)) / sum(4.0**d for d in range(len(pyramid))))
    level, sy, sx = field  # type: ignore[misc]
    copied = level.copy_centres(current, sy, sx)
    copied += _border_offset(diffusion - copied, hole, tuning.offset_blur)
    out = tuning.diffusion_mix * diffusion + (1 - tuning.diffusion_mix) * copied
    return np.where(hole[..., None], np.clip(np.rint(out), 0, 255), rgb).astype(np.uint8)


class Level:
    """One pyramid level: the target patches (those touching the hole) and the allowed sources."""

    def __init__(self, image: np.ndarray, hole: np.ndarray, structure: np.ndarray, tuning: Tuning) -> None:
        self.image, self.hole, self.structure = image, hole, structure
        depth = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)
        self.height, self.width = hole.shape
        grown = cv2.dilate(hole.astype(np.uint8), np.ones((2 * RADIUS + 1,) * 2, np.uint8)).astype(bool)
        valid = ~grown  # a source patch lies wholly in known pixels
        valid[:RADIUS], valid[-RADIUS:], valid[:, :RADIUS], valid[:, -RADIUS:] = False, False, False, False
        near = np.zeros_like(valid)
        ys, xs = np.nonzero(hole)
        margin = int(max(16, tuning.window * 2 * depth.max()))  # window x the hole's thickness
        near[max(0, ys.min() - margin) : ys.max() + margin + 1, max(0, xs.min() - margin) : xs.max() + margin + 1] = True
        self.valid = valid & near if (valid & near).sum() > 50 else valid
        self.sources = np.argwhere(self.valid)
        if not len(self.sources):  # the hole covers (nearly) everything: nothing to copy from
            self.valid = np.ones_like(valid)
            self.sources = np.argwhere(self.valid)
        self.ty, self.tx = np.nonzero(grown)
        self.index = np.full(hole.shape, -1, np.int64)
        self.index[self.ty, self.tx] = np.arange(len(self.ty))
        known = np.pad((~hole).astype(np.float32), RADIUS, mode="reflect")
        self.weights = np.stack([known[self.ty + dy + RADIUS, self.tx + dx + RADIUS] for dy, dx in OFFSETS], 1) * (tuning.known_weight - 1) + 1
        trust = np.pad(np.exp(-depth / tuning.structure_reach), RADIUS, mode="reflect")
        self.structure_weights = self.weights * np.stack([trust[self.ty + dy + RADIUS, self.tx + dx + RADIUS] for dy, dx in OFFSETS], 1)

    def random_field(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        pick = rng.integers(0, len(self.sources), len(self.ty))
        return self.sources[pick, 0].copy(), self.sources[pick, 1].copy()

    def upsampled(self, coarse: tuple[Level, np.ndarray, np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Each target starts from twice its parent's source (plus its own offset), coherent from the start."""
        parent, py, px = coarse
        index = parent.index[np.clip(self.ty // 2, 0, parent.height - 1), np.clip(self.tx // 2, 0, parent.width - 1)]
        has = index >= 0
        sy = np.clip(np.where(has, py[np.maximum(index, 0)] * 2 + self.ty % 2, 0), 0, self.height - 1)
        sx = np.clip(np.where(has, px[np.maximum(index, 0)] * 2 + self.tx % 2, 0), 0, self.width - 1)
        ok = has & self.valid[sy, sx]
        ry, rx = self.random_field(rng)
        return np.where(ok, sy, ry), np.where(ok, sx, rx)

    def search(self, current: np.ndarray, sy: np.ndarray, sx: np.ndarray, rounds: int, rng: np.random.Generator) -> np.ndarray:
        """PatchMatch: propagate good sources from neighbours, then random search at shrinking radii."""
        features = np.pad(np.concatenate([current, self.structure], axis=2), ((RADIUS, RADIUS), (RADIUS, RADIUS), (0, 0)), mode="reflect")
        count = len(self.ty)
        cost = self._cost(features, np.arange(count), sy, sx)
        for _ in range(rounds):
            for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):
                ny, nx = self.ty - dy, self.tx - dx
                inside = (ny >= 0) & (ny < self.height) & (nx >= 0) & (nx < self.width)
                neighbour = np.where(inside, self.index[np.clip(ny, 0, self.height - 1), np.clip(nx, 0, self.width - 1)], -1)
                has = neighbour >= 0
                n = np.maximum(neighbour, 0)
                self._try(features, sy, sx, cost, np.where(has, sy[n] + dy, 0), np.where(has, sx[n] + dx, 0), has)
            radius = max(self.height, self.width)
            while radius >= 1:
                jump = rng.integers(-radius, radius + 1, (2, count))
                self._try(features, sy, sx, cost, sy + jump[0], sx + jump[1], np.ones(count, bool))
                radius //= 2
        return cost

    def vote(self, current: np.ndarray, sy: np.ndarray, sx: np.ndarray, cost: np.ndarray) -> np.ndarray:
        """Every patch covering a hole pixel proposes its source's pixel there; good matches weigh more."""
        total = np.zeros_like(current)
        weight = np.zeros((*self.hole.shape, 1), np.float32)
        scale = np.percentile(cost, 75) + 1e-6
        trust = np.exp(-cost / (2 * scale))[:, None].astype(np.float32)
        for dy, dx in OFFSETS:
            qy, qx = self.ty + dy, self.tx + dx
            ok = (qy >= 0) & (qy < self.height) & (qx >= 0) & (qx < self.width)
            ok &= self.hole[np.clip(qy, 0, self.height - 1), np.clip(qx, 0, self.width - 1)]
            source = current[np.clip(sy[ok] + dy, 0, self.height - 1), np.clip(sx[ok] + dx, 0, self.width - 1)]
            np.add.at(total, (qy[ok], qx[ok]), source * trust[ok])
            np.add.at(weight, (qy[ok], qx[ok]), trust[ok])
        return np.where(self.hole[..., None] & (weight > 0), total / np.maximum(weight, 1e-6), current)

    def copy_centres(self, current: np.ndarray, sy: np.ndarray, sx: np.ndarray) -> np.ndarray:
        """The final pass copies each hole pixel from its match instead of averaging: texture stays sharp."""
        out = current.copy()
        inside = self.hole[self.ty, self.tx]
        out[self.ty[inside], self.tx[inside]] = self.image[sy[inside], sx[inside]]
        return out

    def _cost(self, features: np.ndarray, targets: np.ndarray, sy: np.ndarray, sx: np.ndarray) -> np.ndarray:
        squared = (_patches(features, self.ty[targets], self.tx[targets]) - _patches(features, sy, sx)) ** 2
        colour, structure = squared[..., :3].sum(axis=2), squared[..., 3:].sum(axis=2)
        return (colour * self.weights[targets] + structure * self.structure_weights[targets]).sum(axis=1)

    def _try(self, features: np.ndarray, sy: np.ndarray, sx: np.ndarray, cost: np.ndarray, cy: np.ndarray, cx: np.ndarray, allowed: np.ndarray) -> None:
        """Move targets to the candidate sources (cy, cx) where those are allowed and cost less."""
        cy, cx = np.clip(cy, 0, self.height - 1), np.clip(cx, 0, self.width - 1)
        targets = np.flatnonzero(allowed & self.valid[cy, cx])
        if not len(targets):
            return
        candidate = self._cost(features, targets, cy[targets], cx[targets])
        better = candidate < cost[targets]
        chosen = targets[better]
        sy[chosen], sx[chosen], cost[chosen] = cy[chosen], cx[chosen], candidate[better]


def _patches(padded: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    return np.stack([padded[ys + dy + RADIUS, xs + dx + RADIUS] for dy, dx in OFFSETS], axis=1)


def _pyramid(image: np.ndarray, hole: np.ndarray, coarsest_extent: float) -> list[tuple[np.ndarray, np.ndarray]]:
    levels = [(image, hole)]
    while min(levels[-1][1].shape) > 32 and _extent(levels[-1][1]) > 2 * coarsest_extent:
        image, hole = levels[-1]
        size = (image.shape[1] // 2, image.shape[0] // 2)
        levels.append((cv2.resize(image, size, interpolation=cv2.INTER_AREA), cv2.resize(hole.astype(np.uint8), size, interpolation=cv2.INTER_AREA) > 0))
    return levels


def _extent(hole: np.ndarray) -> float:
    """Twice the deepest distance to the border: the hole's thickness."""
    return float(cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3).max() * 2)


def _resize(image: np.ndarray, shape: tuple[int, ...], interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    return image if image.shape[:2] == shape else cv2.resize(image, (shape[1], shape[0]), interpolation=interpolation)


def _border_offset(difference: np.ndarray, hole: np.ndarray, blur: float) -> np.ndarray:
    """A smooth field that is ``difference`` at the hole's rim and continues it inwards (membrane-like)."""
    depth = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)
    inner = (hole & (depth > 1.5)).astype(np.uint8)
    field = difference.copy()
    for channel in range(3):
        rim = np.where(inner > 0, 0, difference[..., channel]).astype(np.float32)
        field[..., channel] = cv2.inpaint(rim, inner, 5, cv2.INPAINT_TELEA)
    return cv2.GaussianBlur(field, (0, 0), blur) if blur else field
