"""Inpainting (spec 000: remove-object, remove-text)."""

from __future__ import annotations

from pydantic import Field

from ..operation import Operation
from ..params import Params, RequiredWhen
from .fields import MaskDataUrl


class RemoveObjectParams(Params):
    mask_data_url: MaskDataUrl = Field(description="base64 data URL of the mask; white marks what to remove.")


class RemoveTextParams(Params):
    rules = (RequiredWhen("mask_data_url", when="auto_detect", equals=False),)
    auto_detect: bool = Field(True, title="Find text automatically", description="When off, paint (or send) a mask of the text to remove.")
    mask_data_url: MaskDataUrl | None = Field(None, description="base64 data URL of the mask; white marks the text to remove (needed when automatic detection is off).")


INPAINTING_ENGINES = ("big-lama", "patchmatch")

REMOVE_OBJECT = Operation(
    name="remove-object",
    summary="Inpaint/remove objects from a masked region",
    params=RemoveObjectParams,
    group="Retouch",
    engines=INPAINTING_ENGINES,
    credits=2,
    click_selects="mask",
)

REMOVE_TEXT = Operation(
    name="remove-text",
    summary="Remove text and watermarks with AI",
    params=RemoveTextParams,
    group="Retouch",
    engines=("ppocr-v4-det",),
    credits=2,
)
