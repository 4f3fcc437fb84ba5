"""restore-old-photo: scratches found and filled, colour boost, DDColor with random weights, and
the clear error without them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from ops import chain
from ops.errors import EngineUnavailableError
from ops.imageio import Picture
from ops.restore.damage import damage_mask
from tests.conftest import EXAMPLES


@pytest.fixture(scope="module")
def grey_photo() -> np.ndarray:
    luma = np.asarray(Image.open(EXAMPLES / "portrait.jpg").convert("L"))
    return np.repeat(luma[..., None], 3, axis=2).copy()


def scratched(photo: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lines = np.zeros(photo.shape[:2], np.uint8)
    for _ in range(5):
        cv2.line(lines, tuple(int(v) for v in rng.integers(0, 512, 2)), tuple(int(v) for v in rng.integers(0, 512, 2)), 1, 2)
    damaged = photo.copy()
    damaged[lines > 0] = 245
    return damaged, lines > 0


def test_scratches_are_found_and_the_picture_edges_are_not(grey_photo: np.ndarray) -> None:
    damaged, lines = scratched(grey_photo)
    mask = damage_mask(damaged[..., 0].astype(np.float32) / 255)
    assert (mask & lines).sum() / lines.sum() > 0.7
    assert damage_mask(grey_photo[..., 0].astype(np.float32) / 255).mean() < 0.05


def test_restore_old_photo_removes_synthetic_scratches(grey_photo: np.ndarray) -> None:
    damaged, lines = scratched(grey_photo, seed=0)
    result = chain.run(Picture(damaged), chain.plan([{"type": "restore-old-photo", "params": {"face_enhancement_level": 0.0}}]))
    step = result.steps[0]
    assert step.engine == "old-photo-pipeline" and step.details["stages"][0].startswith("repair")
    before = np.abs(damaged.astype(int) - grey_photo)[lines].mean()
    after = np.abs(result.picture.pixels.astype(int) - grey_photo)[lines].mean()
    assert after < before / 3, (before, after)


def test_colour_boost_raises_chroma_and_keeps_lightness() -> None:
    from ops.engines.old_photo import boost_colour

    photo = np.asarray(Image.open(EXAMPLES / "cat.jpg").convert("RGB")).astype(np.float32) / 255
    boosted = boost_colour(photo, 1.5)
    lab, lab2 = (cv2.cvtColor(x, cv2.COLOR_RGB2LAB) for x in (photo, boosted))
    assert np.hypot(lab2[..., 1], lab2[..., 2]).mean() > 1.3 * np.hypot(lab[..., 1], lab[..., 2]).mean()
    assert np.abs(lab2[..., 0] - lab[..., 0]).mean() < 2


def test_colourisation_without_ddcolor_fails_before_any_work(grey_photo: np.ndarray, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    import ops.weights.store as store

    monkeypatch.setattr(store, "find_folder", lambda weights: None)
    with pytest.raises(EngineUnavailableError, match="python -m ops weights fetch ddcolor"):
        chain.run(Picture(grey_photo), chain.plan([{"type": "restore-old-photo", "params": {"enable_colorization": True}}]))


def test_ddcolor_with_random_weights(grey_photo: np.ndarray, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    from ops.runtime.manager import NETWORKS
    from ops.runtime.torchvision_compat import install

    install()
    from spandrel_extra_arches.architectures.DDColor import DDColor

    torch.manual_seed(0)
    folder = tmp_path / "ddcolor"
    folder.mkdir()
    model = DDColor(encoder_name="convnext-t", num_queries=8, dec_layers=3, input_size=(64, 64), num_output_channels=2)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    monkeypatch.setenv("STUDIO_CHECKPOINTS", str(tmp_path))
    NETWORKS.unload()
    small = grey_photo[100:196, 150:278].copy()
    params = {"enable_colorization": True, "colorization_strength": 1.0, "auto_repair_damage": False, "face_enhancement_level": 0.0}
    result = chain.run(Picture(small), chain.plan([{"type": "restore-old-photo", "params": params}]))
    assert result.picture.pixels.shape == small.shape and any("ddcolor" in s for s in result.steps[0].details["stages"])
    NETWORKS.unload()
