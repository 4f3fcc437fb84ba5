"""What blurred a photo: a Gaussian (defocus) or a straight motion, estimated from the image.

Gaussian: the re-blur gradient ratio at edges (Zhuo & Sim, 2011). Blurring once more with a
known sigma0 lowers an edge's gradient by R = sqrt(s^2 + sigma0^2) / s, so the edge's own blur
is s = sigma0 / sqrt(R^2 - 1); the median over strong edges is the image's. A sharp photo still
reads 0.5-0.85 px (the pixel grid's and the Sobel's own spread), up to 1.05 once denoised; on
photos a real blur of 1, 1.5, 2 and 3 px reads about 1.1, 1.5, 1.85 and 2.3 px (the bench photos,
128-256 px crops), so the reading is taken as it is and ``deblur`` decides what counts as sharp.
Motion: a straight motion of length L leaves periodic zeros across its direction in the
spectrum; the power cepstrum turns them into a negative peak at distance L along the motion.
The motion is taken when that peak stands clearly out of the cepstrum's spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..imageio.pixels import luma


@dataclass(frozen=True)
class Blur:
    kind: str  # "gaussian" or "motion"
    size: float  # Gaussian sigma, or motion length, in pixels
    angle: float = 0.0  # motion direction in degrees (0 = horizontal, counter-clockwise)

    def kernel(self) -> np.ndarray:
        return motion_kernel(self.size, self.angle) if self.kind == "motion" else gaussian_kernel(self.size)

    def describe(self) -> str:
        return f"motion {self.size:.1f} px at {self.angle:.0f}°" if self.kind == "motion" else f"gaussian sigma {self.size:.2f} px"


#: how far the cepstrum's dip must stand out to be a motion: sharp photos with strong parallel lines
#: read up to 15, and up to 18.5 once denoised (rocket at noise 15-25, bench/sharpen_denoise.py); straight
#: motions of 3-21 px read 21.7 and more on the 11 photos of that bench. A false motion deconvolves a long
#: streak that is not there (ghost edges); a missed one is deblurred as a Gaussian, softer but safe
MOTION_SIGNIFICANCE = 20.0


def gaussian_kernel(sigma: float) -> np.ndarray:
    radius = max(1, int(np.ceil(3 * sigma)))
    line = cv2.getGaussianKernel(2 * radius + 1, max(sigma, 0.1))
    return (line @ line.T).astype(np.float32)


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """A straight line of ``length`` px through the centre, anti-aliased, summing to 1."""
    size = int(np.ceil(length)) | 1
    kernel = np.zeros((size * 4, size * 4), np.float32)
    centre = size * 2
    dx, dy = np.cos(np.radians(angle)), -np.sin(np.radians(angle))
    half = (length - 1) * 2  # drawn at 4x, then area-averaged: sub-pixel lengths and angles
    cv2.line(kernel, (round(centre - dx * half), round(centre - dy * half)), (round(centre + dx * half), round(centre + dy * half)), 1.0, 4, cv2.LINE_AA)
    kernel = cv2.resize(kernel, (size, size), interpolation=cv2.INTER_AREA)
    kernel = kernel + kernel[::-1, ::-1]  # exactly point-symmetric: a motion blur has no direction of travel
    return kernel / kernel.sum()



def estimate_gaussian(luma: np.ndarray, sigma0: float = 1.0) -> float:
    edges = cv2.Canny(np.clip(luma * 255, 0, 255).astype(np.uint8), 40, 100) > 0
    if edges.sum() < 50:
        return 0.0

    def gradient(image: np.ndarray) -> np.ndarray:
        return cv2.magnitude(cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3))

    ratio = gradient(luma)[edges] / np.maximum(gradient(cv2.GaussianBlur(luma, (0, 0), sigma0))[edges], 1e-6)
    ratio = ratio[ratio > 1.01]
    if ratio.size < 50:
        return 0.0
    return float(np.median(sigma0 / np.sqrt(ratio**2 - 1)))


def estimate_motion(luma: np.ndarray, longest: int = 40) -> tuple[float, float, float]:
    """(length, angle in degrees, how far the cepstrum's dip stands out, in standard deviations)."""
    side = min(384, *luma.shape) // 2 * 2  # a central crop at full scale: lengths stay in image pixels
    y0, x0 = (luma.shape[0] - side) // 2, (luma.shape[1] - side) // 2
    patch = luma[y0 : y0 + side, x0 : x0 + side]
    window = np.outer(np.hanning(patch.shape[0]), np.hanning(patch.shape[1])).astype(np.float32)
    spectrum = np.log(np.abs(np.fft.fft2((patch - patch.mean()) * window)) + 1e-3)
    cepstrum = np.fft.fftshift(np.real(np.fft.ifft2(spectrum - spectrum.mean())))
    cy, cx = np.array(cepstrum.shape) // 2
    spread = float(cepstrum.std()) or 1.0
    best = (0.0, 0.0, 0.0)
    for angle in np.arange(0, 180, 2.0):
        dx, dy = np.cos(np.radians(angle)), -np.sin(np.radians(angle))
        for distance in range(3, min(longest, cx - 1)):
            value = cepstrum[int(round(cy + dy * distance)), int(round(cx + dx * distance))]
            if -value / spread > best[2]:
                best = (float(distance), float(angle), -value / spread)
    return best


def estimate(image: np.ndarray) -> Blur:
    """The blur of a float RGB image in [0, 1]."""
    luminance = luma(image)
    length, angle, significance = estimate_motion(luminance)
    if significance > MOTION_SIGNIFICANCE and length >= 3:
        return Blur("motion", length, angle)
    return Blur("gaussian", max(estimate_gaussian(luminance), 0.3))
