"""The Gradio app: every runnable tab answers through gradio_client under its operation name."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from PIL import Image

from tests.conftest import EXAMPLES

gradio_client = pytest.importorskip("gradio_client")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def client() -> Iterator[gradio_client.Client]:
    from webui.app import build

    demo = build()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield gradio_client.Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        demo.close()


def test_free_operations_are_api_endpoints_named_after_the_operation(client: gradio_client.Client) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/compress-optimize", "/crop-resize", "/convert", "/enhance", "/enhance-anime"} <= set(endpoints)


def test_each_free_operation_runs_through_the_api(client: gradio_client.Client) -> None:
    photo = gradio_client.handle_file(str(EXAMPLES / "cup.jpg"))
    (before, after), download, report = client.predict(photo, 60, api_name="/compress-optimize")
    assert Image.open(download).format == "JPEG" and "pillow-jpeg" in report
    _, download, report = client.predict(photo, "", "", 120, None, True, api_name="/crop-resize")
    assert Image.open(download).size == (120, 80) and "pillow-resample" in report
    _, download, report = client.predict(photo, "webp", 80, api_name="/convert")
    assert Image.open(download).format == "WEBP" and "pillow-codecs" in report


def test_enhance_runs_through_the_api_with_the_real_model(client: gradio_client.Client, tmp_path) -> None:
    small = tmp_path / "small.png"
    Image.open(EXAMPLES / "cat.jpg").crop((200, 100, 232, 124)).save(small)
    _, download, report = client.predict(gradio_client.handle_file(str(small)), 4, api_name="/enhance")
    assert Image.open(download).size == (128, 96)
    assert "realesrgan-x4plus" in report and "weights:" in report


def test_errors_reach_the_client_as_messages(client: gradio_client.Client) -> None:
    photo = gradio_client.handle_file(str(EXAMPLES / "cup.jpg"))
    with pytest.raises(Exception, match="at least one of crop, resize"):
        client.predict(photo, "", "", None, None, True, api_name="/crop-resize")
