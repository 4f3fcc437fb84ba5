"""How good the up-front time estimates are: enhance 2x/4x/8x at three sizes, the estimate the
job reports before it starts against the time it took (the network loaded beforehand).

Usage: python bench/estimates.py [--engine realesrgan-x4plus] [--speed exact|int8]
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
    from ops.runtime.backends.verdicts import cpu_flags

    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", default="realesrgan-x4plus")
    parser.add_argument("--speed", choices=("exact", "int8"), default="exact", help="int8: the opt-in speed mode's backend")
    args = parser.parse_args()
    step = {"type": "enhance", "engine": args.engine, "speed": args.speed}
    photo = Image.open(ROOT / "examples" / "cup.jpg").convert("RGB")
    warm = chain.plan([step | {"params": {"scale": 2}}])
    backend = chain.run(Picture(np.asarray(photo.crop((0, 0, 32, 32))).copy()), warm).steps[0].details["backend"]  # load the network first
    print(f"engine {args.engine} on {backend}; CPU flags: {cpu_flags()}")
    print(f"{'size':>9} {'scale':>5} {'estimated s':>12} {'measured s':>11} {'ratio':>6}")
    for width, height in ((100, 70), (170, 125), (250, 190)):  # off the 16 px shape step: windows of their own shapes
        picture = Picture(np.asarray(photo.crop((0, 0, width, height))).copy())
        for scale in (2, 4, 8):
            steps = chain.plan([step | {"params": {"scale": scale}}])
            started = time.perf_counter()
            result = chain.run(picture, steps)
            measured = time.perf_counter() - started
            estimated = result.steps[0].details["estimated_seconds"]
            size = f"{width}x{height}"
            print(f"{size:>9} {scale:>4}x {estimated:>12.1f} {measured:>11.1f} {measured / max(estimated, 1e-9):>6.2f}")


if __name__ == "__main__":
    main()
