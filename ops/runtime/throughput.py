"""How fast this device runs convolutions: the basis of every time estimate."""

from __future__ import annotations

import time
from functools import lru_cache

import torch

from .device import device


@lru_cache(maxsize=1)
def conv_gflops() -> float:
    """Measured GFLOP/s of a 64->64 3x3 convolution, the bulk of the SR networks' work."""
    dev = device()
    side = 256 if dev.type == "cuda" else 96
    dtype = torch.float16 if dev.type == "cuda" else torch.float32
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(dev, dtype)
    x = torch.rand(1, 64, side, side, device=dev, dtype=dtype)
    flops = 2 * 64 * 64 * 9 * side * side
    with torch.inference_mode():
        conv(x)  # warm up
        best = float("inf")
        for _ in range(3):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            conv(x)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
    return flops / best / 1e9


#: whole networks (narrower layers, activations, tiling) run slower than the probe convolution
EFFICIENCY = 0.7


def estimate_seconds(flops: float) -> float:
    return flops / (conv_gflops() * EFFICIENCY * 1e9)
