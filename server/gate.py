"""Every API request passes here: who is calling, are they within their limits, and the headers.

Runs as middleware so that errors raised anywhere (validation, 404, 500) still carry the
rate-limit headers the spec promises on every response.
"""

from __future__ import annotations

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from service.accounts import TIERS
from service.layer import Service
from service.logins import ATTEMPT, DEVICE_COOKIE, DEVICE_DAYS, Attempt

from .errors import hitpaw_body, respond, v1_body

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
    """The caller's address: the peer, or what a trusted proxy says (resolved once, outermost, by
    uvicorn's proxy-headers middleware with STUDIO_TRUSTED_PROXIES; see server.app)."""
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
    """The web app's sign-in form: the password check (``Service.check_login``) learns who is
    trying from here; a throttled attempt is answered 429, and a browser that signs in gets the
    device token that lets it past strangers' failures next time (service.logins)."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method != "POST" or request.url.path.rstrip("/") != "/login":
            return await call_next(request)
        service: Service = request.app.state.studio.service
        attempt = Attempt(client_address(request), request.cookies.get(DEVICE_COOKIE))
        token = ATTEMPT.set(attempt)
        try:
            response = await call_next(request)
        finally:
            ATTEMPT.reset(token)
        if attempt.retry_after:
            wait = str(attempt.retry_after)
            return respond((429, {"detail": f"too many failed sign-ins; try again in {wait} s"}), {"Retry-After": wait})
        if attempt.signed_in and response.status_code == 200:
            response.set_cookie(DEVICE_COOKIE, service.logins.device_token(attempt.signed_in), max_age=DEVICE_DAYS * 86400, httponly=True,
                                samesite="lax", secure=request.url.scheme == "https")  # fmt: skip
        return response
