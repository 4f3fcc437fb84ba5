"""The Gradio door goes through the same account gate as REST (audit findings 1, 2 and 9).

Login on: the signed-in account pays, its tier's limits apply on the same counters as its keys.
Login off: nothing callable mints keys or installs models, and model work has a per-address allowance.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file  # noqa: E402  (pinned: a broken install fails loudly, not as a skip)
from PIL import Image
from sqlalchemy import func, select

from service.accounts import KEY_PREFIX, set_password
from service.db import ApiKey, Database, Job, User
from tests import gradio_raw
from tests.conftest import EXAMPLES
from tests.server_harness import LiveServer, start

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("img") / "small.png"
    Image.open(EXAMPLES / "cat.jpg").crop((150, 80, 182, 104)).save(path)
    return str(path)


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start(tmp_path_factory.mktemp("public"), with_ui=True, ui_login="on", operators="ops@example.com")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start(tmp_path_factory.mktemp("local"), with_ui=True, ui_login="off", ui_allowance="3/minute")
    yield server
    server.stop()


def user_with_password(live: LiveServer, **account: object) -> tuple[str, str, str]:
    """(user id, email, API key) of a new account that can sign in to the UI."""
    user_id, key = live.account(**account)  # type: ignore[arg-type]
    db = Database(f"sqlite:///{live.data_dir / 'studio.db'}")
    with db.session() as session:
        user = session.get(User, user_id)
        set_password(user, PASSWORD)
        email = user.email
    return user_id, email, key


def balance(live: LiveServer, user_id: str) -> dict:
    return next(u for u in live.admin("GET", "/users").json() if u["id"] == user_id)


def test_login_on_charges_the_signed_in_account(public: LiveServer, small: str) -> None:
    user_id, email, _ = user_with_password(public, credits=5, coins=25)
    client = Client(f"{public.url}/", auth=(email, PASSWORD), verbose=False)
    _, download, report = client.predict(handle_file(small), 2, "png", api_name="/enhance")
    assert Image.open(download).size == (64, 48) and "realesrgan-x4plus" in report
    assert balance(public, user_id)["credits"] == 4  # enhance 2x: exactly 1 credit
    _, download, _ = client.predict(handle_file(small), 60, api_name="/compress-optimize")
    assert balance(public, user_id)["credits"] == 4  # free stays free
    client.predict(handle_file(small), "general_2x", "auto", api_name="/model")
    assert balance(public, user_id)["coins"] == 5 and balance(public, user_id)["credits"] == 4  # model names cost coins
    with pytest.raises(Exception, match="costs 20 coins; your balance is 5 coins"):
        client.predict(handle_file(small), "general_2x", "auto", api_name="/model")
    db = Database(f"sqlite:///{public.data_dir / 'studio.db'}")
    with db.session() as session:
        statuses = session.scalars(select(Job.status).where(Job.user_id == user_id, Job.api == "ui")).all()
    assert sorted(statuses) == ["completed", "completed", "completed"]  # every UI run recorded, none left open


def test_login_on_refuses_a_user_without_credits(public: LiveServer, small: str) -> None:
    user_id, email, _ = user_with_password(public, tier="free", credits=0)
    client = Client(f"{public.url}/", auth=(email, PASSWORD), verbose=False)
    with pytest.raises(Exception, match="This costs 4 credits; your balance is 0 credits"):
        client.predict(handle_file(small), 8, "png", api_name="/enhance")
    _, download, _ = client.predict(handle_file(small), 60, api_name="/compress-optimize")
    assert Image.open(download).format == "JPEG" and balance(public, user_id)["credits"] == 0


def test_a_failed_ui_run_is_refunded(public: LiveServer, small: str) -> None:
    user_id, email, _ = user_with_password(public, credits=3)
    client = Client(f"{public.url}/", auth=(email, PASSWORD), verbose=False)
    steps = '[{"type": "enhance", "params": {"scale": 2}}, {"type": "crop-resize", "params": {"crop": {"pixels": [0, 0, 5000, 10]}}}]'
    with pytest.raises(Exception, match="goes outside"):
        client.predict(handle_file(small), steps, api_name="/chain")
    assert balance(public, user_id)["credits"] == 3


def test_the_tier_minute_limit_spans_rest_and_gradio(public: LiveServer, small: str) -> None:
    user_id, email, key = user_with_password(public, tier="pro", credits=100)  # 50 a minute
    for _ in range(49):
        assert httpx.get(f"{public.url}/api/v1/account", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    client = Client(f"{public.url}/", auth=(email, PASSWORD), verbose=False)
    client.predict(handle_file(small), 60, api_name="/compress-optimize")  # the 50th request this minute
    with pytest.raises(Exception, match="allows 50 requests a minute"):
        client.predict(handle_file(small), 2, "png", api_name="/enhance")
    refused = httpx.get(f"{public.url}/api/v1/account", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 429 and refused.headers["X-RateLimit-Remaining"] == "0"
    assert balance(public, user_id)["credits"] == 100


def test_login_on_requires_signing_in(public: LiveServer) -> None:
    assert httpx.get(f"{public.url}/config").status_code == 401
    assert gradio_raw.call(public.url, 0, [None])["msg"] == "refused"


def test_model_installation_is_for_operators(public: LiveServer) -> None:
    _, email, _ = user_with_password(public, credits=1)
    cookies = login(public, email)
    install = [d for d in gradio_raw.dependencies(public.url, cookies) if d.get("api_name") == "install"]
    assert len(install) == 1
    reply = gradio_raw.call(public.url, install[0]["id"], ["RealESRGAN_x2plus"], cookies)
    assert reply["success"] is False and "for operators" in reply["output"]["error"]


def login(live: LiveServer, email: str, password: str = PASSWORD) -> httpx.Cookies:
    response = httpx.post(f"{live.url}/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return response.cookies


def test_wrong_ui_passwords_are_throttled(public: LiveServer) -> None:
    statuses = [httpx.post(f"{public.url}/login", data={"username": "x@example.com", "password": "wrong-guess"}).status_code for _ in range(12)]
    assert statuses[:10] == [400] * 10 and statuses[10:] == [429, 429]


def test_login_off_no_function_mints_keys_or_installs_models(local: LiveServer, tmp_path: Path) -> None:
    """Every function of the app, called by fn_index with empty inputs, as an anonymous client."""
    checkpoints_before = sorted(p.name for p in (Path(__file__).resolve().parent.parent / "checkpoints").iterdir())
    deps = gradio_raw.dependencies(local.url)
    assert deps, "the app has functions"
    for dep in deps:
        gradio_raw.call(local.url, dep["id"], [None] * len(dep["inputs"]), timeout=60)
    db = Database(f"sqlite:///{local.data_dir / 'studio.db'}")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ApiKey)) == 0
        assert session.scalar(select(func.count()).select_from(User)) == 0
    assert sorted(p.name for p in (Path(__file__).resolve().parent.parent / "checkpoints").iterdir()) == checkpoints_before
    assert not any(d.get("api_name") in ("install", "new_key", "revoke") for d in deps)


def test_login_off_model_work_has_a_per_address_allowance(local: LiveServer, small: str) -> None:
    client = Client(f"{local.url}/", verbose=False)
    for _ in range(3):
        client.predict(handle_file(small), "auto", api_name="/enhance-anime")
    with pytest.raises(Exception, match="allows 3 model runs per minute for this address"):
        client.predict(handle_file(small), "auto", api_name="/enhance-anime")
    _, download, _ = client.predict(handle_file(small), 60, api_name="/compress-optimize")  # free work is not limited
    assert Image.open(download).format == "JPEG"


def test_every_tab_runs_for_a_signed_in_account(public: LiveServer, small: str, tmp_path: Path) -> None:
    """Gradio injects the request and progress tracker among a handler's inputs: each tab takes its
    inputs by name, so every one of them runs for a signed-in account (blur-background and
    remove-object, whose click state follows the injected arguments, refused everyone before)."""
    from ops.engines import engines_for
    from ops.registry import OPERATIONS

    user_id, email, _ = user_with_password(public, tier="enterprise", credits=10_000, coins=10_000)
    client = Client(f"{public.url}/", auth=(email, PASSWORD), verbose=False)
    width, height = Image.open(small).size
    layer = np.zeros((height, width, 4), np.uint8)
    layer[8:16, 10:20] = (255, 0, 255, 255)
    Image.fromarray(layer, "RGBA").save(tmp_path / "paint.png")
    editor = {"background": handle_file(small), "layers": [handle_file(str(tmp_path / "paint.png"))], "composite": None}
    given = {"image": handle_file(small), "mask": editor, "resize_width": 16}
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    ran = []
    for name, op in OPERATIONS.items():
        values = [given.get(p["parameter_name"], None if p["component"] == "Image" else p["parameter_default"]) for p in endpoints[f"/{name}"]["parameters"]]
        if any(reason is None for _, reason in engines_for(op)):
            _, download, report = client.predict(*values, api_name=f"/{name}")
            assert Path(download).stat().st_size > 0 and "ran on engine" in report, name
            ran.append(name)
        else:
            with pytest.raises(Exception, match="cannot run here|not installed|not available"):
                client.predict(*values, api_name=f"/{name}")
    assert {"blur-background", "remove-object", "enhance", "compress-optimize"} <= set(ran)
    db = Database(f"sqlite:///{public.data_dir / 'studio.db'}")
    with db.session() as session:
        jobs = session.scalars(select(Job).where(Job.user_id == user_id)).all()
    assert sorted(job.status for job in jobs) == ["completed"] * len(ran)  # each run recorded and charged to the account
    assert balance(public, user_id)["credits"] == 10_000 - sum(job.credits for job in jobs) < 10_000


def cells(table: object) -> list[list[object]]:
    """A Dataframe output's rows, however the update wraps them."""
    while isinstance(table, dict):
        table = table.get("value", table.get("data"))
    return table  # type: ignore[return-value]


