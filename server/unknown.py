"""/api/... paths no route took: 404, or 405 with Allow when the path exists under another method,
in the calling family's own error format (rather than the web app's generic Not Found)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.routing import Match

from .errors import hitpaw_body, respond, v1_body
from .gate import is_hitpaw

router = APIRouter()
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@router.api_route("/api/{rest:path}", methods=METHODS, include_in_schema=False)
def unknown_api_path(request: Request, rest: str) -> JSONResponse:  # noqa: ARG001
    allowed = sorted({method for route in request.app.routes if getattr(route, "original_router", None) is not router
                      for method in METHODS if route.matches({**request.scope, "method": method})[0] == Match.FULL})  # fmt: skip
    if allowed:
        message = f"{request.method} is not allowed here; use {', '.join(allowed)}"
        status, body = hitpaw_body(100400002, message) if is_hitpaw(request.url.path) else v1_body(405, "method_not_allowed", message)
        return respond((405, body), {"Allow": ", ".join(allowed)})
    message = f"no API endpoint {request.url.path}"
    status, body = hitpaw_body(100400002, message) if is_hitpaw(request.url.path) else v1_body(404, "not_found", message)
    return respond((404, body))
