"""Tiles of real photos: what backends are calibrated and quantised on (texture, edges, flat sky)."""

from __future__ import annotations

from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
CALIBRATION_PHOTO = EXAMPLES / "rocket.jpg"


def photo_tile(channels: int, side: int, photo: Path = CALIBRATION_PHOTO, at: tuple[int, int] = (120, 60)) -> torch.Tensor:
    """A ``side``-pixel square of ``photo`` (a synthetic field with edges, should it be missing), 1xCxHxW;
    channels past three are a noise-level map at 15/255 (DRUNet's own default)."""
    import torch
    from PIL import Image

    try:
        with Image.open(photo) as image:
            image = image.convert("RGB")
            if min(image.size) < side:
                image = image.resize((max(side, image.width), max(side, image.height)))
            left, top = min(at[0], image.width - side), min(at[1], image.height - side)
            rgb = np.asarray(image.crop((left, top, left + side, top + side)), np.float32) / 255.0
    except OSError:
        y, x = np.mgrid[:side, :side] / side
        rgb = np.stack([x, y, (np.sin(12 * x) > 0) * 0.8 + 0.1], axis=2).astype(np.float32)
    tensor = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    if channels <= 3:
        return tensor[:, :channels]
    return torch.cat([tensor, torch.full((1, channels - 3, side, side), 15 / 255)], 1)


def photo_tiles(channels: int, side: int, count: int) -> list[torch.Tensor]:
    """``count`` tiles spread over every example photo (int8 quantisation's calibration set)."""
    photos = sorted(p for p in EXAMPLES.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")) or [CALIBRATION_PHOTO]
    spots = [(0, 0), (200, 40), (60, 180), (320, 240), (480, 120)]
    return [photo_tile(channels, side, photos[i % len(photos)], spots[(i // len(photos)) % len(spots)]) for i in range(count)]
