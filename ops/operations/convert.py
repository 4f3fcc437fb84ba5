"""Free operations (spec 000: compress-optimize, crop-resize, convert)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, NonNegativeInt, PositiveInt, field_validator

from ..operation import Operation
from ..params import AtLeastOne, ExactlyOne, Params
from .fields import Quality

Percent = Annotated[float, Field(ge=0, le=100)]
PositivePercent = Annotated[float, Field(gt=0, le=100)]
Side = Annotated[int, Field(ge=1, le=65_500)]


class Crop(Params):
    rules = (ExactlyOne(("pixels", "percentage")),)
    pixels: tuple[NonNegativeInt, NonNegativeInt, PositiveInt, PositiveInt] | None = Field(
        None, description="[x, y, w, h] in pixels of the (upright) input."
    )
    percentage: tuple[Percent, Percent, PositivePercent, PositivePercent] | None = Field(
        None, description="[x, y, w, h] in percent of the input's width and height."
    )

    @field_validator("percentage")
    @classmethod
    def _inside(cls, box: tuple[float, float, float, float] | None) -> tuple[float, float, float, float] | None:
        if box and (box[0] + box[2] > 100 + 1e-6 or box[1] + box[3] > 100 + 1e-6):
            raise ValueError("the box must stay inside the image: x + w and y + h must be at most 100")
        return box


class Resize(Params):
    rules = (AtLeastOne(("width", "height")),)
    width: Side | None = Field(None, description="Target width in pixels.")
    height: Side | None = Field(None, description="Target height in pixels.")
    maintain_aspect: bool = Field(
        True, description="Keep the aspect ratio: with both sides given, fit inside width x height."
    )


class CropResizeParams(Params):
    rules = (AtLeastOne(("crop", "resize")),)
    crop: Crop | None = Field(None, description="Crop box, applied before resizing.")
    resize: Resize | None = Field(None, description="Target size.")


class CompressParams(Params):
    quality: Quality = 85


class ConvertParams(Params):
    output_format: Literal["png", "jpg", "jpeg", "webp"] = Field(description="Output file format.")
    quality: Quality | None = Field(None, description="JPEG/WebP quality (WebP 100 is lossless); default 92.")


COMPRESS_OPTIMIZE = Operation(
    name="compress-optimize",
    summary="Reduce file size via JPEG compression (free, no credits)",
    params=CompressParams,
    group="Convert",
    engines=("pillow-jpeg",),
    credits=0,
    sets_format=True,
    label="Compress",
)

CROP_RESIZE = Operation(
    name="crop-resize",
    summary="Crop and/or resize image (free, no credits)",
    params=CropResizeParams,
    group="Convert",
    engines=("pillow-resample",),
    credits=0,
    label="Crop & resize",
)

CONVERT = Operation(
    name="convert",
    summary="Convert image to a different format (free, no credits)",
    params=ConvertParams,
    group="Convert",
    engines=("pillow-codecs",),
    credits=0,
    sets_format=True,
    label="Change format",
)
