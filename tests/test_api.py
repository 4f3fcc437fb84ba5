"""The REST APIs against a live server on 127.0.0.1: both specs' flows, auth, limits, credits, SSRF."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import requests
from PIL import Image
from sqlalchemy import create_engine, text

from service.storage import NotFound, Storage
from tests.conftest import EXAMPLES
from tests.corpus import BAD
from tests.server_harness import LiveServer, bearer, start
from tests.server_harness import image_host as serve


def live_storage(live: LiveServer) -> Storage:
    return Storage(live.data_dir)

HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Limit-Month", "X-RateLimit-Remaining-Month")


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small real photo crops (model jobs stay fast on CPU), served by a local image host."""
    folder = tmp_path_factory.mktemp("www")
    Image.open(EXAMPLES / "cat.jpg").crop((150, 80, 214, 128)).save(folder / "small.jpg", quality=92)
    Image.open(EXAMPLES / "portrait.jpg").crop((180, 60, 228, 108)).save(folder / "face.png")
    return folder


@pytest.fixture(scope="module")
def image_host(images: Path) -> Iterator[str]:
    with serve(images, {"/redirect-to-metadata": "http://169.254.169.254/latest/meta-data/"}) as host:
        yield host


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, image_host: str) -> Iterator[LiveServer]:
    server = start(tmp_path_factory.mktemp("data"), ssrf_allow=image_host)
    yield server
    server.stop()






