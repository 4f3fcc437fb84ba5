"""Masks: decoding the data URLs clients send, and edge-aware refinement of soft mattes."""

from __future__ import annotations

import base64
import binascii
import io

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import ParamValidationError, Violation


def decode_data_url(url: str, size: tuple[int, int], field: str = "mask_data_url") -> np.ndarray:
    """A bool mask at ``size`` (width, height): white/opaque paint marks the region. Any image
    size is accepted and scaled (nearest neighbour, so the painted shape stays crisp)."""
    try:
        payload = base64.b64decode(url.split(",", 1)[1], validate=False)
        image = Image.open(io.BytesIO(payload))
        image.load()
    except (IndexError, binascii.Error, UnidentifiedImageError, OSError, ValueError):
        raise ParamValidationError([Violation(field, "not a readable base64 image")]) from None
    if image.width * image.height > 100_000_000:
        raise ParamValidationError([Violation(field, "the mask image is too large")])
    rgba = np.asarray(image.convert("RGBA"))
    if rgba[..., 3].min() < 255:  # a paint layer: whatever is painted counts
        marked = rgba[..., 3] > 127
    else:  # an opaque mask: white (or any bright paint) marks the region
        marked = rgba[..., :3].max(axis=2) > 127
    if (marked.shape[1], marked.shape[0]) != size:
        marked = cv2.resize(marked.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    return marked


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float = 1e-4) -> np.ndarray:
    """He et al.'s guided filter (grey guide): snaps a blurry upsampled matte to the image's edges."""
    box = (2 * radius + 1, 2 * radius + 1)

    def mean(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, box, borderType=cv2.BORDER_REFLECT)

    mean_i, mean_p = mean(guide), mean(source)
    var_i = mean(guide * guide) - mean_i * mean_i
    cov_ip = mean(guide * source) - mean_i * mean_p
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return np.clip(mean(a) * guide + mean(b), 0.0, 1.0)


def decontaminate(rgb: np.ndarray, alpha: np.ndarray, radius: int) -> np.ndarray:
    """Remove the old background's colour from semi-transparent edge pixels.

    With I = aF + (1-a)B, B is estimated by blurring the image where it is background only, and
    F = (I - (1-a)B) / a. Opaque pixels are untouched. rgb float [0,1] HxWx3, alpha HxW.
    """
    weight = ((1.0 - alpha) ** 2).astype(np.float32)
    size = (2 * radius + 1, 2 * radius + 1)
    background = cv2.blur(rgb * weight[..., None], size) / np.maximum(cv2.blur(weight, size), 1e-6)[..., None]
    a = np.maximum(alpha, 1e-3)[..., None]
    foreground = np.clip((rgb - (1.0 - a) * background) / a, 0.0, 1.0)
    edge = ((alpha > 0.02) & (alpha < 0.98))[..., None]
    return np.where(edge, foreground, rgb)
