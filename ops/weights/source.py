"""How a network gets its weights, as plain data (no torch import needed to ask)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .manifest import entry
from .store import installed


@dataclass(frozen=True)
class WeightsSource:
    """One way to get a network's weights: a manifest entry, optionally blended with another."""

    weights: str
    format: Literal["pth", "ncnn"] = "pth"
    blend_with: str | None = None  # second manifest entry, interpolated parameter-wise
    blend: float = 1.0  # weight of ``weights``; 1 - blend goes to ``blend_with``

    def installed(self) -> bool:
        return installed(entry(self.weights)) and (self.blend_with is None or installed(entry(self.blend_with)))
