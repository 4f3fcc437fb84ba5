"""Scratches, dust and small tears on scanned prints: thin bright or dark structures.

Morphological top-hats keep what is thinner than a few pixels and differs from its surroundings
(a white scratch, a dark hair, a speck of dust); a step edge of the picture survives the opening
and so does not respond. Responses far above the image's typical texture (robust median
deviation) are kept when they form thin lines or small specks, then grown a little so the fill
also covers their soft borders.
"""

from __future__ import annotations

import cv2
import numpy as np


def damage_mask(luma: np.ndarray) -> np.ndarray:
    """bool HxW of a float luminance image in [0, 1]."""
    height, width = luma.shape
    size = max(5, round(min(height, width) / 120) | 1)  # structures thinner than this are candidates
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    bright = cv2.morphologyEx(luma, cv2.MORPH_TOPHAT, kernel)
    dark = cv2.morphologyEx(luma, cv2.MORPH_BLACKHAT, kernel)
    response = np.maximum(bright, dark)
    typical = float(np.median(response)) + 1.4826 * float(np.median(np.abs(response - np.median(response))))
    candidates = (response > max(0.1, 8 * typical)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(candidates, connectivity=8)
    depth = cv2.distanceTransform(candidates, cv2.DIST_L2, 3)  # half the local width of each structure
    peak = np.zeros(count, np.float32)
    np.maximum.at(peak, labels.ravel(), response.ravel())
    order = np.argsort(labels.ravel(), kind="stable")
    bounds = np.searchsorted(labels.ravel()[order], np.arange(count + 1))
    keep = np.zeros(count, bool)
    for index in range(1, count):
        area = int(stats[index, 4])
        width = 2 * float(np.percentile(depth.ravel()[order[bounds[index] : bounds[index + 1]]], 90))
        line = width <= size and area / max(width, 1.0) >= 6 * size and peak[index] > 0.2  # long, thin, strong: a scratch
        speck = area <= size * size and peak[index] > 0.3  # a small, strong dot: dust
        keep[index] = line or speck
    mask = keep[labels]
    return cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=max(1, size // 4)).astype(bool)
