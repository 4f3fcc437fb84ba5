"""Networks spandrel recognises from their state dict: official ``.pth`` releases, ncnn files
converted layer by layer, blends of two releases, one file of a hub snapshot (DDColor)."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import Built, Loader, Request


@dataclass(frozen=True)
class Spandrel(Loader):
    kind = "spandrel"
    snapshot_file: str | None = None  # the one file of a hub snapshot that holds the weights

    def load(self, request: Request) -> Built:
        from ...runtime import loader

        if self.snapshot_file is not None:
            assert request.files.folder is not None
            state = loader.read_state(request.files.folder / self.snapshot_file)
        else:
            state = loader.state_dict(request.source, request.files.paths)
        network = loader.build(state, request.source, half=request.spec.precision.half, int8=request.int8)
        return Built(network, network.backend, network.notes, network.flops_per_pixel)
