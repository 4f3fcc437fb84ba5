"""What the OpenAPI document says about security and errors, kept true to what the server sends."""

from __future__ import annotations

from typing import Any

from fastapi.security import APIKeyHeader, HTTPBearer
from pydantic import BaseModel, Field

from .errors import HITPAW_CODES

#: the key schemes (auto_error off: the gate answers missing or bad keys in each family's format)
BEARER = HTTPBearer(auto_error=False, scheme_name="Bearer", description="Authorization: Bearer sk_live_... (spec 000)")
APIKEY = APIKeyHeader(name="Apikey", auto_error=False, scheme_name="Apikey", description="Apikey: sk_live_... (spec 002)")
ADMIN_TOKEN = APIKeyHeader(name="X-Admin-Token", auto_error=False, scheme_name="AdminToken", description="STUDIO_ADMIN_TOKEN")


class ErrorLocation(BaseModel):
    loc: str
    msg: str


class V1Error(BaseModel):
    """Every spec-000 (and admin) error."""

    detail: str = Field(description="What went wrong, in words.")
    code: str = Field(description="A short machine-readable reason, e.g. insufficient_credits.")
    errors: list[ErrorLocation] = Field(description="Each invalid field with its dotted location (422).")


class HitpawErrorBody(BaseModel):
    """Every spec-002 error: its numeric code and message, as the spec's tables say."""

    error_code: int = Field(json_schema_extra={"enum": sorted(HITPAW_CODES)})
    message: str
    detail: str | None = Field(None, description="Why, in words (an addition to the spec).")


_RATE_HEADERS = {
    name: {"description": text, "schema": {"type": "string"}}
    for name, text in (
        ("X-RateLimit-Limit", "requests allowed per minute"),
        ("X-RateLimit-Remaining", "requests left this minute"),
        ("X-RateLimit-Reset", "Unix time when the minute window resets"),
        ("X-RateLimit-Limit-Month", "requests allowed per month, or unlimited"),
        ("X-RateLimit-Remaining-Month", "requests left this month, or unlimited"),
    )
}
_WHY = {
    400: "Bad request", 401: "Missing, invalid or revoked API key", 402: "Not enough credits or coins", 403: "Forbidden",
    404: "Not found", 405: "Method not allowed", 409: "Conflict", 413: "Request body or file too large",
    415: "Not a supported image", 422: "Invalid request (every problem with its location), or an operation this installation cannot run", 429: "Rate limited (see Retry-After)",
    500: "Internal error", 503: "Busy with other large images (see Retry-After)",
}  # fmt: skip

V1_STATUSES = (400, 401, 403, 404, 405, 413, 415, 422, 429, 500, 503)
HITPAW_STATUSES = (400, 402, 403, 404, 405, 413, 429, 500)


def error_responses(model: type[BaseModel], statuses: tuple[int, ...], rate_headers: bool = True) -> dict[int | str, dict[str, Any]]:
    headers = {"headers": _RATE_HEADERS} if rate_headers else {}
    return {status: {"model": model, "description": _WHY[status], **headers} for status in statuses}


def ok_response(rate_headers: bool = True, **extra: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": "Success", **({"headers": _RATE_HEADERS} if rate_headers else {}), **extra}}