def test_spec_000_complete_example(live: LiveServer, images: Path) -> None:
    _, key = live.account()
    with open(images / "small.jpg", "rb") as handle:
        upload = httpx.post(f"{live.url}/api/v1/upload/api", headers=bearer(key), files={"file": ("image.jpg", handle, "image/jpeg")})
    assert upload.status_code == 200, upload.text
    body = upload.json()
    assert body["storage_key"].startswith("uploads/") and body["filename"] == "image.jpg" and body["content_type"] == "image/jpeg"
    assert body["size"] == (images / "small.jpg").stat().st_size
    created = httpx.post(
        f"{live.url}/api/v1/jobs/api", headers=bearer(key),
        json={"input_key": body["storage_key"], "operations": [{"type": "enhance", "params": {"scale": 2}}]},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["status"] in ("queued", "processing")
    job = live.poll(key, created.json()["id"])
    assert job["status"] == "completed", job
    assert job["output_url"].startswith("outputs/") and job["error_message"] is None and job["input_url"] == body["storage_key"]
    assert job["engines"] == ["realesrgan-x4plus"] and job["created_at"].endswith("Z")
    result = httpx.get(f"{live.url}/api/v1/files/{job['output_url']}", headers=bearer(key))
    assert result.status_code == 200 and Image.open(__import__("io").BytesIO(result.content)).size == (128, 96)
    assert httpx.get(job["download_url"]).status_code == 200  # the signed link needs no key
    listed = httpx.get(f"{live.url}/api/v1/jobs/api", headers=bearer(key)).json()
    assert listed["total"] == 1 and listed["jobs"][0]["id"] == job["id"]


class HitPawAPIClient:
    """Spec 002's own client, as written there (requests, fields read at the top level)."""

    def __init__(self, api_key: str, base_url: str) -> None:
        self.base_url = base_url
        self.headers = {"Content-Type": "application/json", "Apikey": api_key}

    def enhance_photo(self, img_url: str, model_name: str, extension: str = ".jpg", exif: bool = True, dpi: int = 300) -> dict:
        payload = {"model_name": model_name, "img_url": img_url, "extension": extension, "exif": exif, "DPI": dpi}
        response = requests.post(f"{self.base_url}/api/photo-enhancer", headers=self.headers, data=json.dumps(payload))
        if response.status_code == 200:
            return response.json()
        raise Exception(f"Error {response.status_code}: {response.text}")

    def check_status(self, job_id: str) -> dict:
        response = requests.post(f"{self.base_url}/api/task-status", headers=self.headers, data=json.dumps({"job_id": job_id}))
        if response.status_code == 200:
            return response.json()
        raise Exception(f"Error {response.status_code}: {response.text}")

    def wait_for_completion(self, job_id: str, max_attempts: int = 240, poll_interval: float = 0.5) -> dict:
        import time

        for _ in range(max_attempts):
            result = self.check_status(job_id)
            if result["status"] == "COMPLETED":
                return result
            if result["status"] == "ERROR":
                raise Exception("Job failed with ERROR status")
            time.sleep(poll_interval)
        raise Exception("Job did not complete")


def test_spec_002_python_flow(live: LiveServer, image_host: str) -> None:
    user_id, key = live.account(coins=100)
    client = HitPawAPIClient(key, live.url)
    photo = client.enhance_photo(f"http://{image_host}/small.jpg", model_name="general_2x", extension=".png")
    assert photo["data"]["job_id"] == photo["job_id"] and photo["consume_coins"] == 20 and photo["code"] == 200
    final = client.wait_for_completion(photo["job_id"])
    assert final["data"]["status"] == "COMPLETED" and final["original_url"] == f"http://{image_host}/small.jpg"
    result = requests.get(final["res_url"])
    assert result.status_code == 200 and Image.open(__import__("io").BytesIO(result.content)).format == "PNG"
    assert Image.open(__import__("io").BytesIO(result.content)).info.get("dpi", (0, 0))[0] == pytest.approx(300, abs=0.1)
    users = live.admin("GET", "/users").json()
    assert next(u for u in users if u["id"] == user_id)["coins"] == 80


def test_spec_002_example_model_name_works(live: LiveServer, image_host: str) -> None:
    _, key = live.account(coins=100)
    photo = HitPawAPIClient(key, live.url).enhance_photo(f"http://{image_host}/small.jpg", model_name="enhanced_v1", extension=".jpg")
    assert photo["consume_coins"] == 30  # general_4x, what the spec's examples mean by enhanced_v1


def hitpaw(live: LiveServer, key: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{live.url}/api/{path}", headers={"Apikey": key}, json=body, timeout=60)


def test_spec_002_error_codes(live: LiveServer, image_host: str) -> None:
    _, key = live.account(coins=10)
    good = {"model_name": "general_2x", "img_url": f"http://{image_host}/small.jpg", "extension": ".jpg"}
    cases = [
        ("bad-key", good, 400, 110400000),
        (key, {**good, "model_name": "no_such_model"}, 400, 110400005),
        (key, {**good, "extension": ".gif"}, 400, 110400007),
        (key, {**good, "img_url": "ftp://example.com/x.jpg"}, 400, 100400001),
        (key, {"model_name": "general_2x"}, 403, 100403000),
        (key, good, 402, 110402000),  # 20 coins needed, 10 held
    ]
    for api_key, body, status, code in cases:
        response = hitpaw(live, api_key, "photo-enhancer", body)
        assert (response.status_code, response.json()["error_code"]) == (status, code), (body, response.text)
        assert set(response.json()) >= {"error_code", "message"}
        assert all(h in response.headers for h in HEADERS)
    missing = hitpaw(live, key, "task-status", {"job_id": "no-such-job"})
    assert (missing.status_code, missing.json()) == (400, {"error_code": 110400002, "message": "The task does not exist"})


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:1/x.jpg", "http://10.0.0.7/x.jpg", "http://169.254.169.254/latest/meta-data/", "http://[::1]/x.jpg",
     "http://localhost/x.jpg", "http://0.0.0.0/x.jpg", "http://[2002:a9fe:a9fe::]/x.jpg", "http://[2002:7f00:1::]/x.jpg",
     "http://[2001:0:a00:1:8000:63bf:3fff:fdd2]/x.jpg", "http://[64:ff9b::a9fe:a9fe]/x.jpg", "http://[::ffff:10.0.0.1]/x.jpg"],
)  # fmt: skip
def test_ssrf_targets_are_refused(live: LiveServer, url: str) -> None:
    _, key = live.account()
    response = hitpaw(live, key, "photo-enhancer", {"model_name": "general_2x", "img_url": url, "extension": ".jpg"})
    assert response.status_code == 400 and response.json()["error_code"] == 100400001, response.text
    assert "not a public address" in response.json()["detail"]


