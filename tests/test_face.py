"""enhance-face: detection with landmarks, alignment, the offline restorers, GFPGAN and CodeFormer
with random weights through the same loading code, group photos, no-face pictures, and the
identity guard every restored face goes through."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from ops import chain
from ops.engines.face import FaithfulFace, Restored
from ops.engines.faces import find_faces
from ops.imageio import Picture
from ops.metrics import psnr
from ops.restore import align, identity
from tests.conftest import EXAMPLES, uninstalled


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    return np.asarray(Image.open(EXAMPLES / "portrait.jpg").convert("RGB")).copy()


def enhance(pixels: np.ndarray, engine: str = "auto", level: float = 0.8) -> chain.ChainResult:
    return chain.run(Picture(pixels), chain.plan([{"type": "enhance-face", "engine": engine, "params": {"enhancement_level": level}}]))


def test_the_face_is_found_with_landmarks_and_aligned_to_the_template(portrait: np.ndarray) -> None:
    (face,), detector = find_faces(portrait)
    assert detector in ("yunet", "dlib-mmod") and face.landmarks is not None
    matrix = align.similarity(face.landmarks, nose_is_base=bool(np.isnan(face.landmarks[3:]).all()))
    eyes = np.c_[face.landmarks[:2], np.ones(2)] @ matrix.T
    assert np.abs(eyes - align.TEMPLATE[:2]).max() < 12


def test_offline_enhance_changes_the_face_and_nothing_far_outside(portrait: np.ndarray) -> None:
    result = enhance(portrait)
    step = result.steps[0]
    assert step.engine in ("faithful-face", "gfpgan-v1.4", "codeformer") and step.details["faces"] == 1
    diff = np.abs(result.picture.pixels.astype(int) - portrait)
    (face,), _ = find_faces(portrait)
    x0, y0, x1, y1 = face.box
    assert diff[y0:y1, x0:x1].mean() > 1.0
    far = np.ones(portrait.shape[:2], bool)
    w, h = x1 - x0, y1 - y0
    far[max(0, y0 - h) : y1 + h, max(0, x0 - w) : x1 + w] = False
    assert diff[far].max() == 0
    assert enhance(portrait, level=0.0).picture.pixels.astype(int).__sub__(portrait).__abs__().max() <= 1  # level 0: the original


def test_every_face_of_a_group_photo(portrait: np.ndarray) -> None:
    group = np.concatenate([portrait[:, 80:400], portrait[:, 80:400][:, ::-1]], axis=1)  # two people side by side
    result = enhance(group)
    assert result.steps[0].details["faces"] == 2
    diff = np.abs(result.picture.pixels.astype(int) - group)
    assert diff[60:170, 80:190].mean() > 1.0 and diff[60:170, 450:560].mean() > 1.0


def test_no_face_leaves_the_image_unchanged_with_a_warning() -> None:
    cat = np.asarray(Image.open(EXAMPLES / "cup.jpg").convert("RGB")).copy()
    result = enhance(cat)
    assert np.array_equal(result.picture.pixels, cat) and "no face was found; the image is unchanged" in result.steps[0].warnings


def test_gfpgan_and_codeformer_with_random_weights(random_weights, portrait: np.ndarray) -> None:  # noqa: ANN001
    from ops.runtime.torchvision_compat import install

    install()
    from spandrel.architectures.GFPGAN import GFPGAN
    from spandrel_extra_arches.architectures.CodeFormer import CodeFormer

    torch.manual_seed(0)
    random_weights("gfpgan-v1.4", GFPGAN(out_size=512).state_dict())
    random_weights("codeformer", CodeFormer(dim_embd=64, n_head=2, n_layers=1, codebook_size=64).state_dict())
    small = portrait[40:200, 140:300].copy()  # one face, small picture
    for engine in ("gfpgan-v1.4", "codeformer"):
        result = enhance(small, engine)
        assert result.steps[0].engine == engine and result.picture.pixels.shape == small.shape
        assert result.steps[0].details["backend"] == "torch-fp32"  # the backend tests ask for (tests/conftest.py)
        details = result.steps[0].details  # random weights paint no face: the guard takes the person back
        assert details["identity_distance_after"][0] <= identity.THRESHOLD and len(details["identity_action"]) == 1
    assert np.array_equal(enhance(small, "gfpgan-v1.4").picture.pixels, enhance(small, "gfpgan-v1.4").picture.pixels), "deterministic"
    assert any("non-commercial" in w for w in result.steps[0].warnings)  # CodeFormer's licence travels with its results


# --- the identity guard and the faithful default -------------------------------------------------


def chip_of(pixels: np.ndarray) -> np.ndarray:
    (face,), _ = find_faces(pixels)
    return align.align(pixels.astype(np.float32) / 255, align.similarity(face.landmarks, nose_is_base=bool(np.isnan(face.landmarks[3:]).all())))


@pytest.fixture(scope="module")
def portrait_chip(portrait: np.ndarray) -> np.ndarray:
    return chip_of(portrait)


def test_the_descriptor_is_deterministic_and_tells_a_face_from_a_changed_one(portrait_chip: np.ndarray) -> None:
    chip = portrait_chip
    shape = identity.landmarks(chip)
    reference = identity.descriptor(chip, shape)
    assert reference.shape == (128,) and np.array_equal(reference, identity.descriptor(chip, shape))
    noisy = np.clip(chip + np.random.default_rng(0).normal(0, 0.02, chip.shape), 0, 1)
    assert identity.distance(identity.descriptor(noisy, shape), reference) < 0.1  # the same person through a little noise
    upside_down = np.ascontiguousarray(chip[::-1])
    assert identity.distance(identity.descriptor(upside_down, shape), reference) > identity.SAME_PERSON


def texture(face: np.ndarray) -> np.ndarray:
    noise = cv2.GaussianBlur(np.random.default_rng(1).random(face.shape).astype(np.float32), (0, 0), 4)
    return (noise - noise.min()) / (noise.max() - noise.min())


@pytest.mark.parametrize("stranger", [texture, lambda face: np.ascontiguousarray(face[::-1])], ids=["random texture", "another face"])
def test_a_restorer_that_changes_the_person_is_blended_back(
    monkeypatch: pytest.MonkeyPatch, portrait: np.ndarray, portrait_chip: np.ndarray, stranger: Callable[[np.ndarray], np.ndarray]
) -> None:
    def restore(self: FaithfulFace, face: np.ndarray, level: float, *args: object, **kwargs: object) -> Restored:
        return Restored(stranger(face), level)

    monkeypatch.setattr(FaithfulFace, "restore", restore)
    result = enhance(portrait, "faithful-face", level=1.0)
    details, warnings = result.steps[0].details, result.steps[0].warnings
    assert details["identity_distance"][0] > identity.THRESHOLD >= details["identity_distance_after"][0]
    assert details["identity_action"][0].startswith("blended ") or details["identity_action"][0] == "input face kept"
    assert any("drifted from the person" in w for w in warnings)
    out = chip_of(result.picture.pixels)  # the face in the result, read as dlib reads it: still the person
    shape = identity.landmarks(portrait_chip)
    assert identity.distance(identity.descriptor(out, shape), identity.descriptor(portrait_chip, shape)) < identity.THRESHOLD + 0.05


Degraded = tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]


@pytest.fixture(scope="module")
def degraded(portrait: np.ndarray) -> Degraded:
    """(original 512 px face crop, its 128 px JPEG q40 copy Lanczos-upscaled back, the face box)."""
    truth = cv2.resize(portrait[20:248, 100:328], (512, 512), interpolation=cv2.INTER_LANCZOS4)
    _, data = cv2.imencode(".jpg", cv2.cvtColor(cv2.resize(truth, (128, 128), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 40])
    small = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    (face,), _ = find_faces(truth)
    return truth, cv2.resize(small, (512, 512), interpolation=cv2.INTER_LANCZOS4), face.box


def sharpness(rgb: np.ndarray) -> float:
    """Variance of the Laplacian of the luma."""
    return float(cv2.Laplacian(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64), cv2.CV_64F).var())


def test_the_offline_default_is_sharper_than_lanczos_and_keeps_the_person(degraded: Degraded) -> None:
    truth, lanczos, (x0, y0, x1, y1) = degraded
    result = enhance(lanczos)
    step = result.steps[0]
    assert step.engine == "faithful-face" and step.details["identity_action"] == ["kept"]
    out, box = result.picture.pixels, (slice(y0, y1), slice(x0, x1))
    assert sharpness(lanczos[box]) * 1.3 < sharpness(out[box]) < sharpness(truth[box])  # sharper, never past the original
    assert psnr(out[box], truth[box]) > psnr(lanczos[box], truth[box])
    chip = chip_of(truth)  # both read through the original's landmarks, on the original's frame
    shape = identity.landmarks(chip)
    matrix = align.similarity(find_faces(truth)[0][0].landmarks, nose_is_base=True)
    reference = identity.descriptor(chip, shape)
    far = [identity.distance(identity.descriptor(align.align(image.astype(np.float32) / 255, matrix), shape), reference) for image in (lanczos, out)]
    assert far[1] <= far[0] + 0.02, f"identity distance to the original: Lanczos {far[0]:.3f}, faithful-face {far[1]:.3f}"
    means = [image[box].reshape(-1, 3).mean(axis=0) for image in (out, lanczos)]
    assert np.abs(means[0] - means[1]).max() < 2.0  # colour kept


def test_the_face_model_names_keep_their_meaning_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("gfpgan-v1.4", "codeformer"):  # whether or not they are here
        uninstalled(monkeypatch, name)
    engines = {name: next(s.engine.name for s in chain.plan_model(name) if s.operation.name == "enhance-face") for name in ("face_2x", "face_v2_2x")}
    assert engines == {"face_2x": "aligned-realesrgan", "face_v2_2x": "faithful-face"}  # Clear: sharper; Natural: faithful


def test_old_photo_faces_go_through_the_guard(monkeypatch: pytest.MonkeyPatch, portrait: np.ndarray) -> None:
    def restore(self: FaithfulFace, face: np.ndarray, level: float, *args: object, **kwargs: object) -> Restored:
        return Restored(texture(face), level)

    monkeypatch.setattr(FaithfulFace, "restore", restore)
    small = portrait[20:248, 100:328].copy()
    step = chain.run(Picture(small), chain.plan([{"type": "restore-old-photo", "params": {"auto_repair_damage": False, "face_enhancement_level": 1.0}}])).steps[0]
    assert any("drifted from the person" in w for w in step.warnings)
