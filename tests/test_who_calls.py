"""One way to know who calls (second audit, findings 3 and 4).

X-Forwarded-For counts only from a trusted proxy (STUDIO_TRUSTED_PROXIES, none by default), and
every per-address limit reads the same resolved address. Wrong passwords are throttled per
(address, account), per address and per account, and a browser the owner signed in from before
gets past a stranger's failures.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from gradio_client import Client, handle_file
from limits.storage import MemoryStorage
from PIL import Image

from service.accounts import set_password
from service.db import Database, User
from service.logins import LoginGuard
from tests.conftest import EXAMPLES
from tests.server_harness import LiveServer, start

PASSWORD = "correct horse battery"


def owner(live: LiveServer) -> str:
    user_id, _ = live.account(tier="pro", credits=10)
    with Database(f"sqlite:///{live.data_dir / 'studio.db'}").session() as session:
        user = session.get(User, user_id)
        set_password(user, PASSWORD)
        return user.email


def sign_in(live: LiveServer, email: str, password: str, forwarded: str | None = None, cookies: httpx.Cookies | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return httpx.post(f"{live.url}/login", data={"username": email, "password": password}, headers=headers, cookies=cookies, timeout=30)


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """No trusted proxy (the default): X-Forwarded-For is the caller's word, and ignored."""
    server = start(tmp_path_factory.mktemp("direct"), with_ui=True, ui_login="on", anonymous_per_minute=3)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Behind a proxy on loopback that the operator trusts."""
    server = start(tmp_path_factory.mktemp("proxied"), with_ui=True, ui_login="on", anonymous_per_minute=3, trusted_proxies="127.0.0.1")
    yield server
    server.stop()


def test_rotating_forwarded_for_changes_no_api_limit(direct: LiveServer) -> None:
    statuses = [httpx.get(f"{direct.url}/api/v1/account", headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code for i in range(5)]
    assert statuses == [401, 401, 401, 429, 429]


def test_rotating_forwarded_for_changes_no_login_throttle(direct: LiveServer) -> None:
    email = owner(direct)
    statuses = [sign_in(direct, email, "wrong-guess", f"203.0.113.{i}").status_code for i in range(12)]
    assert statuses[:10] == [400] * 10 and statuses[10:] == [429, 429]


def test_rotating_forwarded_for_changes_no_web_app_allowance(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = start(tmp_path_factory.mktemp("allowance"), with_ui=True, ui_login="off", ui_allowance="2/minute")
    try:
        small = tmp_path_factory.mktemp("img") / "small.png"
        Image.open(EXAMPLES / "cat.jpg").crop((150, 80, 182, 104)).save(small)
        outcomes = []
        for i in range(3):
            client = Client(f"{server.url}/", headers={"X-Forwarded-For": f"192.0.2.{i}"}, verbose=False)
            try:
                client.predict(handle_file(str(small)), "auto", api_name="/enhance-anime")
                outcomes.append("ran")
            except Exception as exc:  # noqa: BLE001
                outcomes.append("refused" if "allows 2 model runs per minute" in str(exc) else str(exc))
        assert outcomes == ["ran", "ran", "refused"]
    finally:
        server.stop()


def test_a_trusted_proxy_names_the_client(proxied: LiveServer) -> None:
    first = [httpx.get(f"{proxied.url}/api/v1/account", headers={"X-Forwarded-For": "198.51.100.7"}).status_code for _ in range(4)]
    other = httpx.get(f"{proxied.url}/api/v1/account", headers={"X-Forwarded-For": "198.51.100.8"})
    assert first == [401, 401, 401, 429] and other.status_code == 401  # each client its own bucket
    spoofed = httpx.get(f"{proxied.url}/api/v1/account", headers={"X-Forwarded-For": "10.9.9.9, 198.51.100.7"})
    assert spoofed.status_code == 429  # the proxy appends the real peer: a client's own entry is not believed


def test_ten_wrong_passwords_from_many_addresses_do_not_lock_the_owner_out(proxied: LiveServer) -> None:
    email = owner(proxied)
    assert [sign_in(proxied, email, "wrong-guess", f"203.0.113.{i}").status_code for i in range(10)] == [400] * 10
    assert sign_in(proxied, email, PASSWORD, "198.51.100.50").status_code == 200


def test_a_stranger_on_the_owners_address_cannot_lock_out_the_owners_browser(direct: LiveServer) -> None:
    email = owner(direct)
    browser = sign_in(direct, email, PASSWORD)  # the owner signed in from this browser before
    assert browser.status_code == 200 and "studio-device" in browser.cookies
    device = httpx.Cookies({"studio-device": browser.cookies["studio-device"]})
    assert [sign_in(direct, email, "wrong-guess").status_code for _ in range(12)][-2:] == [429, 429]  # the stranger is throttled
    assert sign_in(direct, email, PASSWORD, cookies=device).status_code == 200  # the owner's browser is not
    assert sign_in(direct, email, PASSWORD).status_code == 429  # a browser the account does not know is, for now


def test_wrong_passwords_for_other_accounts_do_not_lock_an_address_out(direct: LiveServer) -> None:
    email = owner(direct)
    for i in range(10):
        assert sign_in(direct, f"nobody{i}@example.com", "wrong-guess").status_code == 400
    assert sign_in(direct, email, PASSWORD).status_code == 200


def test_a_device_token_is_bound_to_its_account_and_cannot_be_forged(direct: LiveServer) -> None:
    first, second = owner(direct), owner(direct)
    token = sign_in(direct, first, PASSWORD).cookies["studio-device"]
    assert sign_in(direct, second, "wrong-guess", cookies=httpx.Cookies({"studio-device": token})).status_code == 400
    logins = LoginGuard(MemoryStorage(), b"k" * 32, "10/minute", "50/minute")
    issued = logins.device_token(first)
    assert logins.known_device(issued, first) and logins.known_device(issued.upper(), first) is None
    assert logins.known_device(issued, second) is None and logins.known_device("x.y", first) is None
    assert token and LoginGuard(MemoryStorage(), b"other" * 8, "10/minute", "50/minute").known_device(token, first) is None
