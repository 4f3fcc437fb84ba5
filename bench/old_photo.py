"""Does restore-old-photo repair old-photo damage and leave good photos alone?

Each photo is toned sepia, scratched (long thin bright or dark strokes, gently curved) and
dusted (small bright or dark specks) with a known mask, then given film grain (sigma 8). The
damage pixels are the marked ones that differ from the clean sepia photo by 20 levels or more;
one is *fixed* when the result is within 20 levels of the clean photo there (every channel).

Columns: fixed % (restore-old-photo through the chain, faces off), the oracle (OpenCV Telea on
the true mask, then the same FFDNet denoise), the detected fraction on the damaged photo, false
repairs (pixels the damage repair changes by more than 20 levels on the clean original, and on
the undamaged sepia photo with grain), and seconds. Photos: examples/ and photos that come with
installed packages (scikit-image, scikit-learn, gradio); ``tuned`` marks those the detector's
settings were chosen on (with seed 0), the others were held out.
Usage: python bench/old_photo.py [--seed 0] [--side 512] [--only NAME]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from photos import package_file  # bench/ is on the path from here

TOLERANCE = 20  # levels: a pixel within this of the clean photo is right
GRAIN = 8.0


TUNED = {  # the photos the detector's settings were chosen on (besides examples/*.jpg)
    "camera": ("skimage", "data", "camera.png"),
    "coins": ("skimage", "data", "coins.png"),
    "motorcycle": ("skimage", "data", "motorcycle_left.png"),
    "china": ("sklearn", "datasets", "images", "china.jpg"),
    "flower": ("sklearn", "datasets", "images", "flower.jpg"),
    "cheetah": ("gradio", "media_assets", "images", "cheetah.jpg"),
    "tower": ("gradio", "media_assets", "images", "tower.jpg"),
    "lion": ("gradio", "media_assets", "images", "lion.jpg"),
}
HELD_OUT = {  # never run while tuning
    "groot": ("gradio", "media_assets", "images", "groot.jpeg"),
    "cheetah2": ("gradio", "test_data", "cheetah2.jpg"),
    "moon": ("skimage", "data", "moon.png"),
    "gravel": ("skimage", "data", "gravel.png"),
    "clock": ("skimage", "data", "clock_motion.png"),
}


def photos(side: int) -> Iterator[tuple[str, bool, np.ndarray]]:
    """(name, tuned on, RGB uint8 no larger than ``side``); photos of packages not installed are skipped."""
    from PIL import Image

    sources = [(p.stem, True, p) for p in sorted((ROOT / "examples").glob("*.jpg"))]
    sources += [(name, True, package_file(*where)) for name, where in TUNED.items()]
    sources += [(name, False, package_file(*where)) for name, where in HELD_OUT.items()]
    for name, tuned, path in sources:
        if path is None:
            continue
        image = np.asarray(Image.open(path).convert("RGB"))
        factor = side / max(image.shape[:2])
        if factor < 1:
            image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        yield name, tuned, image


def sepia(rgb: np.ndarray) -> np.ndarray:
    grey = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    toned = grey[..., None] * np.array([0.92, 0.80, 0.62], np.float32) + np.array([22, 16, 8], np.float32)
    return np.clip(np.rint(toned), 0, 255).astype(np.uint8)


def damage(clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scratches and dust drawn over ``clean`` (no grain yet): (damaged float, coverage 0-1,
    kind: 1 scratch, 2 dust)."""
    height, width = clean.shape[:2]
    scale = min(height, width) / 512
    cover = np.zeros((height, width), np.float32)
    paint = np.zeros((height, width), np.float32)
    kind = np.zeros((height, width), np.uint8)
    for _ in range(int(rng.integers(4, 8))):  # scratches: long, thin, gently curved
        length = rng.uniform(0.25, 0.8) * min(height, width)
        angle = rng.uniform(0, np.pi)
        start = rng.uniform([0, 0], [width, height])
        bend = rng.normal(0, 0.04 * length)
        t = np.linspace(0, 1, 12)
        direction, normal = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
        points = start + np.outer(t * length, direction) + np.outer(4 * t * (1 - t) * bend, normal)
        layer = np.zeros_like(cover)
        thickness = max(1, round(rng.uniform(1, 3) * scale))
        cv2.polylines(layer, [np.rint(points * 16).astype(np.int32)], False, 1.0, thickness, cv2.LINE_AA, 4)
        value = rng.uniform(225, 255) if rng.random() < 0.7 else rng.uniform(10, 45)
        strength = layer * rng.uniform(0.75, 1.0)
        paint = np.where(strength > cover, value, paint)
        kind[strength > cover] = 1
        cover = np.maximum(cover, strength)
    for _ in range(int(rng.integers(40, 90))):  # dust: small specks, mostly bright
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (max(1, round(rng.uniform(0.8, 3.5) * scale)), max(1, round(rng.uniform(0.8, 3.5) * scale)))
        layer = np.zeros_like(cover)
        cv2.ellipse(layer, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1, cv2.LINE_AA)
        value = rng.uniform(215, 255) if rng.random() < 0.75 else rng.uniform(5, 40)
        strength = layer * rng.uniform(0.8, 1.0)
        paint = np.where(strength > cover, value, paint)
        kind[strength > cover] = 2
        cover = np.maximum(cover, strength)
    damaged = clean.astype(np.float32) * (1 - cover[..., None]) + paint[..., None] * cover[..., None]
    return damaged, cover, kind