def test_the_settings_tab_creates_and_revokes_keys_and_shows_usage(public: LiveServer) -> None:
    """The Settings tab's handlers, called as the signed-in browser calls them."""
    user_id, email, rest_key = user_with_password(public, tier="pro", credits=7, coins=3)
    cookies = login(public, email)
    handlers = {d.get("api_name"): d["id"] for d in gradio_raw.dependencies(public.url, cookies)}
    page = uuid.uuid4().hex  # one open page: the key dropdown's choices follow the calls before

    def call(name: str, *data: object) -> dict:
        reply = gradio_raw.call(public.url, handlers[name], list(data), cookies, session=page)
        assert reply["msg"] == "process_completed", reply
        return reply

    made = call("new_key", "laptop")
    assert made["success"], made
    key, summary, rows, _ = made["output"]["data"]
    assert key.startswith(KEY_PREFIX) and len(key) > len(KEY_PREFIX) + 30  # the key itself, shown this once
    assert f"**{email}**" in summary and "tier **pro**, 7 credits, 3 coins" in summary
    table = cells(rows)
    laptop = next(row for row in table if row[2] == "laptop")
    assert laptop[1] == f"{key[: len(laptop[1]) - 1]}…" and laptop[3] == "active" and laptop[4] == "never"
    assert httpx.get(f"{public.url}/api/v1/account", headers={"Authorization": f"Bearer {key}"}).status_code == 200  # the new key works
    seen = call("account")  # the usage view: the request just made is counted, the key's last use stamped
    summary, rows = seen["output"]["data"][:2]
    table = cells(rows)
    assert "Requests this minute: 0 of" not in summary and "Requests this minute:" in summary
    assert next(row for row in table if row[2] == "laptop")[4] != "never"
    revoked = call("revoke", laptop[0])
    assert revoked["success"], revoked
    table = cells(revoked["output"]["data"][1])
    assert next(row for row in table if row[0] == laptop[0])[3] == "revoked"
    assert httpx.get(f"{public.url}/api/v1/account", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert httpx.get(f"{public.url}/api/v1/account", headers={"Authorization": f"Bearer {rest_key}"}).status_code == 200  # the other key stays
    not_offered = "no such active key|not in the list of choices"  # the service refuses it, if the page's dropdown lets it through
    for key_id, why in ((None, "Choose a key to revoke"), (laptop[0], not_offered)):  # nothing chosen; already revoked
        refused = call("revoke", key_id)
        assert refused["success"] is False and re.search(why, refused["output"]["error"]), refused
    _, other_email, _ = user_with_password(public, tier="pro")
    db = Database(f"sqlite:///{public.data_dir / 'studio.db'}")
    with db.session() as session:
        own = session.scalars(select(ApiKey).where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))).first()
    stranger = gradio_raw.call(public.url, handlers["revoke"], [own.id], login(public, other_email))  # another account's key
    assert stranger["success"] is False and re.search(not_offered, stranger["output"]["error"]), stranger
    assert httpx.get(f"{public.url}/api/v1/account", headers={"Authorization": f"Bearer {rest_key}"}).status_code == 200


