"""Insert metadata chunks into a PNG stream.

OpenCV writes 16-bit PNGs (Pillow cannot) but no ICC, DPI or EXIF chunks; this adds them.
"""

from __future__ import annotations

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def iccp_chunk(profile: bytes, name: bytes = b"ICC Profile") -> bytes:
    return chunk(b"iCCP", name + b"\x00\x00" + zlib.compress(profile))


def phys_chunk(dpi: tuple[float, float]) -> bytes:
    per_metre = [int(round(d / 0.0254)) for d in dpi]
    return chunk(b"pHYs", struct.pack(">IIB", per_metre[0], per_metre[1], 1))


def exif_chunk(exif: bytes) -> bytes:
    if exif.startswith(b"Exif\x00\x00"):
        exif = exif[6:]
    return chunk(b"eXIf", exif)


def insert_after_header(png: bytes, chunks: list[bytes]) -> bytes:
    """Place chunks right after IHDR (iCCP and pHYs must precede IDAT)."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG stream")
    ihdr_len = struct.unpack(">I", png[8:12])[0]
    end_of_ihdr = 8 + 12 + ihdr_len
    return png[:end_of_ihdr] + b"".join(chunks) + png[end_of_ihdr:]
