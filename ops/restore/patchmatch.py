"""Exemplar fill for object removal: a membrane for the colours, the photo's own nearby patches for texture.

Diffusion fills (Telea, Navier-Stokes) streak the rim's pixels across a hole and leave an X in a
box; copying patches of the photo gives real texture, but a patch search over the whole photo
pastes what matches best by colour from anywhere (skin into a shirt, hair over a table). So:

- the membrane (``ops.restore.membrane``: Laplace's equation, colours from the whole rim) starts
  the search at the coarsest level and is the *structure map*: a source patch must agree with its
  blurred colours near the rim, so edges continue from the border inward;
- sources come from a window around the hole (a few hole thicknesses) and pay for their distance
  from it, so the surroundings are used first and a far patch must be clearly better;
- coarse-to-fine PatchMatch (Barnes et al. 2009) with Wexler-style EM voting, then each hole pixel
  copied from its match (texture stays sharp) in the gradient domain: the copy's differences,
  read at the sources, integrated with the rim as boundary (Poisson's equation, as in seamless
  cloning). Where neighbours come from different places or meet the rim there is no step, and a
  patch copied from a lighter or darker spot takes the rim's shade (a gradient stays a gradient);
- a share of the membrane is mixed in, which keeps a wrong guess deep inside a big hole from
  standing out (and is closer to the truth on average).

Pure numpy + OpenCV, vectorised over all target patches of a level at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from .membrane import harmonic, poisson

RADIUS = 3  # 7x7 patches
OFFSETS = [(dy, dx) for dy in range(-RADIUS, RADIUS + 1) for dx in range(-RADIUS, RADIUS + 1)]


@dataclass(frozen=True)
class Tuning:
    """Measured with ``python bench/inpaint.py`` (object-sized boxes in photos, PSNR in the hole)."""

    known_weight: float = 10.0  # a target patch's known pixels count this much more than guessed ones
    window: float = 4.0  # sources within this many hole thicknesses of the hole
    nearness: float = 10.0  # squared levels per colour sample a source at the window's edge pays over one at the rim
    structure: float = 1.0  # weight of the blurred membrane in the patch distance
    structure_blur: float = 2.0
    structure_reach: float = 4.0  # the map is trusted near the rim (deeper it is a guess): weight exp(-depth / reach)
    membrane_mix: float = 0.2  # share of the membrane in the result
    coarse_iterations: int = 6  # EM iterations at the coarsest level; finer levels refine
    fine_iterations: int = 2
    search_iterations: int = 3  # propagation + random search rounds per EM iteration
    coarsest_extent: float = 4.0  # go down the pyramid until the hole is about this deep
    budget: int = 30_000  # target patches above which a level gets one quick pass (seconds on 2 cores)


def fill(rgb: np.ndarray, hole: np.ndarray, tuning: Tuning = Tuning(), seed: int = 0, progress: Callable[[float], None] | None = None) -> np.ndarray:
    """``rgb`` uint8 HxWx3 with ``hole`` (bool HxW) filled; known pixels are returned unchanged.

    ``progress`` gets the finished share of the work after each pyramid level (finer levels cost 4x).
    """
    rng = np.random.default_rng(seed)
    membrane = harmonic(rgb, hole)
    pyramid = _pyramid(rgb.astype(np.float32), hole, tuning.coarsest_extent)
    image, mask = pyramid[-1]
    current = np.where(mask[..., None], _resize(membrane, mask.shape), image)
    field: tuple[Level, np.ndarray, np.ndarray] | None = None
    for depth, (image, mask) in enumerate(reversed(pyramid)):
        if depth:
            current = np.where(mask[..., None], _resize(current, mask.shape, cv2.INTER_LINEAR), image)
        structure = tuning.structure * cv2.GaussianBlur(_resize(membrane, mask.shape), (0, 0), tuning.structure_blur)
        level = Level(image, mask, structure, tuning)
        sy, sx = level.upsampled(field, rng) if field else level.random_field(rng)
        quick = len(level.ty) > tuning.budget  # a big hole's fine levels: the coarse ones found the layout
        for _ in range(tuning.coarse_iterations if depth == 0 else 1 if quick else tuning.fine_iterations):
            cost = level.search(current, sy, sx, 1 if quick else tuning.search_iterations, rng)
            current = level.vote(current, sy, sx, cost)
        field = (level, sy, sx)
        if progress:
            progress(sum(4.0**d for d in range(depth + 1)) / sum(4.0**d for d in range(len(pyramid))))
    level, sy, sx = field  # type: ignore[misc]
    blended = poisson(rgb, hole, level.copied_laplacian(sy, sx))
    out = tuning.membrane_mix * membrane + (1 - tuning.membrane_mix) * blended
    return np.where(hole[..., None], np.clip(np.rint(out), 0, 255), rgb).astype(np.uint8)


class Level:
    """One pyramid level: the target patches (those touching the hole) and the allowed sources."""

    def __init__(self, image: np.ndarray, hole: np.ndarray, structure: np.ndarray, tuning: Tuning) -> None:
        self.image, self.hole, self.structure = image, hole, structure
        self.height, self.width = hole.shape
        depth = _depth(hole)
        grown = cv2.dilate(hole.astype(np.uint8), np.ones((2 * RADIUS + 1,) * 2, np.uint8)).astype(bool)
        valid = ~grown  # a source patch lies wholly in known pixels
        valid[:RADIUS], valid[-RADIUS:], valid[:, :RADIUS], valid[:, -RADIUS:] = False, False, False, False
        away = _depth(~hole)  # each known pixel's distance from the hole
        window = max(16.0, tuning.window * 2 * float(depth.max()))  # x the hole's thickness
        near = valid & (away <= window)
        self.valid = near if near.sum() > 50 else valid
        if not self.valid.any():  # the hole covers (nearly) everything: any known pixel, else the guess itself
            self.valid = ~hole if (~hole).any() else np.ones_like(valid)
        self.sources = np.argwhere(self.valid)
        self.reach = int(min(max(self.height, self.width), window + 2 * depth.max() + 2 * RADIUS))  # random search radius
        self.penalty = (tuning.nearness * len(OFFSETS) * image.shape[2] * np.minimum(away / window, 1.0)).astype(np.float32)
        self.ty, self.tx = np.nonzero(grown)
        self.index = np.full(hole.shape, -1, np.int64)
        self.index[self.ty, self.tx] = np.arange(len(self.ty))
        known = np.pad((~hole).astype(np.float32), RADIUS, mode="reflect")
        colour = _patches(known[..., None], self.ty, self.tx)[..., 0] * (tuning.known_weight - 1) + 1
        trust = np.pad(np.exp(-depth / tuning.structure_reach), RADIUS, mode="reflect")[..., None]
        guide = colour * _patches(trust, self.ty, self.tx)[..., 0]
        per_channel = [colour] * image.shape[2] + [guide] * structure.shape[2]
        self.weights = np.stack(per_channel, axis=2).reshape(len(self.ty), -1).astype(np.float32)  # as gathered patches lie
        self.steps = np.array([dy * (self.width + 2 * RADIUS) + dx for dy, dx in OFFSETS])  # offsets in the padded, flattened map

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
        padded = np.pad(np.concatenate([current, self.structure], axis=2), ((RADIUS, RADIUS), (RADIUS, RADIUS), (0, 0)), mode="reflect")
        flat = padded.reshape(-1, padded.shape[2])
        features = (flat, self._gather(flat, self.ty, self.tx))  # the targets' own patches do not change during a search
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
            radius = self.reach
            while radius >= 1:
                jump = rng.integers(-radius, radius + 1, (2, count))
                self._try(features, sy, sx, cost, sy + jump[0], sx + jump[1], np.ones(count, bool))
                radius //= 2
        return cost

    def vote(self, current: np.ndarray, sy: np.ndarray, sx: np.ndarray, cost: np.ndarray) -> np.ndarray:
        """Every patch covering a hole pixel proposes its source's pixel there; good matches weigh more."""
        total = np.zeros_like(current)
        weight = np.zeros((*self.hole.shape, 1), np.float32)
        likeness = cost - self.penalty[sy, sx]  # how well it matches, whatever its distance
        scale = np.percentile(likeness, 75) + 1e-6
        trust = np.exp(-likeness / (2 * scale))[:, None].astype(np.float32)
        for dy, dx in OFFSETS:
            qy, qx = self.ty + dy, self.tx + dx
            ok = (qy >= 0) & (qy < self.height) & (qx >= 0) & (qx < self.width)
            ok &= self.hole[np.clip(qy, 0, self.height - 1), np.clip(qx, 0, self.width - 1)]
            source = current[np.clip(sy[ok] + dy, 0, self.height - 1), np.clip(sx[ok] + dx, 0, self.width - 1)]
            np.add.at(total, (qy[ok], qx[ok]), source * trust[ok])
            np.add.at(weight, (qy[ok], qx[ok]), trust[ok])
        return np.where(self.hole[..., None] & (weight > 0), total / np.maximum(weight, 1e-6), current)

    def copied_laplacian(self, sy: np.ndarray, sx: np.ndarray) -> np.ndarray:
        """The Laplacian of the copy, each hole pixel taken from its match (texture stays sharp), with
        every difference to a neighbour read at the sources (both sides' sources, averaged, where the
        neighbour is copied too). Solved with the rim as boundary (``poisson``) it is the copy blended
        in: no step where neighbours come from different places, nor at the rim, and no pasted shade."""
        image, height, width = self.image, self.height, self.width
        inside = self.hole[self.ty, self.tx]
        py, px, qy, qx = self.ty[inside], self.tx[inside], sy[inside], sx[inside]  # hole pixels and their sources
        total = np.zeros_like(image)
        for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):
            ny, nx = py + dy, px + dx
            exists = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)  # the image's edge is a mirror: no difference
            ny, nx = ny[exists], nx[exists]
            here = image[qy[exists], qx[exists]]
            step = here - image[np.clip(qy[exists] + dy, 0, height - 1), np.clip(qx[exists] + dx, 0, width - 1)]
            other = self.index[ny, nx]
            copied = (other >= 0) & self.hole[ny, nx]
            oy, ox = sy[other[copied]], sx[other[copied]]
            theirs = image[np.clip(oy - dy, 0, height - 1), np.clip(ox - dx, 0, width - 1)] - image[oy, ox]
            step[copied] = (step[copied] + theirs) / 2
            np.add.at(total, (py[exists], px[exists]), -step)
        return total

    def _gather(self, flat: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """The patches centred at (ys, xs), one row each: a single fancy index into the flattened map."""
        centres = (ys + RADIUS) * (self.width + 2 * RADIUS) + xs + RADIUS
        return flat[centres[:, None] + self.steps].reshape(len(ys), -1)

    def _cost(self, features: tuple[np.ndarray, np.ndarray], targets: np.ndarray, sy: np.ndarray, sx: np.ndarray) -> np.ndarray:
        flat, own = features
        difference = own[targets] - self._gather(flat, sy, sx)
        return np.einsum("ij,ij,ij->i", difference, difference, self.weights[targets]) + self.penalty[sy, sx]

    def _try(self, features: tuple[np.ndarray, np.ndarray], sy: np.ndarray, sx: np.ndarray, cost: np.ndarray, cy: np.ndarray, cx: np.ndarray, allowed: np.ndarray) -> None:
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


def _depth(region: np.ndarray) -> np.ndarray:
    """Each pixel's distance to the nearest pixel outside ``region`` (the image's size where there is none)."""
    return np.minimum(cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 3), float(max(region.shape)))


def _extent(hole: np.ndarray) -> float:
    """Twice the deepest distance to the border: the hole's thickness."""
    return float(_depth(hole).max() * 2)


def _resize(image: np.ndarray, shape: tuple[int, ...], interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    return image if image.shape[:2] == shape else cv2.resize(image, (shape[1], shape[0]), interpolation=interpolation)
