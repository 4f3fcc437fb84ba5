"""A click on the subject -> its mask: the selectors, best first: Segment Anything when installed,
else the component of the salient-object matte (remove-background's best segmenter) under the
click. The first that can run is chosen by ``choice.pick``, which says so when a better one cannot."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import cv2
import numpy as np

from ..errors import InputError
from ..imageio import Picture
from ..imageio.pixels import to_8bit
from ..models import unavailable_reason, use
from ..runtime.manager import DEVICE_SLOT
from .base import RunContext
from .choice import needed, needs_reason, pick

WEIGHTS = "sam-vit-b"


class Selector(ABC):
    name: ClassVar[str]
    needs: ClassVar[dict[str, str]] = {}  # role -> operation, as engines declare it (``choice.needed``)

    @abstractmethod
    def unavailable_reason(self) -> str | None: ...

    @abstractmethod
    def select(self, picture: Picture, x: int, y: int, ctx: RunContext) -> np.ndarray:
        """The bool mask at full resolution of what is under (x, y)."""


class SegmentAnything(Selector):
    name = WEIGHTS

    def unavailable_reason(self) -> str | None:
        return unavailable_reason(WEIGHTS)

    def select(self, picture: Picture, x: int, y: int, ctx: RunContext) -> np.ndarray:
        predictor = use(WEIGHTS, ctx).net
        predictor.set_image(to_8bit(picture.rgb))
        coords, labels = np.array([[x, y]]), np.array([1])
        masks, scores, _ = predictor.predict(point_coords=coords, point_labels=labels, multimask_output=True)
        return chosen_mask(masks, scores, coords, labels, ctx)


def holds(mask: np.ndarray, coords: np.ndarray, labels: np.ndarray) -> bool:
    """Whether ``mask`` contains every positive point (label 1) and none of the negative ones (label 0)."""
    return all(bool(mask[int(py), int(px)]) == bool(label) for (px, py), label in zip(coords, labels, strict=True))


def chosen_mask(masks: np.ndarray, scores: np.ndarray, coords: np.ndarray, labels: np.ndarray, ctx: RunContext) -> np.ndarray:
    """SAM's highest-scoring mask that holds the clicks (``holds``): the top score alone may go to a
    mask of something else (a part beside the click, the background), which is not what was clicked.
    Which mask it was goes in the details (``sam_mask``)."""
    order = [int(i) for i in np.argsort(-np.asarray(scores, dtype=float), kind="stable")]
    holding = [i for i in order if holds(masks[i], coords, labels)]
    if not holding:
        # an error, not a mask elsewhere: a mask that misses the click would edit what the user did not pick
        where = ", ".join(f"({int(px)}, {int(py)})" for px, py in coords)
        raise InputError(
            f"Segment Anything found nothing to select at {where}: none of its masks contains the point; "
            "click inside the object"
        )
    index = holding[0]
    score, top = round(float(scores[index]), 4), order[0]
    ctx.detail(sam_mask={"index": index, "score": score, "top_scoring": top, "holding_click": sorted(holding)})
    return np.asarray(masks[index]).astype(bool)


class SalientObject(Selector):
    name = "salient-object"
    needs: ClassVar[dict[str, str]] = {"segmenter": "remove-background"}

    def unavailable_reason(self) -> str | None:
        return needs_reason(self)

    def select(self, picture: Picture, x: int, y: int, ctx: RunContext) -> np.ndarray:
        choice = needed(self, "segmenter")
        for warning in choice.warnings:
            ctx.warn(warning)
        alpha = choice.engine.alpha(picture, ctx)  # type: ignore[attr-defined]
        labels = cv2.connectedComponents((alpha > 0.5).astype(np.uint8))[1]
        if labels[y, x] == 0:
            raise InputError(
                "no subject at that point: without Segment Anything (python -m ops weights fetch sam-vit-b) "
                "a click can only select the main subject"
            )
        return labels == labels[y, x]


SELECTORS: tuple[Selector, ...] = (SegmentAnything(), SalientObject())


def point_to_mask(picture: Picture, x: int, y: int, ctx: RunContext | None = None) -> tuple[np.ndarray, str]:
    """(bool mask at full resolution, the selector that made it); fallbacks are warned in ``ctx``."""
    if not (0 <= x < picture.width and 0 <= y < picture.height):
        raise InputError(f"the point ({x}, {y}) is outside the {picture.width}x{picture.height} image")
    ctx = ctx or RunContext()
    selector, warnings, _ = pick(SELECTORS, "selectors")
    for warning in warnings:
        ctx.warn(warning)
    with DEVICE_SLOT:  # a network on the shared device, like any model job
        return selector.select(picture, x, y, ctx), selector.name
