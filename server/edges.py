"""What every response carries at the edge of the server, and the API docs served from the app itself.

Security headers (a Content-Security-Policy the Gradio page and the docs work under, nosniff,
framing by this site only, or by Hugging Face around a Space, and a referrer policy), CORS for
the configured origins only (Gradio's own CORS layer reflects any origin, with credentials, on a
public host), and ``Secure`` on every cookie sent over HTTPS (Gradio sets its login cookie
without it). A pure ASGI layer, so streamed and SSE responses pass through untouched; it wraps
the whole app, outside Starlette's error middleware, so Gradio's routes and the 500 page carry
the headers too.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ops.settings import Settings

#: what the Gradio page needs: inline scripts (its config and bootstrap), eval (the image editor's
#: PixiJS builds functions at run time and refuses to start without it), inline styles, images
#: and media as data:/blob: URLs (previews, downloads), same-origin fetch/SSE; no other host.
#: Swagger UI at /docs needs no more (its start-up is an inline script).
CSP = {
    "default-src": "'self'",
    "script-src": "'self' 'unsafe-inline' 'unsafe-eval'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data: blob:",
    "media-src": "'self' data: blob:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
    "worker-src": "'self' blob:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
}
#: a Space is shown inside an iframe on huggingface.co (and may be embedded from another Space)
SPACE_FRAMERS = "https://huggingface.co https://*.hf.space"
CORS_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
#: what a page on a trusted origin may read of an API answer besides the basics
CORS_EXPOSED = ", ".join(["Retry-After"] + [f"X-RateLimit-{n}" for n in ("Limit", "Remaining", "Reset", "Limit-Month", "Remaining-Month")])
_REPLACED = {b"content-security-policy", b"x-frame-options", b"x-content-type-options", b"referrer-policy"}


def allowed_origins(settings: Settings) -> frozenset[str]:
    return frozenset(item.strip().rstrip("/") for item in settings.cors_origins.split(",") if item.strip())


def security_headers(on_space: bool) -> list[tuple[bytes, bytes]]:
    ancestors = "'self' " + SPACE_FRAMERS if on_space else "'self'"
    policy = "; ".join(f"{name} {value}" for name, value in {**CSP, "frame-ancestors": ancestors}.items())
    headers = [(b"content-security-policy", policy), (b"x-content-type-options", "nosniff"), (b"referrer-policy", "same-origin")]
    if not on_space:  # X-Frame-Options cannot name other sites: on a Space, frame-ancestors alone decides
        headers.append((b"x-frame-options", "SAMEORIGIN"))
    return [(name, value.encode()) for name, value in headers]


def secure_cookie(value: bytes) -> bytes:
    attributes = {part.strip().lower() for part in value.split(b";")[1:]}
    return value if b"secure" in attributes else value + b"; Secure"


class Edges:
    """The outermost ASGI layer: see the module docstring."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.origins = app, allowed_origins(settings)
        self.fixed = security_headers(settings.on_space)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Headers(scope=scope)
        origin = request.get("origin")
        trusted = origin if origin in self.origins else None
        preflight = scope["method"] == "OPTIONS" and bool(origin) and "access-control-request-method" in request

        async def edged(message: Message) -> None:
            if message["type"] == "http.response.start":
                https = scope.get("scheme") == "https"  # read late: a trusted proxy's X-Forwarded-Proto is applied inside
                message["headers"] = self.headers(list(message.get("headers", [])), trusted, https, ours=preflight)
            await send(message)

        if preflight:
            return await self.preflight(trusted, request)(scope, receive, edged)
        await self.app(scope, receive, edged)

    def preflight(self, trusted: str | None, request: Headers) -> PlainTextResponse:
        """Answered here for every path: Gradio's own answer would allow any origin."""
        if trusted is None:
            return PlainTextResponse("Disallowed CORS origin", status_code=400)
        headers = {"Access-Control-Allow-Methods": CORS_METHODS, "Access-Control-Max-Age": "600"}
        if asked := request.get("access-control-request-headers"):
            headers["Access-Control-Allow-Headers"] = asked
        return PlainTextResponse("OK", headers=headers)

    def headers(self, raw: list[tuple[bytes, bytes]], trusted: str | None, https: bool, ours: bool) -> list[tuple[bytes, bytes]]:
        """The response's headers less any CORS answer of the app's (``ours``: a preflight answered
        here keeps its own), cookies made Secure over HTTPS, then CORS and the security headers."""
        kept = [
            (name, secure_cookie(value) if https and name.lower() == b"set-cookie" else value)
            for name, value in raw
            if (ours or not name.lower().startswith(b"access-control-")) and name.lower() not in _REPLACED
        ]
        if self.origins:
            kept.append((b"vary", b"Origin"))
        if trusted:
            kept += [(b"access-control-allow-origin", trusted.encode()), (b"access-control-allow-credentials", b"true"),
                     (b"access-control-expose-headers", CORS_EXPOSED.encode())]  # fmt: skip
        return kept + self.fixed


def install(app: FastAPI, settings: Settings) -> None:
    """Wrap ``app`` outside everything Starlette builds, its ServerErrorMiddleware (always the
    outermost of the stack) included; done once, before the first request."""
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: Edges(build(), settings)  # type: ignore[method-assign]


DOCS_ASSETS = "/docs/assets"


def install_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from files served by the app (fastapi-offline's copies), so the docs work
    offline and under the CSP; the app is made with docs_url None, and redoc_url None as well (ReDoc
    always shows a logo from its vendor's CDN). Mounted before the web app, whose mount at / would
    take the paths."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="docs-assets")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{title} - Swagger UI", swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css", swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from the online validator
        )  # fmt: skip
