"""Background, smart crop, object and text removal on the example photos, offline weights only."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from ops import chain
from ops.engines.faces import detect_faces, find_faces
from ops.engines.text import detect_text
from ops.errors import EngineUnavailableError, InputError, ParamValidationError
from ops.imageio import Picture, read_image
from ops.masks import decode_data_url, to_data_url
from tests.conftest import EXAMPLES

SHARED_WEIGHTS = Path(__file__).resolve().parents[2] / "shared" / "weights"


def run(picture: Picture, operation: str, engine: str = "auto", **params: object):
    return chain.run(picture, chain.plan([{"type": operation, "params": params, "engine": engine}]))


@pytest.fixture(scope="module")
def portrait() -> Picture:
    return read_image(EXAMPLES / "portrait.jpg")




def test_remove_background_cuts_out_the_subject(portrait: Picture) -> None:
    result = run(portrait, "remove-background")
    out = result.picture.pixels
    assert out.shape == (512, 512, 4) and result.steps[0].engine == "u2netp"
    assert out[40:120, 330:370, 3].mean() < 20  # the backdrop right of the head
    assert out[250:300, 200:300, 3].mean() > 235  # the orange suit
    soft = (out[..., 3] > 10) & (out[..., 3] < 245)
    assert 0 < soft.mean() < 0.08  # a real soft edge, not a hard cut-out nor a blur
    jpg = run(portrait, "remove-background", output_format="jpg").picture
    assert jpg.channels == 3 and jpg.pixels[40:120, 330:370].mean() > 240 and jpg.target_format == "jpeg"


def test_replace_background_with_colour_image_and_transparency(portrait: Picture, tmp_path: Path) -> None:
    coloured = run(portrait, "replace-background", background_type="color", background_color="#1060C0").picture.pixels
    assert np.abs(coloured[40:120, 330:370].astype(int) - [0x10, 0x60, 0xC0]).max() <= 6
    assert np.abs(coloured[260:290, 200:260].astype(int) - portrait.pixels[260:290, 200:260]).mean() < 3
    backdrop = tmp_path / "beach.jpg"
    Image.open(EXAMPLES / "rocket.jpg").save(backdrop)  # 640x427: covers 512x512 after scaling
    with_image = run(portrait, "replace-background", background_type="image", background_image_key=str(backdrop)).picture.pixels
    assert with_image.shape == (512, 512, 3) and np.abs(with_image[40:120, 330:370].astype(int) - coloured[40:120, 330:370]).mean() > 30
    clear = run(portrait, "replace-background", background_type="transparent").picture
    assert clear.channels == 4 and clear.target_format == "png"
    with pytest.raises(EngineUnavailableError, match="Stable Diffusion"):
        run(portrait, "replace-background", background_type="prompt", background_prompt="a beach at sunset")


def test_blur_background_blurs_only_the_background(portrait: Picture) -> None:
    out = run(portrait, "blur-background", blur_radius=30, output_format="jpg").picture

    def detail(a: np.ndarray) -> float:
        g = a.astype(float).mean(axis=2)
        return float(np.abs(np.diff(g, axis=1)).mean())

    flag = (slice(60, 200), slice(0, 100))  # the flag, behind the subject
    suit = (slice(330, 420), slice(120, 220))  # the mission patch on the suit
    assert detail(out.pixels[flag]) < 0.5 * detail(portrait.pixels[flag])
    assert detail(out.pixels[suit]) > 0.9 * detail(portrait.pixels[suit])
    assert out.target_format == "jpeg"


@pytest.mark.parametrize("ratio", ["1:1", "4:3", "16:9", "9:16", "3:2", "2:3"])
def test_smart_crop_has_the_exact_shape_and_keeps_the_face(portrait: Picture, ratio: str) -> None:
    faces, _ = detect_faces(portrait.pixels)
    assert faces, "the portrait's face must be found"
    result = run(portrait, "smart-crop", aspect_ratio=ratio, padding_percent=10)
    w, h = (int(v) for v in ratio.split(":"))
    crop = result.picture
    assert abs(crop.width / crop.height - w / h) < 0.01 and max(crop.width, crop.height) == 512
    x0, y0, cw, ch = result.steps[0].details["crop"]
    fx0, fy0, fx1, fy1 = faces[0]
    assert x0 <= fx0 and fx1 <= x0 + cw and y0 <= fy0 and fy1 <= y0 + ch


def fake_yunet() -> bytes:
    """An ONNX model in YuNet's format (``cv2.FaceDetectorYN``: cls/obj/bbox/kps at strides 8, 16, 32)
    that "detects" a face on every pure-green 32x32 cell of the stride-32 grid: a 64x64 box centred on
    the cell, the eyes, nose and mouth corners at fixed places in it. Made here, so the YuNet path
    runs everywhere (the real file is tried too where ``../shared/weights`` holds it)."""
    import warnings

    from torch.onnx._internal.torchscript_exporter import onnx_proto_utils

    class FakeYuNet(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:  # BGR, 0-255
            green = torch.clamp((x[:, 1:2] - x[:, 0:1] - x[:, 2:3] - 200) / 55, 0, 1)
            outputs: dict[str, torch.Tensor] = {}
            for stride in (8, 16, 32):
                cell = torch.nn.functional.avg_pool2d(green, stride)
                cls = cell if stride == 32 else cell * 0

                def flat(t: torch.Tensor, n: int) -> torch.Tensor:
                    return t.permute(0, 2, 3, 1).reshape(1, -1, n)

                box = torch.tensor([0.5, 0.5, float(np.log(2)), float(np.log(2))]).view(1, 4, 1, 1)  # centre offsets, log size in cells
                points = torch.tensor(YUNET_POINTS, dtype=torch.float32).view(1, 10, 1, 1)
                outputs |= {f"cls_{stride}": flat(cls, 1), f"obj_{stride}": flat(cls * 0 + 1, 1), f"bbox_{stride}": flat(cell * 0 + box, 4),
                            f"kps_{stride}": flat(cell * 0 + points, 10)}  # fmt: skip
            return tuple(outputs[name] for name in YUNET_OUTPUTS)

    buffer = io.BytesIO()
    exporter_needs_onnx = onnx_proto_utils._add_onnxscript_fn  # only inserts custom onnxscript functions: none here, and
    onnx_proto_utils._add_onnxscript_fn = lambda proto, custom_opsets: proto  # the onnx package is not a dependency
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(FakeYuNet(), (torch.zeros(1, 3, 640, 640),), buffer, dynamo=False, input_names=["input"], output_names=YUNET_OUTPUTS, opset_version=13)
    finally:
        onnx_proto_utils._add_onnxscript_fn = exporter_needs_onnx
    return buffer.getvalue()


YUNET_OUTPUTS = [f"{kind}_{stride}" for kind in ("cls", "obj", "bbox", "kps") for stride in (8, 16, 32)]
YUNET_POINTS = [-0.25, -0.25, 1.25, -0.25, 0.5, 0.5, -0.25, 1.0, 1.25, 1.0]  # (x, y) per landmark, in cells from the cell's corner


def test_smart_crop_uses_yunet_when_installed_and_reads_its_output(portrait: Picture, random_weights) -> None:  # noqa: ANN001
    random_weights("yunet", fake_yunet())
    pixels = portrait.pixels.copy()
    pixels[256:288, 128:160] = (0, 255, 0)  # grid cell (row 8, column 4): "a face" there
    faces, detector = detect_faces(pixels)
    assert detector == "yunet" and faces == [(112, 240, 176, 304)]  # 64x64 around the cell's centre (144, 272)
    (face,), _ = find_faces(pixels)
    expected = (np.array(YUNET_POINTS).reshape(5, 2) + (4, 8)) * 32
    assert np.allclose(face.landmarks, expected) and face.score == pytest.approx(1.0)
    big = np.pad(pixels, ((0, 128), (0, 128), (0, 0)), mode="edge").repeat(2, axis=0).repeat(2, axis=1)  # 1280 px: found at 640, scaled back
    assert detect_faces(big)[0] == [(224, 480, 352, 608)]
    result = run(Picture(pixels), "smart-crop", aspect_ratio="9:16")
    assert result.steps[0].details["face_detector"] == "yunet"
    x0, y0, width, height = result.steps[0].details["crop"]
    assert x0 <= 112 and 176 <= x0 + width and y0 <= 240 and 304 <= y0 + height  # the face kept
    assert detect_faces(portrait.pixels) == ([], "yunet")  # no green cell: no face, and no fallback either


if (SHARED_WEIGHTS / "face_detection_yunet_2023mar.onnx").exists():  # collected only where the real file is (CI has none): never a skip

    def test_the_real_yunet_finds_the_portraits_face(portrait: Picture, random_weights) -> None:  # noqa: ANN001
        random_weights("yunet", (SHARED_WEIGHTS / "face_detection_yunet_2023mar.onnx").read_bytes())
        faces, detector = detect_faces(portrait.pixels)
        assert detector == "yunet" and len(faces) == 1
        assert run(portrait, "smart-crop", aspect_ratio="9:16").steps[0].details["face_detector"] == "yunet"
        (face,), _ = find_faces(portrait.pixels)  # five landmarks inside the box, eyes above the mouth
        x0, y0, x1, y1 = face.box
        assert face.landmarks.shape == (5, 2) and ((face.landmarks >= (x0, y0)) & (face.landmarks <= (x1, y1))).all()
        assert face.landmarks[:2, 1].max() < face.landmarks[3:, 1].min()


def test_remove_object_fills_only_the_painted_region(tmp_path: Path) -> None:
    picture = read_image(EXAMPLES / "rocket.jpg")
    mask = np.zeros((picture.height, picture.width), bool)
    mask[150:260, 250:330] = True
    small = np.asarray(Image.fromarray(mask).resize((64, 43), Image.Resampling.NEAREST))  # any size: scaled
    result = run(picture, "remove-object", mask_data_url=to_data_url(small))
    out = result.picture.pixels
    assert result.steps[0].engine == "patchmatch"
    scaled = decode_data_url(to_data_url(small), (picture.width, picture.height))  # as the engine scales it
    assert np.array_equal(out[~scaled], picture.pixels[~scaled])  # nothing outside the mask changes
    inside = out[scaled].astype(float)
    assert np.abs(inside.mean(axis=0) - picture.pixels[140:150, 250:330].reshape(-1, 3).mean(axis=0)).max() < 25  # sky, not rocket
    with pytest.raises(InputError, match="marks no pixels"):
        run(picture, "remove-object", mask_data_url=to_data_url(np.zeros((10, 10), bool)))
    with pytest.raises(ParamValidationError, match="not a readable base64 image"):
        run(picture, "remove-object", mask_data_url="data:image/png;base64,AAAA")


def rendered_text() -> np.ndarray:
    image = Image.open(EXAMPLES / "portrait.jpg").convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.text((20, 20), "SALE 50% OFF", fill=(255, 255, 255), font=ImageFont.load_default(size=40), stroke_width=2, stroke_fill=(0, 0, 0))
    draw.text((250, 470), "watermark.com", fill=(240, 240, 240), font=ImageFont.load_default(size=26))
    return np.asarray(image)


def test_remove_text_leaves_nothing_the_detector_can_read() -> None:
    assert detect_text(np.asarray(Image.open(EXAMPLES / "portrait.jpg").convert("RGB"))) == []
    pixels = rendered_text()
    assert len(detect_text(pixels)) == 2
    result = run(Picture(pixels), "remove-text")
    assert result.steps[0].engine == "ppocr-v4-det" and result.steps[0].details["text_boxes"][0] == 2
    assert detect_text(result.picture.pixels) == []
    assert np.abs(result.picture.pixels[200:400].astype(int) - pixels[200:400]).max() == 0  # the rest untouched


def test_remove_text_with_a_mask_instead_of_detection() -> None:
    pixels = rendered_text()
    mask = np.zeros(pixels.shape[:2], bool)
    mask[10:75, 10:330] = True
    result = run(Picture(pixels), "remove-text", auto_detect=False, mask_data_url=to_data_url(mask))
    assert len(detect_text(result.picture.pixels)) == 1  # only the watermark, which was not painted
    with pytest.raises(ParamValidationError, match="mask_data_url: required when auto_detect is false"):
        run(Picture(pixels), "remove-text", auto_detect=False)


def test_lama_through_spandrel_with_random_weights(random_weights) -> None:  # noqa: ANN001
    from ops.runtime.torchvision_compat import install

    install()
    from spandrel.architectures.LaMa import LaMa

    torch.manual_seed(0)
    state = {f"generator.{k[len('model.'):]}" if k.startswith("model.") else k: v for k, v in LaMa(in_nc=4, out_nc=3).state_dict().items()}
    random_weights("big-lama", state)
    picture = Picture(np.asarray(Image.open(EXAMPLES / "cat.jpg").convert("RGB"))[:96, :128].copy())
    mask = np.zeros((96, 128), bool)
    mask[30:60, 40:90] = True
    result = run(picture, "remove-object", mask_data_url=to_data_url(mask))
    assert result.steps[0].engine == "big-lama" and result.steps[0].details["backend"] == "torch-fp32"
    assert np.array_equal(result.picture.pixels[~mask], picture.pixels[~mask])
    assert np.abs(result.picture.pixels[mask].astype(int) - picture.pixels[mask]).mean() > 5  # the hole is repainted


def test_patchmatch_continues_a_texture_that_diffusion_smears() -> None:
    """Stripes through a square hole: copying patches rebuilds them, Telea's diffusion cannot."""
    from ops.restore import patchmatch

    yy, xx = np.mgrid[0:96, 0:96]
    stripes = np.where(((xx + yy) // 4) % 2 == 0, 200, 40).astype(np.uint8)
    rgb = np.repeat(stripes[..., None], 3, axis=2)
    hole = np.zeros((96, 96), bool)
    hole[34:62, 34:62] = True
    error = {}
    for name, out in {"patchmatch": patchmatch.fill(rgb, hole), "telea": cv2.inpaint(rgb, hole.astype(np.uint8), 5, cv2.INPAINT_TELEA)}.items():
        error[name] = np.abs(out[hole].astype(float) - rgb[hole]).mean()
    assert error["patchmatch"] < 0.5 * error["telea"], error
    filled = patchmatch.fill(rgb, hole)
    assert np.array_equal(filled[~hole], rgb[~hole]) and np.array_equal(filled, patchmatch.fill(rgb, hole))  # known pixels kept; deterministic


def test_tidy_matte_drops_specks_fills_pinholes_and_makes_the_interior_opaque() -> None:
    from ops.masks import tidy_matte

    matte = np.zeros((200, 200), np.float32)
    matte[40:160, 40:160] = 0.7  # a subject the network was unsure about inside
    matte[95:98, 120:123] = 0.0  # a pinhole
    matte[5:8, 5:8] = 0.9  # a speck of background
    matte[60:140, 90:100] = 0.0  # a real gap (the space between an arm and the body)
    tidied = tidy_matte(matte)
    assert tidied[6, 6] == 0.0
    assert tidied[96, 121] >= 0.7
    assert tidied[100, 95] == 0.0, "a gap larger than a pinhole stays"
    assert tidied[100, 140] == 1.0 and tidied[41, 100] == 0.7, "opaque inside, the rim as the network said"
    assert tidied[60:140, 90:100].max() == 0.0 and tidied[170:, :].max() == 0.0, "background stays background"
