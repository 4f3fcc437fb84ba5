"""One server: the REST APIs (spec 000 and spec 002), the admin API, docs, and the Gradio app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ops.settings import Settings, get_settings

from . import admin, api_hitpaw, api_v1, unknown
from .bodylimit import BodyLimit
from .errors import ApiError, HitpawError, hitpaw_body, respond, v1_body
from .gate import ApiGate, LoginThrottle, is_hitpaw
from .state import Studio

log = logging.getLogger(__name__)

DESCRIPTION = """AI image enhancement: upload, create jobs made of chains of operations, poll, download.

Two API families on one server: `/api/v1/...` (Bearer `sk_live_...` keys) and the photo-enhancer
API (`/api/photo-enhancer`, `/api/task-status`, `Apikey` header, numeric error codes). Every API
response carries `X-RateLimit-*` headers."""


def create_app(settings: Settings | None = None, with_ui: bool = True) -> FastAPI:
    settings = settings or get_settings()
    login = with_ui and ui_login_enabled(settings)
    studio = Studio.create(settings, ui_login=login)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        studio.start()
        yield
        studio.stop()

    app = FastAPI(title="Image Enhancement Studio API", description=DESCRIPTION, version="1.0", lifespan=lifespan)
    app.state.studio = studio
    app.add_middleware(ApiGate)
    app.include_router(api_v1.router)
    app.include_router(api_hitpaw.router)
    app.include_router(admin.router)
    app.include_router(unknown.router)  # last API route: /api/... paths nothing else took
    _error_handlers(app)
    app.add_middleware(LoginThrottle)
    app.add_middleware(BodyLimit, limits=lambda: (get_settings().max_bytes, settings.max_body_bytes))
    if with_ui:
        import gradio as gr

        from webui.app import build

        demo = build(studio.service)
        auth = (lambda email, password: studio.service.check_login(email, password)) if login else None
        app = gr.mount_gradio_app(app, demo, path="/", max_file_size=get_settings().max_bytes, auth=auth,
                                  auth_message="Sign in with your account's email and password (python -m server set-password).")
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

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        if is_hitpaw(request.url.path):
            return respond(hitpaw_body(100500000))
        return respond(v1_body(500, "internal", "internal error"))


HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}
HTTP_DETAILS = {413: "the request body is over the size limit"}
