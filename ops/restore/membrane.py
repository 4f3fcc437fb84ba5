"""Membrane (harmonic) and Poisson fills: Laplace's (or Poisson's) equation inside a hole, the known
pixels as its boundary.

The smoothest fill there is: every pixel the average of its neighbours, so colours come from the
whole rim, weighted by nearness, with no streaks (Telea's fast marching smears the rim's pixels
along straight rays and leaves an X across a box). Inside object-sized holes it is the closer
guess in the mean (measured in ``bench/inpaint.py``), and added to a mismatch along the rim it
is the correction of a Poisson (seamless) blend; with a source term (the divergence of a
guidance field, e.g. the gradients of copied texture) it is the blend itself. Solved
coarse-to-fine: each level starts from the coarser level's answer and relaxes with Jacobi sweeps
(OpenCV filters, milliseconds).
"""

from __future__ import annotations

import cv2
import numpy as np

NEIGHBOURS = np.array([[0, 0.25, 0], [0.25, 0, 0.25], [0, 0.25, 0]], np.float32)


def harmonic(image: np.ndarray, hole: np.ndarray, sweeps: int = 30) -> np.ndarray:
    """``image`` (HxWxC, any numbers) with ``hole`` (bool HxW) replaced by the membrane; float32."""
    return poisson(image, hole, None, sweeps)


def poisson(image: np.ndarray, hole: np.ndarray, source: np.ndarray | None, sweeps: int = 30) -> np.ndarray:
    """Solve ``laplacian(u) = source`` in ``hole`` (4-neighbour Laplacian; the image's own edges are
    mirrors), ``u = image`` elsewhere; float32 HxWxC."""
    out = image.astype(np.float32, copy=True)
    ys, xs = np.nonzero(hole)
    if not len(ys) or hole.all():
        return out
    y0, y1 = max(0, ys.min() - 1), min(hole.shape[0], ys.max() + 2)  # the box around the hole is enough
    x0, x1 = max(0, xs.min() - 1), min(hole.shape[1], xs.max() + 2)
    term = None if source is None else np.where(hole[..., None], source, 0)[y0:y1, x0:x1].astype(np.float32).reshape(out[y0:y1, x0:x1].shape)
    out[y0:y1, x0:x1] = _solve(out[y0:y1, x0:x1], hole[y0:y1, x0:x1], term, sweeps)
    return out


def _solve(image: np.ndarray, hole: np.ndarray, source: np.ndarray | None, sweeps: int) -> np.ndarray:
    height, width = hole.shape
    known = ~hole
    if min(height, width) > 8 and known.any():
        # The coarser level: each 2x2 block's known pixels averaged; a block is unknown only when none is known.
        size = ((width + 1) // 2, (height + 1) // 2)
        share = cv2.resize(known.astype(np.float32), size, interpolation=cv2.INTER_AREA)
        total = cv2.resize(np.where(known[..., None], image, 0).astype(np.float32), size, interpolation=cv2.INTER_AREA)
        coarse_hole = share < 0.01
        coarse_image = np.where(coarse_hole[..., None], 0, total / np.maximum(share, 1e-6)[..., None]).astype(np.float32)
        coarse_source = None if source is None else 4 * cv2.resize(source, size, interpolation=cv2.INTER_AREA).reshape(coarse_image.shape)  # twice the spacing
        coarse = _solve(coarse_image, coarse_hole, coarse_source, sweeps)
        start = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR).reshape(image.shape)
        rounds = sweeps
    else:
        start = np.broadcast_to(image[known].mean(axis=0) if known.any() else np.float32(0), image.shape)
        rounds = 4 * sweeps
    inside = hole[..., None]
    out = np.where(inside, start, image).astype(np.float32)
    offset = 0 if source is None else source / 4
    for _ in range(rounds):
        out = np.where(inside, cv2.filter2D(out, -1, NEIGHBOURS, borderType=cv2.BORDER_REPLICATE).reshape(image.shape) - offset, image)
    return out
