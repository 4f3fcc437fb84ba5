"""Plain PyTorch: fp32 (the reference every other backend is checked against) and bf16.

bf16 runs on oneDNN's AVX512-BF16 or AMX kernels where the CPU has them (2.1x on a 2-core
AVX512-BF16 machine without AMX, 4.3x with AMX, at 54 dB to fp32 on Real-ESRGAN x4plus)."""

from __future__ import annotations

import copy
import weakref
from pathlib import Path

import torch

from .base import Backend, Compiled, Signature, register
from .ledger import Ledger


class TorchBackend(Backend):
    def build(self, module: torch.nn.Module, signature: Signature, cache: Path, key: str) -> Compiled:
        dtype = torch.bfloat16 if self.name == "torch-bf16" else torch.float32
        layout = torch.channels_last if signature.channels_last else torch.contiguous_format
        net = copy.deepcopy(module).to(dtype=dtype, memory_format=layout).eval() if dtype != torch.float32 else module
        if net is not module:  # a copy of the weights beside the network's own: counted in the memory budget
            ledger = Ledger()
            ledger.charge("weights", sum(t.numel() * t.element_size() for t in [*net.parameters(), *net.buffers()]))
            weakref.finalize(net, ledger.close)

        def call(x: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode():
                return net(x.to(dtype).contiguous(memory_format=layout)).float()

        return Compiled(call)

    def unavailable_reason(self) -> str | None:
        if self.name == "torch-bf16" and not torch.backends.mkldnn.is_available():
            return "this PyTorch build has no oneDNN"
        return None


TORCH_FP32 = register(TorchBackend("torch-fp32", "PyTorch fp32, channels-last (the reference)"))
TORCH_BF16 = register(TorchBackend("torch-bf16", "PyTorch bf16 weights and activations, channels-last"))
