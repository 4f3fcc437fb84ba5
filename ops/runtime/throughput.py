"""How long a network takes here: timed on the network itself, not inferred from a benchmark.

A network's cost is modelled per call as ``fixed + per_pixel x input pixels`` (the fixed part is
the call's own overhead: padding, layout changes, small launches); both are measured once per
loaded network on two probe tiles of the network, on this device, in its precision and layout.
An estimate then sums that model over the exact tiles the tiled runtime will run, times the
network's drift: the moving ratio of measured to modelled time of its finished jobs (larger tiles
than the probes run a little slower per pixel once activations outgrow the caches).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from .backends.base import Compiled
from .backends.verdicts import best_time as timed
from .device import device
from .tiling import TileConfig, plan_axis

PROBE_SIDES = (32, 64)  # input pixels per side; large enough that the slope is not noise


@dataclass(frozen=True)
class Speed:
    fixed: float  # seconds per call
    per_pixel: float  # seconds per input pixel

    def seconds(self, pixels: float, calls: int = 1) -> float:
        return calls * self.fixed + pixels * self.per_pixel


def best_time(call: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, repeats: int = 2) -> tuple[float, torch.Tensor]:
    """``verdicts.best_time`` of a network on ``x``, without autograd, waiting for the GPU."""
    with torch.inference_mode():
        return timed(lambda: call(x), repeats, torch.cuda.synchronize if x.device.type == "cuda" else lambda: None)


def measure_speed(call: Compiled, channels: int, half: bool, layout: torch.memory_format) -> Speed:
    """The best timing at each probe size (compiled for it first), fitted to fixed + per-pixel."""
    dtype = torch.float16 if half else torch.float32
    call.prepare([(side, side) for side in PROBE_SIDES])
    timings = [(side * side, best_time(call, torch.rand(1, channels, side, side).to(device(), dtype, memory_format=layout))[0]) for side in PROBE_SIDES]
    (p0, t0), (p1, t1) = timings
    per_pixel = max((t1 - t0) / (p1 - p0), t1 / p1 * 0.5)  # a noisy small probe cannot make pixels nearly free
    return Speed(fixed=max(0.0, t1 - per_pixel * p1), per_pixel=per_pixel)


def tiled_seconds(speed: Speed, sizes: Sequence[tuple[int, int]], config: TileConfig, step: int = 1) -> float:
    """Seconds for tiled passes over inputs of ``sizes`` (width, height): every tile as the network
    sees it, with its context, cut for the backend's shape ``step``."""
    total = 0.0
    for rows, cols in _tile_sides(sizes, config, step):
        total += speed.seconds(sum(rows) * sum(cols), len(rows) * len(cols))
    return total


def tile_shapes(sizes: Sequence[tuple[int, int]], config: TileConfig, step: int = 1) -> set[tuple[int, int]]:
    """The distinct (height, width) the network will be called with."""
    return {(row, col) for rows, cols in _tile_sides(sizes, config, step) for row in rows for col in cols}


def _tile_sides(sizes: Sequence[tuple[int, int]], config: TileConfig, step: int) -> list[tuple[list[int], list[int]]]:
    return [(plan_axis(height, config.tile, config, step).window_sides, plan_axis(width, config.tile, config, step).window_sides) for width, height in sizes]


@dataclass
class Calibration:
    """A network's measured speed, corrected by how its real jobs went."""

    speed: Speed
    network: Compiled = field(default_factory=lambda: Compiled(lambda x: x))  # its shape step and compile costs
    drift: float = 1.0

    def compiling(self, sizes: Sequence[tuple[int, int]], config: TileConfig) -> float:
        """Seconds a job of ``sizes`` will spend compiling tile shapes this network has not met."""
        return self.network.compile_cost(tile_shapes(sizes, config, self.network.shape_step))

    def estimate(self, sizes: Sequence[tuple[int, int]], config: TileConfig) -> float:
        return tiled_seconds(self.speed, sizes, config, self.network.shape_step) * self.drift + self.compiling(sizes, config)

    def observe(self, sizes: Sequence[tuple[int, int]], config: TileConfig, seconds: float) -> None:
        """Fold a finished job's running time in, compiles excluded (halfway: one odd job moves the
        estimate, not replaces it)."""
        modelled = tiled_seconds(self.speed, sizes, config, self.network.shape_step)
        if modelled > 0 and seconds > 0:
            self.drift = math.exp(0.5 * math.log(self.drift) + 0.5 * math.log(seconds / modelled))
