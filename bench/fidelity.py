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

from ops.metrics import luma, psnr, ssim  # noqa: E402  (re-exported for the other benches)


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
