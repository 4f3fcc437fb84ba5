"""Faithful I/O: orientation, ICC, alpha, 16-bit, DPI, EXIF, odd modes and formats."""

from __future__ import annotations

import io

import numpy as np
import pillow_heif
import pytest
from PIL import Image, ImageCms, ImageOps

from ops import chain
from ops.errors import ImageDecodeError, ImageTooLargeError
from ops.imageio import Picture, decode, encode
from ops.pipeline import OutputOptions, process
from tests.conftest import SetHost
from tests.corpus import jpeg_bytes, photo, png_bytes

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def undated(profile: bytes | None) -> bytes | None:
    """An ICC profile without its creation date (header bytes 24-35): two built-in sRGB profiles differ only there."""
    return None if profile is None else profile[:24] + profile[36:]
# a real profile other than sRGB, so "kept" cannot be mistaken for "re-created"; the bytes must survive unchanged
CUSTOM_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()


def crop_resize(**params: object) -> list[chain.PlannedStep]:
    return chain.plan([{"type": "crop-resize", "params": params}])


def asymmetric() -> np.ndarray:
    """An image whose orientation is unmistakable: a red block in the top-left corner."""
    pixels = np.full((60, 90, 3), 255, np.uint8)
    pixels[:20, :30] = (255, 0, 0)
    return pixels


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = jpeg_bytes(asymmetric(), exif=exif.tobytes())
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))
    picture = decode(data)
    assert picture.pixels.shape == expected[..., :3].shape
    assert np.abs(picture.pixels.astype(int) - expected).max() <= 1
    # upright output: orientation tag reset, so no viewer rotates it twice
    out = encode(picture, "jpeg", keep_exif=True)
    assert Image.open(io.BytesIO(out.data)).getexif().get(0x0112, 1) == 1


def test_rotated_jpeg_comes_out_upright_through_the_cli_pipeline() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # camera held sideways: stored 90x60, shown 60x90
    data = jpeg_bytes(asymmetric(), exif=exif.tobytes())
    done = process(data, crop_resize(resize={"width": 30}))
    result = Image.open(io.BytesIO(done.encoded.data))
    assert result.size == (30, 45)
    top_right = np.asarray(result)[2, -3]
    assert top_right[0] > 200 and top_right[1] < 80  # the red corner rotated to the top-right


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_icc_profile_survives_every_free_operation(fmt: str) -> None:
    data = jpeg_bytes(icc_profile=CUSTOM_ICC)
    for steps in (
        crop_resize(crop={"percentage": [10, 10, 50, 50]}),
        chain.plan([{"type": "compress-optimize", "params": {"quality": 60}}]),
        chain.plan([{"type": "convert", "params": {"output_format": fmt}}]),
    ):
        done = process(data, steps)
        assert Image.open(io.BytesIO(done.encoded.data)).info.get("icc_profile") == CUSTOM_ICC


def test_alpha_is_kept_through_resize_and_convert() -> None:
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[10:30, 10:50, 3] = 255
    data = png_bytes(Image.fromarray(rgba, "RGBA"))
    for fmt in ("png", "webp"):
        steps = chain.plan([
            {"type": "crop-resize", "params": {"resize": {"width": 30}}},
            {"type": "convert", "params": {"output_format": fmt, "quality": 100}},
        ])
        out = Image.open(io.BytesIO(process(data, steps).encoded.data))
        assert out.mode == "RGBA" and out.size == (30, 20)
        alpha = np.asarray(out)[..., 3]
        assert alpha[0, 0] == 0 and alpha[10, 15] == 255
        # no dark fringe: colour stays red where partly transparent (premultiplied resampling)
        edge = np.asarray(out)[(alpha > 20) & (alpha < 235)]
        assert edge.size == 0 or edge[:, 0].min() >= 190


