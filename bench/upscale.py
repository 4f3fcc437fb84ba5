"""Benchmark: our enhance x4 (through the command line, on a second file) against plain fp32
PyTorch and the ncnn runtime, side by side.

Each contender runs in its own process (so peak RSS is its own) on the same real photo crop.
Then the peak memory of a large enhance x4 (2000x1500 -> 8000x6000, 48 MP, through the whole
pipeline and the PNG encode), each engine in a fresh process: its peak RSS (ru_maxrss), printed
with the CPU's flags.
Usage: python bench/upscale.py [--size 256] [--skip-large] [--large realesr-animevideov3,realesrgan-x4plus]
       python bench/upscale.py --large realesrgan-x4plus --only-large   (the peak alone)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
PHOTO = ROOT / "examples" / "rocket.jpg"


def crop(size: int) -> np.ndarray:
    image = Image.open(PHOTO).convert("RGB")
    if min(image.size) < size:
        image = image.resize((size * image.width // min(image.size), size * image.height // min(image.size)), Image.Resampling.LANCZOS)
    left, top = (image.width - size) // 2, (image.height - size) // 2
    return np.asarray(image.crop((left, top, left + size, top + size)))


def peak_rss_mb() -> float:
    """This process's peak, or its command line's (ours runs in a child)."""
    return max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024


def run_ours(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """Through the command line as a person runs it, on two files in one call: a photo of another
    size first (it loads the network and the batch compiles both files' tile shapes), then this
    crop, timed by the step's own seconds (decode and encode excluded, as for the references)."""
    with tempfile.TemporaryDirectory() as folder:
        first, second = Path(folder) / "1-other.png", Path(folder) / "2-measured.png"
        other = Image.open(ROOT / "examples" / "cat.jpg").convert("RGB")
        other.crop((0, 0, min(other.width, pixels.shape[1] + 48), min(other.height, max(32, pixels.shape[0] - 40)))).save(first)
        Image.fromarray(pixels).save(second)
        command = [sys.executable, "-m", "ops", "enhance", "-p", "scale=4", "--engine", "realesrgan-x4plus", str(first), str(second), "-o", f"{folder}/out", "--json"]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True)
        report = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")][-1]
        assert report["ok"] and report["input"] == str(second), report
        return np.asarray(Image.open(report["output"]).convert("RGB")), report["steps"][0]["seconds"]


def _network():
    from ops.runtime.ncnn_convert import convert
    from ops.runtime.torchvision_compat import install
    from ops.weights import entry, require

    install()
    import spandrel

    paths = require(entry("realesrgan-x4plus-ncnn"))
    param = next(p for p in paths.values() if p.suffix == ".param")
    binary = next(p for p in paths.values() if p.suffix == ".bin")
    return spandrel.ModelLoader().load_from_state_dict(convert(param, binary)).model.eval(), param, binary


def run_torch(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    model, _, _ = _network()
    x = torch.from_numpy(pixels.astype(np.float32).transpose(2, 0, 1) / 255)[None]
    with torch.inference_mode():
        model(x[..., :32, :32])
        start = time.perf_counter()
        y = model(x)
        elapsed = time.perf_counter() - start
    return (y[0].clamp(0, 1).numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8), elapsed


def run_ncnn(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    import ncnn

    _, param, binary = _network()
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = os.cpu_count() or 1
    net.load_param(str(param))
    net.load_model(str(binary))
    x = np.ascontiguousarray(pixels.astype(np.float32).transpose(2, 0, 1) / 255)
    start = time.perf_counter()
    extractor = net.create_extractor()
    extractor.input("data", ncnn.Mat(x))
    _, out = extractor.extract("output")
    elapsed = time.perf_counter() - start
    return (np.clip(np.array(out), 0, 1).transpose(1, 2, 0) * 255).round().astype(np.uint8), elapsed


LARGE = (2000, 1500)  # x4: 8000x6000, 48 MP


def run_large(engine: str = "realesr-animevideov3") -> dict[str, float]:
    """2000x1500 -> 8000x6000 with ``engine``, through the whole pipeline (PNG written)."""
    from ops import chain
    from ops.imageio import Picture, encode

    source = Image.open(PHOTO).convert("RGB").resize(LARGE, Image.Resampling.LANCZOS)
    steps = chain.plan([{"type": "enhance", "params": {"scale": 4}, "engine": engine}])
    start = time.perf_counter()
    result = chain.run(Picture(np.asarray(source)), steps)
    upscaled = time.perf_counter() - start
    data = encode(result.picture, "png").data
    return {"seconds": upscaled, "total_seconds": time.perf_counter() - start, "png_mb": len(data) / 1e6,
            "size": list(result.picture.pixels.shape[:2]), "peak_rss_mb": peak_rss_mb(),
            "backend": result.steps[0].details.get("backend", "?")}  # fmt: skip


def matmul_peak_gflops() -> float:
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    a, b = torch.rand(2048, 2048), torch.rand(2048, 2048)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(5))
    return 2 * 2048**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def child(name: str, size: int, out: Path) -> None:
    if name.startswith("large"):
        print(json.dumps(run_large(name.partition(":")[2] or "realesr-animevideov3")))
        return
    runner = {"ours": run_ours, "torch": run_torch, "ncnn": run_ncnn}[name]
    image, seconds = runner(crop(size))
    np.save(out / f"{name}.npy", image)
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb()}))


from ops.metrics import psnr  # noqa: E402  (the project root is on the path from here)