def test_a_redirect_inside_the_network_fails_the_job_and_refunds(live: LiveServer, image_host: str) -> None:
    """The download runs off the request path, so a redirect is seen there: the job ends in ERROR."""
    user_id, key = live.account(coins=100)
    client = HitPawAPIClient(key, live.url)
    job_id = client.enhance_photo(f"http://{image_host}/redirect-to-metadata", model_name="general_2x")["job_id"]
    with pytest.raises(Exception, match="ERROR"):
        client.wait_for_completion(job_id)
    final = client.check_status(job_id)
    assert final["error_code"] == 100400001 and "not a public address" in final["error_message"]
    assert next(u for u in live.admin("GET", "/users").json() if u["id"] == user_id)["coins"] == 100


def test_auth_failures_carry_rate_limit_headers(live: LiveServer) -> None:
    user_id, key = live.account()
    for headers, status in (({}, 401), (bearer("sk_live_wrong"), 401), (bearer("not-a-key"), 401)):
        response = httpx.get(f"{live.url}/api/v1/account", headers=headers)
        assert response.status_code == status and all(h in response.headers for h in HEADERS)
        assert response.json()["code"] == "unauthorized"
    key_id = live.admin("GET", f"/users/{user_id}/keys").json()[0]["id"]
    assert httpx.get(f"{live.url}/api/v1/account", headers=bearer(key)).status_code == 200
    assert live.admin("DELETE", f"/users/{user_id}/keys/{key_id}").status_code == 200
    assert httpx.get(f"{live.url}/api/v1/account", headers=bearer(key)).status_code == 401
    free_id, _ = live.account(tier="free")
    refused = live.admin("POST", f"/users/{free_id}/keys", json={})
    assert refused.status_code == 403 and "no API access" in refused.json()["detail"]


def test_keys_are_hashed_limited_per_tier_and_track_last_use(live: LiveServer) -> None:
    user_id, key = live.account()
    httpx.get(f"{live.url}/api/v1/account", headers=bearer(key))
    engine = create_engine(f"sqlite:///{live.data_dir / 'studio.db'}")
    with engine.connect() as connection:
        dump = "\n".join(str(row) for table in ("users", "api_keys", "jobs") for row in connection.execute(text(f"select * from {table}")))  # noqa: S608
    assert key not in dump and key[8:] not in dump
    keys = live.admin("GET", f"/users/{user_id}/keys").json()
    assert keys[0]["last_used_at"] is not None and keys[0]["prefix"] == key[:12]
    for _ in range(9):
        assert live.admin("POST", f"/users/{user_id}/keys", json={}).status_code == 201
    eleventh = live.admin("POST", f"/users/{user_id}/keys", json={})
    assert eleventh.status_code == 409 and "at most 10" in eleventh.json()["detail"]


def test_rate_limit_is_exact_under_concurrency(live: LiveServer) -> None:
    _, key = live.account(tier="pro")  # 50 per minute
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(lambda _: httpx.get(f"{live.url}/api/v1/account", headers=bearer(key), timeout=30), range(62)))
    ok = [r for r in responses if r.status_code == 200]
    limited = [r for r in responses if r.status_code == 429]
    assert len(ok) == 50 and len(limited) == 12
    assert sorted(int(r.headers["X-RateLimit-Remaining"]) for r in ok) == list(range(50))
    assert all(r.headers["X-RateLimit-Remaining"] == "0" and int(r.headers["Retry-After"]) >= 1 for r in limited)
    assert {r.headers["X-RateLimit-Limit"] for r in responses} == {"50"}
    assert min(int(r.headers["X-RateLimit-Remaining-Month"]) for r in ok) == 50_000 - 50


def test_storage_keys_of_others_and_traversal_are_404(live: LiveServer, images: Path) -> None:
    _, alice = live.account()
    _, mallory = live.account()
    with open(images / "small.jpg", "rb") as handle:
        key = httpx.post(f"{live.url}/api/v1/upload/api", headers=bearer(alice), files={"file": handle}).json()["storage_key"]
    steal = httpx.post(f"{live.url}/api/v1/jobs/api", headers=bearer(mallory), json={"input_key": key, "operations": [{"type": "convert", "params": {"output_format": "png"}}]})
    assert steal.status_code == 404
    assert httpx.get(f"{live.url}/api/v1/files/{key}", headers=bearer(mallory)).status_code == 404
    # clients normalise "..", so send it encoded: the server sees the dots and must refuse
    for sneaky in (f"uploads/%2E%2E/{key}", "uploads/%2E%2E/%2E%2E/studio.db", key.replace("uploads/", "uploads/%2E/")):
        assert httpx.get(f"{live.url}/api/v1/files/{sneaky}", headers=bearer(alice)).status_code == 404
    user_id = key.split("/")[1]
    for sneaky in (f"uploads/{user_id}/../../studio.db", f"uploads/{user_id}/..", f"outputs/{user_id}/x.jpg/../../y.png"):
        with pytest.raises(NotFound):
            live_storage(live).check(sneaky, user_id)
    assert httpx.get(f"{live.url}/api/v1/files/{key}", headers=bearer(alice)).status_code == 200


