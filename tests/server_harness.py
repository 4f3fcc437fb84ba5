"""A live server on 127.0.0.1 for the API tests, with accounts made through the admin API."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from app import create as create_app
from ops.settings import Settings
from tests.services import free_port

ADMIN = "test-admin-token"


@contextmanager
def image_host(folder: Path, redirects: dict[str, str] | None = None) -> Iterator[str]:
    """A local web server for ``folder`` (img_url tests), with optional path -> Location redirects."""
    targets = redirects or {}

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            if self.path in targets:
                self.send_response(302)
                self.send_header("Location", targets[self.path])
                self.end_headers()
                return
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def poll_job(url: str, key: str, job_id: str, timeout: float = 120, every: float = 1.5) -> dict:
    """A v1 job once it is completed or failed, polling well inside the Pro tier's 50 a minute
    (a slow first job on a cold machine must not spend the quota the test needs afterwards)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = httpx.get(f"{url}/api/v1/jobs/api/{job_id}", headers=bearer(key), timeout=30).json()
        if job["status"] in ("completed", "failed"):
            return job
        time.sleep(every)
    raise AssertionError(f"job {job_id} did not finish: {job}")


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    server: uvicorn.Server
    thread: threading.Thread

    def admin(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        return httpx.request(method, f"{self.url}/api/admin{path}", headers={"X-Admin-Token": ADMIN}, timeout=30, **kwargs)

    def account(self, tier: str = "pro", credits: int = 1000, coins: int = 1000) -> tuple[str, str]:
        """(user id, a fresh API key)."""
        email = f"user{time.monotonic_ns()}@example.com"
        user = self.admin("POST", "/users", json={"email": email, "tier": tier, "credits": credits, "coins": coins})
        assert user.status_code == 201, user.text
        user_id = user.json()["id"]
        if tier == "free":
            return user_id, ""
        key = self.admin("POST", f"/users/{user_id}/keys", json={"name": "test"})
        assert key.status_code == 201, key.text
        return user_id, key.json()["key"]

    def poll(self, key: str, job_id: str, timeout: float = 120) -> dict:
        return poll_job(self.url, key, job_id, timeout)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start(data_dir: Path, with_ui: bool = False, **settings: object) -> LiveServer:
    port = free_port()
    config = Settings(data_dir=data_dir, admin_token=ADMIN, **settings)
    server = uvicorn.Server(uvicorn.Config(create_app(config, with_ui=with_ui), host="127.0.0.1", port=port, log_level="warning",
                                           proxy_headers=False))  # as app.py runs it
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    return LiveServer(url, data_dir, server, thread)
