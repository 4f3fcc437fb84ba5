"""Load image-to-image networks through spandrel (the network manager keeps them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..weights import MissingWeightsError, WeightsSource, entry, require
from ..weights.store import not_installed
from .device import device, half_precision
from .manager import network
from .ncnn_convert import convert
from .signatures import Adapted, adapt
from ..settings import get_settings
from .backends.base import Compiled, Signature
from .backends.selection import Choice, choose
from .throughput import Calibration, measure_speed, tile_shapes
from .tiling import TileConfig
from .torchvision_compat import install as _install_torchvision_compat

_install_torchvision_compat()
import spandrel  # noqa: E402  (needs the compat operators registered first)
import spandrel_extra_arches  # noqa: E402

spandrel_extra_arches.install()  # CodeFormer, DDColor (their licences are recorded with their weights)


@dataclass
class LoadedNetwork:
    module: torch.nn.Module
    call: Compiled  # the chosen backend on the bare module (its channels; padded to sizes it takes), or spandrel's descriptor
    scale: int
    half: bool
    source: WeightsSource
    architecture: str
    flops_per_pixel: float  # per input pixel, measured
    layout: torch.memory_format = torch.contiguous_format
    backend: str = "torch"  # the CPU backend chosen by measurement (ops.runtime.backends), or torch on a GPU
    channels: int = 3
    notes: tuple[str, ...] = ()  # for the job's warnings, e.g. why the int8 mode asked for did not run
    _calibration: Calibration | None = None

    def calibration(self) -> Calibration:
        """This network's measured speed here (timed once, on first need), for time estimates."""
        if self._calibration is None:
            self._calibration = Calibration(measure_speed(self.call, self.channels, self.half, self.layout), self.call)
        return self._calibration


    def warm(self, config: TileConfig) -> None:
        """Pay the one-time costs before a request does: speed probed, the full tile's shape compiled."""
        self.calibration()
        if config.tile:
            side = config.tile + 2 * config.context
            self.call.prepare([(side, side)])

    def prepare(self, sizes: Sequence[tuple[int, int]], config: TileConfig) -> None:
        """Speed probed, and every tile shape passes over inputs of these (width, height) sizes meet compiled."""
        self.calibration()
        self.call.prepare(tile_shapes(sizes, config, self.call.shape_step))


def load(source: WeightsSource, int8: bool = False) -> LoadedNetwork:
    """``int8``: the opt-in speed mode (its own backend verdict, and its own copy in the manager)."""
    key = f"spandrel:{source.weights}" + (f"+{source.blend_with}@{source.blend:g}" if source.blend_with else "") + ("+int8" if int8 else "")
    return network(key, lambda: _build(source, int8=int8))


@dataclass(frozen=True)
class BackedNetwork:
    """A network spandrel's descriptors do not load (e.g. LaMa's TorchScript export), on its backend."""

    module: torch.nn.Module
    call: Compiled
    backend: str
    notes: tuple[str, ...] = ()


def load_adapted(key: str, build: Callable[[], Adapted], int8: bool = False) -> BackedNetwork:
    def backed() -> BackedNetwork:
        adapted = build()
        return BackedNetwork(adapted.module, *on_backend(adapted, int8))

    return network(key + ("+int8" if int8 else ""), backed)


def load_folder(weights: str, file: str) -> LoadedNetwork:
    """A network whose weights are one file of a hub snapshot (e.g. DDColor)."""
    from ..weights.store import find_folder

    folder = find_folder(entry(weights))
    if folder is None:
        raise MissingWeightsError(not_installed(entry(weights)))
    return network(f"spandrel:{weights}", lambda: _build(WeightsSource(weights), spandrel.canonicalize_state_dict(torch.load(folder / file, map_location="cpu", weights_only=True))))


def state_dict(source: WeightsSource) -> dict[str, torch.Tensor]:
    state = _read(source.weights, source.format)
    if source.blend_with and source.blend != 1.0:
        other = _read(source.blend_with, "pth")
        state = {k: source.blend * v + (1 - source.blend) * other[k] for k, v in state.items()}
    return state


def _read(weights: str, fmt: str) -> dict[str, torch.Tensor]:
    paths = list(require(entry(weights)).values())
    if fmt == "ncnn":
        param = next(p for p in paths if p.suffix == ".param")
        binary = next(p for p in paths if p.suffix == ".bin")
        return convert(param, binary)
    raw = torch.load(paths[0], map_location="cpu", weights_only=True)
    return spandrel.canonicalize_state_dict(raw)


