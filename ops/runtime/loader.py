"""Put image networks on the device and its backend: spandrel's state dicts (official ``.pth``, or
ncnn converted), and modules spandrel does not load, adapted to the one calling convention
(``signatures``). Which network, from which files, under which manager key: ``ops.models``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..host import host
from ..weights import WeightsSource
from .backends.base import Compiled, Signature
from .backends.selection import BackendChoice, choose
from .device import device, half_precision
from .ncnn_convert import convert
from .signatures import Adapted, adapt
from .throughput import Calibration, measure_speed, tile_shapes
from .tiling import TileConfig
from .torchvision_compat import install as _install_torchvision_compat

_install_torchvision_compat()
import spandrel  # noqa: E402  (needs the compat operators registered first)
import spandrel_extra_arches  # noqa: E402

spandrel_extra_arches.install()  # CodeFormer, DDColor (their licences are recorded with their weights)

Paths = Mapping[str, Mapping[str, Path]]  # manifest entry -> file name -> verified path


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


def state_dict(source: WeightsSource, paths: Paths) -> dict[str, torch.Tensor]:
    """The source's weights as one state dict (its blend made), from its verified files."""
    state = _read(paths[source.weights], source.format)
    if source.blend_with and source.blend != 1.0:
        other = _read(paths[source.blend_with], "pth")
        state = {k: source.blend * v + (1 - source.blend) * other[k] for k, v in state.items()}
    return state


def read_state(path: Path) -> dict[str, torch.Tensor]:
    return spandrel.canonicalize_state_dict(torch.load(path, map_location="cpu", weights_only=True))


def _read(files: Mapping[str, Path], fmt: str) -> dict[str, torch.Tensor]:
    paths = list(files.values())
    if fmt == "ncnn":
        param = next(p for p in paths if p.suffix == ".param")
        binary = next(p for p in paths if p.suffix == ".bin")
        return convert(param, binary)
    return read_state(paths[0])


def build(state: dict[str, torch.Tensor], source: WeightsSource, half: bool = True, int8: bool = False) -> LoadedNetwork:
    """The network spandrel makes of ``state``, on the backend chosen here (``half``: fp16 allowed on
    CUDA where the architecture supports it; ``int8``: the opt-in speed mode)."""
    descriptor = spandrel.ModelLoader().load_from_state_dict(state)
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise ValueError(f"{source.weights} is not an image-to-image model")
    module = descriptor.model.eval()
    adapted = adapt(descriptor)
    side = adapted.signature.side if adapted is not None and adapted.signature.fixed else 32
    flops = measure_flops(module, descriptor.input_channels, side, call=descriptor)
    half = half_precision(half and descriptor.supports_half)
    # channels-last lets oneDNN/cuDNN pick their fastest convolution kernels (+15-20% on this CPU)
    dtype = torch.float16 if half else torch.float32
    # channels-last only for the plain convolutional upscalers; face restorers reshape activations
    # with view() and StyleGAN-style 5-D weights have no channels-last layout
    layout = torch.channels_last if descriptor.purpose == "SR" else torch.contiguous_format
    module.to(device=device(), dtype=dtype, memory_format=layout)
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


def build_adapted(adapted: Adapted, source: WeightsSource, architecture: str, int8: bool = False) -> LoadedNetwork:
    """A network spandrel's descriptors do not load (e.g. LaMa's TorchScript export), already brought
    to its signature, on the backend chosen here."""
    flops = measure_flops(adapted.module, adapted.signature.channels, adapted.signature.side if adapted.signature.fixed else 32)
    call, backend, notes = on_backend(adapted, int8)
    return LoadedNetwork(adapted.module, call, 1, False, source, architecture, flops, backend=backend, channels=adapted.signature.channels, notes=notes)


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


def choose_backend(module: torch.nn.Module, signature: Signature, int8: bool = False) -> BackendChoice:
    settings = host()
    return choose(module, signature, settings.compiled_dir, min_psnr=settings.backend_min_psnr, wanted=settings.backend, opt_in=int8)


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
    """FLOPs per input pixel, counted on a small probe (run through ``call`` when the network takes
    more than the image, e.g. a noise map)."""
    return count_flops(module, lambda: (call or module)(torch.zeros(1, channels, side, side))) / (side * side)


def count_flops(module: torch.nn.Module, probe: Callable[[], Any]) -> float:
    """Multiply-adds x2 of every convolution and linear layer of ``module`` while ``probe`` runs it
    (attention's own products and FFTs are not counted: a lower bound)."""
    total = 0.0

    def count(layer: torch.nn.Module, _inputs: object, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(layer, torch.nn.Conv2d):
            k = layer.kernel_size[0] * layer.kernel_size[1]
            total += 2.0 * layer.in_channels // layer.groups * layer.out_channels * k * output.shape[-2] * output.shape[-1] * output.shape[0]
        elif isinstance(layer, torch.nn.Linear):
            total += 2.0 * layer.in_features * output.numel()

    hooks = [m.register_forward_hook(count) for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    try:
        with torch.inference_mode():
            probe()
    finally:
        for hook in hooks:
            hook.remove()
    return total
