"""/api/... paths no route took: 404, or 405 with Allow when the path exists under another method,
in the calling family's own error format (rather than the web app's generic Not Found). One route
for every method, TRACE and unknown ones included, so none falls through to the web app."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.routing import Match, Mount
from starlette.types import Receive, Scope, Send

from .errors import hitpaw_body, respond, v1_body
from .gate import is_hitpaw

router = APIRouter()
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def unknown_api_path(request: Request) -> JSONResponse:
    # the API's routes only: the web app's mount at / takes every path under every method
    allowed = sorted({method for route in request.app.routes if getattr(route, "original_router", None) is not router and not isinstance(route, Mount)
                      for method in METHODS if route.matches({**request.scope, "method": method})[0] == Match.FULL})  # fmt: skip
    if allowed:
        message = f"{request.method} is not allowed here; use {', '.join(allowed)}"
        status, body = hitpaw_body(100400002, message) if is_hitpaw(request.url.path) else v1_body(405, "method_not_allowed", message)
        return respond((405, body), {"Allow": ", ".join(allowed)})
    message = f"no API endpoint {request.url.path}"
    status, body = hitpaw_body(100400002, message) if is_hitpaw(request.url.path) else v1_body(404, "not_found", message)
    return respond((404, body))


class _EveryMethod:
    """The route's endpoint as an ASGI app: Starlette routes a plain function for GET only, an ASGI app for every method."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await unknown_api_path(Request(scope, receive))(scope, receive, send)


router.add_route("/api/{rest:path}", _EveryMethod(), include_in_schema=False)
