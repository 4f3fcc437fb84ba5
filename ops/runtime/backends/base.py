"""What a backend is, and the registry of them (best first only by measurement, never by order)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

Shape = tuple[int, int]  # input height, width
Extra = Literal["noise-level", "hole", "fidelity"]


@dataclass(frozen=True)
class Signature:
    """What a backend feeds a network: one float32 NCHW tensor in [0, 1], the image and then what its
    engine adds (``extra``: DRUNet's noise-level map, LaMa's hole mask, CodeFormer's fidelity weight),
    and how it is calibrated, converted and compiled."""

    channels: int = 3
    extra: Extra = "noise-level"
    side: int = 128  # the calibration tile's side
    photo: str = "rocket.jpg"  # the example photo it is calibrated on (a portrait for face restorers)
    grey: bool = False  # calibrated on the photo's luminance in all three channels (a colouriser's input)
    fixed: bool = False  # takes (side, side) only (face restorers): converted and compiled at that shape
    dynamic: bool = False  # shapes vary with every request (inpainting crops): one compile for all shapes
    channels_last: bool = True  # False where the network reshapes activations with view()
    export: bool = False  # convert through torch.export: tracing breaks networks keyed by their feature sizes


    @property
    def example_side(self) -> int:
        """The side a network is converted and quantised at: its one size, else a small tile."""
        return self.side if self.fixed else 64


IMAGE = Signature()  # an upscaler or restorer tile: three channels, any size


def _nothing_to_prepare(shapes: Iterable[Shape]) -> None:
    return None


def _nothing_to_compile(shapes: Iterable[Shape]) -> float:
    return 0.0


@dataclass(frozen=True)
class Compiled:
    """A network ready to run here: float32 NCHW in, float32 NCHW out.

    Static-shape backends compile each input shape once; the tiled runtime cuts tiles in multiples
    of ``shape_step`` so a handful of shapes cover all images, ``prepare`` compiles shapes ahead of the first request and
    ``compile_cost`` tells the seconds compiling the shapes not compiled yet would take.
    """

    run: Callable[[torch.Tensor], torch.Tensor]
    shape_step: int = 1
    prepare: Callable[[Iterable[Shape]], None] = field(default=_nothing_to_prepare)
    compile_cost: Callable[[Iterable[Shape]], float] = field(default=_nothing_to_compile)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)


@dataclass(frozen=True)
class Backend:
    """A way to run a network: ``build`` returns it compiled, taking and giving float32 NCHW."""

    name: str
    description: str
    opt_in: bool = False  # lossy beyond the default bar: only when asked for (a setting or a job option)

    def unavailable_reason(self) -> str | None:
        return None

    def build(self, module: torch.nn.Module, signature: Signature, cache: Path, key: str) -> Compiled:
        """``cache`` is a folder for compiled artefacts; ``key`` names this network's weights there."""
        raise NotImplementedError


BACKENDS: dict[str, Backend] = {}


def register(backend: Backend) -> Backend:
    BACKENDS[backend.name] = backend
    return backend
