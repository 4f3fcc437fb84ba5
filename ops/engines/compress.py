"""compress-optimize: a real, measured JPEG re-encode (optimized Huffman tables, progressive)."""

from __future__ import annotations

from ..imageio import Picture, decode, encode
from ..imageio.pixels import flatten_alpha, to_8bit
from ..operations.convert import CompressParams
from .base import Engine, RunContext, register


class Compress(Engine):
    name = "pillow-jpeg"
    description = "libjpeg-turbo through Pillow: optimized, progressive, 4:2:0 below quality 90."

    def run(self, picture: Picture, params: CompressParams, ctx: RunContext) -> Picture:  # type: ignore[override]
        if picture.has_alpha:
            picture = picture.with_pixels(flatten_alpha(picture.pixels))
            ctx.warn("transparency flattened onto white: the compressed JPEG has no alpha channel")
        if picture.bit_depth == 16:
            picture = picture.with_pixels(to_8bit(picture.pixels))
            ctx.warn("16-bit image reduced to 8 bits for JPEG")
        target = picture.with_changes(target_format="jpeg", target_quality=params.quality)
        encoded = encode(target)
        before = picture.source_bytes
        if before and len(encoded.data) >= before:
            ctx.warn(
                f"the JPEG at quality {params.quality} ({len(encoded.data):,} bytes) is not smaller than the input "
                f"({before:,} bytes): the input is already compressed harder; try a lower quality"
            )
        # later steps see exactly the pixels the JPEG holds; the writer reuses the bytes if nothing changes
        return target.with_pixels(decode(encoded.data).pixels).with_changes(encoded=encoded)


register(Compress())
