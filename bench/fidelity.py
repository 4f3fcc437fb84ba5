"""Which upscaler stays closest to the truth: real photos are taken down 2x and 4x, brought back
up by every installed enhance engine (and plain interpolation), and scored against the originals.

PSNR and SSIM (Gaussian window, on luminance) per engine and factor, averaged per group: the
example photos and held-out ones that ship inside installed packages (``bench/photos.py``).
``high_fidelity_*`` falls back to the offline engine that scores best here.
Usage: python bench/fidelity.py [--size 256] [--only NAME,...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity of two luminance images in [0, 255] (Wang et al. 2004, Gaussian window)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2, blur(a * b) - mu_a * mu_b
    return float((((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))).mean())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / max(np.mean((a.astype(np.float64) - b) ** 2), 1e-12)))


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def main() -> None:
    from photos import centre, photos

    from ops import chain
    from ops.engines import engines_for
    from ops.imageio import Picture
    from ops.registry import get_operation
    from ops.runtime.backends.verdicts import cpu_flags

    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=256, help="side of the centre crop of each photo (the truth)")
    parser.add_argument("--only", help="comma-separated photo names (bench/photos.py)")
    args = parser.parse_args()
    engines = [name for name, reason in engines_for(get_operation("enhance")) if reason is None and name != "ldm-sr-4x"]
    rows: dict[tuple[str, str, int], list[tuple[float, float]]] = {}
    print(f"{args.size}px centre crops, taken down with area averaging; CPU flags: {cpu_flags()}")
    for photo in photos(None, args.only):
        truth = centre(photo.rgb, args.size // 4 * 4)
        side = truth.shape[0] // 4 * 4
        truth = truth[:side, :side]
        for factor in (2, 4):
            small = cv2.resize(truth, (side // factor, side // factor), interpolation=cv2.INTER_AREA)
            candidates = {"bicubic": cv2.resize(small, (side, side), interpolation=cv2.INTER_CUBIC),
                          "lanczos": cv2.resize(small, (side, side), interpolation=cv2.INTER_LANCZOS4)}  # fmt: skip
            for engine in engines:
                steps = chain.plan([{"type": "enhance", "engine": engine, "params": {"scale": factor}}])
                candidates[engine] = chain.run(Picture(small.copy()), steps).picture.pixels
            for name, out in candidates.items():
                rows.setdefault((photo.group, name, factor), []).append((psnr(out, truth), ssim(luma(out), luma(truth))))
    for group in dict.fromkeys(key[0] for key in rows):
        count = len(rows[(group, "lanczos", 2)])
        print(f"\n{group} ({count} photos)\n{'engine':<28} {'factor':>6} {'PSNR dB':>8} {'SSIM':>7}")
        mine = {key[1:]: scores for key, scores in rows.items() if key[0] == group}
        for (name, factor), scores in sorted(mine.items(), key=lambda kv: (kv[0][1], -np.mean([s[0] for s in kv[1]]))):
            print(f"{name:<28} {factor:>5}x {np.mean([s[0] for s in scores]):>8.2f} {np.mean([s[1] for s in scores]):>7.4f}")


if __name__ == "__main__":
    main()
