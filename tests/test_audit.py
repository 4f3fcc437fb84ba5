"""The outside audit's findings against the REST server, each reproduced as it was reported."""

from __future__ import annotations

import io
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from ops.masks import to_data_url
from ops.settings import Settings
from service.db import Database, Job, User, now
from service.studio import load_secret
from tests.conftest import EXAMPLES, ROOT
from tests.server_harness import LiveServer, bearer, start


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start(tmp_path_factory.mktemp("audit"), job_lease_seconds=2)
    yield server
    server.stop()


def upload(live: LiveServer, key: str, image: Image.Image, name: str = "photo.png") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    response = httpx.post(f"{live.url}/api/v1/upload/api", headers=bearer(key), files={"file": (name, buffer.getvalue())}, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()["storage_key"]




def credits_of(live: LiveServer, user_id: str) -> int:
    return next(u for u in live.admin("GET", "/users").json() if u["id"] == user_id)["credits"]


# 3. remove-object / remove-text jobs finish, and a job whose worker died is retried or failed
def test_remove_object_job_completes_with_plain_json_details(live: LiveServer) -> None:
    _, key = live.account(tier="enterprise")
    photo = Image.open(EXAMPLES / "cup.jpg").convert("RGB").crop((100, 60, 260, 180))
    mask = np.zeros((120, 160), np.uint8)
    mask[40:70, 60:100] = 255
    mask_url = to_data_url(mask)
    storage_key = upload(live, key, photo)
    for step in ({"type": "remove-object", "params": {"mask_data_url": mask_url}}, {"type": "remove-text", "params": {"auto_detect": True}}):
        created = httpx.post(f"{live.url}/api/v1/jobs/api", headers=bearer(key), json={"input_key": storage_key, "operations": [step]})
        assert created.status_code == 201, created.text
        job = live.poll(key, created.json()["id"])
        assert job["status"] == "completed", job
    assert isinstance(job["steps"][0]["details"]["text_boxes"], list)


def test_details_refuse_numpy_values_in_the_engine_that_writes_them() -> None:
    from pydantic import ValidationError

    from ops.engines.base import RunContext

    ctx = RunContext()
    ctx.detail(crop=[1, 2, 3], scale=0.5, name="x", nested={"ok": True})
    with pytest.raises(ValidationError):
        ctx.detail(crop=[np.int64(224)])


def test_a_job_whose_worker_died_is_retried_or_failed_and_refunded(live: LiveServer) -> None:
    user_id, key = live.account(tier="enterprise", credits=10)
    storage_key = upload(live, key, Image.open(EXAMPLES / "cat.jpg").crop((0, 0, 32, 24)))
    db = Database(f"sqlite:///{live.data_dir / 'studio.db'}")
    dead = {"status": "processing", "worker": "gone-host:4242", "lease_expires_at": now() - timedelta(seconds=1), "input_key": storage_key}
    with db.session() as session:  # what a worker killed mid-job leaves behind: charged, processing, a stale lease
        user = session.get(User, user_id)
        user.credits -= 2
        retried = Job(user_id=user_id, operations=[{"type": "enhance", "params": {"scale": 2}}], credits=1, attempts=1, **dead)
        exhausted = Job(user_id=user_id, operations=[{"type": "enhance", "params": {"scale": 2}}], credits=1, attempts=2, **dead)
        session.add_all([retried, exhausted])
        session.flush()
        ids = retried.id, exhausted.id
    first, second = live.poll(key, ids[0]), live.poll(key, ids[1])  # each within poll's own deadline
    assert first["status"] == "completed", first
    assert second["status"] == "failed" and "worker stopped" in second["error_message"]
    assert credits_of(live, user_id) == 9  # the completed job paid 1, the failed one was refunded


# 4. the free tier is refused with 403, not rate limited
def test_free_tier_keys_get_403(live: LiveServer) -> None:
    user_id, key = live.account(tier="pro")
    assert live.admin("PATCH", f"/users/{user_id}", json={"tier": "free"}).status_code == 200
    v1 = httpx.get(f"{live.url}/api/v1/account", headers=bearer(key))
    assert v1.status_code == 403 and v1.json()["code"] == "tier_without_api"
    hitpaw = httpx.post(f"{live.url}/api/task-status", headers={"Apikey": key}, json={"job_id": "x"})
    assert hitpaw.status_code == 403 and hitpaw.json()["error_code"] == 100403002
    assert "Retry-After" not in hitpaw.headers


# 5. huge integers, booleans for numbers, control characters in emails
def test_out_of_range_values_are_422_not_500(live: LiveServer) -> None:
    user_id, key = live.account()
    listed = httpx.get(f"{live.url}/api/v1/jobs/api", params={"offset": "9999999999999999999"}, headers=bearer(key))
    assert listed.status_code == 422 and listed.json()["errors"][0]["loc"].endswith("offset")
    for body in ({"credits": 99999999999999999999}, {"coins": True}, {"credits": -1}, {"tier": "platinum"}):
        assert live.admin("PATCH", f"/users/{user_id}", json=body).status_code == 422, body
    for email in ("a\x00b@example.com", "a\nb@example.com", "no-at-sign", "two@@example.com"):
        assert live.admin("POST", "/users", json={"email": email}).status_code == 422, email


# 6. one user's slow image host does not slow anyone else; a refused request leaves no file
class SlowHost(str):
    """host:port of a server that accepts and never answers; ``held``: the connections it holds."""

    held: list[socket.socket]

    def still_hanging(self) -> int:
        """How many of its connections the client has not given up on (-1 if any was closed)."""
        for connection in list(self.held):
            connection.setblocking(False)
            try:
                while connection.recv(65536):  # the request it was sent, unanswered
                    pass
                return -1  # b"": the client closed it (gave up, or was answered elsewhere)
            except BlockingIOError:
                continue
        return len(self.held)


@pytest.fixture(scope="module")
def slow_host() -> Iterator[SlowHost]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(100)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])  # accept, read nothing, answer nothing
            except TimeoutError:
                continue

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    host = SlowHost(f"127.0.0.1:{listener.getsockname()[1]}")
    host.held = held
    yield host
    stop.set()
    acceptor.join()
    for connection in held:
        connection.close()
    listener.close()


