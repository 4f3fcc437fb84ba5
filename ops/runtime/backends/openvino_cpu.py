"""OpenVINO on the CPU: fp32 or bf16 inference precision, and int8 (NNCF) as an opt-in.

The network is converted once per weights file and saved as OpenVINO IR in the cache folder
(tracing Real-ESRGAN x4plus takes about 30 s, so no request pays it twice). Each input shape gets
its own static compile (OpenVINO's fastest kernels: 1.29x over dynamic shapes on AMX), kept on
disk by OpenVINO's model cache, so a shape is compiled once per machine and later processes load
it; the tiled runtime cuts tiles in multiples of ``SHAPE_STEP`` (as is its context), so a few
shapes from a small set serve all images, and ``prepare`` compiles the expected ones at start-up.

A shape met for the first time is compiled before it runs (about 1 s for x4plus). Measured on a
2-core machine, that beats every alternative: the dynamic-shape compile ran a new 256x256 shape
2 s slower than static, and compiling in the background beside the job slowed it as much.
Inputs are never padded: padding changes what the network computes near the edges, which the
calibration never saw.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .base import Backend, Compiled, Shape, Signature, register
from .openvino_setup import compile_options, openvino_core
from .samples import photo_tiles

log = logging.getLogger(__name__)

SHAPE_STEP = 16  # tiles are cut in multiples of this (a little more overlap, under 16 px): few shapes
KEEP_SHAPES = 6  # static compiles held in memory per network (others reload from the disk cache)
QUANTISATION_TILES = 10  # photo tiles NNCF calibrates int8 ranges on


class ShapedModel:
    """One network in OpenVINO, compiled for each input shape it meets (the fastest kernels).

    ``record`` lists the shapes compiled on this machine (their kernels are in OpenVINO's disk
    cache), so a time estimate counts a reload (about 0.4 s for x4plus) or a fresh compile
    (about 1.2 s), each as last measured here.
    """

    def __init__(self, core: Any, model: Any, config: dict[str, Any], channels: int, record: Path) -> None:
        self.core, self.model, self.config, self.channels, self.record = core, model, config, channels, record
        self.static: OrderedDict[Shape, CompiledShape] = OrderedDict()
        self.on_disk: set[Shape] = _read_shapes(record)
        self.seconds = {"compile": 1.0, "reload": 0.4}  # replaced by the first measured ones (at the first prepare)
        self.guard = threading.Lock()  # one compile at a time; two jobs meeting a new shape compile it once

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.compiled((x.shape[-2], x.shape[-1])).infer(x)

    def prepare(self, shapes: Iterable[Shape]) -> None:
        """Compile these input shapes now, e.g. at start-up."""
        for shape in shapes:
            self.compiled(shape)

    def compile_cost(self, shapes: Iterable[Shape]) -> float:
        with self.guard:
            return sum(self.seconds[self._kind(shape)] for shape in set(shapes) - set(self.static))

    def _kind(self, shape: Shape) -> str:
        return "reload" if shape in self.on_disk else "compile"

    def compiled(self, shape: Shape) -> CompiledShape:
        with self.guard:
            if shape not in self.static:
                started = time.perf_counter()
                model = self.model.clone()
                model.reshape([1, self.channels, *shape])
                self.static[shape] = CompiledShape(self.core.compile_model(model, "CPU", self.config))
                kind = self._kind(shape)
                self.seconds[kind] = time.perf_counter() - started
                log.info("%s %s for %s in %.2f s", kind, self.model.friendly_name, shape, self.seconds[kind])
                if kind == "compile":
                    self.on_disk.add(shape)
                    _write_shapes(self.record, self.on_disk)
                while len(self.static) > KEEP_SHAPES:
                    self.static.popitem(last=False)
            self.static.move_to_end(shape)
            return self.static[shape]


def _read_shapes(record: Path) -> set[Shape]:
    try:
        return {(int(h), int(w)) for h, w in json.loads(record.read_text())}
    except (OSError, ValueError, TypeError):
        return set()


def _write_shapes(record: Path, shapes: set[Shape]) -> None:
    """Best effort, atomic: another process may add its own shapes in between (it only misjudges an estimate)."""
    draft = record.with_name(f".{record.name}.{os.getpid()}")
    try:
        draft.write_text(json.dumps(sorted(shapes | _read_shapes(record))))
        draft.replace(record)
    except OSError:
        log.warning("could not record compiled shapes in %s", record)


class AnyShape:
    """One compile with height and width left open, for networks whose every request brings a new
    shape (inpainting crops): measured on LaMa, as fast as a static compile once warm, while a
    static compile per new crop (1.5-1.9 s) would cost more than the network's run."""

    def __init__(self, core: Any, model: Any, config: dict[str, Any]) -> None:
        self.core, self.model, self.config = core, model, config
        self.compiled: CompiledShape | None = None
        self.seconds = 2.0  # replaced by the measured one
        self.guard = threading.Lock()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.ready().infer(x)

    def prepare(self, shapes: Iterable[Shape]) -> None:
        self.ready()

    def compile_cost(self, shapes: Iterable[Shape]) -> float:
        return 0.0 if self.compiled else self.seconds

    def ready(self) -> CompiledShape:
        with self.guard:
            if self.compiled is None:
                started = time.perf_counter()
                self.compiled = CompiledShape(self.core.compile_model(self.model, "CPU", self.config))
                self.seconds = time.perf_counter() - started
                log.info("compiled %s for any shape in %.2f s", self.model.friendly_name, self.seconds)
            return self.compiled


