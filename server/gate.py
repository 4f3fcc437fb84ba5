"""Every API request passes here: who is calling, are they within their limits, and the headers.

Runs as middleware so that errors raised anywhere (validation, 404, 500) still carry the
rate-limit headers the spec promises on every response.
"""

from __future__ import annotations

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from .accounts import TIERS
from .errors import hitpaw_body, respond, v1_body
from .service import Refusal, Service

HITPAW_PATHS = ("/api/photo-enhancer", "/api/task-status")


def is_hitpaw(path: str) -> bool:
    return path.startswith(HITPAW_PATHS)


def presented_key(request: Request) -> str | None:
    """Each family's own header, as its spec says: Apikey for spec 002, Authorization: Bearer otherwise."""
    if is_hitpaw(request.url.path):
        return request.headers.get("apikey") or None
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() or None if auth.lower().startswith("bearer ") else None


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class ApiGate(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        if not path.startswith("/api/") or path.startswith("/api/admin"):
            return await call_next(request)
        service: Service = request.app.state.studio.service
        key, address = presented_key(request), client_address(request)
        caller = await run_in_threadpool(service.caller_for_key, key, address) if key else None
        verdict = service.meter_api(caller, address)
        headers = dict(verdict.headers)
        hitpaw = is_hitpaw(path)
        if not verdict.allowed:
            headers["Retry-After"] = str(verdict.retry_after)
            body = hitpaw_body(100429000) if hitpaw else v1_body(429, "rate_limited", f"rate limit exceeded; retry in {verdict.retry_after} s")
            return respond(body, headers)
        signed = path.startswith("/api/v1/files/") and bool(request.query_params.get("signature"))
        if caller is None and not signed:
            if hitpaw:
                return respond(hitpaw_body(110400000), headers)
            message = "invalid or revoked API key" if key else "missing API key: send Authorization: Bearer sk_live_..."
            return respond(v1_body(401, "unauthorized", message), headers | {"WWW-Authenticate": "Bearer"})
        if caller is not None and not TIERS[caller.tier or "free"].api:
            body = hitpaw_body(100403002, "the free tier has no API access") if hitpaw else v1_body(
                403, "tier_without_api", "the free tier has no API access; upgrade to Pro or higher"
            )
            return respond(body, headers)
        request.state.caller = caller
        response = await call_next(request)
        response.headers.update(headers)
        return response


class LoginThrottle(BaseHTTPMiddleware):
    """The web UI's sign-in form: wrong passwords counted per client address, then 429."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method != "POST" or request.url.path.rstrip("/") != "/login":
            return await call_next(request)
        service: Service = request.app.state.studio.service
        address = client_address(request)
        try:
            service.guard_attempts(address)
        except Refusal as refusal:
            return respond((429, {"detail": refusal.message}), refusal.headers)
        response = await call_next(request)
        if response.status_code in (400, 401):
            service.failed_attempt(address)
        return response
