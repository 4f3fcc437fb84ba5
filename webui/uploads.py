"""Files through the Gradio door are inputs, never paths.

A Gradio client sends a file as ``{"path": ..., "meta": {"_type": "gradio.FileData"}}``, and the
``path`` is whatever the client wrote: a mounted app that Gradio does not consider launched copied
any server file named there into its cache and served it back. Three layers close that:

- the mount marks the app launched and blocks the data folder and the weights (``webui.mount``);
- :class:`FileDoor`, before Gradio parses a request, refuses any file value that does not lie in
  Gradio's upload folder, and records the files it let through;
- :func:`uploaded`, where a handler turns a value into a picture, accepts only a file the door let
  through in a request, so a future Gradio that copies a server file into its cache on its own
  still hands the handler a path nobody sent.

Refusals never repeat the path that was sent.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOT_UPLOADED = "Files must be uploaded with the request (Gradio's upload endpoint); a server path is not an input."
#: routes that take files as multipart uploads, not as JSON values
UPLOAD_ROUTES = ("/gradio_api/upload",)


def upload_folder() -> Path:
    """Where Gradio stores uploads (and its cache): the only place an input file may come from."""
    return Path(get_upload_folder()).resolve()


def inside_uploads(path: str) -> Path | None:
    """The resolved path when ``path`` names a regular file inside the upload folder, else None."""
    if not path or "\x00" in path or "://" in path:
        return None
    try:
        real = Path(os.path.abspath(path)).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    folder = upload_folder()
    if real == folder or not real.is_relative_to(folder) or not real.is_file():
        return None
    return real


class Admitted:
    """Files the door let through recently (bounded; a run starts well within ``ttl`` of its request)."""

    def __init__(self, size: int = 20_000, ttl: float = 6 * 3600) -> None:
        self._seen: OrderedDict[Path, float] = OrderedDict()
        self._size, self._ttl = size, ttl
        self._lock = threading.Lock()

    def add(self, path: Path) -> None:
        with self._lock:
            self._seen[path] = time.monotonic()
            self._seen.move_to_end(path)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)

    def __contains__(self, path: Path) -> bool:
        with self._lock:
            stamp = self._seen.get(path)
        return stamp is not None and time.monotonic() - stamp < self._ttl


ADMITTED = Admitted()


def uploaded(value: Any) -> str | None:
    """The checked path of a file a request sent through the door; None when nothing was sent."""
    if value is None or value == "":
        return None
    if not isinstance(value, (str, Path)):
        raise gr.Error(NOT_UPLOADED)
    real = inside_uploads(str(value))
    if real is None or real not in ADMITTED:
        raise gr.Error(NOT_UPLOADED)
    return str(real)


def file_values(data: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a JSON value that names a file (a ``path``, or a FileData marker)."""
    if isinstance(data, dict):
        meta = data.get("meta")
        if "path" in data or (isinstance(meta, dict) and meta.get("_type") == "gradio.FileData"):
            yield data
        for value in data.values():
            yield from file_values(value)
    elif isinstance(data, list):
        for value in data:
            yield from file_values(value)


def admit(data: Any) -> bool:
    """Whether every file value in a request lies in the upload folder (and remember those that do)."""
    found: list[Path] = []
    for value in file_values(data):
        path = value.get("path")
        if path is None and value.get("url") is None:
            continue  # an empty file value
        real = inside_uploads(path) if isinstance(path, str) else None
        if real is None:
            return False  # a server path, a URL to fetch, or anything else that is not an upload
        found.append(real)
    for real in found:
        ADMITTED.add(real)
    return True


class FileDoor:
    """ASGI middleware on the Gradio routes: a JSON body naming a file outside the upload folder is
    refused with 403 before Gradio reads it, and so is a request to relay a URL."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if "/gradio_api/file=" in path and "://" in path.partition("/gradio_api/file=")[2] or "/gradio_api/proxy=" in path:
            await _refuse(send, 403, "this server does not fetch URLs for its callers")  # Gradio would relay any public URL
            return
        if scope["type"] != "http" or scope.get("method") != "POST" or "/gradio_api/" not in path or path.endswith(UPLOAD_ROUTES):
            await self.app(scope, receive, send)
            return
        body, messages = await _read_body(receive, self.max_body)
        if body is None:
            await _refuse(send, 413, "the request body is over the size limit")
            return
        try:
            data = json.loads(body) if body.strip() else None
        except ValueError:
            data = None  # not JSON: Gradio refuses it itself
        if not admit(data):
            await _refuse(send, 403, NOT_UPLOADED)
            return
        await self.app(scope, _replay(messages, receive), send)


async def _refuse(send: Send, status: int, message: str) -> None:
    payload = json.dumps({"detail": message, "error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _read_body(receive: Receive, limit: int) -> tuple[bytes | None, list[Message]]:
    """The whole body (None once it passes ``limit``), and the messages read, to hand on."""
    messages: list[Message] = []
    size, chunks = 0, []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return b"".join(chunks), messages
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None, messages
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
