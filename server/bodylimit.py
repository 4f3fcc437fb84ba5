"""A size limit on every request body, chosen by path and enforced while the body streams in.

File uploads (the REST upload and Gradio's upload route) may carry STUDIO_MAX_BYTES plus form
overhead; every other body is held to STUDIO_MAX_BODY_BYTES. Starlette's body-limit middleware
does the counting (a declared Content-Length over the limit is refused before a byte is read,
a chunked body is cut off when it passes it); each app's error handlers word the 413.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import hitpaw_body, respond, v1_body
from .gate import is_hitpaw

UPLOAD_PATHS = ("/api/v1/upload/api", "/gradio_api/upload")
FORM_OVERHEAD = 1 << 20


class BodyLimit:
    def __init__(self, app: ASGIApp, uploads: int, other: int) -> None:
        self.app, self.uploads, self.other = app, uploads, other  # the largest file upload; any other body

    def limit_for(self, path: str) -> int:
        return self.uploads + FORM_OVERHEAD if path.startswith(UPLOAD_PATHS) else self.other

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, limit = scope["path"], self.limit_for(scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        if path.startswith("/api/") and declared.isdigit() and int(declared) > limit:
            # refused before reading, in the API's own error format (Starlette's answer is plain text)
            message = f"the request body is over the limit of {limit:,} bytes"
            _, body = hitpaw_body(100400002, message) if is_hitpaw(path) else v1_body(413, "body_too_large", message)
            return await respond((413, body), {"Connection": "close"})(scope, receive, send)
        await RequestBodyLimitMiddleware(self.app, limit)(scope, receive, send)
