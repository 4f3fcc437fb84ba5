"""The offline object-removal fill (``ops.restore.patchmatch`` on ``ops.restore.membrane``): closer
to the truth than Telea in object-sized holes, colours and texture from the hole's surroundings,
smooth where the surroundings are smooth, nothing outside the hole touched, the same every time."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ops.engines.base import RunContext
from ops.engines.inpaint import PatchFill
from ops.imageio import Picture
from ops.metrics import psnr
from ops.restore import membrane, patchmatch

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def photo(name: str, side: int = 160) -> np.ndarray:
    image = Image.open(EXAMPLES / name).convert("RGB")
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return np.asarray(image)


def box(shape: tuple[int, ...], top: float, left: float, size: float = 0.17) -> np.ndarray:
    """An object-sized hole: sides ``size`` of the photo's, its corner at the given fractions."""
    height, width = shape[:2]
    hole = np.zeros((height, width), bool)
    y, x = int(top * height), int(left * width)
    hole[y : y + int(size * height), x : x + int(size * width)] = True
    return hole


def test_the_membrane_is_exact_on_a_ramp() -> None:
    """Linear colours are harmonic: the membrane rebuilds a ramp and leaves the rest; given a ramp's
    Laplacian (0) plus a bump's, the Poisson fill rebuilds the bump too."""
    yy, xx = np.mgrid[0:60, 0:80].astype(np.float32)
    ramp = np.stack([2 * xx, 3 * yy, xx + yy], axis=2)
    hole = np.zeros((60, 80), bool)
    hole[12:48, 20:66] = True
    out = membrane.harmonic(ramp, hole)
    assert out.dtype == np.float32 and np.array_equal(out[~hole], ramp[~hole])
    assert np.abs(out - ramp)[hole].max() < 2.0  # a few Jacobi sweeps a level: close, not exact
    bump = ramp + 40 * np.exp(-((yy - 30) ** 2 + (xx - 43) ** 2) / 50)[..., None]
    laplacian = cv2.filter2D(bump, -1, np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32))
    assert np.abs(membrane.poisson(ramp, hole, laplacian) - bump)[hole].max() < 2.0
    corner = np.zeros((60, 80), bool)
    corner[0:5, 0:9] = True  # at the image's edge the membrane is flat across it (a mirror), still between the rim's values
    out = membrane.harmonic(ramp, corner)
    assert ramp[~corner].min(axis=0).min() <= out[corner].min() and out[corner].max() <= ramp[5:6, 0:10].max()


def test_object_sized_holes_beat_telea_on_average() -> None:
    """Boxes in four photos at two positions each: the fill is closer to the truth than Telea's, on average."""
    ours, telea = [], []
    for name in ("cat.jpg", "cup.jpg", "portrait.jpg", "rocket.jpg"):
        image = photo(name)
        for top, left in ((0.2, 0.3), (0.55, 0.6)):
            hole = box(image.shape, top, left)
            ours.append(psnr(patchmatch.fill(image, hole)[hole], image[hole]))
            telea.append(psnr(cv2.inpaint(image, hole.astype(np.uint8), 5, cv2.INPAINT_TELEA)[hole], image[hole]))
    assert np.mean(ours) > np.mean(telea) + 0.3, (np.mean(ours), np.mean(telea))


def test_only_the_hole_changes_and_the_fill_is_deterministic() -> None:
    image = photo("cup.jpg", 128)
    hole = box(image.shape, 0.4, 0.3, 0.2)
    first = PatchFill().inpaint(Picture(image.copy()), hole, RunContext()).pixels
    again = PatchFill().inpaint(Picture(image.copy()), hole, RunContext()).pixels
    assert np.array_equal(first[~hole], image[~hole]) and np.array_equal(first, again)
    assert not np.array_equal(first[hole], image[hole])


def test_a_hole_in_a_smooth_gradient_is_filled_smoothly() -> None:
    """Nothing to copy but a gradient: no pasted texture, no steps, the gradient continued."""
    yy, xx = np.mgrid[0:96, 0:128].astype(np.float32)
    ramp = np.stack([40 + 1.2 * xx, 30 + 1.5 * yy, 200 - 0.6 * xx - 0.5 * yy], axis=2)
    image = np.rint(ramp).astype(np.uint8)
    hole = np.zeros((96, 128), bool)
    hole[30:66, 45:90] = True
    out = patchmatch.fill(image, hole).astype(np.float32)
    assert np.abs(out - ramp)[hole].mean() < 1.5 and np.abs(out - ramp)[hole].max() < 6
    bumps = np.abs(cv2.Laplacian(out, cv2.CV_32F))  # a ramp's Laplacian is 0 (rounding aside)
    assert bumps[hole].mean() < 1.0


def test_texture_comes_from_the_surroundings_not_from_far_away() -> None:
    """Vertical stripes around the hole, horizontal ones of the same colours far off: the fill
    continues the vertical ones (a search over the whole photo could take either)."""
    yy, xx = np.mgrid[0:128, 0:256]
    vertical = np.where((xx // 3) % 2 == 0, 180, 70)
    horizontal = np.where((yy // 3) % 2 == 0, 180, 70)
    grey = np.where(xx < 96, vertical, horizontal).astype(np.uint8)
    image = np.repeat(grey[..., None], 3, axis=2)
    hole = np.zeros((128, 256), bool)
    hole[50:74, 30:54] = True
    out = patchmatch.fill(image, hole).astype(np.float32)[..., 0]
    across = np.abs(np.diff(out, axis=1))[50:74, 30:53].mean()  # vertical stripes change along x
    down = np.abs(np.diff(out, axis=0))[50:73, 30:54].mean()
    assert across > 3 * down, (across, down)
