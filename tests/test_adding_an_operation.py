"""The README's "Adding an operation", followed word for word in a copy of the repository: the
operation shows up in the CLI, the Gradio API and REST validation, touching only a declaration,
a model (its loader and ``ModelSpec``), an engine and the manifest."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.conftest import EXAMPLES, ROOT
from tests.server_harness import ADMIN, free_port

FENCE = re.compile(r"```(\w+) (\S+)\n(.*?)```", re.S)


def readme_blocks() -> list[tuple[str, str]]:
    """(path, content) of every fenced block in the README section that names a file."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Adding an operation", 1)[1].split("\n## ", 1)[0]
    return [(path, body) for _, path, body in FENCE.findall(section)]


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("repo")
    for name in ("ops", "server", "service", "webui", "examples"):
        shutil.copytree(ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "app.py", target)
    (target / "checkpoints").mkdir()
    shutil.copy(ROOT / "checkpoints" / "manifest.toml", target / "checkpoints")
    blocks = readme_blocks()
    assert [path for path, _ in blocks] == [
        "ops/operations/sepia.py", "ops/models/loaders/matrices.py", "ops/models/declarations.py", "ops/engines/sepia.py",
        "checkpoints/manifest.toml", "checkpoints/sepia.json",
    ]
    engine = dict(blocks)["ops/engines/sepia.py"]
    assert 'use("sepia-matrix", ctx)' in engine and not re.search(r"\b(network|require)\(", engine)  # the registry loads it
    for path, body in blocks:
        file = target / path
        with file.open("a" if file.exists() else "w") as handle:  # the model declaration and the manifest entry are appended
            handle.write(("\n" if file.exists() and file.stat().st_size else "") + body)
    return target


def env(copy: Path, **extra: str) -> dict[str, str]:
    # the copy's own checkpoints/ holds the new weights; the real ones are found through STUDIO_CHECKPOINTS
    return {**os.environ, "STUDIO_CHECKPOINTS": str(ROOT / "checkpoints"), "PYTHONPATH": str(copy), **extra}


def cli(copy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ops", *args], cwd=copy, env=env(copy), capture_output=True, text=True, timeout=300)


def test_the_cli_lists_and_runs_it(copy: Path, tmp_path: Path) -> None:
    listed = cli(copy, "list", "--markdown")
    assert listed.returncode == 0, listed.stderr
    assert "| `sepia` — Tone the image like an old print | `strength` float 0–1, optional, default =1.0 | 1 credit | sepia-matrix |" in listed.stdout
    photo = tmp_path / "in.png"
    Image.open(EXAMPLES / "cat.jpg").crop((0, 0, 64, 48)).save(photo)
    done = cli(copy, "sepia", str(photo), "-o", str(tmp_path / "out.png"), "-p", "strength=0.8", "--json")
    assert done.returncode == 0, done.stderr
    assert '"engine": "sepia-matrix"' in done.stdout
    before, after = Image.open(photo).convert("RGB"), Image.open(tmp_path / "out.png").convert("RGB")
    assert after.size == before.size and after.getpixel((10, 10)) != before.getpixel((10, 10))


@pytest.fixture(scope="module")
def app(copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    settings = {"STUDIO_PORT": str(port), "STUDIO_DATA_DIR": str(tmp_path_factory.mktemp("data")), "STUDIO_ADMIN_TOKEN": ADMIN}
    process = subprocess.Popen([sys.executable, "app.py"], cwd=copy, env=env(copy, **settings), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(f"{url}/openapi.json", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        process.kill()
        process.wait(10)


def test_the_gradio_api_has_its_endpoint(app: str, tmp_path: Path) -> None:
    from gradio_client import Client, handle_file

    client = Client(f"{app}/", verbose=False)
    assert "/sepia" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    photo = tmp_path / "in.png"
    Image.open(EXAMPLES / "cat.jpg").crop((0, 0, 32, 24)).save(photo)
    _, download, report = client.predict(handle_file(str(photo)), 0.5, "png", api_name="/sepia")
    assert "sepia-matrix" in report and Image.open(download).size == (32, 24)


def test_rest_validates_and_prices_it(app: str) -> None:
    admin = {"X-Admin-Token": ADMIN}
    user = httpx.post(f"{app}/api/admin/users", headers=admin, json={"email": "sepia@example.com", "tier": "pro", "credits": 5}).json()
    key = httpx.post(f"{app}/api/admin/users/{user['id']}/keys", headers=admin, json={}).json()["key"]
    auth = {"Authorization": f"Bearer {key}"}
    bad = httpx.post(f"{app}/api/v1/jobs/api", headers=auth, json={"input_key": "uploads/x/y.png", "operations": [{"type": "sepia", "params": {"strength": 5}}]})
    assert bad.status_code == 422 and [e["loc"] for e in bad.json()["errors"]] == ["operations[0].params.strength"]
    with (EXAMPLES / "cat.jpg").open("rb") as handle:
        storage_key = httpx.post(f"{app}/api/v1/upload/api", headers=auth, files={"file": handle}).json()["storage_key"]
    job = httpx.post(f"{app}/api/v1/jobs/api", headers=auth, json={"input_key": storage_key, "operations": [{"type": "sepia"}]})
    assert job.status_code == 201 and job.json()["credits"] == 1
    assert "sepia" in httpx.get(f"{app}/openapi.json").json()["components"]["schemas"]["StepRequest"]["properties"]["type"]["enum"]