def grainy(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    grain = rng.normal(0, GRAIN, image.shape[:2]).astype(np.float32)
    return np.clip(np.rint(image.astype(np.float32) + grain[..., None]), 0, 255).astype(np.uint8)


def off(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2)


def main() -> None:
    from ops import chain
    from ops.imageio import Picture
    from ops.models import model
    from ops.restore.damage import restore
    from ops.restore.noise import estimate_sigma
    from ops.runtime.apply import infer_tiled
    from ops.runtime.backends.verdicts import cpu_flags

    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--side", type=int, default=512, help="photos larger than this are shrunk to it")
    parser.add_argument("--only", help="one photo by name")
    args = parser.parse_args()
    net = model("ffdnet").net
    job = chain.plan([{"type": "restore-old-photo", "params": {"face_enhancement_level": 0.0}}])

    def stage_changes(image: np.ndarray) -> tuple[float, float]:
        """(detected fraction, fraction changed > TOLERANCE) of the repair stage alone."""
        repaired, damage = restore(image.astype(np.float32) / 255, estimate_sigma(image))
        out = np.clip(np.rint(repaired * 255), 0, 255).astype(np.uint8)
        return damage.fraction, float((off(out, image) > TOLERANCE).mean())

    print(f"restore-old-photo: sepia + scratches + dust + grain sigma {GRAIN:g}; photos <= {args.side} px (seed {args.seed})")
    print(f"CPU flags: {cpu_flags()}")
    columns = ("damage%", "fixed%", "oracle%", "detected%", "false%clean", "false%grain")
    print(f"{'photo':<13} {'tuned':>5} " + " ".join(f"{c:>{len(c)}}" for c in columns) + f" {'seconds':>8}")

    def line(name: str, tuned: str, values: np.ndarray) -> str:
        cells = " ".join(f"{v * 100:>{len(c)}.2f}" for v, c in zip(values[:-1], columns))
        return f"{name:<13} {tuned:>5} {cells} {values[-1]:>8.2f}"

    rows, held_out = [], []
    for index, (name, tuned, image) in enumerate(photos(args.side)):
        if args.only and name != args.only:
            continue
        rng = np.random.default_rng(args.seed * 1000 + index)
        clean = sepia(image)
        drawn, cover, _ = damage(clean, rng)
        damaged = grainy(drawn, rng)
        truth = (cover > 0.3) & (off(np.clip(np.rint(drawn), 0, 255).astype(np.uint8), clean) >= TOLERANCE)
        started = time.perf_counter()
        result = chain.run(Picture(damaged), job)
        seconds = time.perf_counter() - started
        fixed = float((off(result.picture.pixels, clean)[truth] < TOLERANCE).mean())
        hole = cv2.dilate((cover > 0.05).astype(np.uint8), np.ones((3, 3), np.uint8))
        telea = cv2.inpaint(damaged, hole, 3, cv2.INPAINT_TELEA).astype(np.float32) / 255
        sigma = estimate_sigma(damaged)
        oracle = np.clip(np.rint(infer_tiled(lambda t: net(t, sigma / 255), telea) * 255), 0, 255).astype(np.uint8)
        oracle_fixed = float((off(oracle, clean)[truth] < TOLERANCE).mean())
        _, false_clean = stage_changes(image)
        _, false_grain = stage_changes(grainy(clean, rng))
        detected = float(result.steps[0].details.get("damage_fraction", 0.0))
        rows.append(np.array([truth.mean(), fixed, oracle_fixed, detected, false_clean, false_grain, seconds]))
        held_out += [] if tuned else [rows[-1]]
        print(line(name, "yes" if tuned else "no", rows[-1]))
    if rows:
        print(line("mean", "", np.mean(rows, axis=0)))
    if held_out:
        print(line("mean held out", "", np.mean(held_out, axis=0)))


if __name__ == "__main__":
    main()
