"""Which device runs the models, and in which precision."""

from __future__ import annotations

import os
from functools import lru_cache

import torch

from ..host import host, on_configure


@lru_cache(maxsize=1)
def device() -> torch.device:
    """CUDA when present (and not disabled by STUDIO_DEVICE=cpu), else the CPU with all its cores."""
    if host().device != "cpu" and torch.cuda.is_available():
        return torch.device("cuda")
    torch.set_num_threads(os.cpu_count() or 1)
    return torch.device("cpu")


def half_precision(supports_half: bool) -> bool:
    """fp16 on CUDA where the architecture supports it; CPU stays fp32 (no gain from bf16 here)."""
    return supports_half and device().type == "cuda" and host().fp16


on_configure(lambda _host: device.cache_clear())  # a door that says "cpu" is obeyed from then on
