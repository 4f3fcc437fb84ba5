"""deblur: blur estimation, the offline plug-and-play deconvolution, NAFNet with random weights."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from ops import chain
from ops.imageio import Picture
from ops.metrics import psnr
from ops.restore import blur
from tests.conftest import EXAMPLES


def blurred(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """A convolution (filter2D correlates, so the kernel is flipped), as a camera would blur."""
    return np.clip(cv2.filter2D(image.astype(np.float32), -1, kernel[::-1, ::-1], borderType=cv2.BORDER_REFLECT), 0, 255).round().astype(np.uint8)


@pytest.fixture(scope="module")
def sharp() -> np.ndarray:
    return np.asarray(Image.open(EXAMPLES / "portrait.jpg").convert("RGB")).copy()


@pytest.mark.parametrize("sigma", [1.5, 2.5])
def test_gaussian_blur_is_measured(sharp: np.ndarray, sigma: float) -> None:
    found = blur.estimate(blurred(sharp, blur.gaussian_kernel(sigma)).astype(np.float32) / 255)
    assert found.kind == "gaussian" and found.size == pytest.approx(sigma, rel=0.25)


@pytest.mark.parametrize(("length", "angle"), [(9, 0), (15, 30), (21, 120)])
def test_motion_blur_is_measured(sharp: np.ndarray, length: int, angle: float) -> None:
    found = blur.estimate(blurred(sharp, blur.motion_kernel(length, angle)).astype(np.float32) / 255)
    assert found.kind == "motion" and abs(found.size - length) <= 1.5
    assert min(abs(found.angle - angle), 180 - abs(found.angle - angle)) <= 8


def test_a_sharp_photo_is_not_taken_for_motion(sharp: np.ndarray) -> None:
    assert blur.estimate(sharp.astype(np.float32) / 255).kind == "gaussian"


@pytest.mark.parametrize("kernel", [blur.gaussian_kernel(2.0), blur.motion_kernel(11, 30)], ids=["gaussian", "motion"])
def test_offline_deblur_raises_psnr(sharp: np.ndarray, kernel: np.ndarray) -> None:
    crop = sharp[96:352, 128:384]
    soft = blurred(crop, kernel)
    result = chain.run(Picture(soft), chain.plan([{"type": "deblur", "params": {"strength": 1.0}}]))
    assert result.steps[0].engine in ("hqs-ffdnet", "nafnet-gopro")
    assert psnr(result.picture.pixels, crop) > psnr(soft, crop) + 1.0


def test_nafnet_with_random_weights(random_weights, sharp: np.ndarray) -> None:  # noqa: ANN001
    from ops.runtime.torchvision_compat import install

    install()
    from spandrel.architectures.NAFNet import NAFNet

    torch.manual_seed(0)
    module = NAFNet(width=8, enc_blk_nums=[1, 1], middle_blk_num=1, dec_blk_nums=[1, 1]).eval()
    random_weights("nafnet-gopro-width64", module.state_dict())
    picture = Picture(sharp[:40, :56].copy())
    result = chain.run(picture, chain.plan([{"type": "deblur", "engine": "nafnet-gopro", "params": {"strength": 1.0}}]))
    assert result.steps[0].engine == "nafnet-gopro" and result.picture.pixels.shape == picture.pixels.shape
    # a known input gives a known output: what the network these weights make gives, the strength blending it in
    from ops.engines import ENGINES
    from ops.engines.base import RunContext
    from ops.operations.restore import DeblurParams

    x = torch.from_numpy(picture.pixels).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        net = module(x)[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255  # tiles come back in range
    source = picture.pixels.astype(float)
    for strength in (1.0, 0.5):
        out = ENGINES["nafnet-gopro"].run(picture, DeblurParams(strength=strength), RunContext()).pixels.astype(int)
        assert np.abs(out - np.clip(np.rint(source + (net - source) * strength), 0, 255)).max() <= 1, strength
    assert np.abs(out - source).mean() > 1  # the network changed the picture


def shapes() -> np.ndarray:
    """A tiny sharp scene: a flat square with a disc inside, every edge pixel-sharp (the disc's anti-aliased)."""
    clean = np.full((72, 72, 3), 40, np.uint8)
    clean[16:56, 16:56] = (200, 180, 150)
    cv2.circle(clean, (36, 36), 10, (90, 60, 30), -1, cv2.LINE_AA)
    return clean


def overshoot(out: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """Levels beyond the clean 5x5 neighbourhood's range, over a 3 px band each side of the edges (edges left out)."""
    edges = cv2.Canny(cv2.cvtColor(clean, cv2.COLOR_RGB2GRAY), 100, 200)
    band = (cv2.dilate(edges, np.ones((7, 7), np.uint8)) > 0) & (edges == 0)
    box = np.ones((5, 5), np.uint8)
    low, high = cv2.erode(clean, box).astype(int), cv2.dilate(clean, box).astype(int)
    value = out.astype(int)
    return np.maximum(np.maximum(value - high, low - value), 0).max(axis=2)[band]


def sharpen_denoise(pixels: np.ndarray) -> chain.ChainResult:
    from ops.registry import get_model

    result = chain.run(Picture(pixels), chain.plan(list(get_model("sharpen_denoise").steps)))
    if result.steps[1].engine != "hqs-ffdnet":
        pytest.skip(f"the model name deblurs with {result.steps[1].engine} here, not the offline hqs-ffdnet")
    return result


def test_sharpen_denoise_does_not_ring_on_a_sharp_noisy_photo() -> None:
    """Denoised, the photo is sharp: the deblur must not deconvolve a blur that is not there (it read 0.84 px and
    overshot by 94 levels next to the edges)."""
    clean = shapes()
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 15, clean.shape), 0, 255).round().astype(np.uint8)
    result = sharpen_denoise(noisy)
    assert np.percentile(overshoot(result.picture.pixels, clean), 99) <= 8
    assert result.steps[1].details["deconvolved"] is False


def test_sharpen_denoise_sharpens_a_blurred_photo_without_halos() -> None:
    """A real blur is still undone (well above denoising alone), and the halo clamp keeps every edge free of overshoot."""
    clean = shapes()
    soft = np.clip(cv2.GaussianBlur(clean.astype(np.float32), (0, 0), 1.5) + np.random.default_rng(0).normal(0, 5, clean.shape), 0, 255)
    soft = soft.round().astype(np.uint8)
    result = sharpen_denoise(soft)
    denoised = chain.run(Picture(soft), chain.plan([{"type": "denoise", "engine": result.steps[0].engine, "params": {"enhancement_level": 0.8}}]))
    assert result.steps[1].details["deconvolved"] is True
    assert psnr(result.picture.pixels, clean) > psnr(denoised.picture.pixels, clean) + 3.0
    assert overshoot(result.picture.pixels, clean).max() <= 8
