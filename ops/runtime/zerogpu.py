"""Hugging Face ZeroGPU Spaces: model work runs inside ``spaces.GPU``, which attaches a GPU slice
for the call; everywhere else (SPACES_ZERO_GPU unset) the work is simply called.

The duration asked for comes from the work's size (input pixels times the chain's enlargement,
per network step), so a small job does not hold a long GPU reservation and a large one is not
cut off. Untested on real ZeroGPU hardware here (no Space in CI): the README says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from ..chain import PlannedStep

T = TypeVar("T")
START_SECONDS = 15.0  # attaching the slice and moving a network to it
SECONDS_PER_MEGAPIXEL = 4.0  # per network step, per output megapixel: Real-ESRGAN x4plus in fp16 with headroom
MAX_SECONDS = 300  # ZeroGPU's longest reservation for a call


def on_zero_gpu() -> bool:
    from ..host import host

    return host().zero_gpu


def gpu_seconds(size: tuple[int, int], steps: Sequence[PlannedStep], enlargement: float) -> int:
    model_steps = sum(1 for step in steps if step.engine.uses_device)
    megapixels = size[0] * size[1] * enlargement**2 / 1e6
    return min(MAX_SECONDS, math.ceil(START_SECONDS + SECONDS_PER_MEGAPIXEL * megapixels * model_steps))


def run_model_work(work: Callable[[], T], seconds: int) -> T:
    """``work()`` on a ZeroGPU slice reserved for ``seconds``, or plainly where there is no ZeroGPU."""
    return on_slice()(work, seconds) if on_zero_gpu() else work()


@cache
def on_slice() -> Callable[[Callable[[], T], int], T]:
    """One ``spaces.GPU`` function for all model work (ZeroGPU registers it once), whose reserved
    duration is its second argument (the library's dynamic duration)."""
    import spaces

    return spaces.GPU(duration=lambda work, seconds: seconds)(_call)


def _call(work: Callable[[], T], seconds: int) -> T:
    return work()
