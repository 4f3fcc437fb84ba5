"""The in-memory image every engine receives and returns.

Pixels live in a numpy array (H x W x C, uint8 or uint16) because Pillow has no 16-bit RGB
mode; metadata that must survive every operation rides along beside them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from .writer import Encoded

OutputFormat = Literal["jpeg", "png", "webp"]

#: channel count -> meaning (the same convention throughout the project)
LAYOUTS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


@dataclass(frozen=True)
class Picture:
    pixels: np.ndarray
    icc_profile: bytes | None = None
    exif: bytes | None = None  # already upright: orientation reset to 1
    dpi: tuple[float, float] | None = None
    source_format: str | None = None  # Pillow's name of the decoded format, e.g. "JPEG"
    source_bytes: int | None = None
    #: what the chain asked for the output; ``None`` lets the writer decide
    target_format: OutputFormat | None = None
    target_quality: int | None = None
    notes: tuple[str, ...] = field(default=())  # decoder warnings, reported with the first step
    #: bytes an engine already encoded exactly these pixels to; the writer reuses them when the request matches
    encoded: Encoded | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        a = self.pixels
        if a.ndim != 3 or a.shape[2] not in LAYOUTS or a.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"pixels must be HxWxC uint8/uint16 with C in 1..4, got {a.shape} {a.dtype}")

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def channels(self) -> int:
        return int(self.pixels.shape[2])

    @property
    def has_alpha(self) -> bool:
        return self.channels in (2, 4)

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def mode(self) -> str:
        return LAYOUTS[self.channels] + ("16" if self.bit_depth == 16 else "")

    @property
    def rgb(self) -> np.ndarray:
        """Colour channels as RGB in the picture's depth (grey repeated, alpha dropped)."""
        from .pixels import colour

        return colour(self.pixels)

    def with_pixels(self, pixels: np.ndarray) -> Picture:
        return replace(self, pixels=pixels, encoded=None)

    def with_changes(self, **changes: object) -> Picture:
        changes.setdefault("encoded", None)
        return replace(self, **changes)  # type: ignore[arg-type]
