"""How good the up-front time estimates are: enhance 2x/4x/8x at three sizes, the estimate the
job reports before it starts against the time it took (the network loaded beforehand).

Usage: python bench/estimates.py [--engine realesrgan-x4plus]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from PIL import Image

    from ops import chain
    from ops.imageio import Picture

    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", default="realesrgan-x4plus")
    args = parser.parse_args()
    photo = Image.open(ROOT / "examples" / "cup.jpg").convert("RGB")
    flags = " ".join(sorted({f for f in Path("/proc/cpuinfo").read_text().split() if f.startswith(("avx512", "amx"))})) if Path("/proc/cpuinfo").exists() else ""
    print(f"engine {args.engine}; CPU flags: {flags or 'n/a'}")
    warm = chain.plan([{"type": "enhance", "engine": args.engine, "params": {"scale": 2}}])
    chain.run(Picture(np.asarray(photo.crop((0, 0, 32, 32))).copy()), warm)  # load the network first
    print(f"{'size':>9} {'scale':>5} {'estimated s':>12} {'measured s':>11} {'ratio':>6}")
    for width, height in ((96, 64), (160, 120), (256, 192)):
        picture = Picture(np.asarray(photo.crop((0, 0, width, height))).copy())
        for scale in (2, 4, 8):
            steps = chain.plan([{"type": "enhance", "engine": args.engine, "params": {"scale": scale}}])
            started = time.perf_counter()
            result = chain.run(picture, steps)
            measured = time.perf_counter() - started
            estimated = result.steps[0].details["estimated_seconds"]
            size = f"{width}x{height}"
            print(f"{size:>9} {scale:>4}x {estimated:>12.1f} {measured:>11.1f} {measured / max(estimated, 1e-9):>6.2f}")


if __name__ == "__main__":
    main()
