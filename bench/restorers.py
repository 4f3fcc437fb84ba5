"""Benchmark: every CPU backend on the heavy networks that are not upscalers (GFPGAN v1.4 and
CodeFormer on their 512x512 face, LaMa on its calibration crop), then LaMa on crops of new shapes.

Each network runs with its real weights where they are installed (``python -m ops weights fetch
NAME``); otherwise with random weights of the real architecture at full size: the times are then
real, the PSNR only indicative (the product calibrates on the weights it runs).
Usage: python bench/restorers.py [--only gfpgan-v1.4,codeformer,big-lama] [--int8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

NETWORKS = ("gfpgan-v1.4", "codeformer", "big-lama")


def adapted(name: str):  # noqa: ANN201  (ops.runtime.signatures.Adapted, and whether its weights are real)
    import spandrel
    import torch

    from ops.runtime.signatures import adapt, inpainter
    from ops.weights import WeightsSource, entry, require
    from ops.weights.store import missing_reason

    real = missing_reason(name) is None
    if real and name == "big-lama":
        from ops.models.loaders.modules import load_lama

        return inpainter(load_lama(next(iter(require(entry(name)).values())))), True
    if real:
        from ops.runtime.loader import state_dict

        state = state_dict(WeightsSource(name), require(entry(name)))
    else:
        torch.manual_seed(0)
        state = random_state(name)
    return adapt(spandrel.ModelLoader().load_from_state_dict(state)), real


def random_state(name: str) -> dict:
    from spandrel.architectures.GFPGAN import GFPGAN
    from spandrel.architectures.LaMa import LaMa
    from spandrel_extra_arches.architectures.CodeFormer import CodeFormer

    if name == "big-lama":
        return {f"generator.{k[len('model.'):]}" if k.startswith("model.") else k: v for k, v in LaMa(in_nc=4, out_nc=3).state_dict().items()}
    return (GFPGAN(out_size=512) if name == "gfpgan-v1.4" else CodeFormer()).state_dict()


def seconds(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def new_shapes(call, module) -> None:  # noqa: ANN001
    """LaMa's crops differ with every request: the chosen backend meets each shape for the first time."""
    import torch

    from ops.runtime.backends.samples import photo_tile
    from ops.runtime.signatures import INPAINTER

    print("LaMa on crops of shapes it has not met (the working side is 512): first run, then again")
    for height, width in ((384, 512), (512, 432), (320, 496)):
        x = photo_tile(INPAINTER, 512)[..., :height, :width]
        first, again = seconds(lambda: call(x)), seconds(lambda: call(x))
        with torch.inference_mode():
            plain = seconds(lambda: module(x))
        print(f"  {width}x{height}: {first:.2f} s, then {again:.2f} s; plain fp32 PyTorch {plain:.2f} s ({plain / again:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default=",".join(NETWORKS))
    parser.add_argument("--int8", action="store_true", help="also quantise and measure int8 (NNCF; minutes)")
    args = parser.parse_args()

    import torch
    from trials import print_trials

    from ops.runtime import loader  # noqa: F401  (spandrel with the torchvision operators it needs)
    from ops.runtime.backends.selection import calibrate, weights_digest
    from ops.runtime.backends.verdicts import cpu_flags
    from ops.runtime.loader import measure_flops

    print(f"CPU flags: {cpu_flags()}; {torch.get_num_threads()} threads")
    for name in args.only.split(","):
        network, real = adapted(name)
        signature, module = network.signature, network.module
        side = signature.side
        print(f"\n{name} ({'its real weights' if real else 'random weights, real architecture: PSNR only indicative'}), "
              f"{side}x{side} calibration tile, best of 2 after a warm-up")  # fmt: skip
        flops = measure_flops(module, signature.channels, side, call=module) * side**2  # convolutions only (not the FFTs)
        with tempfile.TemporaryDirectory() as cache:
            started = time.perf_counter()
            choice = calibrate(module, signature, Path(cache), weights_digest(module), 50.0, args.int8)
            print(f"(calibration, conversions included: {time.perf_counter() - started:.0f} s, once per machine and weights)")
            print_trials(choice, flops)
            if signature.dynamic:
                new_shapes(choice.call, module)


if __name__ == "__main__":
    main()
