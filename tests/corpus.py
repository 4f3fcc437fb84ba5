"""A corpus of hostile and odd image files, made on the fly (nothing binary is committed).

``BAD``: files the product must refuse with a clear error (the CLI exits non-zero).
``ODD``: unusual but legitimate files the product must handle, with the stated outcome.
Write them to a folder with ``python -m tests.corpus DIR`` to try the CLI by hand.
"""

from __future__ import annotations

import io
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

from ops.errors import ImageDecodeError, ImageTooLargeError, StudioError


def photo(width: int = 320, height: int = 240, seed: int = 0) -> np.ndarray:
    """A smooth, photo-like RGB test pattern (gradients plus mild texture), deterministic."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 128 + 100 * np.sin(x / 23.0) * np.cos(y / 31.0)
    g = 255 * x / max(width - 1, 1)
    b = 255 * y / max(height - 1, 1)
    noise = rng.normal(0, 6, (height, width, 3))
    return np.clip(np.stack([r, g, b], axis=2) + noise, 0, 255).astype(np.uint8)


def jpeg_bytes(pixels: np.ndarray | None = None, **save: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(photo() if pixels is None else pixels).save(buffer, "JPEG", quality=90, **save)
    return buffer.getvalue()


def png_bytes(image: Image.Image, **save: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **save)
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat_data = zlib.compress(b"\x00" * 64)
    idat = struct.pack(">I", len(idat_data)) + b"IDAT" + idat_data + struct.pack(">I", zlib.crc32(b"IDAT" + idat_data))
    return b"\x89PNG\r\n\x1a\n" + chunk + idat


def _cmyk_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(photo()).convert("CMYK").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (40, 30), colour) for colour in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def _huge_exif_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "x" * 60_000  # ImageDescription: fills one APP1 segment
    return jpeg_bytes(exif=exif.tobytes())


def _huge_exif_png() -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "y" * 3_000_000  # 3 MB, over the 1 MB metadata limit
    return png_bytes(Image.fromarray(photo(64, 48)), exif=exif.tobytes())


def _one_pixel() -> bytes:
    return png_bytes(Image.new("RGB", (1, 1), (200, 10, 10)))


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[], bytes]
    error: type[StudioError] | None  # None: must succeed
    says: str  # a phrase the error (or a warning, for odd files) must contain


BAD: tuple[Case, ...] = (
    Case("truncated.jpg", lambda: jpeg_bytes()[: len(jpeg_bytes()) // 2], ImageDecodeError, "truncated"),
    Case("truncated.png", lambda: png_bytes(Image.fromarray(photo()))[:2000], ImageDecodeError, "truncated"),
    Case("empty.jpg", lambda: b"", ImageDecodeError, "empty"),
    Case("text.jpg", lambda: b"Dear user,\nthis is not a picture.\n" * 20, ImageDecodeError, "not a recognised image"),
    Case("bomb-30000x30000.png", lambda: _png_header_only(30_000, 30_000), ImageTooLargeError, "900 MP"),
    Case("html.png", lambda: b"<!DOCTYPE html><html><body>nope</body></html>", ImageDecodeError, "not a recognised image"),
)

ODD: tuple[Case, ...] = (
    Case("one-pixel.png", _one_pixel, None, ""),
    Case("cmyk.jpg", _cmyk_jpeg, None, "CMYK"),
    Case("animated.gif", _animated_gif, None, "animated image with 3 frames"),
    Case("huge-exif.jpg", _huge_exif_jpeg, None, ""),
    Case("huge-exif.png", _huge_exif_png, None, "EXIF block"),
)


def write(folder: Path) -> None:
    for kind, cases in (("bad", BAD), ("odd", ODD)):
        (folder / kind).mkdir(parents=True, exist_ok=True)
        for case in cases:
            (folder / kind / case.name).write_bytes(case.make())


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "corpus"))
