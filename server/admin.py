"""Account and key management for operators, behind X-Admin-Token (disabled when no token is set)."""

from __future__ import annotations

import hmac
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Security
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy import select

from service.accounts import EMAIL_PATTERN, MAX_BALANCE, TIERS, AccountError, create_key, create_user, revoke_key
from service.db import ApiKey, User, iso
from service.studio import Studio
from service.terms import Refusal

from .deps import studio
from .errors import ApiError, v1_refusal
from .gate import client_address
from .openapi import ADMIN_TOKEN, V1Error, error_responses, ok_response


def require_admin(request: Request, token: str | None = Security(ADMIN_TOKEN)) -> None:
    """The admin token, with wrong guesses throttled per client address (429 once over the limit)."""
    app = studio(request)
    expected = app.settings.admin_token
    if not expected:
        raise ApiError(404, "not_found", "the admin API is disabled (set STUDIO_ADMIN_TOKEN)")
    address = client_address(request)
    try:
        app.service.guard_attempts(address)
    except Refusal as refusal:
        raise v1_refusal(refusal) from None
    if not token:
        raise ApiError(403, "forbidden", "a valid X-Admin-Token is required")
    if not hmac.compare_digest(token.encode(), expected.encode()):
        app.service.failed_attempt(address)  # a wrong guess counts; a missing header guesses nothing
        raise ApiError(403, "forbidden", "a valid X-Admin-Token is required")


router = APIRouter(
    prefix="/api/admin", tags=["admin"], dependencies=[Depends(require_admin)],
    responses=error_responses(V1Error, (400, 403, 404, 405, 409, 413, 422, 429, 500), rate_headers=False) | ok_response(rate_headers=False),
)  # fmt: skip
def _not_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("a number is required, not true/false")
    return value


Balance = Annotated[int, Field(ge=0, le=MAX_BALANCE), BeforeValidator(_not_bool)]
Tier = Literal[tuple(TIERS)]  # type: ignore[valid-type]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=254, pattern=EMAIL_PATTERN)
    tier: Tier = "pro"
    credits: Balance = 0
    coins: Balance = 0


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tier: Tier | None = None
    credits: Balance | None = None
    coins: Balance | None = None


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("", max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")


def user_dict(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "tier": user.tier, "credits": user.credits, "coins": user.coins, "created_at": iso(user.created_at)}


def key_dict(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id, "prefix": key.prefix, "name": key.name, "created_at": iso(key.created_at),
        "last_used_at": iso(key.last_used_at), "revoked_at": iso(key.revoked_at),
    }  # fmt: skip


def _account_error(exc: AccountError) -> ApiError:
    return ApiError(exc.status, "account_error", exc.message)


@router.post("/users", status_code=201)
def add_user(body: UserCreate, app: Studio = Depends(studio)) -> dict[str, Any]:
    with app.db.session() as session:
        try:
            return user_dict(create_user(session, body.email, body.tier, body.credits, body.coins))
        except AccountError as exc:
            raise _account_error(exc) from None


@router.get("/users")
def list_users(app: Studio = Depends(studio)) -> list[dict[str, Any]]:
    with app.db.session() as session:
        return [user_dict(u) for u in session.scalars(select(User).order_by(User.created_at))]


@router.patch("/users/{user_id}")
def update_user(user_id: str, body: UserUpdate, app: Studio = Depends(studio)) -> dict[str, Any]:
    with app.db.session() as session:
        user = _user(session, user_id)
        for field, value in body.model_dump(exclude_none=True).items():
            setattr(user, field, value)
        return user_dict(user)


@router.post("/users/{user_id}/keys", status_code=201)
def add_key(user_id: str, body: KeyCreate, app: Studio = Depends(studio)) -> dict[str, Any]:
    with app.db.session() as session:
        try:
            record, key = create_key(session, _user(session, user_id), body.name)
        except AccountError as exc:
            raise _account_error(exc) from None
        return key_dict(record) | {"key": key, "note": "shown once: store it now, it cannot be recovered"}


@router.get("/users/{user_id}/keys")
def list_keys(user_id: str, app: Studio = Depends(studio)) -> list[dict[str, Any]]:
    with app.db.session() as session:
        _user(session, user_id)
        return [key_dict(k) for k in session.scalars(select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at))]


@router.delete("/users/{user_id}/keys/{key_id}")
def delete_key(user_id: str, key_id: str, app: Studio = Depends(studio)) -> dict[str, Any]:
    with app.db.session() as session:
        if not revoke_key(session, user_id, key_id):
            raise ApiError(404, "key_not_found", "no such active key for this user")
        return {"id": key_id, "revoked": True}


def _user(session: Any, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise ApiError(404, "user_not_found", f"no user {user_id!r}")
    return user
