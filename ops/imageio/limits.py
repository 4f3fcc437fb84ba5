"""The configured size limits, checked the same way for inputs and for results."""

from __future__ import annotations

from ..errors import ImageTooLargeError
from ..host import host


def megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:,.3g} MP" if pixels < 1e9 else f"{pixels / 1e6:,.0f} MP"


def check_bytes(size: int) -> None:
    limit = host().max_bytes
    if size > limit:
        raise ImageTooLargeError(f"file is {size:,} bytes, over the limit of {limit:,} (STUDIO_MAX_BYTES)")


def check_dimensions(width: int, height: int, what: str = "image is") -> None:
    settings = host()
    if width * height > settings.max_pixels or max(width, height) > settings.max_side:
        raise ImageTooLargeError(
            f"{what} {width}x{height} ({megapixels(width * height)}), over the limit of "
            f"{megapixels(settings.max_pixels)} / {settings.max_side} px per side (STUDIO_MAX_PIXELS, STUDIO_MAX_SIDE)"
        )
