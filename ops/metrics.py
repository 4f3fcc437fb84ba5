"""Image quality metrics shared by the tests and the benches: PSNR, SSIM on luminance, block ratio.

All take 8-bit-range pixels (uint8, or float in [0, 255]); RGB for ``psnr`` and ``block_ratio``,
single-channel luminance (``luma``) for ``ssim``."""

from __future__ import annotations

import cv2
import numpy as np

PEAK = 255.0
REC601 = np.array([0.299, 0.587, 0.114])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB over every sample (identical images: about 168 dB, finite)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float(10 * np.log10(PEAK**2 / max(mse, 1e-12)))


def luma(rgb: np.ndarray) -> np.ndarray:
    """float64 luminance (Rec. 601 weights) of an H x W x 3 image, in the image's own range."""
    return np.asarray(rgb)[..., :3].astype(np.float64) @ REC601


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity of two luminance images in [0, 255] (Wang et al. 2004: 11x11 Gaussian
    window, sigma 1.5), the mean over the image."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    c1, c2 = (0.01 * PEAK) ** 2, (0.03 * PEAK) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2, blur(a * b) - mu_a * mu_b
    return float((((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))).mean())


def block_ratio(rgb: np.ndarray, phase: tuple[int, int] = (0, 0)) -> float:
    """JPEG block-edge ratio (``ops.restore.jpeg.blockiness``) of an RGB or grey image's luminance,
    on the 8x8 grid at ``phase``: about 1 for a clean picture, well above for visible blocking."""
    from .restore.jpeg import blockiness

    pixels = np.asarray(rgb)
    grey = pixels.astype(np.float32) if pixels.ndim == 2 else luma(pixels).astype(np.float32) if pixels.shape[2] >= 3 else pixels[..., 0].astype(np.float32)
    return blockiness(grey, phase)
