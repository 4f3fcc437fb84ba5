"""How a backend calls each kind of network: one float32 NCHW tensor in [0, 1] (``Signature``).

Upscalers and restorers take that already. Face restorers, CodeFormer's fidelity weight, LaMa's
hole mask and DDColor's inner network are brought to it by a thin module around the network, so
every heavy network is calibrated, converted and compiled the same way (``ops.runtime.backends``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from .backends.base import Compiled, Signature

if TYPE_CHECKING:  # spandrel is imported by the loader, after the torchvision operators it needs
    import spandrel

#: architectures whose module takes more than the image: DRUNet's fourth channel is the noise map its engine supplies
EXTRA_INPUT_CHANNELS = {"DRUNet": 1}

FACE = Signature(side=512, fixed=True, photo="portrait.jpg", channels_last=False)  # the aligned FFHQ frame


class FaceInput(torch.nn.Module):
    """GFPGAN in [0, 1]: its noise inputs are its own fixed buffers, so one face always restores the
    same way (upstream draws fresh noise each call) and a compiled copy can be checked against it."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1, return_rgb=False, randomize_noise=False)[0] * 0.5 + 0.5


class FidelityInput(torch.nn.Module):
    """CodeFormer in [0, 1], its fidelity weight as a fourth channel (its value at the top-left pixel).

    The weight scales each encoder-to-decoder fusion (``out = dec + w * residual``); the network
    skips a fusion at ``w == 0``, which a graph cannot branch on, so the fusion always runs here
    and multiplies by zero: the same output. (The weight is held for the length of one call; model
    work takes turns on the device slot.)
    """

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net
        self.weight: torch.Tensor | None = None
        for fusion in net.fuse_convs_dict.values():
            fusion.register_forward_pre_hook(self._weigh)

    def _weigh(self, _fusion: torch.nn.Module, args: tuple) -> tuple:
        return args if self.weight is None else (args[0], args[1], self.weight.to(args[1].dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.weight = x[:, 3:4, :1, :1]
        try:
            return self.net(x[:, :3] * 2 - 1, weight=1.0)[0] * 0.5 + 0.5
        finally:
            self.weight = None


class HoleInput(torch.nn.Module):
    """LaMa (a state dict or IOPaint's TorchScript export) with its hole mask as a fourth channel."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x[:, :3], x[:, 3:4])


class ColourInput(torch.nn.Module):
    """DDColor's inner network (a grey image at its input size in, ab out), its output brought to
    [0, 1] so a backend is judged on it like on an image; its resizing and colour conversion stay
    outside (``ColourOutside``)."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.net(x) + AB_OFFSET) / AB_RANGE


AB_OFFSET, AB_RANGE = 128.0, 255.0  # Lab's a and b span about -128..127


class ColourOutside:
    """What spandrel's DDColor call needs of the network, with the compiled one inside: its pipeline
    (grey in linear light, resize to the input size, Lab, back) runs unchanged around it."""

    def __init__(self, net: torch.nn.Module, call: Compiled) -> None:
        self.input_size, self.num_output_channels, self.call = net.input_size, net.num_output_channels, call

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.call(x) * AB_RANGE - AB_OFFSET


@dataclass(frozen=True)
class Adapted:
    module: torch.nn.Module
    signature: Signature
    outside: Callable[[Compiled], Compiled] | None = None  # the engine's call around the backend's

    def __post_init__(self) -> None:
        self.module.eval()  # batch norm in training mode would change with every call it is measured on


INPAINTER = Signature(channels=4, extra="hole", side=256, dynamic=True, channels_last=False)


def inpainter(net: torch.nn.Module) -> Adapted:
    return Adapted(HoleInput(net), INPAINTER)


def adapt(descriptor: spandrel.ImageModelDescriptor) -> Adapted | None:
    """The network as a backend calls it, or None where it keeps spandrel's own call."""
    import spandrel

    kind, module = descriptor.architecture.id, descriptor.model
    if kind == "GFPGAN":
        return Adapted(FaceInput(module), FACE)
    if kind == "CodeFormer":
        return Adapted(FidelityInput(module), dataclasses.replace(FACE, channels=4, extra="fidelity", export=True))
    if kind == "LaMa":
        return inpainter(module)
    if kind == "DDColor":
        pipeline = descriptor._call_fn  # spandrel's own pre- and post-processing of DDColor

        def outside(call: Compiled) -> Compiled:
            return Compiled(lambda x: pipeline(ColourOutside(module, call), x))

        return Adapted(ColourInput(module), Signature(side=module.input_size[0], fixed=True, grey=True, channels_last=False), outside)
    plain = descriptor.purpose in ("SR", "Restoration") and not descriptor.size_requirements.square and descriptor.tiling != spandrel.ModelTiling.INTERNAL
    if plain:
        return Adapted(module, Signature(descriptor.input_channels + EXTRA_INPUT_CHANNELS.get(kind, 0)))
    return None
