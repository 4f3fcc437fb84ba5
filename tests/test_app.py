"""The Gradio app through gradio_client: every runnable tab, the queue lanes, and painted masks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import gradio_client
import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from tests.conftest import EXAMPLES
from tests.server_harness import start


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[gradio_client.Client]:
    """The app as ``python app.py`` serves it (mounted, behind the file door), login off; tiles of 72
    px, so a small picture is upscaled in several (its settings reach every job it runs)."""
    server = start(tmp_path_factory.mktemp("app"), with_ui=True, ui_login="off", ui_allowance="1000/minute", tile=72)
    try:
        yield gradio_client.Client(f"{server.url}/", verbose=False)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("img") / "small.png"
    Image.open(EXAMPLES / "cat.jpg").crop((150, 80, 182, 104)).save(path)
    return str(path)


def test_every_operation_is_an_endpoint_named_after_it(client: gradio_client.Client) -> None:
    from ops.registry import OPERATIONS

    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {f"/{name}" for name in OPERATIONS} | {"/model", "/chain", "/remove-object-mask"} <= set(endpoints)


def test_each_runnable_operation_through_the_api(client: gradio_client.Client, small: str) -> None:
    photo = handle_file(str(EXAMPLES / "cup.jpg"))
    (before, after), download, report = client.predict(photo, 60, api_name="/compress-optimize")
    assert Image.open(download).format == "JPEG" and "pillow-jpeg" in report
    _, download, report = client.predict(photo, "", "", 120, 0, True, "auto", api_name="/crop-resize")
    assert Image.open(download).size == (120, 80) and "pillow-resample" in report
    _, download, report = client.predict(photo, "webp", 80, api_name="/convert")
    assert Image.open(download).format == "WEBP" and "pillow-codecs" in report
    _, download, report = client.predict(handle_file(small), 4, "png", api_name="/enhance")
    assert Image.open(download).size == (128, 96) and "realesrgan-x4plus" in report and "weights:" in report
    _, download, report = client.predict(handle_file(small), "auto", api_name="/enhance-anime")
    assert Image.open(download).size == (128, 96) and "realesrgan-x4plus-anime-6b" in report
    _, download, report = client.predict(handle_file(small), "general_2x", "auto", api_name="/model")
    assert Image.open(download).size == (64, 48) and "realesrgan-x4plus" in report
    steps = '[{"type": "crop-resize", "params": {"resize": {"width": 16}}}, {"type": "convert", "params": {"output_format": "webp"}}]'
    _, download, report = client.predict(handle_file(small), steps, api_name="/chain")
    assert Image.open(download).size == (16, 12) and Image.open(download).format == "WEBP"


def test_background_crop_and_retouch_operations_through_the_api(client: gradio_client.Client, tmp_path: Path) -> None:
    portrait = handle_file(str(EXAMPLES / "portrait.jpg"))
    _, download, report = client.predict(portrait, "png", api_name="/remove-background")
    assert Image.open(download).mode == "RGBA" and "u2netp" in report
    backdrop = handle_file(str(EXAMPLES / "rocket.jpg"))
    _, download, report = client.predict(portrait, "image", "#ffffff", backdrop, "", "jpg", api_name="/replace-background")
    assert Image.open(download).format == "JPEG" and Image.open(download).size == (512, 512)
    _, download, _ = client.predict(portrait, "color", "#00ff00", None, "", "png", api_name="/replace-background")
    assert Image.open(download).convert("RGB").getpixel((350, 60)) == (0, 255, 0)
    _, download, report = client.predict(portrait, 20, "jpg", api_name="/blur-background")
    assert Image.open(download).format == "JPEG"
    _, download, report = client.predict(portrait, "9:16", 10, "auto", api_name="/smart-crop")
    assert Image.open(download).size == (288, 512) and "saliency-and-faces" in report
    layer = np.zeros((512, 512, 4), np.uint8)
    layer[300:360, 180:260] = (255, 0, 255, 255)
    Image.fromarray(layer, "RGBA").save(tmp_path / "paint.png")
    editor = {"background": portrait, "layers": [handle_file(str(tmp_path / "paint.png"))], "composite": None}
    _, download, report = client.predict(portrait, editor, "png", api_name="/remove-object")
    result = np.asarray(Image.open(download).convert("RGB")).astype(int)
    original = np.asarray(Image.open(EXAMPLES / "portrait.jpg").convert("RGB")).astype(int)
    assert np.abs(result[300:360, 180:260] - original[300:360, 180:260]).mean() > 5 and "patchmatch" in report
    assert np.abs(result[:250] - original[:250]).max() <= 3  # JPEG decoded vs PNG: only rounding outside the mask
    _, download, report = client.predict(portrait, None, True, "png", api_name="/remove-text")
    assert "ppocr-v4-det" in report and "no text was found" in report


def test_after_the_setup_every_operation_and_model_name_can_run() -> None:
    """What the README's setup (``weights fetch registry``, which the test command runs first) promises:
    every operation and every model name but the generative ones has an engine that runs offline."""
    from ops import chain
    from ops.engines import engines_for
    from ops.registry import MODELS, OPERATIONS

    blocked = {op.name: [reason for _, reason in engines_for(op)] for op in OPERATIONS.values() if all(reason for _, reason in engines_for(op))}
    assert not blocked, blocked
    for name, model in MODELS.items():
        if not name.startswith("generative"):
            chain.plan(list(model.steps))  # raises, naming what is missing, when a step cannot run here


def test_unavailable_operations_explain_themselves(client: gradio_client.Client, small: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An operation none of whose engines can run here (made so: the server runs in this process)."""
    from ops.engines import ENGINES
    from ops.registry import get_operation

    op = get_operation("denoise")
    for name in op.engines:
        if name in ENGINES:
            monkeypatch.setattr(ENGINES[name], "unavailable_reason", lambda: "its weights are not installed (test)")
    endpoint = client.view_api(print_info=False, return_format="dict")["named_endpoints"][f"/{op.name}"]
    values = [handle_file(small)] + [p.get("parameter_default") for p in endpoint["parameters"][1:]]
    with pytest.raises(Exception, match="cannot run here"):
        client.predict(*values, api_name=f"/{op.name}")
    monkeypatch.undo()
    _, download, report = client.predict(*values, api_name=f"/{op.name}")  # and runs again once it can
    assert Image.open(download).size == (32, 24)


