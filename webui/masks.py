"""Masks painted in the UI: the union of the editor's layers, exact pixels, at the image's size."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from ops.masks import to_data_url

__all__ = ["painted_mask", "to_data_url"]


def painted_mask(editor: dict[str, Any] | None, size: tuple[int, int] | None = None) -> np.ndarray | None:
    """255 where any layer has paint (alpha > 0), else 0; nearest-neighbour scaled to ``size``.

    Returns None when nothing is painted.
    """
    if not editor or not editor.get("layers"):
        return None
    layers = [np.asarray(layer) for layer in editor["layers"] if layer is not None]
    if not layers:
        return None
    mask = np.zeros(layers[0].shape[:2], bool)
    for layer in layers:
        mask |= (layer[..., 3] > 0) if layer.ndim == 3 and layer.shape[2] == 4 else (layer.reshape(layer.shape[:2] + (-1,)).max(axis=2) > 0)
    if not mask.any():
        return None
    out = mask.astype(np.uint8) * 255
    if size and (out.shape[1], out.shape[0]) != size:
        out = np.asarray(Image.fromarray(out).resize(size, Image.Resampling.NEAREST))
    return out

