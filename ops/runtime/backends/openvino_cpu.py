"""OpenVINO on the CPU, fp32 or bf16 inference precision.

The network is converted once per weights file and saved as OpenVINO IR in the cache folder
(tracing Real-ESRGAN x4plus takes about 30 s, so no request pays it twice), with spatial sizes
left dynamic; OpenVINO's own model cache (CACHE_DIR) keeps the compiled kernels on disk.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path

import numpy as np
import torch

from .base import Backend, Compiled, register


class OpenVinoBackend(Backend):
    precision: str = "f32"

    def unavailable_reason(self) -> str | None:
        if importlib.util.find_spec("openvino") is None:
            return "the openvino package is not installed"
        return None

    def build(self, module: torch.nn.Module, channels: int, cache: Path, key: str) -> Compiled:
        import openvino as ov

        core = ov.Core()
        cache.mkdir(parents=True, exist_ok=True)
        core.set_property({"CACHE_DIR": str(cache / "openvino-kernels")})
        ir = cache / f"{key}.xml"
        if not ir.exists():
            model = ov.convert_model(module.float().eval(), example_input=torch.rand(1, channels, 64, 64), input=[1, channels, -1, -1])
            draft = ir.with_name(f".{ir.stem}.{os.getpid()}.xml")
            ov.save_model(model, draft, compress_to_fp16=False)
            draft.with_suffix(".bin").replace(ir.with_suffix(".bin"))
            draft.replace(ir)
        threads = torch.get_num_threads()
        compiled = core.compile_model(core.read_model(ir), "CPU", {
            "INFERENCE_PRECISION_HINT": self.precision, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads,
        })  # fmt: skip
        request = compiled.create_infer_request()
        busy = threading.Lock()  # one infer request: the start-up warm-up and a job must not share it at once

        def call(x: torch.Tensor) -> torch.Tensor:
            with busy:
                out = request.infer({0: np.ascontiguousarray(x.float().numpy())})[0]
                return torch.from_numpy(np.array(out, copy=True))

        return call


class OpenVinoBF16(OpenVinoBackend):
    precision = "bf16"


OPENVINO_F32 = register(OpenVinoBackend("openvino-f32", "OpenVINO, fp32 inference precision"))
OPENVINO_BF16 = register(OpenVinoBF16("openvino-bf16", "OpenVINO, bf16 inference precision (AMX or AVX512-BF16 kernels)"))
