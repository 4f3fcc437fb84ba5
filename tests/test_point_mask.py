"""A click -> a mask: Segment Anything (random weights of the real architecture) and the salient fallback."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ops import chain
from ops.engines import point_mask
from ops.errors import InputError
from ops.imageio import read_image
from tests.conftest import EXAMPLES


def test_without_sam_a_click_selects_the_salient_subject() -> None:
    portrait = read_image(EXAMPLES / "portrait.jpg")
    mask, method = point_mask.point_to_mask(portrait, 220, 300)  # on the suit
    assert method == "salient-object" and mask.shape == (512, 512) and mask[300, 220] and 0.3 < mask.mean() < 0.8
    with pytest.raises(InputError, match="no subject at that point"):
        point_mask.point_to_mask(portrait, 350, 60)  # the backdrop
    with pytest.raises(InputError, match="outside"):
        point_mask.point_to_mask(portrait, 600, 10)


def test_segment_anything_with_random_weights(random_weights) -> None:  # noqa: ANN001
    """The click reaches SAM where it was made: the mask is SAM's own best mask for that point (a known
    input, a known output), not the one for another point. (Whether a mask holds its click depends on
    trained weights: random ones segment nothing in particular.)"""
    from segment_anything import SamPredictor, sam_model_registry

    torch.manual_seed(0)
    sam = sam_model_registry["vit_b"]().eval()
    random_weights("sam-vit-b", sam.state_dict())
    picture = read_image(EXAMPLES / "cat.jpg")
    mask, method = point_mask.point_to_mask(picture, 200, 120)
    assert method == "sam-vit-b" and mask.shape == (300, 451) and mask.dtype == bool
    reference = SamPredictor(sam)
    reference.set_image(picture.pixels)
    expected = {}
    for x, y in ((200, 120), (40, 250)):
        masks, scores, _ = reference.predict(point_coords=np.array([[x, y]]), point_labels=np.array([1]), multimask_output=True)
        expected[x, y] = masks[int(np.argmax(scores))]
    assert np.array_equal(mask, expected[200, 120]) and not np.array_equal(mask, expected[40, 250])


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
