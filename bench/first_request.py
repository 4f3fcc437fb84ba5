"""Benchmark: does the first request after start-up pay for loading, backend choice or compiling?

Each scenario runs in its own fresh process on the same data folder (so OpenVINO's kernel cache
and the backend verdicts are what a restarted server finds on disk):
  cold   no start-up warm-up: the first enhance request loads, chooses and compiles itself;
  warm   the server's own warm-up (service.warmup.warm_up) first, then the requests.
Each times enhance x4 (realesrgan-x4plus) on two different photos of the same size: the first
request and the second. "Pays no compile" means warm's first is within noise of its second.
Usage: python bench/first_request.py [--size 256]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def crop(name: str, size: int):  # noqa: ANN201
    import numpy as np
    from PIL import Image

    image = Image.open(ROOT / "examples" / name).convert("RGB")
    left, top = (image.width - size) // 2, (image.height - size) // 2
    return np.asarray(image.crop((left, top, left + size, top + size)))


def child(scenario: str, size: int) -> dict[str, object]:
    started = time.perf_counter()
    from ops import chain
    from ops.host import configure
    from ops.imageio import Picture
    from ops.settings import Settings

    settings = Settings()  # this script is a door: its environment's settings, read once
    configure(settings)
    warm_seconds = 0.0
    if scenario == "warm":
        from service.warmup import warm_up

        warm_up(settings)
        warm_seconds = time.perf_counter() - started
    steps = chain.plan([{"type": "enhance", "params": {"scale": 4}, "engine": "realesrgan-x4plus"}])
    seconds, backend = [], ""
    for name in ("cat.jpg", "cup.jpg"):
        start = time.perf_counter()
        result = chain.run(Picture(crop(name, size)), steps)
        seconds.append(time.perf_counter() - start)
        backend = str(result.steps[0].details["backend"])
    return {"warm_up": warm_seconds, "first": seconds[0], "second": seconds[1], "backend": backend}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--child", choices=("cold", "warm"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.size)))
        return
    from ops.runtime.backends.verdicts import cpu_flags

    print(f"enhance x4, realesrgan-x4plus, two {args.size}x{args.size} photos, each scenario a fresh process; CPU flags: {cpu_flags()}")
    # as a restarted server finds its folder: backend verdicts, converted networks and kernels on disk
    subprocess.run([sys.executable, __file__, "--child", "warm", "--size", str(args.size)], capture_output=True, cwd=ROOT)
    print(f"{'scenario':<36} {'warm-up s':>9} {'1st request s':>14} {'2nd request s':>14} {'1st / 2nd':>9}  backend")
    for scenario, label in (("cold", "cold start, nothing warmed"), ("warm", "after the server's start-up warm-up")):
        done = subprocess.run([sys.executable, __file__, "--child", scenario, "--size", str(args.size)], capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            print(f"{scenario}: failed\n{done.stderr[-2000:]}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{label:<36} {r['warm_up']:9.1f} {r['first']:14.2f} {r['second']:14.2f} {r['first'] / r['second']:9.2f}  {r['backend']}")


if __name__ == "__main__":
    main()
