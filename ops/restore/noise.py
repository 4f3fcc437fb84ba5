"""How noisy is a photo: Immerkær's estimator on the flat parts of each channel.

The Laplacian-difference mask cancels smooth image content, so its mean absolute response is
proportional to the noise (sqrt(pi/2) / 6 turns it into a Gaussian sigma); edges and texture are
left out (the strongest tenth of the gradient) so they are not mistaken for noise.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

MASK = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def estimate_sigma(rgb: np.ndarray) -> float:
    """Noise standard deviation in 0-255 units (the mean over the colour channels) of 8- or 16-bit
    pixels, or of float pixels in [0, 1]."""
    top = 65535.0 if rgb.dtype == np.uint16 else 255.0 if rgb.dtype == np.uint8 else 1.0
    image = rgb.astype(np.float32) * (255.0 / top)
    sigmas = []
    for channel in cv2.split(image)[:3]:
        response = np.abs(cv2.filter2D(channel, -1, MASK, borderType=cv2.BORDER_REFLECT))[1:-1, 1:-1]
        gradient = cv2.magnitude(cv2.Sobel(channel, cv2.CV_32F, 1, 0), cv2.Sobel(channel, cv2.CV_32F, 0, 1))[1:-1, 1:-1]
        flat = gradient <= np.percentile(gradient, 90)
        sigmas.append(math.sqrt(math.pi / 2) / 6 * float(response[flat].mean()) if flat.any() else 0.0)
    return float(np.mean(sigmas))
