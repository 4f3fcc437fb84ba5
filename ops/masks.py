"""Masks: decoding the data URLs clients send, and edge-aware refinement of soft mattes."""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import ParamValidationError, Violation


def to_data_url(mask: np.ndarray) -> str:
    """A mask (bool, or 8-bit with 255 = marked) as the PNG data URL ``mask_data_url`` carries
    (PNG, never a lossy format: every marked pixel arrives)."""
    eight = mask.astype(np.uint8) * 255 if mask.dtype == bool else mask.astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(eight, "L").save(buffer, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


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


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float = 1e-4, subsample: int = 4) -> np.ndarray:
    """He et al.'s fast guided filter (grey guide): snaps a blurry upsampled matte to the image's
    edges. The linear coefficients are smooth, so they are computed ``subsample`` times smaller."""
    height, width = guide.shape
    small = (max(1, width // subsample), max(1, height // subsample))
    g = cv2.resize(guide, small, interpolation=cv2.INTER_AREA)
    p = cv2.resize(source, small, interpolation=cv2.INTER_AREA)
    r = max(1, radius // subsample)
    box = (2 * r + 1, 2 * r + 1)

    def mean(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, box, borderType=cv2.BORDER_REFLECT)

    mean_g, mean_p = mean(g), mean(p)
    a = (mean(g * p) - mean_g * mean_p) / (mean(g * g) - mean_g * mean_g + eps)
    b = mean_p - a * mean_g
    a = cv2.resize(mean(a), (width, height), interpolation=cv2.INTER_LINEAR)
    b = cv2.resize(mean(b), (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(a * guide + b, 0.0, 1.0)


def decontaminate(rgb: np.ndarray, alpha: np.ndarray, radius: int) -> np.ndarray:
    """Remove the old background's colour from semi-transparent edge pixels.

    With I = aF + (1-a)B, B is estimated by blurring the image where it is background only, and
    F = (I - (1-a)B) / a. Opaque pixels are untouched. rgb float [0,1] HxWx3, alpha HxW.
    """
    edge = (alpha > 0.02) & (alpha < 0.98)
    if not edge.any():
        return rgb
    # the background colour varies slowly: estimate it at a quarter of the resolution
    height, width = alpha.shape
    small = (max(1, width // 4), max(1, height // 4))
    weight = cv2.resize(((1.0 - alpha) ** 2).astype(np.float32), small, interpolation=cv2.INTER_AREA)
    colour = cv2.resize(rgb, small, interpolation=cv2.INTER_AREA)
    size = (2 * max(1, radius // 4) + 1,) * 2
    estimate = cv2.blur(colour * weight[..., None], size) / np.maximum(cv2.blur(weight, size), 1e-6)[..., None]
    background = cv2.resize(estimate, (width, height), interpolation=cv2.INTER_LINEAR)
    out = rgb.copy()
    a = np.maximum(alpha[edge], 1e-3)[:, None]
    out[edge] = np.clip((rgb[edge] - (1.0 - a) * background[edge]) / a, 0.0, 1.0)
    return out


@dataclass(frozen=True)
class MatteTidy:
    """How a salient-object matte is tidied (sizes relative to the subject, so any resolution works).

    A small segmenter's matte has three faults people see in a cut-out: specks of background kept
    as separate islands, pinholes inside the subject, and a half-transparent interior where the
    network was unsure (legs, shoulders). Transparency belongs at the subject's rim; inside it the
    subject is opaque."""

    island_share: float = 0.02  # islands smaller than this share of the largest part are dropped
    hole_share: float = 0.01  # enclosed holes smaller than this share of the subject are filled
    rim_share: float = 0.03  # deeper than twice this share of the subject's size is interior: opaque


def tidy_matte(matte: np.ndarray, tidy: MatteTidy = MatteTidy()) -> np.ndarray:
    """float HxW matte in [0, 1] -> the same, with islands, pinholes and a soft interior removed."""
    solid = (matte > 0.5).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=8)
    if count <= 1:
        return matte
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(count, bool)
    keep[1:] = areas >= tidy.island_share * areas.max()
    subject = keep[labels]
    out = np.where(subject | (matte <= 0.5), matte, 0.0)
    # holes: background components that touch no image border and are small against the subject
    count, labels, stats, _ = cv2.connectedComponentsWithStats((~subject).astype(np.uint8), connectivity=4)
    height, width = matte.shape
    x, y, w, h, area = (stats[:, i] for i in range(5))
    enclosed = (x > 0) & (y > 0) & (x + w < width) & (y + h < height) & (area < tidy.hole_share * subject.sum())
    enclosed[0] = False
    holes = np.where(enclosed[labels], labels, 0)
    if holes.any():  # each hole takes the mean opacity of the subject around it
        ring = cv2.dilate(holes.astype(np.float32), np.ones((3, 3), np.uint8)).astype(np.int64) * (holes == 0)
        total = np.bincount(ring.ravel(), weights=out.ravel(), minlength=count)
        pixels = np.bincount(ring.ravel(), minlength=count)
        out = np.where(holes > 0, (total / np.maximum(pixels, 1))[holes], out)
    # the interior: far enough from the subject's rim, opaque
    depth = cv2.distanceTransform((subject | enclosed[labels]).astype(np.uint8), cv2.DIST_L2, 5)
    rim = max(2.0, tidy.rim_share * np.sqrt(subject.sum()))
    floor = np.clip(depth / rim - 1.0, 0.0, 1.0)  # ramps from the rim's depth to twice it: no seam
    return np.maximum(out, floor).astype(np.float32)