def test_credits_checked_before_start_and_refunded_on_failure(live: LiveServer, images: Path) -> None:
    user_id, key = live.account(credits=1)
    with open(images / "small.jpg", "rb") as handle:
        storage_key = httpx.post(f"{live.url}/api/v1/upload/api", headers=bearer(key), files={"file": handle}).json()["storage_key"]
    too_much = httpx.post(f"{live.url}/api/v1/jobs/api", headers=bearer(key), json={"input_key": storage_key, "operations": [{"type": "enhance", "params": {"scale": 4}}]})
    assert too_much.status_code == 402 and "costs 2 credits" in too_much.json()["detail"]
    steps = [{"type": "enhance", "params": {"scale": 2}}, {"type": "crop-resize", "params": {"crop": {"pixels": [0, 0, 5000, 10]}}}]
    failing = httpx.post(f"{live.url}/api/v1/jobs/api", headers=bearer(key), json={"input_key": storage_key, "operations": steps})
    assert failing.status_code == 201 and failing.json()["credits"] == 1
    job = live.poll(key, failing.json()["id"])
    assert job["status"] == "failed" and "goes outside" in job["error_message"]
    assert next(u for u in live.admin("GET", "/users").json() if u["id"] == user_id)["credits"] == 1  # refunded
    free = httpx.post(f"{live.url}/api/v1/jobs/api", headers=bearer(key), json={"input_key": storage_key, "operations": [{"type": "convert", "params": {"output_format": "webp"}}]})
    assert free.status_code == 201 and free.json()["credits"] == 0


def test_invalid_jobs_list_every_problem(live: LiveServer) -> None:
    _, key = live.account()
    body = {"input_key": "uploads/x/y.jpg", "operations": [{"type": "enhance", "params": {"scale": 3}}, {"type": "nope"}]}
    response = httpx.post(f"{live.url}/api/v1/jobs/api", headers=bearer(key), json=body)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == ["operations[0].params.scale", "operations[1].type"]


def test_bad_files_get_4xx_and_the_server_stays_up(live: LiveServer) -> None:
    _, key = live.account()
    for case in BAD:
        response = httpx.post(f"{live.url}/api/v1/upload/api", headers=bearer(key), files={"file": (case.name, case.make())})
        assert 400 <= response.status_code < 500, (case.name, response.text)
        assert case.says in response.json()["detail"]
    assert httpx.get(f"{live.url}/api/v1/account", headers=bearer(key)).status_code == 200


def test_openapi_docs_show_real_schemas(live: LiveServer) -> None:
    schema = httpx.get(f"{live.url}/openapi.json").json()
    assert {"/api/v1/upload/api", "/api/v1/jobs/api", "/api/v1/jobs/api/{job_id}", "/api/photo-enhancer", "/api/task-status"} <= set(schema["paths"])
    assert {"JobCreate", "JobResponse", "UploadResponse", "StepRequest", "EnhanceRequest"} <= set(schema["components"]["schemas"])
    assert "swagger-ui" in httpx.get(f"{live.url}/docs").text


def test_retention_purges_old_files(tmp_path: Path) -> None:
    import os
    import time

    storage = Storage(tmp_path)
    keys = [storage.new_key(kind, "0" * 8 + "-0000-0000-0000-" + "0" * 12, "png") for kind in ("uploads", "outputs")]
    for key in keys:
        storage.write(key, b"x")
    old, new = (tmp_path / key for key in keys)
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert storage.purge(3600) == 1 and not old.exists() and new.exists()
