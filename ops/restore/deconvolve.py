"""Non-blind deblurring by half-quadratic splitting with a denoiser as the image prior (the
plug-and-play scheme of DPIR, Zhang et al. 2021).

Each iteration solves the data term exactly in the Fourier domain (x = argmin |k*x - y|^2 +
rho |x - z|^2) and then denoises x at a falling noise level (z = D(x, sigma_k)); the weight rho
grows as sigma_k falls, so the prior lets go as the image sharpens. The image is padded by
reflection (and its border tapered) first, so the circular convolution of the FFT does not ring
at the edges. ``clamp_halos`` then takes out what overshoots next to edges (the common anti-ringing
step): with a weak prior the iterations tend to the inverse filter, which amplifies whatever the
kernel does not explain.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Denoise = Callable[[np.ndarray, float], np.ndarray]  # (float RGB in [0, 1], sigma in [0, 1]) -> RGB
Report = Callable[[float, str], None]

#: the kernel's footprint for the halo clamp: where it is above this share of its peak (2.4 sigma for a
#: Gaussian); 0.3 (1.5 sigma) cost a real blur 0.1 dB more of its sharpening (bench/sharpen_denoise.py)
ITERATIONS = 8  # HQS steps, each one pass of the denoiser prior
FOOTPRINT = 0.05


def psf_to_otf(kernel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    padded = np.zeros(shape, np.float32)
    kh, kw = kernel.shape
    padded[:kh, :kw] = kernel
    padded = np.roll(padded, (-(kh // 2), -(kw // 2)), axis=(0, 1))
    return np.fft.fft2(padded)


def deblur(
    blurred: np.ndarray,
    kernel: np.ndarray,
    denoise: Denoise,
    noise: float = 0.01,
    weight: float = 0.23,
    iterations: int = ITERATIONS,
    report: Report | None = None,
) -> np.ndarray:
    """float RGB [0, 1] -> float RGB [0, 1]. ``noise`` is the image's noise sigma (0-1 units);
    ``weight`` the prior's (DPIR's lambda): smaller means a sharper, riskier result."""
    pad = max(kernel.shape) * 2
    image = np.pad(blurred, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    otf = psf_to_otf(kernel, image.shape[:2])[..., None]
    numerator_data = np.conj(otf) * np.fft.fft2(image, axes=(0, 1))
    power = np.abs(otf) ** 2
    sigmas = np.geomspace(49 / 255, noise, iterations)
    z = image
    for index, sigma in enumerate(sigmas):
        rho = weight * noise**2 / sigma**2
        x = np.real(np.fft.ifft2((numerator_data + rho * np.fft.fft2(z, axes=(0, 1))) / (power + rho), axes=(0, 1))).astype(np.float32)
        z = denoise(np.clip(x, 0, 1), float(sigma))
        if report:
            report((index + 1) / iterations, f"deblurring, iteration {index + 1}/{iterations}")
    return np.clip(z[pad:-pad, pad:-pad], 0, 1)


def clamp_halos(sharp: np.ndarray, blurred: np.ndarray, kernel: np.ndarray, margin: float) -> tuple[np.ndarray, float]:
    """(``sharp`` kept within the local [min, max] of ``blurred`` over the kernel's footprint, widened by
    ``margin``; the fraction of values that moved). Every blurred pixel mixes the sharp photo over that
    footprint, so next to an edge the blurred photo still holds both sides' levels: a deconvolved value
    beyond them is an overshoot (a halo), whatever the blur estimate or the prior got wrong."""
    footprint = (kernel > kernel.max() * FOOTPRINT).astype(np.uint8)
    low = cv2.erode(blurred, footprint, borderType=cv2.BORDER_REFLECT) - margin
    high = cv2.dilate(blurred, footprint, borderType=cv2.BORDER_REFLECT) + margin
    clamped = np.clip(sharp, low, high)
    return clamped, float(np.mean(clamped != sharp))
