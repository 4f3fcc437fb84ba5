"""crop-resize: exact geometry (pure functions, property-tested) and Lanczos resampling."""

from __future__ import annotations

from ..errors import ParamValidationError, Violation
from ..imageio import Picture
from ..imageio.limits import check_dimensions
from ..imageio.resample import resize
from ..operations.convert import Crop, CropResizeParams, Resize
from .base import Engine, RunContext, register

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)


def crop_box(crop: Crop, width: int, height: int) -> Box:
    """The pixel box a crop selects; a pixel box that leaves the image is an error, not a clamp."""
    if crop.pixels is not None:
        x, y, w, h = crop.pixels
        if x + w > width or y + h > height:
            raise ParamValidationError(
                [Violation("crop.pixels", f"box [{x}, {y}, {w}, {h}] goes outside the {width}x{height} image")],
                "crop-resize",
            )
        return x, y, x + w, y + h
    assert crop.percentage is not None
    px, py, pw, ph = crop.percentage
    x0, x1 = _span(px, pw, width)
    y0, y1 = _span(py, ph, height)
    return x0, y0, x1, y1


def _span(start: float, length: float, size: int) -> tuple[int, int]:
    a = min(int(round(start * size / 100)), size - 1)
    b = min(max(int(round((start + length) * size / 100)), a + 1), size)
    return a, b


def target_size(resize_: Resize, width: int, height: int) -> tuple[int, int]:
    """Output size: one side given keeps the aspect; both with maintain_aspect fit inside the box."""
    w, h = resize_.width, resize_.height
    if not resize_.maintain_aspect:
        return w or width, h or height
    if w is not None and (h is None or w / width <= h / height):
        return w, max(1, round(height * w / width))
    assert h is not None
    return max(1, round(width * h / height)), h


class CropResize(Engine):
    name = "pillow-resample"
    description = "Exact crop, then Lanczos resampling (alpha premultiplied, 16-bit kept)."

    def run(self, picture: Picture, params: CropResizeParams, ctx: RunContext) -> Picture:  # type: ignore[override]
        pixels = picture.pixels
        if params.crop is not None:
            x0, y0, x1, y1 = crop_box(params.crop, picture.width, picture.height)
            pixels = pixels[y0:y1, x0:x1]
        if params.resize is not None:
            height, width = pixels.shape[:2]
            new_w, new_h = target_size(params.resize, width, height)
            check_dimensions(new_w, new_h, what="the result would be")
            pixels = resize(pixels, new_w, new_h)
        return picture.with_pixels(pixels.copy())


register(CropResize())