def _build(source: WeightsSource, state: dict[str, torch.Tensor] | None = None, int8: bool = False) -> LoadedNetwork:
    descriptor = spandrel.ModelLoader().load_from_state_dict(state if state is not None else state_dict(source))
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise ValueError(f"{source.weights} is not an image-to-image model")
    module = descriptor.model.eval()
    flops = measure_flops(module, descriptor.input_channels, call=descriptor)
    half = half_precision(descriptor.supports_half)
    # channels-last lets oneDNN/cuDNN pick their fastest convolution kernels (+15-20% on this CPU)
    dtype = torch.float16 if half else torch.float32
    # channels-last only for the plain convolutional upscalers; face restorers reshape activations
    # with view() and StyleGAN-style 5-D weights have no channels-last layout
    layout = torch.channels_last if descriptor.purpose == "SR" else torch.contiguous_format
    module.to(device=device(), dtype=dtype, memory_format=layout)
    adapted = adapt(descriptor)
    if adapted is None:
        backend = f"torch-{'fp16' if half else 'fp32'}"
        call, notes, channels = Compiled(descriptor), _int8_not_run(backend) if int8 else (), descriptor.input_channels
    else:
        call, backend, notes = on_backend(adapted, int8)
        if not adapted.signature.fixed:
            call = padded(call, descriptor.size_requirements, descriptor.scale)
        if adapted.outside:
            call = adapted.outside(call)
        channels = adapted.signature.channels
    return LoadedNetwork(module, call, descriptor.scale, half, source, descriptor.architecture.name, flops, layout, backend, channels, notes)


def on_backend(adapted: Adapted, int8: bool = False) -> tuple[Compiled, str, tuple[str, ...]]:
    """(the network ready to run, the backend it runs on, why the int8 mode asked for did not run):
    on a CPU the backend chosen by measurement, elsewhere PyTorch in the device's precision."""
    if device().type == "cpu":
        choice = choose_backend(adapted.module, adapted.signature, int8)
        return choice.call, choice.backend, choice.notes(int8)
    module = adapted.module
    dtype = next(module.parameters()).dtype

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return module(x.to(device=device(), dtype=dtype)).float()

    backend = f"torch-{'fp16' if dtype == torch.float16 else 'fp32'}"
    return Compiled(run), backend, _int8_not_run(backend) if int8 else ()


def _int8_not_run(backend: str) -> tuple[str, ...]:
    return (f"the int8 speed mode applies to networks on a CPU; this one ran {backend} on {device().type}",)


def choose_backend(module: torch.nn.Module, signature: Signature, int8: bool = False) -> Choice:
    settings = get_settings()
    return choose(module, signature, settings.data_dir / "compiled", min_psnr=settings.backend_min_psnr, wanted=settings.backend, opt_in=int8)


def padded(call: Compiled, needs: spandrel.SizeRequirements, scale: int) -> Compiled:
    """Bring a tile to a size the architecture takes (spandrel's own padding rule), then crop."""

    def grown(height: int, width: int) -> tuple[int, int]:
        right, bottom = needs.get_padding(width, height)
        return height + bottom, width + right

    def run(x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        bigger = grown(height, width)
        if bigger != (height, width):
            x = torch.nn.functional.pad(x, (0, bigger[1] - width, 0, bigger[0] - height), mode="replicate")
        return call(x)[..., : height * scale, : width * scale]

    return Compiled(
        run, call.shape_step, lambda shapes: call.prepare([grown(*s) for s in shapes]), lambda shapes: call.compile_cost([grown(*s) for s in shapes])
    )


def measure_flops(module: torch.nn.Module, channels: int = 3, side: int = 32, call: Callable[[torch.Tensor], Any] | None = None) -> float:
    """Multiply-adds x2 of every convolution, per input pixel, counted on a small probe (run
    through ``call`` when the network takes more than the image, e.g. a noise map)."""
    total = 0.0

    def count(layer: torch.nn.Module, _inputs: object, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(layer, torch.nn.Conv2d):
            k = layer.kernel_size[0] * layer.kernel_size[1]
            total += 2.0 * layer.in_channels // layer.groups * layer.out_channels * k * output.shape[-2] * output.shape[-1]

    hooks = [m.register_forward_hook(count) for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        with torch.inference_mode():
            (call or module)(torch.zeros(1, channels, side, side))
    finally:
        for hook in hooks:
            hook.remove()
    return total / (side * side)
