"""Tiers, users and API keys. Keys are shown once and stored only as a sha256 hash."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .db import ApiKey, User, now

KEY_PREFIX = "sk_live_"
#: one address: no spaces or control characters, one @, a dot in the domain
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$"
LAST_USED_RESOLUTION = timedelta(minutes=1)  # how precisely a key's "last used" is kept
MAX_BALANCE = 2**31 - 1  # credits and coins fit a 32-bit integer column in every database


@dataclass(frozen=True)
class Tier:
    name: str
    api: bool
    per_minute: int
    per_month: int | None  # None: unlimited
    max_keys: int | None  # None: unlimited


#: spec 000's table; "free" cannot use the API at all
TIERS: dict[str, Tier] = {
    "free": Tier("free", api=False, per_minute=0, per_month=0, max_keys=0),
    "pro": Tier("pro", api=True, per_minute=50, per_month=50_000, max_keys=10),
    "business": Tier("business", api=True, per_minute=200, per_month=200_000, max_keys=50),
    "enterprise": Tier("enterprise", api=True, per_minute=10_000, per_month=None, max_keys=None),
}


class AccountError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def check_balance(amount: int) -> None:
    if not 0 <= amount <= MAX_BALANCE:
        raise AccountError(f"a balance must be between 0 and {MAX_BALANCE:,}", 422)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


PBKDF2_ROUNDS = 240_000


def set_password(user: User, password: str) -> None:
    if len(password) < 8:
        raise AccountError("a password needs at least 8 characters")
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), PBKDF2_ROUNDS).hex()
    user.password_hash = f"pbkdf2_sha256${PBKDF2_ROUNDS}${salt}${digest}"


def check_password(session: Session, email: str, password: str) -> bool:
    user = session.scalar(select(User).where(User.email == email))
    if user is None or not user.password_hash:
        hashlib.pbkdf2_hmac("sha256", password.encode(), b"timing", PBKDF2_ROUNDS)  # unknown users take as long
        return False
    _, rounds, salt, digest = user.password_hash.split("$")
    candidate = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(rounds)).hex()
    return secrets.compare_digest(candidate, digest)


def get_or_create(session: Session, email: str, **defaults: object) -> User:
    return session.scalar(select(User).where(User.email == email)) or create_user(session, email, **defaults)  # type: ignore[arg-type]


def create_user(session: Session, email: str, tier: str = "free", credits: int = 0, coins: int = 0) -> User:
    if tier not in TIERS:
        raise AccountError(f"unknown tier {tier!r} (one of: {', '.join(TIERS)})")
    if not re.fullmatch(EMAIL_PATTERN, email) or len(email) > 254:
        raise AccountError(f"{email!r} is not an email address", 422)
    for amount in (credits, coins):
        check_balance(amount)
    if session.scalar(select(User).where(User.email == email)):
        raise AccountError(f"a user with email {email} exists", 409)
    user = User(email=email, tier=tier, credits=credits, coins=coins)
    session.add(user)
    session.flush()
    return user


def create_key(session: Session, user: User, name: str = "") -> tuple[ApiKey, str]:
    """A new key: (the stored record, the key itself — returned this once and never again)."""
    tier = TIERS[user.tier]
    if not tier.api:
        raise AccountError(f"the {user.tier} tier has no API access; upgrade to Pro or higher", 403)
    active = session.scalars(select(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))).all()
    if tier.max_keys is not None and len(active) >= tier.max_keys:
        raise AccountError(f"the {user.tier} tier allows at most {tier.max_keys} active keys; revoke one first", 409)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(user_id=user.id, key_hash=hash_key(key), prefix=key[: len(KEY_PREFIX) + 4], name=name)
    session.add(record)
    session.flush()
    return record, key


def revoke_key(session: Session, user_id: str, key_id: str) -> bool:
    done = session.execute(
        update(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None)).values(revoked_at=now())
    )
    return done.rowcount == 1


def authenticate(session: Session, key: str) -> User | None:
    """The user owning an active key (and stamp its last use), or None."""
    if not key.startswith(KEY_PREFIX):
        return None
    record = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None)))
    if record is None:
        return None
    moment = now()
    last = record.last_used_at
    if last is None or moment - (last if last.tzinfo else last.replace(tzinfo=moment.tzinfo)) > LAST_USED_RESOLUTION:
        record.last_used_at = moment  # a write at most once a minute per key, not one per status poll
    return session.get(User, record.user_id)


def charge(session: Session, user_id: str, credits: int = 0, coins: int = 0) -> bool:
    """Atomically take credits/coins if the balance allows; False when it does not."""
    if credits == 0 and coins == 0:
        return True
    done = session.execute(
        update(User)
        .where(User.id == user_id, User.credits >= credits, User.coins >= coins)
        .values(credits=User.credits - credits, coins=User.coins - coins)
    )
    return done.rowcount == 1


def refund(session: Session, user_id: str, credits: int = 0, coins: int = 0) -> None:
    session.execute(update(User).where(User.id == user_id).values(credits=User.credits + credits, coins=User.coins + coins))
