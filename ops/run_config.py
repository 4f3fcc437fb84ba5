"""How one job's model work runs: decided by the door (its settings, the step's own speed) and
carried by every planned step to its engine, so two jobs in one process can run differently."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .runtime.tiling import TileConfig
    from .settings import Settings


@dataclass(frozen=True)
class RunConfig:
    tile: int = 384  # largest input tile side for inference (0: whole image)
    int8: bool = False  # the opt-in int8 speed mode for networks on a CPU
    max_job_seconds: float = 900  # model work expected to take longer is refused before it starts

    @classmethod
    def of(cls, settings: Settings) -> RunConfig:
        return cls(tile=settings.tile, int8=settings.int8, max_job_seconds=settings.max_job_seconds)

    @property
    def tiles(self) -> TileConfig:
        """How this job's networks tile an image."""
        from .runtime.tiling import TileConfig  # torch is imported for model work only

        return TileConfig(tile=self.tile)

    def with_speed(self, speed: str | None) -> RunConfig:
        """A step's own speed (exact or int8) over the door's default."""
        return self if speed is None else dataclasses.replace(self, int8=speed == "int8")