def test_hanging_image_urls_do_not_stall_other_users(tmp_path: Path, slow_host: SlowHost) -> None:
    """Another user is answered while the slow host holds the fetches: no wall-clock bound, an order of events."""
    server = start(tmp_path, ssrf_allow=slow_host, fetch_timeout=60)
    try:
        _, slow_key = server.account(tier="business", coins=10_000)
        _, other_key = server.account(tier="pro")
        body = {"model_name": "general_2x", "img_url": f"http://{slow_host}/photo.jpg", "extension": ".jpg"}
        with ThreadPoolExecutor(max_workers=45) as pool:
            submitted = list(pool.map(lambda _: httpx.post(f"{server.url}/api/photo-enhancer", headers={"Apikey": slow_key}, json=body, timeout=30), range(45)))
        assert all(r.status_code == 200 for r in submitted), submitted[0].text
        deadline = time.monotonic() + 60
        while not slow_host.held and time.monotonic() < deadline:
            time.sleep(0.05)
        hanging = slow_host.still_hanging()
        assert hanging > 0, "the fetches reached the slow host"
        for _ in range(5):
            assert httpx.get(f"{server.url}/api/v1/account", headers=bearer(other_key)).status_code == 200
        assert slow_host.still_hanging() >= hanging, "answered while every fetch was still hanging"
    finally:
        server.stop()


def test_a_refused_request_leaves_no_file(live: LiveServer) -> None:
    user_id, key = live.account(coins=0)
    refused = httpx.post(f"{live.url}/api/photo-enhancer", headers={"Apikey": key},
                         json={"model_name": "general_2x", "img_url": "http://127.0.0.1:1/x.jpg", "extension": ".jpg"})  # fmt: skip
    assert refused.status_code == 400
    assert not (live.data_dir / "uploads" / user_id).exists()


# 7. bounded bodies and memory
def test_request_bodies_are_bounded(live: LiveServer) -> None:
    _, key = live.account()
    huge = b'{"input_key": "' + b"x" * (17 * 1024 * 1024) + b'", "operations": []}'
    response = httpx.post(f"{live.url}/api/v1/jobs/api", headers=bearer(key) | {"Content-Type": "application/json"}, content=huge, timeout=60)
    assert response.status_code == 413 and response.json()["code"] == "body_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off while streaming
        for _ in range(20):
            yield b"x" * (1024 * 1024)

    streamed = httpx.post(f"{live.url}/api/v1/jobs/api", headers=bearer(key) | {"Content-Type": "application/json"}, content=chunks(), timeout=60)
    assert streamed.status_code == 413


def rss() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS"))


