"""restore-old-photo: scratches and dust found under film grain and filled, undamaged photos left
alone, the mask reported, colour boost, DDColor with random weights, and the clear error without
them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from ops import chain
from ops.errors import EngineUnavailableError
from ops.imageio import Picture
from ops.masks import decode_data_url
from ops.restore.damage import damage_mask
from tests.conftest import EXAMPLES, SetHost

TOLERANCE = 20  # levels: a pixel this close to the clean photo is right
NO_FACES = [{"type": "restore-old-photo", "params": {"face_enhancement_level": 0.0}}]


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
    result = chain.run(Picture(damaged), chain.plan(NO_FACES))
    step = result.steps[0]
    assert step.engine == "old-photo-pipeline" and step.details["stages"][0].startswith("repair")
    before = np.abs(damaged.astype(int) - grey_photo)[lines].mean()
    after = np.abs(result.picture.pixels.astype(int) - grey_photo)[lines].mean()
    assert after < before / 3, (before, after)


def old_and_damaged(photo: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(clean sepia photo, the same scratched, dusted and grainy (sigma 8), the damage pixels)."""
    rng = np.random.default_rng(seed)
    grey = photo.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    sepia = grey[..., None] * np.array([0.92, 0.80, 0.62]) + np.array([22, 16, 8])
    clean = np.clip(sepia, 0, 255).astype(np.uint8)
    height, width = grey.shape
    paint = np.zeros((height, width), np.float32)
    cover = np.zeros((height, width), np.float32)
    for index in range(5):  # long thin scratches, bright and dark
        start = rng.uniform([0, 0], [width, height])
        angle, length = rng.uniform(0, np.pi), rng.uniform(0.4, 0.8) * min(height, width)
        end = start + length * np.array([np.cos(angle), np.sin(angle)])
        layer = np.zeros_like(cover)
        ends = [tuple(int(v) for v in point) for point in (start, end)]
        cv2.line(layer, ends[0], ends[1], 1.0, int(rng.integers(1, 3)), cv2.LINE_AA)
        paint = np.where(layer > cover, 240.0 if index % 4 else 25.0, paint)
        cover = np.maximum(cover, layer)
    for _ in range(40):  # dust specks
        layer = np.zeros_like(cover)
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(layer, centre, int(rng.integers(1, 4)), 1.0, -1, cv2.LINE_AA)
        paint = np.where(layer > cover, 235.0 if rng.random() < 0.75 else 20.0, paint)
        cover = np.maximum(cover, layer)
    drawn = clean * (1 - cover[..., None]) + paint[..., None] * cover[..., None]
    damaged = np.clip(np.rint(drawn + rng.normal(0, 8, (height, width, 1))), 0, 255).astype(np.uint8)
    damage = (cover > 0.3) & (np.abs(drawn - clean).max(axis=2) >= TOLERANCE)
    return clean, damaged, damage


def test_most_damage_under_grain_is_fixed_and_the_mask_is_reported(grey_photo: np.ndarray) -> None:
    clean, damaged, damage = old_and_damaged(cv2.resize(grey_photo, (384, 384), interpolation=cv2.INTER_AREA))
    result = chain.run(Picture(damaged), chain.plan(NO_FACES))
    details = result.steps[0].details
    fixed = (np.abs(result.picture.pixels.astype(int) - clean).max(axis=2) < TOLERANCE)[damage].mean()
    assert fixed >= 0.5, fixed
    assert damage.mean() < details["damage_fraction"] < 0.15
    url = details["damage_mask"]  # a small PNG (256 px) the UI can show as it is
    assert url.startswith("data:image/png;base64,") and len(url) < 20_000
    shown = decode_data_url(url, (384, 384))
    assert (shown & damage).sum() > 0.5 * damage.sum()


@pytest.mark.parametrize("name", ["portrait.jpg", "cat.jpg"])
def test_undamaged_photos_are_left_alone(name: str) -> None:
    """portrait.jpg's highlights and edges were once "repaired"; now almost nothing changes."""
    photo = np.asarray(Image.open(EXAMPLES / name).convert("RGB"))
    result = chain.run(Picture(photo), chain.plan(NO_FACES))
    changed = (np.abs(result.picture.pixels.astype(int) - photo).max(axis=2) > TOLERANCE).mean()
    assert changed < 0.005, changed
    assert result.steps[0].details["damage_fraction"] < 0.01


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


def test_ddcolor_with_random_weights(grey_photo: np.ndarray, monkeypatch: pytest.MonkeyPatch, tmp_path, set_host: SetHost) -> None:  # noqa: ANN001
    from ops.runtime.manager import NETWORKS
    from ops.runtime.torchvision_compat import install
    from ops.weights import entry, snapshots

    install()
    from spandrel_extra_arches.architectures.DDColor import DDColor

    torch.manual_seed(0)
    folder = tmp_path / "ddcolor"
    folder.mkdir()
    model = DDColor(encoder_name="convnext-t", num_queries=8, dec_layers=3, input_size=(64, 64), num_output_channels=2)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    snapshots.record(entry("ddcolor"), folder)  # installed as fetch installs a snapshot
    set_host(checkpoints=tmp_path)
    NETWORKS.unload()
    small = grey_photo[100:196, 150:278].copy()
    params = {"enable_colorization": True, "colorization_strength": 1.0, "auto_repair_damage": False, "face_enhancement_level": 0.0}
    result = chain.run(Picture(small), chain.plan([{"type": "restore-old-photo", "params": params}]))
    assert result.picture.pixels.shape == small.shape and any("ddcolor" in s for s in result.steps[0].details["stages"])
    half = chain.run(Picture(small), chain.plan([{"type": "restore-old-photo", "params": params | {"colorization_strength": 0.5}}]))
    plain = chain.run(Picture(small), chain.plan([{"type": "restore-old-photo", "params": params | {"enable_colorization": False}}]))
    NETWORKS.unload()

    def chroma(pixels: np.ndarray) -> float:
        lab = cv2.cvtColor(pixels.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
        return float(np.hypot(lab[..., 1], lab[..., 2]).mean())

    before, full = plain.picture.pixels.astype(int), result.picture.pixels.astype(int)
    assert chroma(plain.picture.pixels) < 1 < 5 < chroma(result.picture.pixels)  # grey in, colour out (random colours, but colour)
    assert np.abs(half.picture.pixels.astype(int) - (before + 0.5 * (full - before))).max() <= 1  # the strength blends it in


def test_the_web_report_shows_the_damage_mask_as_a_picture() -> None:
    from ops.pipeline import process
    from tests.conftest import EXAMPLES
    from webui.results import report_markdown

    done = process(str(EXAMPLES / "cat.jpg"), chain.plan([{"type": "crop-resize", "params": {"resize": {"width": 32}}}]))
    done.result.steps[0].details["damage_mask"] = "data:image/png;base64,iVBORw0KGgo="
    report = report_markdown(done)
    assert "![damage mask](data:image/png;base64,iVBORw0KGgo=)" in report and "damage_mask:" not in report
