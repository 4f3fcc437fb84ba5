"""A click -> a mask: Segment Anything (random weights of the real architecture) and the salient fallback."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ops import chain
from ops.engines import point_mask
from ops.engines.base import RunContext
from ops.errors import InputError
from ops.imageio import Picture, read_image
from tests.conftest import EXAMPLES


def test_without_sam_a_click_selects_the_salient_subject() -> None:
    portrait = read_image(EXAMPLES / "portrait.jpg")
    mask, method = point_mask.point_to_mask(portrait, 220, 300)  # on the suit
    assert method == "salient-object" and mask.shape == (512, 512) and mask[300, 220] and 0.3 < mask.mean() < 0.8
    with pytest.raises(InputError, match="no subject at that point"):
        point_mask.point_to_mask(portrait, 350, 60)  # the backdrop
    with pytest.raises(InputError, match="outside"):
        point_mask.point_to_mask(portrait, 600, 10)


def test_segment_anything_with_random_weights(random_weights, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """The click reaches SAM where it was made, and the mask returned holds it: SAM's best-scoring
    mask that contains the click (a known input, a known output). Random weights make all three
    cases: the top mask holds the click, only a lower one does, none does (an error, no mask)."""
    from segment_anything import SamPredictor, sam_model_registry

    encode = SamPredictor.set_image

    def encode_once(self: SamPredictor, image: np.ndarray, image_format: str = "RGB") -> None:
        """The image encoder (most of the test's time) runs once per predictor and image, not per click."""
        if getattr(self, "encoded", None) is None or not np.array_equal(self.encoded, image):
            encode(self, image, image_format)
            self.encoded = image.copy()

    monkeypatch.setattr(SamPredictor, "set_image", encode_once)
    torch.manual_seed(0)
    sam = sam_model_registry["vit_b"]().eval()
    random_weights("sam-vit-b", sam.state_dict())
    picture = read_image(EXAMPLES / "cat.jpg")
    reference = SamPredictor(sam)
    reference.set_image(picture.pixels)

    def sam_says(x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
        masks, scores, _ = reference.predict(point_coords=np.array([[x, y]]), point_labels=np.array([1]), multimask_output=True)
        return masks, scores

    # (220, 140): the top mask misses the click, a lower one holds it; (200, 120): the top mask holds it
    for (x, y), top_holds in (((220, 140), False), ((200, 120), True)):
        masks, scores = sam_says(x, y)
        top, holding = int(np.argmax(scores)), [i for i in range(len(masks)) if masks[i][y, x]]
        assert holding and (top in holding) == top_holds, "the random network no longer gives this case"
        best = max(holding, key=lambda i: scores[i])
        ctx = RunContext()
        mask, method = point_mask.point_to_mask(picture, x, y, ctx)
        assert method == "sam-vit-b" and mask.shape == (300, 451) and mask.dtype == bool
        assert mask[y, x], f"the mask for ({x}, {y}) does not contain the click"
        assert np.array_equal(mask, masks[best])
        assert ctx.details["sam_mask"] == {"index": best, "score": round(float(scores[best]), 4), "top_scoring": top, "holding_click": sorted(holding)}

    masks, _ = sam_says(60, 220)  # no mask holds this click: refused in words, no mask of something else
    assert not any(m[220, 60] for m in masks), "the random network no longer gives this case"
    with pytest.raises(InputError, match=r"found nothing to select at \(60, 220\).*click inside the object"):
        point_mask.point_to_mask(picture, 60, 220)


class ScriptedSam:
    """A predictor whose masks and scores the test decides."""

    def __init__(self, masks: np.ndarray, scores: list[float]) -> None:
        self.masks, self.scores, self.asked = masks, np.array(scores, np.float32), []

    def set_image(self, image: np.ndarray) -> None:
        self.image = image

    def predict(self, point_coords: np.ndarray, point_labels: np.ndarray, multimask_output: bool):  # noqa: ANN201
        self.asked.append((point_coords.tolist(), point_labels.tolist(), multimask_output))
        return self.masks, self.scores, np.zeros((len(self.masks), 256, 256), np.float32)


@pytest.fixture
def scripted_sam(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """``scripted_sam(masks, scores)``: Segment Anything runs here and answers with these."""

    def install(masks: np.ndarray, scores: list[float]) -> ScriptedSam:
        predictor = ScriptedSam(masks, scores)
        monkeypatch.setattr(point_mask.SegmentAnything, "unavailable_reason", lambda self: None)
        monkeypatch.setattr(point_mask, "use", lambda name, ctx: SimpleNamespace(net=predictor))
        return predictor

    return install


def square_masks(held: bool) -> np.ndarray:
    """SAM's three masks on a 40x60 image with a small square at rows 25-34, columns 40-49, the last
    (to be scored highest) everything but the square. ``held``: the other two hold the square (the
    square itself, the bottom right quarter around it), else they miss it (the left half, the top half)."""
    square = np.zeros((40, 60), bool)
    square[25:35, 40:50] = True
    first, second = square.copy(), np.zeros_like(square)
    if held:
        second[20:, 30:] = True
    else:
        first[:] = False
        first[:, :30], second[:20, :] = True, True
    return np.stack([first, second, ~square])


def test_the_best_mask_that_holds_the_click_wins_over_higher_scored_ones_that_miss_it(scripted_sam) -> None:  # noqa: ANN001
    masks = square_masks(held=True)
    predictor = scripted_sam(masks, [0.70, 0.80, 0.95])  # the top-scoring mask is everything but what was clicked
    picture, ctx = Picture(np.full((40, 60, 3), 128, np.uint8)), RunContext()
    mask, method = point_mask.point_to_mask(picture, 45, 30, ctx)  # in the square: masks 0 and 1 hold it, 1 scores higher
    assert predictor.asked == [([[45, 30]], [1], True)]
    assert method == "sam-vit-b" and mask.dtype == bool and mask[30, 45]
    assert np.array_equal(mask, masks[1])
    assert ctx.details["sam_mask"] == {"index": 1, "score": 0.8, "top_scoring": 2, "holding_click": [0, 1]}
    mask, _ = point_mask.point_to_mask(picture, 5, 5, ctx)  # where the top mask holds the click, it wins
    assert np.array_equal(mask, masks[2]) and ctx.details["sam_mask"]["index"] == 2


def test_a_click_that_no_mask_holds_is_refused_rather_than_given_a_mask_elsewhere(scripted_sam) -> None:  # noqa: ANN001
    scripted_sam(square_masks(held=False), [0.70, 0.80, 0.95])
    picture, ctx = Picture(np.full((40, 60, 3), 128, np.uint8)), RunContext()
    with pytest.raises(InputError, match=r"Segment Anything found nothing to select at \(45, 30\).*click inside the object"):
        point_mask.point_to_mask(picture, 45, 30, ctx)
    assert "sam_mask" not in ctx.details


def test_a_selected_subject_replaces_automatic_segmentation_in_blur_background() -> None:
    portrait = read_image(EXAMPLES / "portrait.jpg")
    chosen = np.zeros((512, 512), bool)
    chosen[:, 256:] = True  # pretend the user selected the right half
    steps = chain.plan([{"type": "blur-background", "params": {"blur_radius": 30}}])
    result = chain.run(portrait, steps, hints={"subject_mask": chosen})
    assert result.steps[0].details["segmentation"] == "selected in the UI"
    out = result.picture.pixels.astype(int)
    assert np.abs(out[:, 300:] - portrait.pixels[:, 300:]).mean() < 2  # the "subject" stays sharp
    assert np.abs(out[:, :200] - portrait.pixels[:, :200]).mean() > 4  # the rest is blurred
