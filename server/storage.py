"""Files under the data folder, one prefix per user; keys that are not the caller's do not exist."""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

KEY_PATTERN = re.compile(r"^(uploads|outputs)/([0-9a-f-]{36})/([A-Za-z0-9_-]{1,80})\.([a-z0-9]{2,5})$")


#: decoded format -> (content type, file extension) of a stored upload
MEDIA = {"JPEG": ("image/jpeg", "jpg"), "MPO": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp"),
         "GIF": ("image/gif", "gif"), "BMP": ("image/bmp", "bmp"), "TIFF": ("image/tiff", "tif"), "HEIF": ("image/heic", "heic"),
         "AVIF": ("image/avif", "avif")}  # fmt: skip
UNKNOWN_MEDIA = ("application/octet-stream", "bin")


class NotFound(Exception):
    """A storage key that does not exist for this user (malformed, traversal, or someone else's)."""


class Storage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        for kind in ("uploads", "outputs"):
            (self.root / kind).mkdir(parents=True, exist_ok=True)

    def new_key(self, kind: str, user_id: str, extension: str, stem: str | None = None) -> str:
        return f"{kind}/{user_id}/{stem or uuid.uuid4().hex}.{extension.lstrip('.').lower()}"

    def path(self, key: str, user_id: str) -> Path:
        """The file behind ``key`` if it belongs to ``user_id``; anything else is NotFound."""
        match = KEY_PATTERN.match(key)
        if not match or match.group(2) != user_id:
            raise NotFound(key)
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise NotFound(key)
        return path

    def write(self, key: str, data: bytes) -> Path:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.part")
        partial.write_bytes(data)
        os.replace(partial, path)
        return path

    def purge(self, older_than_seconds: float) -> int:
        """Delete files past the retention period; returns how many."""
        limit, removed = time.time() - older_than_seconds, 0
        for kind in ("uploads", "outputs"):
            for path in (self.root / kind).rglob("*"):
                if path.is_file() and path.stat().st_mtime < limit:
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed
