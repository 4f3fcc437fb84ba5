"""Killing the server mid-job and starting it again loses no job and leaves none stuck."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from PIL import Image

from tests.conftest import EXAMPLES, ROOT
from tests.server_harness import ADMIN, free_port


def launch(data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STUDIO_DATA_DIR": str(data), "STUDIO_PORT": str(port), "STUDIO_ADMIN_TOKEN": ADMIN}
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("server did not start")


def wait_for(url: str, key: str, wanted: set[str], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=30).json()
        if job["status"] in wanted:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job never reached {wanted}: {job}")


def test_a_killed_server_resumes_its_jobs(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    image = tmp_path / "photo.png"
    Image.open(EXAMPLES / "cup.jpg").crop((200, 100, 360, 220)).save(image)
    server = launch(tmp_path / "data", port)
    try:
        admin = {"X-Admin-Token": ADMIN}
        user = httpx.post(f"{base}/api/admin/users", headers=admin, json={"email": "r@x.io", "tier": "enterprise", "credits": 50}).json()
        key = httpx.post(f"{base}/api/admin/users/{user['id']}/keys", headers=admin, json={}).json()["key"]
        auth = {"Authorization": f"Bearer {key}"}
        with image.open("rb") as handle:
            storage_key = httpx.post(f"{base}/api/v1/upload/api", headers=auth, files={"file": handle}).json()["storage_key"]
        job = httpx.post(f"{base}/api/v1/jobs/api", headers=auth, json={"input_key": storage_key, "operations": [{"type": "enhance", "params": {"scale": 8}}]}).json()
        url = f"{base}/api/v1/jobs/api/{job['id']}"
        wait_for(url, key, {"processing"}, 60)
        server.send_signal(signal.SIGKILL)  # a crash, not a shutdown
        server.wait(10)
        server = launch(tmp_path / "data", port)
        done = wait_for(url, key, {"completed", "failed"}, 240)
        assert done["status"] == "completed", done
        assert Image.open(__import__("io").BytesIO(httpx.get(done["download_url"]).content)).size == (1280, 960)
    finally:
        server.kill()
        server.wait(10)