def test_resizing_alpha_does_not_bleed_hidden_colour() -> None:
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[:, :10] = (0, 255, 0, 0)  # invisible green
    rgba[:, 10:] = (255, 0, 0, 255)  # opaque red
    picture = Picture(rgba)
    out = chain.run(picture, crop_resize(resize={"width": 7})).picture.pixels
    visible = out[out[..., 3] > 10]
    assert visible[:, 1].max() <= 2  # no green leaks into the red edge


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16_bit_png_stays_16_bit_through_crop_resize(channels: int) -> None:
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, 65536, (48, 64, channels), dtype=np.uint16)
    picture = Picture(pixels, icc_profile=SRGB, dpi=(300.0, 300.0))
    data = encode(picture, "png").data
    decoded = decode(data)
    assert decoded.bit_depth == 16 and np.array_equal(decoded.pixels, pixels)
    done = process(data, crop_resize(crop={"pixels": [4, 4, 40, 40]}, resize={"width": 20}))
    out = decode(done.encoded.data)
    assert out.bit_depth == 16 and out.channels == channels and (out.width, out.height) == (20, 20)
    assert out.icc_profile == SRGB and out.dpi == (300.0, 300.0)
    # genuinely 16-bit: values that 8 bits cannot represent survive
    assert np.any(out.pixels % 257 != 0)
    with Image.open(io.BytesIO(done.encoded.data)) as image:  # a standard 16-bit PNG others can read
        assert image.format == "PNG"


def test_16_bit_crop_is_bit_exact() -> None:
    pixels = np.random.default_rng(0).integers(0, 65536, (30, 40, 3), dtype=np.uint16)
    done = process(encode(Picture(pixels), "png").data, crop_resize(crop={"pixels": [5, 6, 20, 10]}))
    assert np.array_equal(decode(done.encoded.data).pixels, pixels[6:16, 5:25])


def test_16_bit_to_jpeg_is_reduced_with_a_warning() -> None:
    pixels = np.full((8, 8, 3), 40000, np.uint16)
    out = encode(Picture(pixels), "jpeg")
    assert any("16-bit" in w for w in out.warnings)
    assert decode(out.data).pixels.mean() == pytest.approx(40000 / 257, abs=1.5)


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_dpi_is_kept_and_can_be_set(fmt: str) -> None:
    data = jpeg_bytes(dpi=(240, 240))
    assert decode(data).dpi == (240.0, 240.0)
    kept = process(data, crop_resize(resize={"width": 50}), OutputOptions(format=fmt))
    assert decode(kept.encoded.data).dpi == (240.0, 240.0)
    set_ = process(data, crop_resize(resize={"width": 50}), OutputOptions(format=fmt, dpi=300))
    assert decode(set_.encoded.data).dpi == (300.0, 300.0)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_exif_is_kept_only_when_asked(fmt: str) -> None:
    exif = Image.Exif()
    exif[0x010F] = "StudioCam"  # Make
    exif[0x0132] = "2026:11:21 10:00:00"  # DateTime
    data = jpeg_bytes(exif=exif.tobytes())
    steps = crop_resize(resize={"width": 64})
    dropped = Image.open(io.BytesIO(process(data, steps, OutputOptions(format=fmt)).encoded.data))
    assert 0x010F not in dropped.getexif()
    kept = Image.open(io.BytesIO(process(data, steps, OutputOptions(format=fmt, keep_exif=True)).encoded.data))
    assert kept.getexif().get(0x010F) == "StudioCam"


def test_cmyk_with_profile_is_colour_managed() -> None:
    cmyk_profile = _cmyk_profile()
    if cmyk_profile is None:
        pytest.skip("no CMYK ICC profile under /usr/share/color/icc: install Debian's libgs-common (.ci/run does)")
    buffer = io.BytesIO()
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(buffer, "JPEG", icc_profile=cmyk_profile)
    picture = decode(buffer.getvalue())
    assert picture.channels == 3 and undated(picture.icc_profile) == undated(SRGB)  # built a second apart, maybe
    expected = ImageCms.profileToProfile(Image.open(io.BytesIO(buffer.getvalue())), ImageCms.ImageCmsProfile(io.BytesIO(cmyk_profile)),
                                         ImageCms.createProfile("sRGB"), outputMode="RGB").getpixel((8, 8))  # fmt: skip
    red = picture.pixels[8, 8].astype(int)
    assert red[0] > 180 and red[1] < 80 and red[2] < 80  # magenta + yellow ink: red, through the profile
    assert np.abs(red - expected).max() <= 3, (red, expected)


def _cmyk_profile() -> bytes | None:
    """A CMYK output profile from the system: Ghostscript's (Debian's libgs-common), else any other."""
    from pathlib import Path

    folder = Path("/usr/share/color/icc")
    candidates = sorted(folder.rglob("*.ic[cm]"), key=lambda p: p.name != "default_cmyk.icc") if folder.exists() else []
    for candidate in candidates:
        try:
            if ImageCms.getProfileInfo(str(candidate)) and ImageCms.ImageCmsProfile(str(candidate)).profile.xcolor_space.strip() == "CMYK":
                return candidate.read_bytes()
        except Exception:
            continue
    return None


