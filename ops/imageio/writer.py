"""Encode a :class:`Picture` to JPEG, PNG or WebP, carrying ICC, DPI and (on request) EXIF."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from ..errors import ImageTooLargeError
from ..host import host
from . import png_chunks
from .picture import OutputFormat, Picture
from .pixels import flatten_alpha, gray_alpha_to_rgba, to_8bit

EXTENSIONS: dict[OutputFormat, str] = {"jpeg": ".jpg", "png": ".png", "webp": ".webp"}
MEDIA_TYPES: dict[OutputFormat, str] = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
FORMAT_ALIASES: dict[str, OutputFormat] = {"jpg": "jpeg", "jpeg": "jpeg", "png": "png", "webp": "webp"}
MAX_SIDE: dict[OutputFormat, int] = {"jpeg": 65_535, "png": 2**31 - 1, "webp": 16_383}
JPEG_EXIF_LIMIT = 65_533  # one APP1 segment
_PIL_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
# zlib-ng (Pillow's wheels) at level 4 deflates photos 2.2-2.7x faster than level 6 for 2-5% more
# bytes (1024 px example photos); encoding was a third of a remove-background job. compress-optimize
# is the operation for the smallest file.
PNG_COMPRESS_LEVEL = 4


@dataclass(frozen=True)
class Encoded:
    data: bytes
    format: OutputFormat
    width: int
    height: int
    warnings: list[str] = field(default_factory=list)
    request: tuple[object, ...] = ()  # (format, quality, keep_exif, dpi) it was made for

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]


def format_from_name(name: str) -> OutputFormat | None:
    """'out.JPG' -> 'jpeg'; None when the suffix is not a format we write."""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else name.lower()
    return FORMAT_ALIASES.get(suffix)


def natural_format(picture: Picture) -> OutputFormat:
    """What to write when nobody asked: the chain's choice, else the source's format if we write it."""
    if picture.target_format:
        return picture.target_format
    source = (picture.source_format or "").upper()
    return {"JPEG": "jpeg", "MPO": "jpeg", "WEBP": "webp"}.get(source, "png")


def encode(
    picture: Picture,
    fmt: OutputFormat | None = None,
    quality: int | None = None,
    keep_exif: bool = False,
    dpi: int | None = None,
) -> Encoded:
    fmt = fmt or natural_format(picture)
    quality = quality or picture.target_quality or host().default_quality
    request = (fmt, quality, keep_exif, dpi)
    if picture.encoded is not None and picture.encoded.request == request:
        return picture.encoded
    warnings: list[str] = []
    pixels = picture.pixels
    height, width = pixels.shape[:2]
    if max(width, height) > MAX_SIDE[fmt]:
        raise ImageTooLargeError(f"{fmt.upper()} cannot store {width}x{height}: its largest side is {MAX_SIDE[fmt]} px")
    if fmt != "png" and pixels.dtype == np.uint16:
        pixels = to_8bit(pixels)
        warnings.append(f"16-bit image reduced to 8 bits: {fmt.upper()} stores 8 bits per channel")
    if fmt == "jpeg" and pixels.shape[2] in (2, 4):
        pixels = flatten_alpha(pixels)
        warnings.append("transparency flattened onto white: JPEG has no alpha channel")
    exif = picture.exif if keep_exif else None
    if exif and fmt == "jpeg" and len(exif) > JPEG_EXIF_LIMIT:
        warnings.append(f"EXIF block of {len(exif):,} bytes does not fit a JPEG segment and was dropped")
        exif = None
    out_dpi = (float(dpi), float(dpi)) if dpi else picture.dpi
    if out_dpi and fmt == "webp":
        if dpi:
            warnings.append("WebP has no DPI field; the requested DPI was not written")
        out_dpi = None
    if pixels.dtype == np.uint16:
        data = _png16(pixels, picture.icc_profile, out_dpi, exif)
    else:
        data = _pillow(pixels, fmt, quality, picture.icc_profile, out_dpi, exif)
    return Encoded(data=data, format=fmt, width=width, height=height, warnings=warnings, request=request)


def _pillow(
    pixels: np.ndarray,
    fmt: OutputFormat,
    quality: int,
    icc: bytes | None,
    dpi: tuple[float, float] | None,
    exif: bytes | None,
) -> bytes:
    image = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels, _PIL_MODES[pixels.shape[2]])
    options: dict[str, object] = {}
    if icc:
        options["icc_profile"] = icc
    if dpi:
        options["dpi"] = dpi
    if exif:
        options["exif"] = exif
    if fmt == "jpeg":
        options.update(
            quality=quality,
            optimize=True,
            progressive=True,
            subsampling="4:4:4" if quality >= 90 else "4:2:0",
        )
    elif fmt == "webp":
        options.update(quality=quality, method=6, lossless=quality == 100, exact=True)
    else:
        options.update(compress_level=PNG_COMPRESS_LEVEL)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt.upper(), **options)
    return buffer.getvalue()


def _png16(pixels: np.ndarray, icc: bytes | None, dpi: tuple[float, float] | None, exif: bytes | None) -> bytes:
    if pixels.shape[2] == 2:
        pixels = gray_alpha_to_rgba(pixels)
    if pixels.shape[2] >= 3:
        pixels = pixels[..., [2, 1, 0, 3][: pixels.shape[2]]]
    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(pixels), [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESS_LEVEL])
    if not ok:
        raise RuntimeError("OpenCV could not encode the 16-bit PNG")
    chunks = []
    if icc:
        chunks.append(png_chunks.iccp_chunk(icc))
    if dpi:
        chunks.append(png_chunks.phys_chunk(dpi))
    if exif:
        chunks.append(png_chunks.exif_chunk(exif))
    return png_chunks.insert_after_header(buffer.tobytes(), chunks)