def test_errors_reach_the_client_as_messages(client: gradio_client.Client) -> None:
    photo = handle_file(str(EXAMPLES / "cup.jpg"))
    with pytest.raises(Exception, match="at least one of “Crop”, “Resize” is required"):  # in the labels people see
        client.predict(photo, "", "", 0, 0, True, "auto", api_name="/crop-resize")


def test_a_free_operation_completes_while_a_long_model_job_runs(client: gradio_client.Client, small: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The model job is held inside its engine (the server runs in this process) until the free one is done."""
    import threading

    from ops.engines.upscale import SuperResolution

    started, release = threading.Event(), threading.Event()
    run = SuperResolution.run

    def held(self, picture, params, ctx):  # noqa: ANN001, ANN202
        started.set()
        assert release.wait(120), "never released"
        return run(self, picture, params, ctx)

    monkeypatch.setattr(SuperResolution, "run", held)
    long_job = client.submit(handle_file(small), 2, "png", api_name="/enhance")
    try:
        assert started.wait(120), "the model job never started"
        _, download, _ = client.predict(handle_file(str(EXAMPLES / "cup.jpg")), 50, api_name="/compress-optimize")
        assert Image.open(download).format == "JPEG"
        assert not long_job.done(), "the model job is still held in its engine"
    finally:
        release.set()
    assert Image.open(long_job.result(timeout=300)[1]).size == (64, 48)


def test_painted_mask_arrives_pixel_exact(client: gradio_client.Client, tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    Image.open(EXAMPLES / "cat.jpg").crop((0, 0, 120, 90)).save(source)
    layer = np.zeros((90, 120, 4), np.uint8)
    rng = np.random.default_rng(3)
    painted = rng.random((90, 120)) > 0.7  # an irregular stroke pattern, single pixels included
    layer[painted] = (255, 0, 255, 255)
    layer[5, 7] = (255, 0, 255, 1)  # even the faintest touch of the brush counts
    painted[5, 7] = True
    Image.fromarray(layer, "RGBA").save(tmp_path / "layer.png")
    editor = {"background": handle_file(str(source)), "layers": [handle_file(str(tmp_path / "layer.png"))], "composite": None}
    mask_file = client.predict(handle_file(str(source)), editor, api_name="/remove-object-mask")
    mask = np.asarray(Image.open(mask_file))
    assert mask.shape[:2] == (90, 120)
    received = (mask if mask.ndim == 2 else mask[..., 0]) > 127
    assert np.array_equal(received, painted)


def test_the_mask_data_url_is_lossless() -> None:
    import base64
    import io

    from webui.masks import to_data_url

    mask = (np.random.default_rng(1).random((37, 53)) > 0.5).astype(np.uint8) * 255
    url = to_data_url(mask)
    assert url.startswith("data:image/png;base64,")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))), mask)


def test_the_api_accepts_what_view_api_advertises(client: gradio_client.Client, small: str) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    scale = next(p for p in endpoints["/enhance"]["parameters"] if p["parameter_name"] == "scale")
    assert scale["python_type"]["type"] == "Literal['2', '4', '8']"
    _, download, _ = client.predict(handle_file(small), "2", "png", api_name="/enhance")  # as advertised
    assert Image.open(download).size == (64, 48)
    with pytest.raises(Exception, match="Scale: Input should be 2, 4 or 8"):
        client.predict(handle_file(small), "3", "png", api_name="/enhance")


def test_the_percentage_crop_takes_the_form_its_hint_shows(client: gradio_client.Client) -> None:
    photo = handle_file(str(EXAMPLES / "cup.jpg"))
    _, download, _ = client.predict(photo, "", "[10,10,80,80]", 0, 0, True, "png", api_name="/crop-resize")
    assert Image.open(download).size == (480, 320)  # 80% of 600x400
    with pytest.raises(Exception, match="write four numbers x, y, width, height"):
        client.predict(photo, "", "10, 10, eighty", 0, 0, True, "png", api_name="/crop-resize")


def test_building_the_app_prints_no_gradio_warnings(tmp_path: Path) -> None:
    import warnings

    from app import create as create_app
    from ops.settings import Settings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        create_app(Settings(data_dir=tmp_path))
    assert [str(w.message) for w in caught if "gradio" in (w.filename or "")] == []


def test_the_report_counts_the_time_spent_writing_the_file(client: gradio_client.Client) -> None:
    _, _, report = client.predict(handle_file(str(EXAMPLES / "cup.jpg")), "webp", 100, api_name="/convert")
    assert "written as WEBP in" in report and "s in all" in report


def test_labels_are_words_not_parameter_names(tmp_path: Path) -> None:
    from ops.settings import Settings
    from service.studio import Studio
    from webui.app import build

    demo = build(Studio.create(Settings(data_dir=tmp_path)).service)
    labels = [c.get("props", {}).get("label") for c in demo.config["components"]]
    assert [label for label in labels if label and "_" in label] == []
    assert "Background image" in labels and "Upscale photo" in [c.get("props", {}).get("label") for c in demo.config["components"]]


def test_per_tile_progress_reaches_the_client(client: gradio_client.Client, small: str) -> None:
    picture = Path(small).with_name("tiles.png")
    Image.open(EXAMPLES / "cat.jpg").crop((100, 60, 260, 180)).save(picture)
    job = client.submit(handle_file(str(picture)), "2", "png", api_name="/enhance")
    seen: set[str] = set()
    while not job.done():
        status = job.status()
        seen |= {p.desc or "" for p in (status.progress_data or [])}
        time.sleep(0.05)
    job.result()
    assert any("tile" in text for text in seen), seen


def test_errors_name_fields_by_the_labels_people_see() -> None:
    from ops import chain
    from ops.errors import ParamValidationError
    from ops.registry import OPERATIONS
    from webui.widgets import in_words, labels_of

    def said(op: str, params: dict) -> str:
        with pytest.raises(ParamValidationError) as caught:
            chain.plan_one(op, params)
        return in_words(caught.value, labels_of(OPERATIONS[op].params))

    assert said("remove-text", {"auto_detect": False}) == "The painted mask: required when “Find text automatically” is off"
    assert said("crop-resize", {"crop": {"percentage": [10, 10, 200, 80]}}) == "Percentage, value 3: Input should be less than or equal to 100"
    assert said("crop-resize", {}) == "at least one of “Crop”, “Resize” is required"
