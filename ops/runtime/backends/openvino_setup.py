"""How every OpenVINO compile here is set up (torch-free: the ONNX segmenters use it too)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def openvino_core(cache: Path) -> Any:
    """An OpenVINO core keeping compiled kernels on disk in ``cache``, so a shape compiles once per machine."""
    import openvino as ov

    cache.mkdir(parents=True, exist_ok=True)
    core = ov.Core()
    core.set_property({"CACHE_DIR": str(cache / "openvino-kernels")})
    return core


def compile_options(precision: str, threads: int) -> dict[str, Any]:
    """One request at a time on ``threads`` cores, in ``precision`` (f32, bf16; int8 models carry their own)."""
    return {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads}
