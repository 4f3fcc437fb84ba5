"""Web-app sign-in throttling that a stranger cannot turn against the owner.

Wrong passwords are counted per (address, account) pair, then more loosely per address (one
address guessing across accounts) and per account (many addresses guessing one account). A
browser that has signed in to an account before carries a device token for it (an HMAC the server
can check without storing anything); its attempts are counted on that device alone, so a flood of
wrong guesses from elsewhere never locks the owner's own browser out. This is the device-cookie
scheme that OWASP recommends against both guessing and lockout attacks.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

from limits import RateLimitItem, parse_many
from limits.storage import Storage

DEVICE_COOKIE = "studio-device"
DEVICE_DAYS = 180


@dataclass
class Attempt:
    """One sign-in request as the door saw it, and what came of it."""

    address: str
    device: str | None = None  # the device token the browser presented
    retry_after: int = 0  # > 0: refused for too many wrong guesses
    signed_in: str | None = None  # the account, once the password was right


#: the sign-in request being handled (set by the door, read where the password is checked)
ATTEMPT: ContextVar[Attempt | None] = ContextVar("login_attempt", default=None)


class TooManyFailures(Exception):
    def __init__(self, wait: int) -> None:
        super().__init__(f"too many failed attempts; try again in {wait} s")
        self.wait = wait


@dataclass
class LoginGuard:
    storage: Storage
    secret: bytes
    per_pair: str  # limits notation: wrong guesses per (address, account), and per known device
    spread: str  # per address across accounts, and per account across addresses
    _pair: list[RateLimitItem] = field(init=False)
    _spread: list[RateLimitItem] = field(init=False)

    def __post_init__(self) -> None:
        self._pair, self._spread = parse_many(self.per_pair), parse_many(self.spread)

    # --- device tokens ----------------------------------------------------------------------
    def device_token(self, email: str) -> str:
        nonce = secrets.token_urlsafe(12)
        return f"{nonce}.{self._mac(email, nonce)}"

    def known_device(self, token: str | None, email: str) -> str | None:
        """The device's id when ``token`` was issued to this account, else None."""
        nonce, _, mac = (token or "").partition(".")
        if not nonce or not mac or len(token or "") > 200:
            return None
        return nonce if hmac.compare_digest(mac, self._mac(email, nonce)) else None

    def _mac(self, email: str, nonce: str) -> str:
        return hmac.new(self.secret, f"device:{email.lower()}:{nonce}".encode(), hashlib.sha256).hexdigest()[:40]

    # --- counting ---------------------------------------------------------------------------
    def counters(self, email: str, address: str, device: str | None) -> list[Counter]:
        account = email.lower()
        if device is not None:
            identities = [(self._pair, f"device:{device}")]
        else:
            identities = [(self._pair, f"pair:{address}:{account}"), (self._spread, f"ip:{address}"), (self._spread, f"account:{account}")]
        return [(item, item.key_for("logins", identity)) for items, identity in identities for item in items]

    def check(self, email: str, attempt: Attempt, verify: Callable[[], bool]) -> bool:
        """Whether the password is right, counting a wrong one; TooManyFailures before any check
        when this attempt's counters are used up."""
        counters = self.counters(email, attempt.address, self.known_device(attempt.device, email))
        if wait := wait_for(self.storage, counters):
            raise TooManyFailures(wait)
        if verify():
            return True
        count(self.storage, counters)
        return False


#: a limit, and the storage key its failures are counted on
Counter = tuple[RateLimitItem, str]


def wait_for(storage: Storage, counters: list[Counter]) -> int:
    """Seconds until the first used-up counter frees again; 0 when none is used up."""
    for item, key in counters:
        if storage.get(key) >= item.amount:
            return max(1, math.ceil(storage.get_expiry(key) - time.time()))
    return 0


def count(storage: Storage, counters: list[Counter]) -> None:
    """One more failure on each counter."""
    for item, key in counters:
        storage.incr(key, item.get_expiry())
