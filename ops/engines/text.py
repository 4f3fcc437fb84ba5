"""remove-text: PP-OCRv4's text detector (DB) finds the text, its boxes grown into a mask, then inpainted."""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from ..imageio import Picture
from ..imageio.pixels import to_8bit
from ..masks import decode_data_url
from ..models import model, use
from ..operations.retouch import RemoveTextParams
from .base import Engine, RunContext, register
from .choice import needed

# the detector's own settings, as rapidocr ships them
LIMIT_SIDE, MAX_SIDE = 736, 2000
THRESHOLD, BOX_THRESHOLD, UNCLIP = 0.3, 0.5, 1.6
MAX_PASSES = 3
DETECTOR = "ppocr-v4-det"


def detect_text(rgb: np.ndarray) -> list[np.ndarray]:
    """Quadrilaterals (4x2 float, image pixels) around each text line."""
    eight = to_8bit(rgb)
    height, width = eight.shape[:2]
    ratio = min(1.0, MAX_SIDE / max(height, width))
    if min(height, width) * ratio < LIMIT_SIDE:
        ratio = LIMIT_SIDE / min(height, width)
    rh, rw = max(32, round(height * ratio / 32) * 32), max(32, round(width * ratio / 32) * 32)
    resized = cv2.resize(cv2.cvtColor(eight, cv2.COLOR_RGB2BGR), (rw, rh))
    blob = ((resized.astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[None]
    session = model(DETECTOR).net
    probability = session.run(None, {session.get_inputs()[0].name: blob})[0][0, 0]
    bitmap = cv2.dilate((probability > THRESHOLD).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes = []
    for contour in contours[:1000]:
        (cx, cy), (w, h), angle = cv2.minAreaRect(contour)
        if min(w, h) < 3 or _score(probability, contour) < BOX_THRESHOLD:
            continue
        grow = w * h * UNCLIP / (2 * (w + h))  # DB's unclip distance
        box = cv2.boxPoints(((cx, cy), (w + 2 * grow, h + 2 * grow), angle))
        box[:, 0] *= width / rw
        box[:, 1] *= height / rh
        boxes.append(box)
    return boxes


def _score(probability: np.ndarray, contour: np.ndarray) -> float:
    x, y, w, h = cv2.boundingRect(contour)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [contour - [x, y]], 1)
    return float(cv2.mean(probability[y : y + h, x : x + w], mask)[0])


def text_mask(boxes: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """The boxes grown by a few pixels (anti-aliased glyph edges and shadows go too)."""
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.rint(b).astype(np.int32) for b in boxes], 1)
    grow = max(2, round(max(width, height) / 300))
    return cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)).astype(bool)


class RemoveText(Engine):
    name = "ppocr-v4-det"
    description = "PP-OCRv4 text detector (rapidocr's ONNX model) + the best installed inpainter"
    uses_device = True
    weights = "ppocr-v4-det"
    models = (DETECTOR,)
    needs: ClassVar[dict[str, str]] = {"inpainter": "remove-object"}

    def run(self, picture: Picture, params: RemoveTextParams, ctx: RunContext) -> Picture:  # type: ignore[override]
        use(DETECTOR, ctx)  # what the job asked of it that it does not do (int8) is said once
        choice = needed(self, "inpainter")
        inpainter = choice.engine
        for warning in choice.warnings:
            ctx.warn(warning)
        ctx.detail(inpainter=inpainter.name)
        size = (picture.width, picture.height)
        if not params.auto_detect:
            return inpainter.inpaint(picture, decode_data_url(params.mask_data_url or "", size), ctx)
        painted = decode_data_url(params.mask_data_url, size) if params.mask_data_url else np.zeros(size[::-1], bool)
        found: list[int] = []
        region = np.zeros(size[::-1], bool)  # where text was: later passes only look there again
        for attempt in range(MAX_PASSES):  # check the result and fill what still reads as text
            ctx.report(attempt / MAX_PASSES, "finding text")
            boxes = detect_text(picture.rgb)
            if attempt:
                boxes = [b for b in boxes if text_mask([b], *size)[region].any()]
            mask = text_mask(boxes, *size) | (painted if attempt == 0 else False)
            if not mask.any():
                break
            found.append(len(boxes))
            region |= cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
            picture = inpainter.inpaint(picture, mask, ctx)
        ctx.detail(text_boxes=found)
        if not found:
            ctx.warn("no text was found; the image is unchanged")
        return picture



register(RemoveText())
