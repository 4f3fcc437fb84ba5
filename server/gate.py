"""Every API request passes here: who is calling, are they within their limits, and the headers.

Runs as middleware so that errors raised anywhere (validation, 404, 500) still carry the
rate-limit headers the spec promises on every response.
"""

from __future__ import annotations

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from .accounts import TIERS, authenticate
from .errors import hitpaw_body, respond, v1_body
from .state import Studio

HITPAW_PATHS = ("/api/photo-enhancer", "/api/task-status")


def is_hitpaw(path: str) -> bool:
    return path.startswith(HITPAW_PATHS)


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("apikey") or None


class ApiGate(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        if not path.startswith("/api/") or path.startswith("/api/admin"):
            return await call_next(request)
        studio: Studio = request.app.state.studio
        key = presented_key(request)
        user = await run_in_threadpool(_user_for, studio, key) if key else None
        if user is not None:
            tier = TIERS[user.tier]
            verdict = studio.limiter.hit(f"user:{user.id}", max(tier.per_minute, 1), tier.per_month)
        else:
            address = request.client.host if request.client else "unknown"
            verdict = studio.limiter.hit(f"ip:{address}", studio.settings.anonymous_per_minute, None)
        headers = dict(verdict.headers)
        hitpaw = is_hitpaw(path)
        if not verdict.allowed:
            headers["Retry-After"] = str(verdict.retry_after)
            body = hitpaw_body(100429000) if hitpaw else v1_body(429, "rate_limited", f"rate limit exceeded; retry in {verdict.retry_after} s")
            return respond(body, headers)
        signed = path.startswith("/api/v1/files/") and "signature" in request.query_params
        if user is None and not signed:
            if hitpaw:
                return respond(hitpaw_body(110400000), headers)
            message = "invalid or revoked API key" if key else "missing API key: send Authorization: Bearer sk_live_..."
            return respond(v1_body(401, "unauthorized", message), headers | {"WWW-Authenticate": "Bearer"})
        if user is not None and not TIERS[user.tier].api:
            body = hitpaw_body(100403002, "the free tier has no API access") if hitpaw else v1_body(
                403, "tier_without_api", "the free tier has no API access; upgrade to Pro or higher"
            )
            return respond(body, headers)
        request.state.user = user
        response = await call_next(request)
        response.headers.update(headers)
        return response


def _user_for(studio: Studio, key: str):  # noqa: ANN202
    with studio.db.session() as session:
        user = authenticate(session, key)
        if user is not None:
            session.expunge(user)
        return user
