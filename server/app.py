"""One server: the REST APIs (spec 000 and spec 002), the admin API and docs, with room for a UI door.

The web app is not imported here: whoever composes the server (``app.py``) passes its mount as
``ui``, so this package never depends on ``webui``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ops.errors import StudioError
from ops.host import configure
from ops.settings import Settings
from service import diskfull
from service.studio import Studio
from service.terms import Refusal

from . import admin, api_hitpaw, api_v1, edges, unknown
from .bodylimit import BodyLimit
from .errors import ApiError, HitpawError, hitpaw_body, respond, v1_body
from .gate import ApiGate, LoginThrottle, is_hitpaw

log = logging.getLogger(__name__)

DESCRIPTION = """AI image enhancement: upload, create jobs made of chains of operations, poll, download.

Two API families on one server: `/api/v1/...` (Bearer `sk_live_...` keys) and the photo-enhancer
API (`/api/photo-enhancer`, `/api/task-status`, `Apikey` header, numeric error codes). Every API
response carries `X-RateLimit-*` headers."""

#: mounts a UI on the REST app: (app, the studio, settings, whether sign-in guards it) -> the app to serve
UiDoor = Callable[[FastAPI, Studio, Settings, bool], FastAPI]


def create_app(settings: Settings, ui: UiDoor | None = None) -> FastAPI:
    """The REST server; with ``ui``, that door mounted inside the same edges (``app.create`` adds the web app).
    ``settings`` govern the process from here: its image limits, files and networks (``ops.host``)."""
    configure(settings)
    login = ui is not None and ui_login_enabled(settings)
    studio = Studio.create(settings, ui_login=login)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        studio.start()
        yield
        studio.stop()

    app = FastAPI(title="Image Enhancement Studio API", description=DESCRIPTION, version="1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.studio = studio
    app.add_middleware(ApiGate)
    app.include_router(api_v1.router)
    app.include_router(api_hitpaw.router)
    app.include_router(admin.router)
    app.include_router(unknown.router)  # last API route: /api/... paths nothing else took
    edges.install_docs(app)  # /docs from the app's own files (no CDN); no /redoc
    _error_handlers(app)
    app.add_middleware(LoginThrottle)
    app.add_middleware(BodyLimit, uploads=settings.max_bytes, other=settings.max_body_bytes)
    if ui is not None:
        app = ui(app, studio, settings, login)
    edges.install(app, settings)  # around all of it: security headers, CORS, Secure cookies
    # outermost: every limit, throttle, handler and header below reads the one resolved client
    # address and scheme
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.proxies)
    return app


def ui_login_enabled(settings: Settings) -> bool:
    """Login is on when asked, or by default when the app is public (a Space, or listening beyond loopback)."""
    if settings.ui_login != "auto":
        return settings.ui_login == "on"
    return settings.public


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return respond(v1_body(exc.status, exc.code, exc.message, exc.errors), exc.headers)

    @app.exception_handler(HitpawError)
    async def hitpaw_error(_: Request, exc: HitpawError) -> JSONResponse:
        return respond(hitpaw_body(exc.code, exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": ".".join(str(p) for p in e["loc"] if p != "body"), "msg": e["msg"]} for e in exc.errors()]
        if is_hitpaw(request.url.path):
            return respond(hitpaw_body(100403000, "; ".join(f"{e['loc']}: {e['msg']}" for e in errors)))
        return respond(v1_body(422, "invalid_request", "the request is not valid", errors))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if is_hitpaw(request.url.path):
            _, body = hitpaw_body(100400002, str(exc.detail))
            return respond((exc.status_code if exc.status_code in HTTP_CODES else 400, body), getattr(exc, "headers", None))
        code = HTTP_CODES.get(exc.status_code, "http_error")
        detail = HTTP_DETAILS.get(exc.status_code, str(exc.detail))
        return respond(v1_body(exc.status_code, code, detail), getattr(exc, "headers", None))

    @app.exception_handler(OSError)
    @app.exception_handler(OperationalError)
    async def storage_full(request: Request, exc: Exception) -> JSONResponse:
        """A full disk (files or database) is 507 with Retry-After: the client may try again once space
        is freed. Any other OSError or database failure goes on to the internal-error handler below."""
        if not diskfull.is_disk_full(exc):
            raise exc
        log.error("storage full on %s: %s", request.url.path, exc)
        headers = {"Retry-After": str(diskfull.RETRY_AFTER)}
        if is_hitpaw(request.url.path):
            # spec 002's table has no storage code and no 507: "Failed to create file", its closest
            # server error, with the status that says the condition (the documented fields unchanged)
            _, body = hitpaw_body(100500003, diskfull.MESSAGE)
            return respond((507, body), headers)
        return respond(v1_body(507, diskfull.CODE, diskfull.MESSAGE), headers)

    @app.exception_handler(StudioError)
    @app.exception_handler(Refusal)
    async def unmapped_refusal(request: Request, exc: Exception) -> JSONResponse:
        """An expected refusal that no route turned into its answer: the same 500 as any fault, but
        one log line, and (a handler of its own, not Exception's) not re-raised for the server to
        print a traceback."""
        log.warning("unmapped refusal on %s: %s: %s", request.url.path, type(exc).__name__, exc)
        return internal_error(request)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return internal_error(request)


def internal_error(request: Request) -> JSONResponse:
    if is_hitpaw(request.url.path):
        return respond(hitpaw_body(100500000))
    return respond(v1_body(500, "internal", "internal error"))


HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}
HTTP_DETAILS = {413: "the request body is over the size limit"}
