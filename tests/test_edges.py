"""The server's edge (audit findings): security headers on every response, CORS only for configured
origins, Secure cookies over HTTPS, 405s that name the route's own methods, docs without a CDN,
and refusals that log one line rather than a traceback."""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from starlette.testclient import TestClient

from app import create as create_app
from ops.errors import InputError
from ops.settings import Settings
from server.edges import Edges
from service.accounts import create_user, set_password
from service.db import Database
from tests.conftest import EXAMPLES
from tests.server_harness import ADMIN, LiveServer, bearer, start

TRUSTED = "https://app.example"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start(tmp_path_factory.mktemp("edges"), with_ui=True, ui_login="off", cors_origins=f"{TRUSTED}, https://other.example")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def key(live: LiveServer) -> str:
    return live.account()[1]


def assert_secured(response: httpx.Response) -> None:
    policy = response.headers.get("content-security-policy", "")
    assert "frame-ancestors 'self'" in policy and "default-src 'self'" in policy, (response.url, policy)
    assert response.headers.get("x-frame-options") == "SAMEORIGIN"
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("referrer-policy") == "same-origin"


def test_every_kind_of_response_carries_the_security_headers(live: LiveServer, key: str) -> None:
    responses = [
        httpx.get(f"{live.url}/"),  # the web app
        httpx.get(f"{live.url}/docs"),
        httpx.get(f"{live.url}/gradio_api/info"),  # Gradio's API
        httpx.get(f"{live.url}/no-such-page"),  # Gradio's 404
        httpx.get(f"{live.url}/api/v1/jobs/api"),  # the API's 401
        httpx.get(f"{live.url}/api/v1/jobs/api", headers=bearer(key)),
        httpx.post(f"{live.url}/api/v1/jobs/api", headers=bearer(key), json={}),  # 422
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 404, 401, 200, 422]
    for response in responses:
        assert_secured(response)


