"""ops.metrics, the one copy of the measures the tests and benches score with: known inputs, known values."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ops.metrics import block_ratio, luma, psnr, ssim
from tests.conftest import EXAMPLES


def test_psnr_of_a_known_error() -> None:
    a = np.zeros((4, 4, 3), np.uint8)
    assert psnr(a, a + 5) == pytest.approx(10 * np.log10(255**2 / 25))  # every sample 5 levels off: MSE 25
    assert psnr(a, a) > 150 and np.isfinite(psnr(a, a))  # identical: finite, far above any real score
    assert psnr(np.full((2, 2), 0.0), np.full((2, 2), 255.0)) == pytest.approx(0.0)


def test_ssim_and_luma() -> None:
    photo = np.asarray(Image.open(EXAMPLES / "cat.jpg").convert("RGB"))[:64, :64]
    grey = luma(photo)
    assert grey.dtype == np.float64 and grey.shape == (64, 64)
    assert luma(np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]])) == pytest.approx(np.array([[76.245, 149.685, 29.07]]))
    assert ssim(grey, grey) == pytest.approx(1.0)
    noisy = grey + np.random.default_rng(0).normal(0, 20, grey.shape)
    assert 0 < ssim(grey, noisy) < ssim(grey, grey + np.random.default_rng(0).normal(0, 5, grey.shape)) < 1
    assert ssim(grey, grey + 10) > 0.99  # a brightness shift barely moves structure


def test_block_ratio_sees_jpeg_blocks() -> None:
    photo = Image.open(EXAMPLES / "rocket.jpg").convert("RGB").resize((256, 192), Image.Resampling.BOX)  # no grid left
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=10)
    blocky = np.asarray(Image.open(buffer))
    clean = np.asarray(photo)
    assert block_ratio(clean) < 1.3 < block_ratio(blocky)
    assert block_ratio(clean[..., 0]) == pytest.approx(block_ratio(np.repeat(clean[..., :1], 3, axis=2)), rel=1e-4)  # grey as grey
