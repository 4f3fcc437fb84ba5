"""Our own modules (``ops.architectures``: FFDNet, waifu2x UpConv7) and LaMa, whose IOPaint release
is a TorchScript export spandrel does not read."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from ..spec import Built, Loader, Request


class FFDNetModule(Loader):
    """FFDNet from KAIR's state dict (width and depth read from the weights), on the device; it
    takes ``(x, sigma)``, so it runs as a module rather than on a measured backend."""

    kind = "module"

    def load(self, request: Request) -> Built:
        import torch

        from ...architectures.ffdnet import FFDNet
        from ...runtime.device import device
        from ...runtime.loader import measure_flops

        net = FFDNet.from_state_dict(torch.load(request.files.first(), map_location="cpu", weights_only=True))
        flops = measure_flops(net, call=lambda x: net(x, 0.1))
        return Built(net.to(device()), flops_per_pixel=flops)


class UpConv7Module(Loader):
    """waifu2x photo UpConv7 from its ncnn files: one ``.param`` for all levels, one ``.bin`` per
    JPEG-noise ``level`` (the variant)."""

    kind = "module"

    def load(self, request: Request) -> Built:
        from ...architectures.upconv7 import UpConv7, state_from_ncnn
        from ...runtime.device import device
        from ...runtime.ncnn_convert import read

        files = request.files.of(request.source.weights)
        param = next(path for name, path in files.items() if name.endswith(".param"))
        net = UpConv7()
        net.load_state_dict(state_from_ncnn(read(param, files[f"waifu2x-photo-noise{request.variant['level']}.bin"])))
        return Built(net.eval().to(device()))


class LamaNetwork(Loader):
    """LaMa: IOPaint's TorchScript export or a state dict spandrel reads, with its hole mask as a fourth
    channel (``ops.runtime.signatures``), on the backend chosen here."""

    kind = "spandrel"

    def load(self, request: Request) -> Built:
        from ...runtime.loader import build_adapted
        from ...runtime.signatures import inpainter

        network = build_adapted(inpainter(load_lama(request.files.first())), request.source, "LaMa", request.int8)
        return Built(network, network.backend, network.notes)


def load_lama(path: Path) -> Any:
    import torch

    from ...errors import EngineUnavailableError
    from ...runtime.device import device
    from ...runtime.loader import read_state

    if _is_torchscript(path):
        return torch.jit.load(str(path), map_location=device()).eval()
    import spandrel

    descriptor = spandrel.ModelLoader().load_from_state_dict(read_state(path))
    if descriptor.architecture.id != "LaMa":
        raise EngineUnavailableError(f"{path} is not a LaMa checkpoint")
    return descriptor.model.eval().to(device())


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives carry compiled code (``constants.pkl``); plain state dicts do not."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("constants.pkl") for name in archive.namelist())
    except zipfile.BadZipFile:
        return False
