"""Small pixel transforms shared by the codecs and the operations."""

from __future__ import annotations

import numpy as np

WHITE = (255, 255, 255)


def to_8bit(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    return ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


REC601 = np.array([0.299, 0.587, 0.114], np.float32)


def luma(rgb: np.ndarray) -> np.ndarray:
    """float32 luminance (Rec. 601 weights) of an H x W x 3 image, in the image's own range."""
    return rgb.astype(np.float32, copy=False) @ REC601


def colour(pixels: np.ndarray) -> np.ndarray:
    """The colour channels as RGB (grey repeated, alpha dropped): what the networks take."""
    return pixels[..., :3] if pixels.shape[2] >= 3 else np.repeat(pixels[..., :1], 3, axis=2)


def flatten_alpha(pixels: np.ndarray, background: tuple[int, int, int] = WHITE) -> np.ndarray:
    """Composite over an opaque colour: RGBA -> RGB, LA -> L (in the array's own bit depth)."""
    channels = pixels.shape[2]
    if channels not in (2, 4):
        return pixels
    top = np.iinfo(pixels.dtype).max
    colour, alpha = pixels[..., :-1].astype(np.float32), pixels[..., -1:].astype(np.float32) / top
    bg = np.asarray(background, np.float32) * (top / 255.0)
    if channels == 2:
        bg = bg[:1].mean(keepdims=True)
    out = colour * alpha + bg * (1.0 - alpha)
    return np.clip(np.rint(out), 0, top).astype(pixels.dtype)


def gray_alpha_to_rgba(pixels: np.ndarray) -> np.ndarray:
    """LA -> RGBA by repeating the grey channel (for writers without a grey+alpha layout)."""
    return np.concatenate([pixels[..., :1]] * 3 + [pixels[..., 1:]], axis=2)


def orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) so the array is upright."""
    flips = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1, :],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, k=-1),
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
        8: lambda a: np.rot90(a, k=1),
    }
    transform = flips.get(orientation)
    return np.ascontiguousarray(transform(pixels)) if transform else pixels
