"""Results people keep: deblocking wherever there are blocks (found from the pixels, grid phase
included) and the colour fix every upscaler and restorer ends with. Tiny pictures, real weights."""

from __future__ import annotations

import io
from unittest import mock

import cv2
import numpy as np
import pytest
from PIL import Image

from ops import chain
from ops.engines import ENGINES
from ops.engines.base import Engine, RunContext
from ops.imageio import Picture, decode, encode
from ops.metrics import psnr
from ops.restore import colour, jpeg
from tests.conftest import EXAMPLES

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def clean_photo(name: str, side: int = 96) -> np.ndarray:
    """A photo that was never a JPEG at this size: the example taken down 3x by area averaging
    (which leaves no trace of its own JPEG grid), centre crop."""
    image = np.asarray(Image.open(EXAMPLES / name).convert("RGB"))
    small = cv2.resize(image, (image.shape[1] // 3, image.shape[0] // 3), interpolation=cv2.INTER_AREA)
    top, left = (small.shape[0] - side) // 2, (small.shape[1] - side) // 2
    assert min(top, left) >= 0, f"{name} is too small for {side} px"
    return np.ascontiguousarray(small[top : top + side, left : left + side])


def through_jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def as_png(pixels: np.ndarray) -> Picture:
    """A picture decoded from a PNG file, as the CLI would read it: the decoder says PNG, not JPEG."""
    picture = decode(encode(Picture(pixels), "png").data)
    assert picture.source_format == "PNG"
    return picture


def ratio(pixels: np.ndarray) -> float:
    return jpeg.blockiness(pixels[..., :3].astype(np.float32) @ LUMA)


# --- finding blocks from the pixels ---------------------------------------------------------


@pytest.mark.parametrize(("dx", "dy"), [(0, 0), (3, 5), (7, 1)])
def test_the_grid_phase_is_found_on_a_crop_of_a_jpeg(dx: int, dy: int) -> None:
    blocky = through_jpeg(clean_photo("rocket.jpg", 96 + 8), 15)
    crop = blocky[dy : dy + 96, dx : dx + 96]
    found = jpeg.measure_pixels(crop)
    assert found.phase == ((-dx) % 8, (-dy) % 8) and found.blocky
    assert found.ratio > 1.4 and found.ratio == pytest.approx(jpeg.blockiness(crop.astype(np.float32) @ LUMA, found.phase), abs=1e-3)
    if (dx, dy) != (0, 0):  # on the wrong grid the same crop looks clean: why the phase matters
        assert jpeg.blockiness(crop.astype(np.float32) @ LUMA) < found.ratio - 0.3


@pytest.mark.parametrize("name", ["cat.jpg", "cup.jpg", "portrait.jpg", "rocket.jpg"])
def test_clean_photos_are_not_taken_for_blocky(name: str) -> None:
    image = clean_photo(name, 96)
    assert not jpeg.measure_pixels(image).blocky
    assert not jpeg.measure_pixels(image[5:, 3:]).blocky
    upscaled = cv2.resize(image, (144, 144), interpolation=cv2.INTER_AREA)  # 1.5x: a periodic pattern, not a grid
    assert not jpeg.measure_pixels(upscaled).blocky


def test_a_clean_photo_is_left_untouched_by_the_pre_pass() -> None:
    picture = as_png(clean_photo("portrait.jpg"))
    ctx = RunContext()
    assert jpeg.prepass(picture, ctx) is picture
    assert "deblock_levels" not in ctx.details and ctx.details["blockiness"] < jpeg.DEBLOCK
    result = chain.run(picture, chain.plan([{"type": "denoise", "engine": "ffdnet"}]))
    assert "deblock_levels" not in result.steps[0].details and not any("JPEG" in w for w in result.steps[0].warnings)


def test_the_strength_follows_the_blockiness() -> None:
    assert jpeg.level_for(1.21) == 2 and jpeg.level_for(1.6) == jpeg.level_for(2.5) == 3


# --- deblocking wherever there are blocks ---------------------------------------------------


def test_denoise_deblocks_a_png_that_was_a_jpeg() -> None:
    truth = clean_photo("cup.jpg")
    blocky = through_jpeg(truth, 15)
    result = chain.run(as_png(blocky), chain.plan([{"type": "denoise"}]))
    out, details = result.picture.pixels, result.steps[0].details
    assert ratio(blocky) > 1.6 and ratio(out) <= 1.4
    assert psnr(out, truth) > psnr(blocky, truth) + 0.5
    assert details["block_phase"] == [0, 0] and details["blockiness"] == pytest.approx(ratio(blocky), abs=0.01)
    assert details["blockiness_after"] <= 1.4 and details["deblock_levels"][0] == 3 and details["deblock_weights"] == "waifu2x-photo-jpeg"
    assert any("JPEG blocking" in w for w in result.steps[0].warnings)


def test_a_blocky_crop_is_deblocked_on_its_own_grid() -> None:
    truth = clean_photo("portrait.jpg", 104)
    blocky = through_jpeg(truth, 15)[3:99, 6:102]
    result = chain.run(as_png(blocky), chain.plan([{"type": "denoise"}]))
    details = result.steps[0].details
    assert details["block_phase"] == [2, 5] and details["blockiness_after"] < details["blockiness"] - 0.3
    assert psnr(result.picture.pixels, truth[3:99, 6:102]) > psnr(blocky, truth[3:99, 6:102])


def test_the_upscalers_deblock_first_and_alpha_and_grey_survive() -> None:
    blocky = through_jpeg(clean_photo("portrait.jpg", 48), 15)
    rgba = np.dstack([blocky, np.full(blocky.shape[:2], 200, np.uint8)])
    result = chain.run(as_png(rgba), chain.plan([{"type": "enhance", "engine": "realesr-animevideov3", "params": {"scale": 2}}]))
    assert result.steps[0].details["deblock_levels"] and result.picture.pixels.shape == (96, 96, 4)
    assert (result.picture.pixels[..., 3] == 200).all()
    grey = through_jpeg(np.repeat(clean_photo("rocket.jpg", 48)[..., 1:2], 3, axis=2), 15)[..., :1]
    out = chain.run(Picture(np.ascontiguousarray(grey)), chain.plan([{"type": "denoise"}]))
    assert out.steps[0].details["deblock_levels"] and out.picture.pixels.shape == (48, 48, 1)


def test_engines_declare_the_fidelity_passes() -> None:
    for name in ("realesrgan-x4plus", "realesrgan-x4plus-anime-6b", "realesr-animevideov3", "ffdnet", "scunet", "drunet", "hqs-ffdnet",
                 "nafnet-gopro", "ldm-sr-4x"):  # fmt: skip
        assert ENGINES[name].deblocks and ENGINES[name].keeps_colour, name
    assert not Engine.deblocks and not Engine.keeps_colour  # off unless an engine declares them


# --- colour fidelity ------------------------------------------------------------------------


def test_enhance_x4_keeps_the_channel_means() -> None:
    small = clean_photo("cat.jpg", 32)
    steps = chain.plan([{"type": "enhance", "engine": "realesrgan-x4plus", "params": {"scale": 4}}])
    with mock.patch.object(ENGINES["realesrgan-x4plus"], "keeps_colour", False):
        raw = chain.run(Picture(small.copy()), steps).picture.pixels
    result = chain.run(Picture(small.copy()), steps)
    out, details = result.picture.pixels, result.steps[0].details
    shift_raw = colour.channel_means(raw) - colour.channel_means(small)
    shift = colour.channel_means(out) - colour.channel_means(small)
    assert np.abs(shift).max() < 0.5 < np.abs(shift_raw).max()
    assert details["colour_fix"].startswith("gaussian") and details["colour_shift_before"] == pytest.approx(list(shift_raw), abs=0.02)
    assert details["colour_shift_after"] == pytest.approx(list(shift), abs=0.02)
    assert np.abs(out.astype(int) - raw).mean() < 3  # colour at low frequency only: the network's detail stays


def test_the_colour_fix_moves_low_frequencies_only() -> None:
    reference = clean_photo("portrait.jpg", 48)
    big = cv2.resize(reference, (192, 192), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    detail = np.random.default_rng(0).normal(0, 6, big.shape[:2])[..., None]  # texture a network might add
    cast = np.clip(big + detail + np.array([6, -4, 3]), 0, 255).astype(np.uint8)
    fixed = colour.match_colour(cast.copy(), reference)
    assert np.abs(colour.channel_means(fixed) - colour.channel_means(reference)).max() < 0.4  # what clipping leaves
    high = lambda a: a.astype(np.float32) - cv2.GaussianBlur(a.astype(np.float32), (0, 0), 3)  # noqa: E731
    assert np.abs(high(fixed) - high(cast)).mean() < 0.6


def test_the_colour_fix_keeps_alpha_grey_and_16_bit() -> None:
    reference = clean_photo("cup.jpg", 40)
    rgba = np.dstack([np.clip(reference.astype(int) + [5, 0, -5], 0, 255).astype(np.uint8), np.full((40, 40), 255, np.uint8)])
    rgba[:, :10, 3] = 0
    rgba[:, :10, :3] = 0  # invisible pixels say nothing about colour
    source = np.dstack([reference, rgba[..., 3]])
    ctx = RunContext()
    out = colour.keep_colour(Picture(rgba), Picture(source), ctx).pixels
    assert (out[..., 3] == rgba[..., 3]).all()
    visible = out[:, 14:, :3].reshape(-1, 3).mean(0) - reference[:, 14:].reshape(-1, 3).mean(0)
    assert np.abs(visible).max() < 1.0 and len(ctx.details["colour_shift_after"]) == 3
    grey = reference[..., :1]
    brighter = np.clip(grey.astype(int) + 6, 0, 255).astype(np.uint8)
    assert abs(colour.channel_means(colour.keep_colour(Picture(brighter), Picture(grey), RunContext()).pixels)[0] - colour.channel_means(grey)[0]) < 0.3
    deep = reference.astype(np.uint16) * 257
    shifted = np.clip(deep.astype(int) + 1500, 0, 65535).astype(np.uint16)
    fixed = colour.keep_colour(Picture(shifted), Picture(deep), RunContext()).pixels
    assert fixed.dtype == np.uint16 and np.abs(colour.channel_means(fixed) - colour.channel_means(deep)).max() < 0.1


def test_a_noisy_input_gives_its_colour_through_its_clipping() -> None:
    dark = np.full((64, 64, 3), 4, np.uint8)
    noisy = np.clip(4 + np.random.default_rng(1).normal(0, 25, dark.shape), 0, 255)
    assert noisy.mean() > 10  # clipping lifted the mean
    level = colour.unclipped(np.array([noisy.mean() / 255]), 25 / 255)[0] * 255
    assert level == pytest.approx(4, abs=1.5)
