"""enhance-face: detection with landmarks, alignment, the offline restorer, GFPGAN and CodeFormer
with random weights through the same loading code, group photos, and no-face pictures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ops import chain
from ops.engines.faces import find_faces
from ops.imageio import Picture
from ops.restore import align
from tests.conftest import EXAMPLES


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
    assert step.engine in ("aligned-realesrgan", "gfpgan-v1.4", "codeformer") and step.details["faces"] == 1
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
    assert np.array_equal(enhance(small, "gfpgan-v1.4").picture.pixels, enhance(small, "gfpgan-v1.4").picture.pixels), "deterministic"
    assert any("non-commercial" in w for w in result.steps[0].warnings)  # CodeFormer's licence travels with its results
