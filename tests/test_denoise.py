"""denoise: the noise estimate, FFDNet offline, and SCUNet / DRUNet through the same loading code."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ops import chain
from ops.imageio import Picture
from ops.restore.noise import estimate_sigma
from tests.conftest import EXAMPLES


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2)))


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return np.asarray(Image.open(EXAMPLES / "rocket.jpg").convert("RGB"))[:192, :256].copy()


def noised(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    return np.clip(image + np.random.default_rng(seed).normal(0, sigma, image.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("sigma", [5, 15, 25, 40])
def test_the_noise_estimate_follows_the_noise(clean: np.ndarray, sigma: float) -> None:
    assert estimate_sigma(noised(clean, sigma)) == pytest.approx(sigma, rel=0.25)
    assert estimate_sigma(clean) < 4


def test_denoise_offline_gains_at_least_3_db_at_sigma_25(clean: np.ndarray) -> None:
    noisy = noised(clean, 25)
    result = chain.run(Picture(noisy), chain.plan([{"type": "denoise", "params": {"enhancement_level": 0.5}}]))
    step = result.steps[0]
    assert step.engine in ("ffdnet", "drunet", "scunet")
    assert psnr(result.picture.pixels, clean) > psnr(noisy, clean) + 3
    assert step.details["noise_sigma_estimated"] == pytest.approx(25, rel=0.25)


def test_denoise_keeps_alpha_grey_and_16_bit(clean: np.ndarray) -> None:
    grey16 = (noised(clean, 15)[..., :1].astype(np.uint16) * 257)
    rgba = np.concatenate([noised(clean, 15), np.full((*clean.shape[:2], 1), 7, np.uint8)], axis=2)
    steps = chain.plan([{"type": "denoise", "engine": "ffdnet"}])
    out16 = chain.run(Picture(grey16), steps).picture.pixels
    outa = chain.run(Picture(rgba), steps).picture.pixels
    assert out16.dtype == np.uint16 and out16.shape == grey16.shape
    assert outa.shape == rgba.shape and (outa[..., 3] == 7).all()


def test_scunet_and_drunet_with_random_weights(random_weights, clean: np.ndarray) -> None:  # noqa: ANN001
    from ops.runtime.torchvision_compat import install

    install()
    from spandrel.architectures.DRUNet import DRUNet
    from spandrel.architectures.SCUNet import SCUNet

    torch.manual_seed(0)
    random_weights("scunet-color-real-psnr", SCUNet(config=[1, 1, 1, 1, 1, 1, 1], dim=64).state_dict())
    random_weights("drunet-color", DRUNet(in_nc=4, out_nc=3, nc=[8, 16, 32, 64], nb=2).state_dict())
    picture = Picture(noised(clean[:40, :56], 20))
    for engine in ("scunet", "drunet"):
        result = chain.run(picture, chain.plan([{"type": "denoise", "engine": engine}]))
        assert result.steps[0].engine == engine and result.picture.pixels.shape == picture.pixels.shape


def test_ffdnet_with_random_weights_through_the_same_loader(random_weights, clean: np.ndarray) -> None:  # noqa: ANN001
    from ops.architectures.ffdnet import FFDNet

    torch.manual_seed(0)
    random_weights("ffdnet-color", FFDNet(nc=16, nb=4).state_dict())  # the loader reads the width and depth from the weights
    result = chain.run(Picture(noised(clean[:40, :56], 20)), chain.plan([{"type": "denoise", "engine": "ffdnet"}]))
    assert result.steps[0].engine == "ffdnet" and result.picture.pixels.shape == (40, 56, 3)