@pytest.mark.parametrize(
    ("ui_login", "host", "space", "expected"),
    [
        ("auto", None, None, False),  # the default: 127.0.0.1
        ("auto", "127.0.0.1", None, False),
        ("auto", "localhost", None, False),
        ("auto", "::1", None, False),
        ("auto", "0.0.0.0", None, True),  # listening beyond loopback: public
        ("auto", "192.168.1.20", None, True),
        ("auto", None, "someone/studio", True),  # a Space (SPACE_ID): public, whatever the host
        ("on", "127.0.0.1", None, True),
        ("off", "0.0.0.0", None, False),
    ],
)
def test_ui_login_auto_is_on_exactly_when_the_app_is_public(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ui_login: str, host: str | None,
                                                            space: str | None, expected: bool) -> None:  # fmt: skip
    from ops.settings import Settings
    from server.app import ui_login_enabled

    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv("STUDIO_HOST", raising=False)
    if space:
        monkeypatch.setenv("SPACE_ID", space)
    monkeypatch.setenv("STUDIO_UI_LOGIN", ui_login)
    settings = Settings(data_dir=tmp_path, **({"host": host} if host else {}))
    assert settings.ui_login == ui_login and ui_login_enabled(settings) is expected


@pytest.mark.parametrize(("host", "signed_in_only"), [("0.0.0.0", True), ("127.0.0.1", False)])
def test_ui_login_auto_decides_what_the_served_app_asks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str, signed_in_only: bool) -> None:
    monkeypatch.delenv("SPACE_ID", raising=False)
    server = start(tmp_path, with_ui=True, ui_login="auto", host=host)  # bound to loopback here either way: only the setting differs
    try:
        config = httpx.get(f"{server.url}/config", timeout=60)
        assert config.status_code == (401 if signed_in_only else 200)
        if signed_in_only:
            assert httpx.post(f"{server.url}/login", data={"username": "x@example.com", "password": "nope"}).status_code == 400
        else:
            assert not any(d.get("api_name") in ("new_key", "revoke") for d in config.json()["dependencies"])
    finally:
        server.stop()
