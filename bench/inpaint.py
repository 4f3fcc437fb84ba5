"""Which fill would a person keep: real photos with synthetic holes (blobs, strokes, object-sized
boxes), filled by OpenCV's Telea and Navier-Stokes, by every installed remove-object engine, and
scored against the original inside the hole.

Scores (mean over photos and masks): PSNR and SSIM inside the hole (higher is better), and the
texture distance: the L1 distance between the gradient-magnitude histograms of the filled hole
and of a ring of untouched surroundings (lower is better: a fill as busy as its neighbourhood).
Usage: python bench/inpaint.py [--seed 0] [--pictures DIR]
(--pictures writes one strip per object-sized hole: the hole marked, then each fill, cropped around it.)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def masks(height: int, width: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Three kinds of hole a person makes: a blob, brush strokes, an object-sized box."""
    blob = np.zeros((height, width), np.uint8)
    centre = (int(rng.integers(width // 4, 3 * width // 4)), int(rng.integers(height // 4, 3 * height // 4)))
    cv2.ellipse(blob, centre, (width // 12, height // 9), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    strokes = np.zeros((height, width), np.uint8)
    for _ in range(3):
        points = rng.integers(0, [width, height], size=(4, 2)).astype(np.int32)
        cv2.polylines(strokes, [points], False, 1, max(4, width // 60))
    box = np.zeros((height, width), np.uint8)
    x, y = int(rng.integers(0, width - width // 5)), int(rng.integers(0, height - height // 4))
    box[y : y + height // 4, x : x + width // 5] = 1
    return {"blob": blob.astype(bool), "strokes": strokes.astype(bool), "object": box.astype(bool)}


def texture_distance(image: np.ndarray, hole: np.ndarray) -> float:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    magnitude = cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    ring = cv2.dilate(hole.astype(np.uint8), np.ones((31, 31), np.uint8)).astype(bool) & ~hole
    bins = np.linspace(0, 400, 41)
    inside = np.histogram(np.clip(magnitude[hole], 0, 399), bins)[0] / max(hole.sum(), 1)
    around = np.histogram(np.clip(magnitude[ring], 0, 399), bins)[0] / max(ring.sum(), 1)
    return float(np.abs(inside - around).sum())


def write_strip(target: Path, image: np.ndarray, hole: np.ndarray, results: dict[str, np.ndarray]) -> None:
    """The hole shown in magenta, then every fill, each cropped to the hole with context, labelled."""
    from PIL import Image

    ys, xs = np.nonzero(hole)
    margin = max(np.ptp(ys), np.ptp(xs)) // 2
    box = (slice(max(0, ys.min() - margin), ys.max() + margin), slice(max(0, xs.min() - margin), xs.max() + margin))
    marked = image.copy()
    marked[hole] = (marked[hole] * 0.4 + np.array([255, 0, 255]) * 0.6).astype(np.uint8)
    tiles = []
    for label, picture in {"hole": marked, **results}.items():
        tile = cv2.resize(picture[box], (220, 220), interpolation=cv2.INTER_AREA)
        tile = cv2.copyMakeBorder(tile, 0, 24, 0, 4, cv2.BORDER_CONSTANT, value=(255, 255, 255))
        cv2.putText(tile, label, (4, 238), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(tiles, axis=1)).save(target, quality=88, optimize=True)


def main() -> None:
    from fidelity import psnr, ssim

    from PIL import Image

    from ops.engines import engines_for
    from ops.imageio import Picture
    from ops.engines.base import ENGINES, RunContext
    from ops.registry import get_operation

    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pictures", type=Path, help="write before/after strips of the object-sized holes here")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    photos = [p for p in sorted((ROOT / "examples").glob("*.jpg")) if "text" not in p.name]
    engines = [name for name, reason in engines_for(get_operation("remove-object")) if reason is None]
    scores: dict[str, list[tuple[float, float, float, float]]] = {}
    for path in photos:
        image = np.asarray(Image.open(path).convert("RGB"))
        for kind, hole in masks(*image.shape[:2], rng).items():
            fills = {
                "cv2 Telea": lambda: cv2.inpaint(image, hole.astype(np.uint8), 5, cv2.INPAINT_TELEA),
                "cv2 Navier-Stokes": lambda: cv2.inpaint(image, hole.astype(np.uint8), 5, cv2.INPAINT_NS),
                **{name: (lambda name=name: ENGINES[name].inpaint(Picture(image.copy()), hole, RunContext()).pixels) for name in engines},  # type: ignore[attr-defined]
            }
            results = {}
            for name, fill in fills.items():
                started = time.perf_counter()
                out = results[name] = fill()
                seconds = time.perf_counter() - started
                y0, y1 = np.flatnonzero(hole.any(axis=1))[[0, -1]]
                x0, x1 = np.flatnonzero(hole.any(axis=0))[[0, -1]]
                box = (slice(max(0, y0 - 8), y1 + 9), slice(max(0, x0 - 8), x1 + 9))
                luma_out = out[box].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
                luma_in = image[box].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
                scores.setdefault(name, []).append((psnr(out[hole], image[hole]), ssim(luma_out, luma_in), texture_distance(out, hole), seconds))
            if args.pictures and kind == "object":
                write_strip(args.pictures / f"inpaint-{path.stem}.jpg", image, hole, results)
    print(f"photos: {', '.join(p.name for p in photos)}; masks: blob, strokes, object-sized box (seed {args.seed})")
    print(f"{'fill':<22} {'PSNR dB':>8} {'SSIM':>7} {'texture':>8} {'seconds':>8}   (texture: lower is better)")
    for name, rows in scores.items():
        values = np.array(rows)
        print(f"{name:<22} {values[:, 0].mean():>8.2f} {values[:, 1].mean():>7.4f} {values[:, 2].mean():>8.3f} {values[:, 3].mean():>8.2f}")


if __name__ == "__main__":
    main()