def backends() -> None:
    """Every CPU backend on the calibration tile, measured fresh (the product caches this verdict)."""
    import tempfile

    from trials import print_trials

    import ops.engines  # noqa: F401  (registers the engines)
    from ops.models import model
    from ops.runtime.backends.base import IMAGE
    from ops.runtime.backends.openvino_cpu import SHAPE_STEP
    from ops.runtime.backends.selection import CALIBRATION_SIDE, calibrate, weights_digest
    from ops.runtime.backends.verdicts import cpu_flags

    network = model("realesrgan-x4plus").net
    flags = cpu_flags()
    print(f"\nCPU backends, Real-ESRGAN x4plus on a {CALIBRATION_SIDE}x{CALIBRATION_SIDE} calibration tile (best of 2 after a warm-up); CPU flags: {flags}")
    with tempfile.TemporaryDirectory() as cache:
        choice = calibrate(network.module, IMAGE, Path(cache), weights_digest(network.module), 50.0, True)
        static_gain = static_vs_dynamic(network.module, Path(cache), weights_digest(network.module))
    print_trials(choice, network.flops_per_pixel * CALIBRATION_SIDE**2)
    print(f"OpenVINO bf16 static shape vs dynamic H/W at {CALIBRATION_SIDE}px: {static_gain:.2f}x")
    print(f"static shapes: tiles cut in multiples of {SHAPE_STEP}; pixels run vs exact tiles (384 px tiles, 16 px context):")
    for side in (256, 500, 1000, 2000):
        exact, stepped = (tiled_pixels(side, step) for step in (1, SHAPE_STEP))
        print(f"  {side}x{side}: {stepped / exact:.3f}x")


def static_vs_dynamic(module, cache: Path, digest: str) -> float:  # noqa: ANN001
    from ops.runtime.backends.base import BACKENDS, IMAGE
    from ops.runtime.backends.openvino_cpu import AnyShape
    from ops.runtime.backends.selection import calibration_tile
    from ops.runtime.throughput import best_time

    shaped = BACKENDS["openvino-bf16"].build(module, IMAGE, cache, digest).run
    tile = calibration_tile()
    dynamic = AnyShape(shaped.core, shaped.model, shaped.config, cache / "dynamic")  # height and width left open
    return best_time(dynamic, tile)[0] / best_time(shaped, tile)[0]


def tiled_pixels(side: int, step: int) -> int:
    from ops.runtime.tiling import TileConfig, plan_axis

    return sum(plan_axis(side, 384, TileConfig(), step).window_sides) ** 2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--large", default="realesr-animevideov3", help="engines of the 48 MP peak-memory run, comma-separated")
    parser.add_argument("--only-large", action="store_true", help="only the 48 MP peak-memory run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "backends":
        backends()
        return
    if args.child:
        child(args.child, args.size, Path(args.out or "."))
        return
    if args.only_large:
        large_runs(args.large.split(","))
        return
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"device: {device}, threads: {os.cpu_count()}, crop: {args.size}x{args.size} of {PHOTO.name} -> x4 with Real-ESRGAN x4plus")
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for name in ("ours", "torch", "ncnn"):
            done = subprocess.run([sys.executable, __file__, "--child", name, "--size", str(args.size), "--out", tmp], capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{name}: failed\n{done.stderr[-2000:]}")
                continue
            results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        flops = 35.85e6 * args.size**2
        peak = matmul_peak_gflops()
        best = min(results[n]["seconds"] for n in results if n != "ours")
        print(f"{'contender':<34} {'seconds':>8} {'GFLOP/s':>8} {'of peak':>8} {'peak RSS':>9}")
        labels = {"ours": "ours (CLI enhance x4, 2nd file)", "torch": "plain fp32 PyTorch, untiled", "ncnn": "ncnn runtime (same .param/.bin)"}
        for name, r in results.items():
            gflops = flops / r["seconds"] / 1e9
            print(f"{labels[name]:<34} {r['seconds']:8.2f} {gflops:8.1f} {gflops / peak:8.0%} {r['peak_rss_mb']:7.0f} MB")
        print(f"fp32 matmul peak (2048^2, measured): {peak:.0f} GFLOP/s")
        print(f"ratio ours / fastest reference: {results['ours']['seconds'] / best:.2f}")
        print(f"speed-up of ours over plain fp32 PyTorch: {results['torch']['seconds'] / results['ours']['seconds']:.2f}x")
        ours, reference = np.load(Path(tmp) / "ours.npy"), np.load(Path(tmp) / "torch.npy")
        print(f"PSNR ours vs plain fp32 PyTorch: {psnr(ours, reference):.1f} dB")
    done = subprocess.run([sys.executable, __file__, "--child", "backends"], capture_output=True, text=True, check=False)
    print(done.stdout.rstrip() if done.returncode == 0 else f"backends failed\n{done.stderr[-2000:]}")
    if not args.skip_large:
        large_runs(args.large.split(","))


def large_runs(engines: list[str]) -> None:
    """Each engine's enhance x4 to 48 MP in a fresh process: its peak RSS is its own."""
    from ops.runtime.backends.verdicts import cpu_flags

    print(f"\nenhance x4, {LARGE[0]}x{LARGE[1]} -> {LARGE[0] * 4}x{LARGE[1] * 4} ({LARGE[0] * LARGE[1] * 16 / 1e6:.0f} MP), "
          f"{os.cpu_count()} threads, CPU flags: {cpu_flags()}")  # fmt: skip
    for engine in engines:
        done = subprocess.run([sys.executable, __file__, "--child", f"large:{engine}"], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{engine}: large run failed\n{done.stderr[-2000:]}")
            continue
        large = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{engine} ({large['backend']}): upscale {large['seconds']:.1f} s, with PNG encode {large['total_seconds']:.1f} s "
            f"({large['png_mb']:.0f} MB), peak RSS {large['peak_rss_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main()
