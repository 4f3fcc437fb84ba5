"""Decode image bytes by content into a :class:`Picture`, refusing what cannot be trusted.

Pillow identifies the format and reads metadata without touching pixels, so size limits are
checked before any decoding work. 16-bit colour goes through OpenCV because Pillow would
truncate it to 8 bits.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import pillow_heif
from PIL import Image, ImageCms

from ..errors import ImageDecodeError, ImageTooLargeError
from ..host import Host, host, on_configure
from ..memory import DECODE_BYTES_PER_PIXEL, budget
from .limits import check_bytes, check_dimensions, megapixels
from .picture import Picture
from .pixels import orient

pillow_heif.register_heif_opener()


def _without_external_programs() -> None:
    """Unregister Pillow's EPS reader in this process: it runs Ghostscript, and other code here
    (Gradio decoding an editor layer) opens files without our allow-list."""
    from PIL import EpsImagePlugin  # noqa: F401  (imported first, so a later Image.init() cannot register it again)

    Image.init()
    Image.OPEN.pop("EPS", None)
    Image.ID[:] = [name for name in Image.ID if name != "EPS"]


_without_external_programs()

#: formats we accept (camera MPO files open through the JPEG plugin); anything else Pillow knows
#: (EPS, PDF, ...) is refused on purpose
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF", "AVIF")
ACCEPTED_NAMES = "JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC, AVIF"
EXIF_ORIENTATION = 0x0112

_SRGB = ImageCms.createProfile("sRGB")
_PILLOW_DEFAULT_LIMIT = Image.MAX_IMAGE_PIXELS or 0


@on_configure
def _pillow_guard(limits: Host) -> None:
    """Pillow's own bomb guard stays on but never below ours, so our clearer check speaks first
    (set when the host is configured, not on every decode: other threads decode meanwhile)."""
    Image.MAX_IMAGE_PIXELS = max(limits.max_pixels, _PILLOW_DEFAULT_LIMIT)


def read_image(source: str | Path | bytes) -> Picture:
    """Decode a file path or raw bytes."""
    if isinstance(source, bytes):
        return decode(source)
    return decode(read_bytes(Path(source)))


def read_bytes(path: Path) -> bytes:
    try:
        check_bytes(path.stat().st_size)  # before reading a huge file into memory
        return path.read_bytes()
    except OSError as exc:
        raise ImageDecodeError(f"cannot read {path.name}: {exc.strerror or exc}") from None


class Header(NamedTuple):
    width: int
    height: int
    format: str


def probe(source: str | Path | bytes) -> Header:
    """Size and format, read from the header only (limits checked, no pixels decoded)."""
    image = _open(source if isinstance(source, bytes) else read_bytes(Path(source)))
    return Header(image.width, image.height, image.format or "")


def upright_size(source: str | Path | bytes) -> tuple[int, int]:
    """(width, height) as decoded, i.e. after the EXIF orientation is applied; header only."""
    image = _open(source if isinstance(source, bytes) else read_bytes(Path(source)))
    _, orientation = _read_exif(image, [])
    return (image.height, image.width) if orientation >= 5 else (image.width, image.height)


def decode(data: bytes, memory_wait: float | None = None) -> Picture:
    """Decode within the memory budget, waiting at most ``memory_wait`` s for it (default: the setting)."""
    image = _open(data)
    with budget().reserve(image.width * image.height * DECODE_BYTES_PER_PIXEL, memory_wait, what=f"a {image.width}x{image.height} image"):
        return _decode(image, data)


def _open(data: bytes) -> Image.Image:
    """Identify the format and check the size limits from the header, before any pixel is decoded."""
    limits = host()
    if not data:
        raise ImageDecodeError("the file is empty (0 bytes)")
    check_bytes(len(data))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        claimed = re.search(r"\((\d+) pixels\)", str(exc))
        size = megapixels(int(claimed.group(1))) if claimed else "its size"
        raise ImageTooLargeError(
            f"image refused as a decompression bomb: {size} is far over the limit of "
            f"{megapixels(limits.max_pixels)} (STUDIO_MAX_PIXELS)"
        ) from None
    except Exception:
        raise ImageDecodeError(f"not a recognised image: the content is none of {ACCEPTED_NAMES}") from None
    _check_dimensions(image.size)
    return image


def _decode(image: Image.Image, data: bytes) -> Picture:
    notes: list[str] = []
    frames = getattr(image, "n_frames", 1)
    if frames > 1 and image.format != "MPO":
        notes.append(f"animated image with {frames} frames: only the first frame was used")
    try:
        pixels, icc = _load_pixels(image, data, notes)
    except (ImageDecodeError, ImageTooLargeError):
        raise
    except MemoryError:
        raise ImageTooLargeError("not enough memory to decode this image") from None
    except Exception as exc:
        raise ImageDecodeError(f"the {image.format} file is truncated or corrupt ({_reason(exc)})") from None
    exif_bytes, orientation = _read_exif(image, notes)
    return Picture(
        pixels=orient(pixels, orientation),
        icc_profile=icc,
        exif=exif_bytes,
        dpi=_read_dpi(image),
        source_format=image.format,
        source_bytes=len(data),
        notes=tuple(notes),
    )


def _check_dimensions(size: tuple[int, int]) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageDecodeError(f"the image claims an impossible size {width}x{height}")
    check_dimensions(width, height)


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def _load_pixels(image: Image.Image, data: bytes, notes: list[str]) -> tuple[np.ndarray, bytes | None]:
    image.seek(0)
    image.load()  # raises on truncated or corrupt data (LOAD_TRUNCATED_IMAGES stays off)
    icc = image.info.get("icc_profile") or None
    if _is_deep_colour(image, data):
        return _decode_deep_colour(data), icc
    mode = image.mode
    if mode == "CMYK":
        return _cmyk_to_rgb(image, icc, notes)
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(image, dtype=np.uint16)[..., None].copy(), icc
    if mode == "I":
        return np.clip(np.asarray(image), 0, 65535).astype(np.uint16)[..., None], icc
    if mode == "F":
        raise ImageDecodeError("32-bit floating-point images are not supported; save it as 16-bit PNG or TIFF")
    if mode == "LAB":
        lab = ImageCms.createProfile("LAB")
        notes.append("Lab image converted to sRGB")
        return np.asarray(ImageCms.profileToProfile(image, lab, _SRGB, outputMode="RGB")), None
    target = _eight_bit_mode(image)
    converted = image if image.mode == target else image.convert(target)
    array = np.asarray(converted)
    return (array[..., None] if array.ndim == 2 else array).copy(), icc


def _eight_bit_mode(image: Image.Image) -> str:
    has_key = "transparency" in image.info
    if image.mode in ("1", "L"):
        return "LA" if has_key else "L"
    if image.mode in ("LA", "La"):
        return "LA"
    if image.mode in ("RGBA", "RGBa", "PA"):
        return "RGBA"
    if image.mode == "P":
        return "RGBA" if has_key or image.palette.mode == "RGBA" else "RGB"
    return "RGBA" if has_key else "RGB"


def _is_deep_colour(image: Image.Image, data: bytes) -> bool:
    """16-bit colour or grey+alpha, which Pillow would read as 8-bit."""
    if image.format == "PNG" and len(data) > 25:
        bit_depth, colour_type = data[24], data[25]
        return bit_depth == 16 and colour_type in (2, 4, 6)
    if image.format == "TIFF":
        bits = image.tag_v2.get(258, (8,))
        samples = image.tag_v2.get(277, 1)
        return max(bits if isinstance(bits, tuple) else (bits,)) == 16 and samples > 1
    return False


def _decode_deep_colour(data: bytes) -> np.ndarray:
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ImageDecodeError("the 16-bit image could not be decoded (corrupt data)")
    if array.dtype != np.uint16:
        array = array.astype(np.uint16) * 257
    if array.ndim == 2:
        return array[..., None]
    order = [2, 1, 0, 3][: array.shape[2]]
    return np.ascontiguousarray(array[..., order])


def _cmyk_to_rgb(image: Image.Image, icc: bytes | None, notes: list[str]) -> tuple[np.ndarray, bytes | None]:
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            rgb = ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB")
            notes.append("CMYK image converted to sRGB with its embedded ICC profile")
            return np.asarray(rgb), ImageCms.ImageCmsProfile(_SRGB).tobytes()
        except (ImageCms.PyCMSError, OSError):
            notes.append("CMYK image's ICC profile is unusable; converted to RGB without colour management")
    else:
        notes.append("CMYK image without an ICC profile converted to RGB without colour management")
    return np.asarray(image.convert("RGB")), None


def _read_exif(image: Image.Image, notes: list[str]) -> tuple[bytes | None, int]:
    try:
        exif = image.getexif()
    except Exception:
        notes.append("EXIF block is corrupt and was ignored")
        return None, 1
    orientation = exif.get(EXIF_ORIENTATION, 1)
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1
    if not exif:
        return None, orientation
    if orientation != 1:
        exif[EXIF_ORIENTATION] = 1
    try:
        raw = exif.tobytes()
    except Exception:
        notes.append("EXIF block could not be re-encoded and was dropped")
        return None, orientation
    limit = host().max_metadata_bytes
    if len(raw) > limit:
        notes.append(f"EXIF block of {len(raw):,} bytes exceeds {limit:,} bytes and was dropped")
        return None, orientation
    return raw, orientation


def _read_dpi(image: Image.Image) -> tuple[float, float] | None:
    dpi = image.info.get("dpi")
    try:
        x, y = (float(v) for v in dpi)
    except (TypeError, ValueError):
        return None
    return (round(x, 2), round(y, 2)) if x > 0 and y > 0 else None
