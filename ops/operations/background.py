"""Subject segmentation (spec 000: remove-/replace-/blur-background, smart-crop)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..operation import Operation, PerValue
from ..params import Params, RequiredWhen
from .fields import HexColour, ImageFormat, ImageKey

SEGMENTATION_ENGINES = ("birefnet-general", "isnet-general-use", "u2netp", "u2net_human_seg")  # people-only model last: chosen, never auto


class RemoveBackgroundParams(Params):
    output_format: ImageFormat = Field("png", description="png keeps transparency; jpg flattens onto white.")


class ReplaceBackgroundParams(Params):
    rules = (
        RequiredWhen("background_color", when="background_type", equals="color"),
        RequiredWhen("background_image_key", when="background_type", equals="image"),
        RequiredWhen("background_prompt", when="background_type", equals="prompt"),
    )
    background_type: Literal["color", "image", "transparent", "prompt"] = Field(title="New background", description="What goes behind the subject.")
    background_color: HexColour | None = Field(None, title="Background colour", description="The colour behind the subject.")
    background_image_key: ImageKey | None = Field(
        None, title="Background image", description="An image to put behind the subject (in the API: the storage key of one of your uploads)."
    )
    background_prompt: str | None = Field(
        None, min_length=1, max_length=1000, title="Describe the new background",
        description="A scene to paint behind the subject (needs the Stable Diffusion weights, about 5 GB: python -m ops weights fetch sd-inpainting).",
    )  # fmt: skip


class BlurBackgroundParams(Params):
    blur_radius: int = Field(20, ge=1, le=100, description="Blur radius in pixels of the background.")
    output_format: ImageFormat = Field("png", description="Output file format.")


class SmartCropParams(Params):
    aspect_ratio: Literal["1:1", "4:3", "16:9", "9:16", "3:2", "2:3"] = Field("1:1", description="Shape of the crop.")
    padding_percent: float = Field(5.0, ge=0, le=30, description="Room kept around the subject, in percent.")


REMOVE_BACKGROUND = Operation(
    name="remove-background",
    summary="Remove image background with AI",
    params=RemoveBackgroundParams,
    group="Background",
    engines=SEGMENTATION_ENGINES,
    credits=1,
    sets_format=True,
)

REPLACE_BACKGROUND = Operation(
    name="replace-background",
    summary="Replace background with a color, image, or AI-generated scene",
    params=ReplaceBackgroundParams,
    group="Background",
    engines=SEGMENTATION_ENGINES,
    credits=PerValue("background_type", {"prompt": 3}, default=1),
)

BLUR_BACKGROUND = Operation(
    name="blur-background",
    summary="Blur background while keeping subject sharp",
    params=BlurBackgroundParams,
    group="Background",
    engines=SEGMENTATION_ENGINES,
    credits=1,
    sets_format=True,
    click_selects="subject",
)

SMART_CROP = Operation(
    name="smart-crop",
    summary="AI-powered intelligent cropping to aspect ratio",
    params=SmartCropParams,
    group="Background",
    engines=("saliency-and-faces",),
    credits=1,
)