def test_cmyk_without_profile_becomes_rgb_with_a_note() -> None:
    buffer = io.BytesIO()
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(buffer, "JPEG")
    picture = decode(buffer.getvalue())
    assert picture.mode == "RGB"
    assert picture.pixels[0, 0, 0] > 200 and picture.pixels[0, 0, 1] < 50  # magenta+yellow = red
    assert any("CMYK" in n for n in picture.notes)


def test_palette_with_transparency_becomes_rgba() -> None:
    image = Image.new("P", (10, 10), 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(0, (0, 0, 5, 10))
    data = png_bytes(image, transparency=0)
    picture = decode(data)
    assert picture.mode == "RGBA"
    assert picture.pixels[0, 0, 3] == 0 and tuple(picture.pixels[0, 9]) == (255, 0, 0, 255)


def test_palette_without_transparency_is_rgb() -> None:
    assert decode(png_bytes(Image.new("P", (4, 4)))).mode == "RGB"


@pytest.mark.parametrize(("mode", "expected"), [("L", "L"), ("LA", "LA"), ("1", "L"), ("I;16", "L16"), ("RGBA", "RGBA")])
def test_grey_and_other_modes(mode: str, expected: str) -> None:
    image = Image.new(mode, (6, 4))
    picture = decode(png_bytes(image))
    assert picture.mode == expected
    again = decode(encode(picture, "png").data)
    assert again.mode == expected


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "WEBP", "GIF"])
def test_other_containers_decode_by_content(fmt: str) -> None:
    buffer = io.BytesIO()
    Image.fromarray(photo(32, 24)).save(buffer, fmt)
    picture = decode(buffer.getvalue())
    assert (picture.width, picture.height) == (32, 24)


def test_16_bit_tiff_is_read_in_16_bit() -> None:
    import cv2

    pixels = np.random.default_rng(1).integers(0, 65536, (12, 10, 3), dtype=np.uint16)
    ok, tiff = cv2.imencode(".tiff", pixels[..., ::-1])
    assert ok
    picture = decode(tiff.tobytes())
    assert picture.bit_depth == 16 and np.array_equal(picture.pixels, pixels)


def test_heic_and_avif_decode() -> None:
    pixels = photo(64, 48)
    heif = pillow_heif.from_bytes(mode="RGB", size=(64, 48), data=pixels.tobytes())
    buffer = io.BytesIO()
    heif.save(buffer, quality=95)
    assert decode(buffer.getvalue()).source_format == "HEIF"
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "AVIF", quality=95)
    picture = decode(buffer.getvalue())
    assert picture.source_format == "AVIF" and np.abs(picture.pixels.astype(int) - pixels).mean() < 8


def test_name_does_not_matter_content_does(tmp_path) -> None:
    path = tmp_path / "really-a-png.jpg"
    path.write_bytes(png_bytes(Image.fromarray(photo(20, 10))))
    done = process(path, crop_resize(resize={"width": 10}))
    assert done.encoded.format == "png"  # written as what it is


def test_pixel_and_byte_limits_are_configurable(set_host: SetHost) -> None:
    data = jpeg_bytes()
    set_host(max_pixels=1000)
    with pytest.raises(ImageTooLargeError, match="320x240"):
        decode(data)
    set_host(max_pixels=100000000, max_bytes=1000)
    with pytest.raises(ImageTooLargeError, match="STUDIO_MAX_BYTES"):
        decode(data)


def test_resize_result_is_limited_too(set_host: SetHost) -> None:
    set_host(max_pixels=200000)
    with pytest.raises(ImageTooLargeError, match="result would be"):
        process(jpeg_bytes(), crop_resize(resize={"width": 4000}))


def test_float_images_are_refused_clearly() -> None:
    buffer = io.BytesIO()
    Image.new("F", (4, 4)).save(buffer, "TIFF")
    with pytest.raises(ImageDecodeError, match="floating-point"):
        decode(buffer.getvalue())


def test_webp_side_limit_is_a_clear_error() -> None:
    with pytest.raises(ImageTooLargeError, match="WEBP cannot store"):
        encode(Picture(np.zeros((1, 17000, 3), np.uint8)), "webp")
