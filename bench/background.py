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
import math
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


def ours(size: int, repeat: int) -> tuple[float, str]:
    import numpy as np

    from ops import chain
    from ops.imageio import Picture, encode

    picture = Picture(np.asarray(photo(size)))
    steps = chain.plan([{"type": "remove-background", "engine": "u2netp"}])
    backend = chain.run(picture, steps).steps[0].details["backend"]  # load the session (its runtime chosen or read)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        encode(chain.run(picture, steps).picture, "png")
        times.append(time.perf_counter() - start)
    return min(times), backend


def theirs(size: int, repeat: int) -> tuple[float, str]:
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
    return min(times), "onnxruntime"


def candidates() -> None:
    """Every runtime for u2netp measured fresh (the product caches this verdict), with why."""
    import tempfile

    import openvino as ov

    import ops.engines  # noqa: F401  (registers the engines)
    from ops.host import configured
    from ops.models.loaders.sessions import rembg_session
    from ops.runtime.backends.verdicts import cpu_flags, read
    from ops.weights import entry, require

    path = next(iter(require(entry("u2netp")).values()))
    with tempfile.TemporaryDirectory() as data:
        with configured(data_dir=Path(data), segmenter_backend="auto"):
            session = rembg_session("u2netp", path)
        verdict = next(iter(read(Path(data) / "compiled").values()))
    flops = conv_flops(ov.Core().read_model(path), verdict["shape"])
    flags = cpu_flags()
    print(f"\nu2netp runtimes at {verdict['shape'][-1]} px, input as rembg feeds it; IoU (masks at half) against onnxruntime, the worst of the example photos; CPU flags: {flags}")
    reference = next(t["seconds"] for t in verdict["trials"] if t["backend"] == "onnxruntime")
    print(f"{'runtime':<16} {'ms':>8} {'GFLOP/s':>8} {'vs ORT':>8} {'IoU':>7}  verdict")
    for t in verdict["trials"]:
        if t["seconds"] is None:
            print(f"{t['backend']:<16} {'':>8} {'':>8} {'':>8} {'':>7}  {t['verdict']}")
            continue
        quality = f"{t['quality']:7.3f}" if t["quality"] is not None else f"{'ref':>7}"
        print(f"{t['backend']:<16} {t['seconds'] * 1e3:8.1f} {flops / t['seconds'] / 1e9:8.1f} {reference / t['seconds']:7.2f}x {quality}  {t['verdict']}")
    print(f"chosen: {session.backend}; why: " + ("AMX present, bf16 on AMX tiles" if "amx" in flags else "no AMX here: bf16 runs on AVX512-BF16" if "avx512_bf16" in flags else "no bf16 kernels here"))


def conv_flops(model, shape: list[int]) -> float:  # noqa: ANN001
    """Multiply-adds x2 of every convolution of an OpenVINO model at this input shape."""
    model.reshape({model.inputs[0].get_any_name(): shape})
    total = 0.0
    for op in model.get_ordered_ops():
        if op.get_type_name() in ("Convolution", "GroupConvolution"):
            out, weights = list(op.get_output_shape(0)), list(op.input_value(1).get_shape())
            total += 2.0 * math.prod(weights[-3:]) * math.prod(out[1:])  # in-channels (per group) x kernel, per output value
    return total


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
    from ops.runtime.backends.onnx_sessions import iou

    session = ENGINES["u2netp"].session()
    photos = sorted((ROOT / "examples").glob("*.jpg")) + (sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")) if folder else [])
    print("\nu2netp matte faults, raw -> tidied: specks, pinholes, half-transparent interior; IoU raw vs tidied")
    for path in photos:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        raw = np.asarray(session.predict(Image.fromarray(_preview(rgb, 320)))[0], np.float32) / 255.0
        tidied = tidy_matte(raw)
        (i0, h0, s0), (i1, h1, s1) = faults(raw), faults(tidied)
        overlap = iou(raw > 0.5, tidied > 0.5)
        print(f"{path.name:<24} specks {i0 - 1 if i0 else 0:>2} -> {i1 - 1 if i1 else 0:<2}  pinholes {h0:>2} -> {h1:<2}  soft interior {s0:6.1%} -> {s1:6.1%}  IoU {overlap:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=("ours", "rembg", "candidates"))
    parser.add_argument("--photos", type=Path, help="a folder of extra photos for the matte-quality table")
    args = parser.parse_args()
    if args.child == "candidates":
        candidates()
        return
    if args.child:
        seconds, backend = (ours if args.child == "ours" else theirs)(args.size, args.repeat)
        print(json.dumps({"seconds": seconds, "backend": backend, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
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
        print(f"{labels[name]:<40} {r['seconds']:7.3f} s   peak RSS {r['peak_rss_mb']:6.0f} MB   network on {r['backend']}")
    print(f"time ratio ours / rembg: {results['ours']['seconds'] / results['rembg']['seconds']:.2f}")
    print(f"peak RSS ratio ours / rembg: {results['ours']['peak_rss_mb'] / results['rembg']['peak_rss_mb']:.2f}")
    done = subprocess.run([sys.executable, __file__, "--child", "candidates"], capture_output=True, text=True)
    print(done.stdout.rstrip() if done.returncode == 0 else f"candidates failed\n{done.stderr[-2000:]}")
    matte_quality(args.photos)


if __name__ == "__main__":
    main()
