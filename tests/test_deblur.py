"""deblur: blur estimation, the offline plug-and-play deconvolution, NAFNet with random weights."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from ops import chain
from ops.imageio import Picture
from ops.restore import blur
from tests.conftest import EXAMPLES


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2)))


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
    random_weights("nafnet-gopro-width64", NAFNet(width=8, enc_blk_nums=[1, 1], middle_blk_num=1, dec_blk_nums=[1, 1]).state_dict())
    picture = Picture(sharp[:40, :56].copy())
    result = chain.run(picture, chain.plan([{"type": "deblur", "engine": "nafnet-gopro", "params": {"strength": 1.0}}]))
    assert result.steps[0].engine == "nafnet-gopro" and result.picture.pixels.shape == picture.pixels.shape
