"""After the README's setup, offline: every operation and every non-generative model name runs
through the CLI, both REST APIs and the Gradio API, and names the engines that ran; the
generative names fail cleanly, before any coins are taken."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from ops.masks import to_data_url
from ops.registry import MODELS, OPERATIONS
from tests.conftest import EXAMPLES, run_cli
from tests.server_harness import LiveServer, bearer, image_host, start

GENERATIVE = {"generative", "generative_portrait"}
NAMES = [name for name in MODELS if name not in GENERATIVE]
PARAMS = {
    "enhance": {"scale": 2}, "replace-background": {"background_type": "color", "background_color": "#336699"},
    "remove-object": {"mask_data_url": to_data_url(np.pad(np.ones((8, 8), bool), ((12, 12), (20, 20))))},
    "convert": {"output_format": "png"}, "crop-resize": {"resize": {"width": 24}},
}  # fmt: skip


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("www")
    Image.open(EXAMPLES / "portrait.jpg").crop((176, 64, 224, 96)).save(folder / "tiny.png")  # 48x32, part of a face
    return folder / "tiny.png"


@pytest.fixture(scope="module")
def host(photo: Path) -> Iterator[str]:
    with image_host(photo.parent) as address:
        yield address


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, host: str) -> Iterator[LiveServer]:
    server = start(tmp_path_factory.mktemp("doors"), with_ui=True, ssrf_allow=host, ui_allowance="1000/minute")
    yield server
    server.stop()


@pytest.mark.parametrize("name", NAMES)
def test_model_names_through_the_cli(photo: Path, tmp_path: Path, name: str) -> None:
    done = run_cli(name, str(photo), "-o", str(tmp_path / "out.png"), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [s["engine"] for s in report["steps"]] and Image.open(tmp_path / "out.png").size[0] >= 48


def test_every_operation_through_rest_v1(live: LiveServer, photo: Path) -> None:
    _, key = live.account(tier="enterprise", credits=10_000)
    with photo.open("rb") as handle:
        storage_key = httpx.post(f"{live.url}/api/v1/upload/api", headers=bearer(key), files={"file": handle}).json()["storage_key"]
    jobs = {}
    for name in OPERATIONS:
        created = httpx.post(f"{live.url}/api/v1/jobs/api", headers=bearer(key),
                             json={"input_key": storage_key, "operations": [{"type": name, "params": PARAMS.get(name, {})}]})  # fmt: skip
        assert created.status_code == 201, (name, created.text)
        jobs[name] = created.json()["id"]
    for name, job_id in jobs.items():
        job = live.poll(key, job_id, timeout=300)
        assert job["status"] == "completed" and job["engines"], (name, job)


def test_model_names_through_spec_002_and_gradio(live: LiveServer, host: str, photo: Path) -> None:
    from gradio_client import Client, handle_file

    user_id, key = live.account(tier="enterprise", coins=10_000)
    headers = {"Apikey": key}
    submitted = {}
    for name in NAMES:
        reply = httpx.post(f"{live.url}/api/photo-enhancer", headers=headers, json={"model_name": name, "img_url": f"http://{host}/tiny.png", "extension": ".png"})
        assert reply.status_code == 200, (name, reply.text)
        submitted[name] = reply.json()["job_id"]
    for name in GENERATIVE:  # fail at once, nothing charged
        reply = httpx.post(f"{live.url}/api/photo-enhancer", headers=headers, json={"model_name": name, "img_url": f"http://{host}/tiny.png", "extension": ".png"})
        assert reply.status_code == 400 and reply.json()["error_code"] == 110400005 and "ldm-sr-4x" in reply.json()["detail"]
    for name, job_id in submitted.items():
        for _ in range(600):
            status = httpx.post(f"{live.url}/api/task-status", headers=headers, json={"job_id": job_id}).json()
            if status["status"] != "CONVERTING":
                break
            threading.Event().wait(0.5)
        assert status["status"] == "COMPLETED", (name, status)
    spent = sum(MODELS[name].coins for name in NAMES)
    assert next(u for u in live.admin("GET", "/users").json() if u["id"] == user_id)["coins"] == 10_000 - spent
    client = Client(f"{live.url}/", verbose=False)
    for name in NAMES[:3] + ["sharpen_denoise"]:
        _, download, report = client.predict(handle_file(str(photo)), name, "png", api_name="/model")
        assert "engine **" in report and Image.open(download).size[0] >= 48


RESTORATION = {"enhance-face": ["0.8"], "denoise": ["0.5"], "deblur": ["1.0"], "restore-old-photo": []}


@pytest.mark.parametrize("operation", list(RESTORATION))
def test_restoration_operations_through_the_cli(photo: Path, tmp_path: Path, operation: str) -> None:
    done = run_cli(operation, str(photo), "-o", str(tmp_path / "out.png"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["steps"][0]["engine"]


def test_restoration_operations_through_the_gradio_api(live: LiveServer, photo: Path) -> None:
    from gradio_client import Client, handle_file

    client = Client(f"{live.url}/", verbose=False)
    calls = {
        "/enhance-face": (0.8, "png"), "/denoise": (0.5, "png"), "/deblur": (1.0, "png"),
        "/restore-old-photo": (0.5, True, 1.2, False, 1.0, "png"),
    }  # fmt: skip
    for endpoint, values in calls.items():
        _, download, report = client.predict(handle_file(str(photo)), *values, api_name=endpoint)
        assert "engine **" in report and Image.open(download).size == (48, 32), endpoint
