"""Error bodies of the two API families, and spec 002's numeric codes."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

#: spec 002: code -> (HTTP status, message), exactly as its tables say
HITPAW_CODES: dict[int, tuple[int, str]] = {
    100400000: (400, "No access"),
    100400001: (400, "Invalid URL"),
    100400002: (400, "Bad Request"),
    100401000: (401, "Token is expired"),
    100403000: (403, "Invalid request parameters"),
    100403001: (403, "Access denied"),
    100403002: (403, "You don't have permission to access this resource"),
    100429000: (429, "Too many requests, please try again later"),
    100500000: (500, "Internal error"),
    100500001: (500, "Database error"),
    100500002: (500, "Cache error"),
    100500003: (500, "Failed to create file"),
    100500004: (500, "Signature verification failed"),
    100500005: (500, "Configuration error"),
    100500006: (500, "Unknown error"),
    100500007: (500, "Operation timeout"),
    110400000: (400, "api_key is not valid"),
    110400002: (400, "The task does not exist"),
    110400003: (400, "The task failed, please try again"),
    110400005: (400, "The model is not supported, please try again"),
    110400007: (400, "The extension is not valid"),
    110400008: (400, "The video URL is not valid"),
    110400009: (400, "The input resolution is over limit"),
    110400010: (400, "The target resolution is over limit"),
    110400011: (400, "The video duration is over limit"),
    110402000: (402, "The coins are not enough"),
    110402001: (402, "The coins are not enough"),
    110402004: (402, "The Demo try times exceeded"),
}


class HitpawError(Exception):
    def __init__(self, code: int, detail: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(HITPAW_CODES[code][1])
        self.code, self.detail, self.headers = code, detail, headers or {}


class ApiError(Exception):
    """A spec-000 (v1) error: HTTP status, a short machine code, a message, and optional details."""

    def __init__(self, status: int, code: str, message: str, errors: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors, self.headers = status, code, message, errors or [], headers or {}


def hitpaw_body(code: int, detail: str | None = None) -> tuple[int, dict[str, Any]]:
    status, message = HITPAW_CODES[code]
    body: dict[str, Any] = {"error_code": code, "message": message}
    if detail:
        body["detail"] = detail  # an addition: why, in words; the documented fields are unchanged
    return status, body


def v1_body(status: int, code: str, message: str, errors: list[dict[str, str]] | None = None) -> tuple[int, dict[str, Any]]:
    return status, {"detail": message, "code": code, "errors": errors or []}


def respond(status_body: tuple[int, dict[str, Any]], headers: dict[str, str] | None = None) -> JSONResponse:
    status, body = status_body
    return JSONResponse(body, status_code=status, headers=headers)


#: how each API family says "no" to a refusal of the service layer
V1_STATUS = {"unauthorized": 401, "forbidden": 403, "insufficient": 402, "not_found": 404, "conflict": 409, "rate_limited": 429}
HITPAW_CODE = {"unauthorized": 110400000, "forbidden": 100403001, "insufficient": 110402000, "not_found": 110400002, "conflict": 100400002,
               "rate_limited": 100429000}  # fmt: skip


def v1_refusal(refusal: Any) -> ApiError:
    return ApiError(V1_STATUS[refusal.kind], refusal.kind, refusal.message, headers=refusal.headers)


def hitpaw_refusal(refusal: Any) -> HitpawError:
    return HitpawError(HITPAW_CODE[refusal.kind], refusal.message, refusal.headers)
