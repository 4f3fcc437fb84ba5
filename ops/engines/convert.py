"""convert: choose the output format and quality; the writer does the encoding."""

from __future__ import annotations

from ..imageio import Picture
from ..imageio.pixels import flatten_alpha
from ..imageio.writer import FORMAT_ALIASES
from ..operations.convert import ConvertParams
from .base import Engine, RunContext, register


class Convert(Engine):
    name = "pillow-codecs"
    description = "Pillow's encoders: libjpeg-turbo (optimized, progressive), zlib PNG, libwebp."

    def run(self, picture: Picture, params: ConvertParams, ctx: RunContext) -> Picture:  # type: ignore[override]
        fmt = FORMAT_ALIASES[params.output_format]
        if fmt == "jpeg" and picture.has_alpha:
            picture = picture.with_pixels(flatten_alpha(picture.pixels))
            ctx.warn("transparency flattened onto white: JPEG has no alpha channel")
        return picture.with_changes(target_format=fmt, target_quality=params.quality)


register(Convert())
