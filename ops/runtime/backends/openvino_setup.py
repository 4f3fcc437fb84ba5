"""How every OpenVINO compile here is set up (torch-free: the ONNX segmenters use it too)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def openvino_core() -> Any:
    """An OpenVINO core; where a compile keeps its kernels is said per compile (``compile_options``)."""
    import openvino as ov

    return ov.Core()


def compile_options(precision: str, threads: int, kernels: Path | None = None) -> dict[str, Any]:
    """One request at a time on ``threads`` cores, in ``precision`` (f32, bf16; int8 models carry their own);
    the compiled model kept on disk in the folder ``kernels`` (one compiled cache entry, ``disk``),
    so the next process loads it instead of compiling."""
    options: dict[str, Any] = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads}
    if kernels is not None:
        options["CACHE_DIR"] = str(kernels)
    return options
