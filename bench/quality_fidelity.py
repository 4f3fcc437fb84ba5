"""Deblocking wherever there are blocks, and colour kept, on the example photos.

1. Each photo saved as JPEG q10/q15/q20 and then as PNG (the file no longer says JPEG), denoised
   through the chain as the CLI runs it: block-edge ratio (ops.restore.jpeg.blockiness, grid at 0)
   and PSNR against the original, before and after; the passes the pre-pass chose.
2. The originals themselves as PNG: does the pre-pass leave them alone (no false deblocking)?
3. enhance x4 (Real-ESRGAN x4plus) on a centre crop taken down 4x: the shift of the channel means
   against the input (levels of 255, the largest of R, G, B) and PSNR against the crop, without
   and with the colour fix (ops.restore.colour).
Usage: python bench/quality_fidelity.py [--crop 256] [--photos DIR]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

QUALITIES = (10, 15, 20)


from ops.metrics import psnr  # noqa: E402  (the project root is on the path from here)


def ratio(rgb: np.ndarray) -> float:
    from ops.restore.jpeg import blockiness

    return blockiness(rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))


def as_png(pixels: np.ndarray):  # noqa: ANN201  (an ops Picture decoded from PNG bytes)
    from ops.imageio import Picture, decode, encode

    return decode(encode(Picture(pixels), "png").data)


def through_jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


@contextmanager
def without_colour_fix(engine: str) -> Iterator[None]:
    from ops.engines import ENGINES

    ENGINES[engine].keeps_colour = False  # type: ignore[misc]  (an instance attribute over the declaration)
    try:
        yield
    finally:
        del ENGINES[engine].keeps_colour  # type: ignore[misc]


def main() -> None:
    from PIL import Image

    from ops import chain
    from ops.imageio import Picture
    from ops.restore.colour import channel_means
    from ops.restore.jpeg import measure_pixels
    from ops.runtime.backends.verdicts import cpu_flags

    parser = argparse.ArgumentParser()
    parser.add_argument("--crop", type=int, default=256, help="side of the centre crop enhanced x4 (taken down 4x first)")
    parser.add_argument("--photos", type=Path, default=ROOT / "examples", help="a folder of photos (.jpg, .png)")
    args = parser.parse_args()
    paths = [p for p in sorted(args.photos.iterdir()) if p.suffix.lower() in (".jpg", ".jpeg", ".png") and "text" not in p.name]
    photos = {p.name: np.asarray(Image.open(p).convert("RGB")) for p in paths}
    import torch

    print(f"CPU flags: {cpu_flags()}; {torch.get_num_threads()} threads; photos: {', '.join(photos)}")

    print("\n1. denoise on a PNG that was a JPEG (block-edge ratio on the 8x8 grid; PSNR dB against the original)")
    print(f"{'photo':<14} {'q':>3} {'ratio in':>8} {'ratio out':>9} {'PSNR in':>8} {'PSNR out':>8} {'gain':>6}  {'levels':<9} {'s':>5}")
    gains: dict[int, list[float]] = {}
    for name, truth in photos.items():
        for quality in QUALITIES:
            blocky = through_jpeg(truth, quality)
            started = time.perf_counter()
            result = chain.run(as_png(blocky), chain.plan([{"type": "denoise"}]))
            seconds, out = time.perf_counter() - started, result.picture.pixels
            levels = result.steps[0].details.get("deblock_levels", "-")
            gain = psnr(out, truth) - psnr(blocky, truth)
            gains.setdefault(quality, []).append(gain)
            print(f"{name:<14} {quality:>3} {ratio(blocky):>8.2f} {ratio(out):>9.2f} {psnr(blocky, truth):>8.2f} {psnr(out, truth):>8.2f} "
                  f"{gain:>+6.2f}  {str(levels):<9} {seconds:>5.1f}")  # fmt: skip
    print("mean gain: " + ", ".join(f"q{q} {np.mean(g):+.2f} dB" for q, g in gains.items()))

    print("\n2. the originals as PNG: does the pre-pass see blocks? (it must not on a clean photo)")
    for name, truth in photos.items():
        found = measure_pixels(truth)
        print(f"{name:<14} ratio {found.ratio:.2f} (capped {found.robust:.2f}), grid distinct {found.distinct:.2f}: "
              f"{'DEBLOCKED' if found.blocky else 'left alone'}")  # fmt: skip

    print(f"\n3. enhance x4 (realesrgan-x4plus), {args.crop} px centre crops taken down 4x: largest channel-mean shift against the input")
    print(f"{'photo':<14} {'shift without':>13} {'shift with':>10} {'PSNR without':>12} {'PSNR with':>9}")
    steps = chain.plan([{"type": "enhance", "engine": "realesrgan-x4plus", "params": {"scale": 4}}])
    for name, photo in photos.items():
        h, w = photo.shape[:2]
        side = min(args.crop, h, w) // 4 * 4
        truth = photo[(h - side) // 2 : (h + side) // 2, (w - side) // 2 : (w + side) // 2]
        small = cv2.resize(truth, (side // 4, side // 4), interpolation=cv2.INTER_AREA)
        with without_colour_fix("realesrgan-x4plus"):
            raw = chain.run(Picture(small.copy()), steps).picture.pixels
        fixed = chain.run(Picture(small.copy()), steps).picture.pixels
        shift = [float(np.abs(channel_means(x) - channel_means(small)).max()) for x in (raw, fixed)]
        print(f"{name:<14} {shift[0]:>13.2f} {shift[1]:>10.2f} {psnr(raw, truth):>12.2f} {psnr(fixed, truth):>9.2f}")


if __name__ == "__main__":
    main()
