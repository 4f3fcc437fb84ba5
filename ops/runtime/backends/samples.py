"""Tiles of real photos: what backends are calibrated and quantised on (texture, edges, flat sky)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch-free at import: the ONNX segmenters read EXAMPLES from here
    import torch

    from .base import Signature

EXTRA_VALUE = {"noise-level": 15 / 255, "fidelity": 0.5}  # DRUNet's and CodeFormer's own defaults

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def photo_tile(signature: Signature, side: int, photo: Path | None = None, at: tuple[int, int] = (120, 60)) -> torch.Tensor:
    """A ``side``-pixel square of ``photo`` (a synthetic field with edges, should it be missing), 1xCxHxW;
    channels past three are the signature's extra: a constant (noise level, fidelity weight) or a
    hole over the middle quarter (see ``hole``)."""
    import torch
    from PIL import Image

    try:
        with Image.open(photo or EXAMPLES / signature.photo) as image:
            image = image.convert("RGB")
            if min(image.size) < side:
                image = image.resize((max(side, image.width), max(side, image.height)))
            left, top = min(at[0], image.width - side), min(at[1], image.height - side)
            rgb = np.asarray(image.crop((left, top, left + side, top + side)), np.float32) / 255.0
    except OSError:
        y, x = np.mgrid[:side, :side] / side
        rgb = np.stack([x, y, (np.sin(12 * x) > 0) * 0.8 + 0.1], axis=2).astype(np.float32)
    if signature.grey:
        from ...imageio.pixels import luma

        rgb = np.repeat(luma(rgb)[..., None], 3, axis=2)
    tensor = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    extra = signature.channels - 3
    if extra <= 0:
        return tensor[:, : signature.channels]
    if signature.extra == "hole":
        return torch.cat([tensor, hole(side).expand(1, extra, side, side)], 1)
    return torch.cat([tensor, torch.full((1, extra, side, side), EXTRA_VALUE[signature.extra])], 1)


def hole(side: int) -> torch.Tensor:
    """The calibration hole: the middle quarter of the tile, 1x1xHxW (1 = to be filled)."""
    import torch

    mask = torch.zeros(1, 1, side, side)
    mask[..., side // 4 : side - side // 4, side // 4 : side - side // 4] = 1
    return mask


def compared(signature: Signature, tile: torch.Tensor) -> torch.Tensor | None:
    """The output pixels a backend is judged on: an inpainter's fill only (it copies the rest)."""
    return tile[:, 3:4] > 0.5 if signature.extra == "hole" and signature.channels > 3 else None


def photo_tiles(signature: Signature, side: int, count: int) -> list[torch.Tensor]:
    """``count`` tiles spread over every example photo (int8 quantisation's calibration set)."""
    photos = sorted(p for p in EXAMPLES.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")) or [EXAMPLES / signature.photo]
    spots = [(0, 0), (200, 40), (60, 180), (320, 240), (480, 120)]
    return [photo_tile(signature, side, photos[i % len(photos)], spots[(i // len(photos)) % len(spots)]) for i in range(count)]