def test_concurrent_huge_images_stay_within_the_memory_budget(tmp_path: Path) -> None:
    server = start(tmp_path, memory_budget_bytes=2500 * 2**20)  # one 9000x9000 decode (1.9 GB) at a time
    try:
        _, key = server.account(tier="enterprise")
        buffer = io.BytesIO()
        Image.new("RGB", (9000, 9000)).save(buffer, format="PNG", compress_level=9)
        data = buffer.getvalue()
        baseline = rss()
        peak = [baseline]
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.05):
                peak[0] = max(peak[0], rss())

        threading.Thread(target=watch, daemon=True).start()
        with ThreadPoolExecutor(max_workers=4) as pool:
            replies = list(pool.map(lambda i: httpx.post(f"{server.url}/api/v1/upload/api", headers=bearer(key), files={"file": (f"z{i}.png", data)}, timeout=120), range(4)))
        done.set()
        assert {r.status_code for r in replies} <= {200, 503}, [r.text for r in replies]
        assert any(r.status_code == 200 for r in replies)
        assert all(r.headers.get("Retry-After") for r in replies if r.status_code == 503)
        assert peak[0] - baseline < 2.2 * 2**30, f"peak {(peak[0] - baseline) / 2**20:.0f} MiB above baseline"
        time.sleep(0.5)
        assert rss() - baseline < 400 * 2**20, f"RSS stayed {(rss() - baseline) / 2**20:.0f} MiB above baseline"
    finally:
        server.stop()


# 8 and 11. a persistent signing secret; private files
def test_signing_secret_persists_and_private_files_are_0600(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    from service.studio import Studio

    studio = Studio.create(settings)
    assert load_secret(settings) == studio.secret == Studio.create(settings).secret
    for name in ("secret.key", "studio.db"):
        assert stat.S_IMODE((settings.data_dir / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(settings.data_dir.stat().st_mode) == 0o700
    assert Settings(data_dir=tmp_path / "data", secret="s3cret").secret == "s3cret"
    assert load_secret(Settings(data_dir=tmp_path / "data", secret="s3cret")) == b"s3cret"


def test_signed_links_survive_a_restart(tmp_path: Path) -> None:
    server = start(tmp_path)
    try:
        _, key = server.account()
        storage_key = upload(server, key, Image.open(EXAMPLES / "cat.jpg").crop((0, 0, 16, 16)))
        job = httpx.post(f"{server.url}/api/v1/jobs/api", headers=bearer(key),
                         json={"input_key": storage_key, "operations": [{"type": "convert", "params": {"output_format": "png"}}]}).json()  # fmt: skip
        link = server.poll(key, job["id"])["download_url"]
    finally:
        server.stop()
    again = start(tmp_path)
    try:
        assert httpx.get(link.replace(server.url, again.url)).status_code == 200
    finally:
        again.stop()


def test_add_key_piped_to_head_prints_a_saved_key(tmp_path: Path) -> None:
    env = {**os.environ, "STUDIO_DATA_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-m", "server", "add-user", "pipe@example.com"], cwd=ROOT, env=env, check=True, capture_output=True)
    printed = subprocess.run(f"{sys.executable} -m server add-key pipe@example.com | head -1", shell=True, cwd=ROOT, env=env,
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    from service.accounts import authenticate

    db = Database(f"sqlite:///{tmp_path / 'studio.db'}")
    with db.session() as session:
        assert printed.startswith("sk_live_") and authenticate(session, printed) is not None


# 9. brute force
def test_wrong_admin_tokens_are_throttled(tmp_path: Path) -> None:
    server = start(tmp_path)
    try:
        statuses = [httpx.get(f"{server.url}/api/admin/users", headers={"X-Admin-Token": f"guess-{i}"}).status_code for i in range(12)]
        assert statuses[:10] == [403] * 10 and statuses[10:] == [429, 429]
        locked = server.admin("GET", "/users")  # even the right token waits out the window
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) >= 1
    finally:
        server.stop()


# 12. the API's own errors for unknown paths and methods
def test_unknown_paths_and_methods_answer_in_the_api_format(live: LiveServer) -> None:
    _, key = live.account()
    missing = httpx.get(f"{live.url}/api/v1/nothing-here", headers=bearer(key))
    assert missing.status_code == 404 and missing.json()["code"] == "not_found" and "X-RateLimit-Limit" in missing.headers
    wrong = httpx.delete(f"{live.url}/api/v1/account", headers=bearer(key))
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed" and wrong.headers["Allow"] == "GET"
    hitpaw = httpx.get(f"{live.url}/api/photo-enhancer", headers={"Apikey": key})
    assert hitpaw.status_code == 405 and hitpaw.json()["error_code"] == 100400002


def test_openapi_documents_security_and_every_error(live: LiveServer) -> None:
    schema = httpx.get(f"{live.url}/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["Bearer"]["scheme"] == "bearer" and schemes["Apikey"]["name"] == "Apikey"
    create = schema["paths"]["/api/v1/jobs/api"]["post"]
    assert {"401", "402", "403", "404", "413", "422", "429", "500", "503"} <= set(create["responses"])
    assert create["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/V1Error")
    assert create["security"] == [{"Bearer": []}]
    enhancer = schema["paths"]["/api/photo-enhancer"]["post"]
    assert enhancer["responses"]["402"]["content"]["application/json"]["schema"]["$ref"].endswith("/HitpawErrorBody")