def test_a_crash_carries_the_headers_and_a_refusal_logs_no_traceback(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(Settings(data_dir=tmp_path), with_ui=False)

    def crash() -> None:
        raise RuntimeError("a real fault")

    def refuse() -> None:
        raise InputError("an expected refusal no handler maps")

    app.add_api_route("/crash", crash)
    app.add_api_route("/refuse", refuse)
    with caplog.at_level(logging.INFO, logger="server.app"):
        with TestClient(app, raise_server_exceptions=False) as client:
            crashed = client.get("/crash")
        with TestClient(app) as client:  # a refusal is not raised on to the server (which would print its traceback)
            refused = client.get("/refuse")
    assert crashed.status_code == refused.status_code == 500 and refused.json()["code"] == "internal"  # what clients see is unchanged
    assert_secured(crashed)
    records = {r.getMessage().split(":")[0]: r for r in caplog.records if r.name == "server.app"}
    assert records["unhandled error on /crash"].exc_info is not None
    refusal = records["unmapped refusal on /refuse"]
    assert refusal.exc_info is None and "an expected refusal no handler maps" in refusal.getMessage()


def test_on_a_space_hugging_face_may_frame_the_app() -> None:
    async def page(scope: dict, receive: object, send) -> None:  # noqa: ANN001
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-frame-options", b"DENY")]})
        await send({"type": "http.response.body", "body": b"ok"})

    response = TestClient(Edges(page, Settings(SPACE_ID="someone/studio"))).get("/")  # type: ignore[arg-type]
    assert "frame-ancestors 'self' https://huggingface.co https://*.hf.space" in response.headers["content-security-policy"]
    assert "x-frame-options" not in response.headers  # it cannot name another site


def test_cors_only_for_configured_origins(live: LiveServer, key: str) -> None:
    for path, headers in (("/gradio_api/info", {}), ("/api/v1/jobs/api", bearer(key))):
        local = httpx.get(f"{live.url}{path}", headers={"Origin": "http://localhost:1234", **headers})
        public = httpx.get(f"{live.url}{path}", headers={"Origin": "https://evil.example", "Host": "studio.example", **headers})
        assert local.status_code == public.status_code == 200
        assert not [h for h in (*local.headers, *public.headers) if h.startswith("access-control-")]
        trusted = httpx.get(f"{live.url}{path}", headers={"Origin": TRUSTED, **headers})
        assert trusted.headers["access-control-allow-origin"] == TRUSTED and "Origin" in trusted.headers.get_list("vary")
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    refused = httpx.options(f"{live.url}/gradio_api/upload", headers={"Origin": "http://localhost:1234", **ask})
    allowed = httpx.options(f"{live.url}/api/v1/upload/api", headers={"Origin": TRUSTED, **ask})
    assert "access-control-allow-origin" not in refused.headers
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == TRUSTED
    assert "POST" in allowed.headers["access-control-allow-methods"] and allowed.headers["access-control-allow-headers"] == "authorization"


def test_login_cookies_are_secure_over_https(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, ui_login="on", admin_token=ADMIN)
    app = create_app(settings, with_ui=True)
    with Database(settings.db_url).session() as session:
        set_password(create_user(session, "me@example.com"), PASSWORD)
    credentials = {"username": "me@example.com", "password": PASSWORD}
    with TestClient(app, base_url="https://testserver") as client:
        secure = client.post("/login", data=credentials)
        plain = client.post("http://testserver/login", data=credentials)
    assert secure.status_code == plain.status_code == 200, secure.text
    cookies = secure.headers.get_list("set-cookie")
    assert any(c.startswith("access-token-unsecure-") for c in cookies)
    assert all(re.search(r";\s*secure\b", c, re.I) for c in cookies), cookies
    assert not all(re.search(r";\s*secure\b", c, re.I) for c in plain.headers.get_list("set-cookie"))  # over HTTP, as Gradio sets them


def test_405_names_the_route_methods_and_every_method_answers_in_the_api_format(live: LiveServer, key: str) -> None:
    def call(method: str, path: str) -> httpx.Response:
        return httpx.request(method, f"{live.url}{path}", headers={**bearer(key), "Apikey": key})

    for method in ("DELETE", "TRACE", "FOO"):
        response = call(method, "/api/v1/upload/api")
        assert response.status_code == 405 and response.headers["allow"] == "POST"
        assert response.json()["code"] == "method_not_allowed"
    assert call("DELETE", "/api/admin/users").headers["allow"] == "GET, POST"
    missing = call("TRACE", "/api/v1/no-such-thing")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    for method, path in (("TRACE", "/api/photo-enhancer"), ("PUT", "/api/task-status")):
        response = call(method, path)
        assert response.status_code == 405 and response.headers["allow"] == "POST" and response.json()["error_code"] == 100400002


def test_docs_load_nothing_from_other_hosts(live: LiveServer) -> None:
    html = httpx.get(f"{live.url}/docs").text
    assert "SwaggerUIBundle" in html and not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) == 3  # the script, the stylesheet, the icon
    for asset in assets:
        assert httpx.get(f"{live.url}{asset}").status_code == 200, asset
    assert httpx.get(f"{live.url}/openapi.json").json()["info"]["title"] == "Image Enhancement Studio API"


def test_a_refusal_in_the_web_app_logs_one_line(live: LiveServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    import gradio_client

    image = tmp_path / "small.png"
    Image.new("RGB", (24, 16), "red").save(image)
    client = gradio_client.Client(f"{live.url}/", verbose=False)
    with caplog.at_level(logging.INFO, logger="webui.mount"), pytest.raises(Exception, match="Crop"):
        client.predict(gradio_client.handle_file(str(image)), api_name="/crop-resize")  # neither crop nor resize asked for
    assert "Traceback" not in capfd.readouterr().err
    assert [r.getMessage() for r in caplog.records if r.name == "webui.mount" and "refused" in r.getMessage()]


def test_the_page_and_the_docs_work_under_the_policy(live: LiveServer) -> None:
    """In headless Chromium (when installed, as in CI): a tab runs and /docs renders, with no CSP violation."""
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    from tests.test_browser import ARGS, CHROMIUM, open_tab, run_and_wait, upload

    hook = "window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI))"
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.add_init_script(hook)
        page.goto(live.url, wait_until="load")
        page.get_by_role("tab", name="Convert", exact=True).wait_for(timeout=60_000)
        open_tab(page, "Convert", "Change format")
        upload(page, EXAMPLES / "cup.jpg")
        assert "pillow-codecs" in run_and_wait(page, "Run: Change format")
        open_tab(page, "Retouch", "Remove object")  # the image editor (it compiles code at run time: 'unsafe-eval')
        upload(page, EXAMPLES / "cup.jpg")
        assert page.evaluate("window.__csp") == []
        page.goto(f"{live.url}/docs", wait_until="load")
        page.locator(".swagger-ui .opblock").first.wait_for(timeout=30_000)
        assert page.evaluate("window.__csp") == []
        browser.close()