class CompiledShape:
    """A compiled model with its one infer request (a lock: the warm-up and a job never share it at once)."""

    def __init__(self, compiled: Any) -> None:
        self.request = compiled.create_infer_request()
        self.busy = threading.Lock()

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        with self.busy:
            out = self.request.infer({0: np.ascontiguousarray(x.float().numpy())})[0]
            return torch.from_numpy(np.array(out, copy=True))


class OpenVinoBackend(Backend):
    precision: str = "f32"

    def unavailable_reason(self) -> str | None:
        if importlib.util.find_spec("openvino") is None:
            return "the openvino package is not installed"
        return None

    def build(self, module: torch.nn.Module, signature: Signature, cache: Path, key: str) -> Compiled:
        core, ir, threads = openvino_core(cache), self.intermediate(module, signature, cache, key), torch.get_num_threads()
        model, config = core.read_model(ir), compile_options(self.precision, threads)
        if signature.dynamic:
            anyshape = AnyShape(core, model, config)
            return Compiled(anyshape, 1, anyshape.prepare, anyshape.compile_cost)
        record = ir.with_name(f"{ir.stem}-{self.precision}-{threads}-threads-shapes.json")
        shaped = ShapedModel(core, model, config, signature.channels, record)
        return Compiled(shaped, SHAPE_STEP, shaped.prepare, shaped.compile_cost)

    def intermediate(self, module: torch.nn.Module, signature: Signature, cache: Path, key: str) -> Path:
        """The network as OpenVINO IR, converted once per weights: height and width left open
        unless the network takes one size only."""
        import openvino as ov

        ir = cache / f"{key}.xml"
        if not ir.exists():
            side, channels = signature.example_side, signature.channels
            example, shape = torch.rand(1, channels, side, side), [1, channels, side, side] if signature.fixed else [1, channels, -1, -1]
            module = module.float().eval()
            if signature.export:
                model = ov.convert_model(torch.export.export(module, (example,)))
            else:
                model = ov.convert_model(module, example_input=example, input=shape)
            _save(model, ir)
        return ir


class OpenVinoBF16(OpenVinoBackend):
    precision = "bf16"


class OpenVinoInt8(OpenVinoBackend):
    """Convolutions in int8 (VNNI/AMX), ranges calibrated by NNCF on photo tiles; the rest in fp32."""

    def unavailable_reason(self) -> str | None:
        if importlib.util.find_spec("nncf") is None:
            return "the nncf package is not installed"
        return super().unavailable_reason()

    def intermediate(self, module: torch.nn.Module, signature: Signature, cache: Path, key: str) -> Path:
        ir = cache / f"{key}-int8.xml"
        if not ir.exists():
            import nncf
            import openvino as ov

            model = ov.Core().read_model(super().intermediate(module, signature, cache, key))
            tiles = [t.numpy() for t in photo_tiles(signature, signature.example_side, QUANTISATION_TILES)]
            quantised = nncf.quantize(model, nncf.Dataset(tiles), subset_size=len(tiles), preset=nncf.QuantizationPreset.MIXED)
            _save(quantised, ir)
        return ir


def _save(model: Any, ir: Path) -> None:
    """Write IR atomically: processes sharing the cache never read half a file."""
    import openvino as ov

    draft = ir.with_name(f".{ir.stem}.{os.getpid()}.xml")
    ov.save_model(model, draft, compress_to_fp16=False)
    draft.with_suffix(".bin").replace(ir.with_suffix(".bin"))
    draft.replace(ir)


OPENVINO_F32 = register(OpenVinoBackend("openvino-f32", "OpenVINO, fp32 inference precision"))
OPENVINO_BF16 = register(OpenVinoBF16("openvino-bf16", "OpenVINO, bf16 inference precision (AMX or AVX512-BF16 kernels)"))
OPENVINO_INT8 = register(OpenVinoInt8("openvino-int8", "OpenVINO int8 convolutions calibrated by NNCF (opt-in: about 39 dB to fp32)", opt_in=True))
