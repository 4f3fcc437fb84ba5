"""Benchmark: our remove-background against rembg's own remove(), same model (u2netp), same photo.

Each side runs in its own process (peak RSS is its own); the photo is 1024x1024.
Then the matte's faults people see, before and after tidying (ops.masks.tidy_matte), on the
examples and any photos given: separate specks kept, pinholes inside the subject, and the share
of the subject's interior left half-transparent (alpha < 0.95), with the IoU of the two masks
(how much the subject's outline moved).
Usage: python bench/background.py [--size 1024] [--repeat 3] [--photos FOLDER]
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


def faults(matte):  # noqa: ANN001, ANN201
    """(islands, enclosed holes, soft share of the interior) of a float matte."""
    import cv2
    import numpy as np

    solid = (matte > 0.5).astype(np.uint8)
    islands = cv2.connectedComponents(solid, connectivity=8)[0] - 1
    count, _, stats, _ = cv2.connectedComponentsWithStats(1 - solid, connectivity=4)
    height, width = matte.shape
    x, y, w, h = stats[1:, 0], stats[1:, 1], stats[1:, 2], stats[1:, 3]
    holes = int(((x > 0) & (y > 0) & (x + w < width) & (y + h < height)).sum())
    interior = cv2.distanceTransform(solid, cv2.DIST_L2, 5) > 0.06 * np.sqrt(solid.sum())
    return islands, holes, float((matte[interior] < 0.95).mean()) if interior.any() else 0.0


def matte_quality(folder: Path | None) -> None:
    import numpy as np
    from PIL import Image

    import ops.engines  # noqa: F401  (registers the engines)
    from ops.engines.base import ENGINES
    from ops.engines.segment import _preview
    from ops.masks import tidy_matte

    session = ENGINES["u2netp"].session()
    photos = sorted((ROOT / "examples").glob("*.jpg")) + (sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")) if folder else [])
    print(f"\nu2netp matte faults, raw -> tidied: specks, pinholes, half-transparent interior; IoU raw vs tidied")
    for path in photos:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        raw = np.asarray(session.predict(Image.fromarray(_preview(rgb, 320)))[0], np.float32) / 255.0
        tidied = tidy_matte(raw)
        (i0, h0, s0), (i1, h1, s1) = faults(raw), faults(tidied)
        iou = ((raw > 0.5) & (tidied > 0.5)).sum() / max(((raw > 0.5) | (tidied > 0.5)).sum(), 1)
        print(f"{path.name:<24} specks {i0 - 1 if i0 else 0:>2} -> {i1 - 1 if i1 else 0:<2}  pinholes {h0:>2} -> {h1:<2}  soft interior {s0:6.1%} -> {s1:6.1%}  IoU {iou:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=("ours", "rembg"))
    parser.add_argument("--photos", type=Path, help="a folder of extra photos for the matte-quality table")
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
    matte_quality(args.photos)


if __name__ == "__main__":
    main()
