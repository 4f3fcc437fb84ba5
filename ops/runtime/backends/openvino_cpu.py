"""OpenVINO on the CPU: fp32 or bf16 inference precision, and int8 (NNCF) as an opt-in.

The network is converted once per weights file and saved as OpenVINO IR in the cache folder
(tracing Real-ESRGAN x4plus takes about 30 s, so no request pays it twice). Each input shape gets
its own static compile (OpenVINO's fastest kernels: 1.29x over dynamic shapes on AMX), kept on
disk in a compiled cache entry of its own (``disk``: bounded, least recently used dropped), so a
shape is compiled once per machine and later processes load it; the tiled runtime cuts tiles in
multiples of ``SHAPE_STEP`` (as is its context) and gives every tile of an image one window, so
an image meets one or a few shapes from a small set, and ``prepare`` compiles the expected ones
at start-up.

A shape met for the first time is compiled before it runs (about 1 s for x4plus). Measured on a
2-core machine, that beats every alternative: the dynamic-shape compile ran a new 256x256 shape
2 s slower than static, and compiling in the background beside the job slowed it as much.
Inputs are never padded: padding changes what the network computes near the edges, which the
calibration never saw.

Memory, measured on x4plus bf16 (2 cores): the IR's weights (67 MB, mapped from disk), then per
compiled shape its kernels and repacked weights (+87 MB; the first compile +174 MB) and, from its
first run until ``release_memory``, its activations (4.4 KB per input pixel: 0.77 GB for a 416 px
tile; realesr-animevideov3 0.9 KB). All of it is charged to the network in the network manager,
as measured here (the growth of resident memory across the compile and across the run that
allocates the activations): at most ``KEEP_SHAPES`` shapes are held per network, only the shape
running keeps its activations (switching shape frees the previous one's, as does the end of a
tiled pass), and over the memory budget the manager frees the least recently used.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import disk
from .base import Backend, Compiled, Shape, Signature, register
from .ledger import Ledger, resident
from .ledger import weakly as _weakly
from .openvino_setup import compile_options, openvino_core
from .samples import photo_tiles

log = logging.getLogger(__name__)

SHAPE_STEP = 16  # tiles are cut in multiples of this (a little more overlap, under 16 px): few shapes
KEEP_SHAPES = 4  # static compiles held in memory per network (others reload from the disk cache)
QUANTISATION_TILES = 10  # photo tiles NNCF calibrates int8 ranges on


class ShapedModel:
    """One network in OpenVINO, compiled for each input shape it meets (the fastest kernels).

    Each shape's kernels are a compiled cache entry (``entry``), so a time estimate counts a
    reload (about 0.4 s for x4plus) or a fresh compile (about 1.2 s), each as last measured here.
    """

    def __init__(self, core: Any, model: Any, config: dict[str, Any], channels: int, cache: Path, name: str) -> None:
        """``name``: this network, precision and thread count, naming its entries in ``cache``."""
        self.core, self.model, self.config, self.channels, self.cache, self.name = core, model, config, channels, cache, name
        self.static: OrderedDict[Shape, CompiledShape] = OrderedDict()
        self.seconds = {"compile": 1.0, "reload": 0.4}  # replaced by the first measured ones (at the first prepare)
        self.guard = threading.Lock()  # one compile at a time; two jobs meeting a new shape compile it once
        self.hot: Shape | None = None  # the shape whose activations were allocated last
        self.ledger = Ledger()
        weakref.finalize(self, self.ledger.close)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        shape = (x.shape[-2], x.shape[-1])
        compiled = self.compiled(shape)
        with self.guard:
            previous, self.hot = self.hot, shape
        if previous is not None and previous != shape:
            self._cool(previous)  # one shape's activations at a time
        return compiled.infer(x)

    def prepare(self, shapes: Iterable[Shape]) -> None:
        """Compile these input shapes now, e.g. at start-up."""
        for shape in shapes:
            self.compiled(shape)

    def compile_cost(self, shapes: Iterable[Shape]) -> float:
        with self.guard:
            return sum(self.seconds[self._kind(shape)] for shape in set(shapes) - set(self.static))

    def entry(self, shape: Shape) -> Path:
        return disk.kernels(self.cache, f"{self.name}-{shape[0]}x{shape[1]}")

    def _kind(self, shape: Shape) -> str:
        return "reload" if any(self.entry(shape).glob("*.blob")) else "compile"

    def compiled(self, shape: Shape) -> CompiledShape:
        with self.guard:
            held = self.static.get(shape)
            if held is not None:
                self.static.move_to_end(shape)
        if held is not None:
            self.ledger.touch(shape)
            disk.use(self.entry(shape))
            return held
        with self.guard:
            if shape in self.static:
                return self.static[shape]
            started, before, entry = time.perf_counter(), resident(), self.entry(shape)
            model = self.model.clone()
            model.reshape([1, self.channels, *shape])
            compiled = CompiledShape(self.core.compile_model(model, "CPU", {**self.config, "CACHE_DIR": str(entry)}), _weakly(self._heated, shape))
            nbytes, kind = resident() - before, "reload" if _from_cache(compiled.compiled) else "compile"
            self.seconds[kind] = time.perf_counter() - started
            log.info("%s %s for %s in %.2f s (%.0f MB)", kind, self.model.friendly_name, shape, self.seconds[kind], nbytes / 1e6)
            self.static[shape] = compiled
            self.ledger.hold(entry)
            dropped = [self.static.popitem(last=False)[0] for _ in range(len(self.static) - KEEP_SHAPES)]
        for old in dropped:
            self._forget(old)
        self.ledger.charge(shape, nbytes, _weakly(self.drop, shape))
        if kind == "compile":
            disk.trim(self.cache)
        return compiled

    def drop(self, shape: Shape) -> None:
        """Free a compiled shape (the manager's budget); its next use reloads it from disk."""
        with self.guard:
            gone = self.static.pop(shape, None)
        if gone is not None:
            self._forget(shape)

    def _forget(self, shape: Shape) -> None:
        with self.guard:
            if self.hot == shape:
                self.hot = None
        self.ledger.discharge(shape)
        self.ledger.discharge((shape, "activations"))
        self.ledger.let_go(self.entry(shape))

    def _heated(self, shape: Shape, nbytes: int) -> None:
        self.ledger.charge((shape, "activations"), nbytes, _weakly(self._cool, shape), transient=True)

    def _cool(self, shape: Shape) -> None:
        with self.guard:
            compiled = self.static.get(shape)
        if compiled is None:
            return
        if compiled.cool():
            self.ledger.discharge((shape, "activations"))
        elif compiled.activations:  # running now: still counted
            self._heated(shape, compiled.activations)


def _from_cache(compiled: Any) -> bool:
    try:
        return bool(compiled.get_property("LOADED_FROM_CACHE"))
    except RuntimeError:  # an OpenVINO without the property: counted as a compile
        return False


class AnyShape:
    """One compile with height and width left open, for networks whose every request brings a new
    shape (inpainting crops): measured on LaMa, as fast as a static compile once warm, while a
    static compile per new crop (1.5-1.9 s) would cost more than the network's run."""

    def __init__(self, core: Any, model: Any, config: dict[str, Any], entry: Path | None = None) -> None:
        self.core, self.model, self.config, self.entry = core, model, config, entry
        self.compiled: CompiledShape | None = None
        self.seconds = 2.0  # replaced by the measured one
        self.guard = threading.Lock()
        self.ledger = Ledger()
        weakref.finalize(self, self.ledger.close)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.ready().infer(x)

    def prepare(self, shapes: Iterable[Shape]) -> None:
        self.ready()

    def compile_cost(self, shapes: Iterable[Shape]) -> float:
        return 0.0 if self.compiled else self.seconds

    def ready(self) -> CompiledShape:
        with self.guard:
            if self.compiled is not None:
                return self.compiled
            started, before = time.perf_counter(), resident()
            config = {**self.config, "CACHE_DIR": str(self.entry)} if self.entry else self.config
            self.compiled = CompiledShape(self.core.compile_model(self.model, "CPU", config), _weakly(self._heated))
            self.seconds, nbytes = time.perf_counter() - started, resident() - before
            log.info("compiled %s for any shape in %.2f s", self.model.friendly_name, self.seconds)
            if self.entry:
                self.ledger.hold(self.entry)
        self.ledger.charge("compiled", nbytes)
        if self.entry:
            disk.trim(self.entry.parent.parent)
        return self.compiled

    def _heated(self, nbytes: int) -> None:
        self.ledger.charge("activations", nbytes, _weakly(self._cool), transient=True)

    def _cool(self) -> None:
        compiled = self.compiled
        if compiled is not None and not compiled.cool() and compiled.activations:
            self._heated(compiled.activations)


class CompiledShape:
    """A compiled model with its one infer request (a lock: the warm-up and a job never share it at once).

    OpenVINO allocates the activations at the first run and keeps them until ``cool``; the growth
    of resident memory across that run is reported to ``heated`` (charged to the network)."""

    def __init__(self, compiled: Any, heated: Callable[[int], None] | None = None) -> None:
        self.compiled = compiled
        self.request = compiled.create_infer_request()
        self.busy = threading.Lock()
        self.heated = heated
        self.hot = False
        self.activations = 0  # bytes, as last measured

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        with self.busy:
            before = None if self.hot else resident()
            out = self.request.infer({0: np.ascontiguousarray(x.float().numpy())})[0]
            if before is not None:
                self.hot, self.activations = True, max(0, resident() - before)
            result = torch.from_numpy(np.array(out, copy=True))
        if before is not None and self.heated is not None:
            self.heated(self.activations)
        return result

    def cool(self) -> bool:
        """Free the activations now (the next run allocates them again); False while running."""
        if not self.busy.acquire(blocking=False):
            return False
        try:
            if self.hot:
                self.compiled.release_memory()
                self.hot = False
        finally:
            self.busy.release()
        return True


class OpenVinoBackend(Backend):
    precision: str = "f32"

    def unavailable_reason(self) -> str | None:
        if importlib.util.find_spec("openvino") is None:
            return "the openvino package is not installed"
        return None

    def build(self, module: torch.nn.Module, signature: Signature, cache: Path, key: str) -> Compiled:
        core, ir, threads = openvino_core(), self.intermediate(module, signature, cache, key), torch.get_num_threads()
        model, config = core.read_model(ir), compile_options(self.precision, threads)
        name = f"{ir.stem}@{self.precision}-{threads}t"
        if signature.dynamic:
            runner: AnyShape | ShapedModel = AnyShape(core, model, config, disk.kernels(cache, f"{name}-any"))
            compiled = Compiled(runner, 1, runner.prepare, runner.compile_cost)
        else:
            runner = ShapedModel(core, model, config, signature.channels, cache, name)
            compiled = Compiled(runner, SHAPE_STEP, runner.prepare, runner.compile_cost)
        runner.ledger.hold(ir.with_suffix(""))  # the IR stays while this network is loaded
        runner.ledger.charge("weights", ir.with_suffix(".bin").stat().st_size)  # OpenVINO's copy, mapped from the IR
        return compiled

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
            import openvino as ov

            model = ov.Core().read_model(super().intermediate(module, signature, cache, key))
            tiles = [t.numpy() for t in photo_tiles(signature, signature.example_side, QUANTISATION_TILES)]
            with _nncf_on_stderr() as nncf:
                quantised = nncf.quantize(model, nncf.Dataset(tiles), subset_size=len(tiles), preset=nncf.QuantizationPreset.MIXED)
            _save(quantised, ir)
        return ir


@contextlib.contextmanager
def _nncf_on_stderr() -> Iterator[Any]:
    """nncf, imported, with its progress bars and log on stderr while in use: stdout is for results
    (``python -m ops ... --json``). The bars are rich's, drawn to ``sys.stdout`` as it is when they
    draw (redirected here, process-wide while quantising); the log is a handler nncf made at its import,
    holding ``sys.stdout`` as it was then (pointed at stderr here, and back after)."""
    with contextlib.redirect_stdout(sys.stderr):
        import nncf

        held = [h for h in logging.getLogger("nncf").handlers if type(h) is logging.StreamHandler and h.stream is not sys.stderr]
        before = [h.setStream(sys.stderr) for h in held]
        try:
            yield nncf
        finally:
            for handler, stream in zip(held, before, strict=True):
                handler.setStream(stream)


def _save(model: Any, ir: Path) -> None:
    """Write IR atomically: processes sharing the cache never read half a file; then keep the
    compiled cache within its bound (this IR is held: it is about to be read)."""
    import openvino as ov

    draft = ir.with_name(f".{ir.stem}.{os.getpid()}.xml")
    ov.save_model(model, draft, compress_to_fp16=False)
    draft.with_suffix(".bin").replace(ir.with_suffix(".bin"))
    draft.replace(ir)
    disk.hold(ir.with_suffix(""))
    try:
        disk.trim(ir.parent)
    finally:
        disk.let_go(ir.with_suffix(""))


OPENVINO_F32 = register(OpenVinoBackend("openvino-f32", "OpenVINO, fp32 inference precision"))
OPENVINO_BF16 = register(OpenVinoBF16("openvino-bf16", "OpenVINO, bf16 inference precision (AMX or AVX512-BF16 kernels)"))
OPENVINO_INT8 = register(OpenVinoInt8("openvino-int8", "OpenVINO int8 convolutions calibrated by NNCF (opt-in: about 39 dB to fp32)", opt_in=True))
