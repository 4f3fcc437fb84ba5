"""smart-crop: the largest crop of the asked shape that keeps the subject and faces in, placed
on the rule of thirds when there is room."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..imageio import Picture
from ..operations.background import SmartCropParams
from .base import Engine, RunContext, register
from .choice import needed
from .faces import Box, detect_faces


def crop_size(width: int, height: int, ratio: float) -> tuple[int, int]:
    if width / height > ratio:
        return max(1, min(width, round(height * ratio))), height
    return width, max(1, min(height, round(width / ratio)))


def subject_box(alpha: np.ndarray) -> Box | None:
    ys, xs = np.nonzero(alpha > 0.5)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def pad(box: Box, percent: float, width: int, height: int) -> Box:
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * percent / 100, (y1 - y0) * percent / 100
    return max(0, round(x0 - dx)), max(0, round(y0 - dy)), min(width, round(x1 + dx)), min(height, round(y1 + dy))


def union(boxes: list[Box]) -> Box:
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


def place(lo: float, hi: float, centre: float, size: int, limit: int, anchor: float) -> int:
    """Start of a window of ``size`` within [0, limit]: keeps [lo, hi] inside when it fits, and
    puts ``centre`` on the third line nearest to where it sits in the image (or in the middle)."""
    room_lo, room_hi = max(0, hi - size), min(limit - size, lo)
    if room_lo > room_hi:  # the box does not fit: centre on it
        return int(np.clip(round(centre - size / 2), 0, limit - size))
    candidates = [centre - f * size for f in (1 / 3, 1 / 2, 2 / 3)]
    wanted = centre - anchor * size
    best = min(candidates, key=lambda start: (abs(start - wanted), abs(start - (centre - size / 2))))
    return int(np.clip(round(best), room_lo, room_hi))


class SmartCrop(Engine):
    name = "saliency-and-faces"
    description = "Subject matte from the best installed segmenter, faces from YuNet (else dlib MMOD, else Haar), rule-of-thirds placement"
    uses_device = True
    needs: ClassVar[dict[str, str]] = {"segmenter": "remove-background"}

    def run(self, picture: Picture, params: SmartCropParams, ctx: RunContext) -> Picture:  # type: ignore[override]
        width, height = picture.width, picture.height
        rw, rh = (int(v) for v in params.aspect_ratio.split(":"))
        cw, ch = crop_size(width, height, rw / rh)
        choice = needed(self, "segmenter")
        segmenter = choice.engine
        for warning in choice.warnings:
            ctx.warn(warning)
        alpha = segmenter.alpha(picture, ctx)  # type: ignore[attr-defined]
        faces, detector = detect_faces(picture.rgb, ctx)
        subject = subject_box(alpha)
        keep = [pad(b, params.padding_percent, width, height) for b in ([subject] if subject else []) + faces]
        box = union(keep) if keep else (0, 0, width, height)
        # faces decide when everything does not fit
        if (box[2] - box[0] > cw or box[3] - box[1] > ch) and faces:
            box = union([pad(f, params.padding_percent, width, height) for f in faces])
        focus = union(faces) if faces else box
        cx, cy = (focus[0] + focus[2]) / 2, (focus[1] + focus[3]) / 2
        anchor_y = 1 / 3 if faces else cy / height  # eyes on the upper third line for portraits
        x0 = place(box[0], box[2], cx, cw, width, cx / width)
        y0 = place(box[1], box[3], cy, ch, height, anchor_y)
        ctx.detail(segmentation=segmenter.name, faces=len(faces), face_detector=detector, crop=[x0, y0, cw, ch])
        return picture.with_pixels(picture.pixels[y0 : y0 + ch, x0 : x0 + cw].copy())


register(SmartCrop())
