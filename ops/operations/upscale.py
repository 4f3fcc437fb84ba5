"""AI upscaling (spec 000: enhance, enhance-anime)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..operation import Operation, PerValue
from ..params import Params


class EnhanceParams(Params):
    scale: Literal[2, 4, 8] = Field(description="Upscaling factor.")


class EnhanceAnimeParams(Params):
    """No parameters: always 4x."""


ENHANCE = Operation(
    name="enhance",
    summary="AI upscaling for photos (2x, 4x, 8x)",
    params=EnhanceParams,
    group="Enhance",
    engines=("realesrgan-x4plus", "realesrgan-x2plus", "realesr-general-x4v3", "waifu2x-photo", "realesr-animevideov3", "ldm-sr-4x"),
    credits=PerValue("scale", {2: 1, 4: 2, 8: 4}),
    enlarges="scale",
    label="Upscale photo",
)

ENHANCE_ANIME = Operation(
    name="enhance-anime",
    summary="AI upscaling optimised for anime, manga, and illustrations (always 4x)",
    params=EnhanceAnimeParams,
    group="Enhance",
    engines=("realesrgan-x4plus-anime-6b", "realesr-animevideov3"),
    credits=2,
    enlarges=4,
    label="Upscale anime",
)
