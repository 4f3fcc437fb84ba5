"""Benchmark: our remove-background against rembg's own remove(), same model (u2netp), same photo.

Each side runs in its own process (peak RSS is its own); the photo is 1024x1024.
Usage: python bench/background.py [--size 1024] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def photo(size: int):  # noqa: ANN201
    from PIL import Image

    image = Image.open(ROOT / "examples" / "portrait.jpg").convert("RGB")
    return image.resize((size, size), Image.Resampling.LANCZOS)


def ours(size: int, repeat: int) -> float:
    import numpy as np

    from ops import chain
    from ops.imageio import Picture, encode

    picture = Picture(np.asarray(photo(size)))
    steps = chain.plan([{"type": "remove-background", "engine": "u2netp"}])
    chain.run(picture, steps)  # load the session
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        encode(chain.run(picture, steps).picture, "png")
        times.append(time.perf_counter() - start)
    return min(times)


def theirs(size: int, repeat: int) -> float:
    from ops.weights import entry, require

    os.environ["U2NET_HOME"] = str(next(iter(require(entry("u2netp")).values())).parent)
    from rembg import new_session, remove

    session = new_session("u2netp", providers=["CPUExecutionProvider"])
    image = photo(size)
    remove(image, session=session)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        buffer = io.BytesIO()
        remove(image, session=session).save(buffer, "PNG")
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=("ours", "rembg"))
    args = parser.parse_args()
    if args.child:
        seconds = (ours if args.child == "ours" else theirs)(args.size, args.repeat)
        print(json.dumps({"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
        return
    print(f"remove-background, u2netp, {args.size}x{args.size} photo, best of {args.repeat}, PNG written, each in its own process")
    results = {}
    for name in ("ours", "rembg"):
        done = subprocess.run([sys.executable, __file__, "--child", name, "--size", str(args.size), "--repeat", str(args.repeat)], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{name} failed:\n{done.stderr[-2000:]}")
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    labels = {"ours": "ours (refined edges, decontaminated)", "rembg": "rembg remove() (plain cut-out)"}
    for name, r in results.items():
        print(f"{labels[name]:<40} {r['seconds']:7.3f} s   peak RSS {r['peak_rss_mb']:6.0f} MB")
    print(f"time ratio ours / rembg: {results['ours']['seconds'] / results['rembg']['seconds']:.2f}")
    print(f"peak RSS ratio ours / rembg: {results['ours']['peak_rss_mb'] / results['rembg']['peak_rss_mb']:.2f}")


if __name__ == "__main__":
    main()
