"""What a backend is, and the registry of them (best first only by measurement, never by order)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

Compiled = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Backend:
    """A way to run a network: ``build`` returns a callable taking and giving float32 NCHW."""

    name: str
    description: str
    opt_in: bool = False  # lossy beyond the default bar: only when asked for (a setting or a job option)

    def unavailable_reason(self) -> str | None:
        return None

    def build(self, module: torch.nn.Module, channels: int, cache: Path, key: str) -> Compiled:
        """``cache`` is a folder for compiled artefacts; ``key`` names this network's weights there."""
        raise NotImplementedError


BACKENDS: dict[str, Backend] = {}


def register(backend: Backend) -> Backend:
    BACKENDS[backend.name] = backend
    return backend
