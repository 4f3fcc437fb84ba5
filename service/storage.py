"""Files one prefix per user, through fsspec: the data folder by default, any fsspec URL (e.g.
``s3://bucket/prefix``) when several machines share them. Keys that are not the caller's do not exist.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec

KEY_PATTERN = re.compile(r"^(uploads|outputs)/([0-9a-f-]{36})/([A-Za-z0-9_-]{1,80})\.([a-z0-9]{2,5})$")
CHUNK = 1 << 20
STALE_PART_SECONDS = 3600  # a .part this old is a write that died with its process: no write takes an hour


#: decoded format -> (content type, file extension) of a stored upload
MEDIA = {"JPEG": ("image/jpeg", "jpg"), "MPO": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp"),
         "GIF": ("image/gif", "gif"), "BMP": ("image/bmp", "bmp"), "TIFF": ("image/tiff", "tif"), "HEIF": ("image/heic", "heic"),
         "AVIF": ("image/avif", "avif")}  # fmt: skip
UNKNOWN_MEDIA = ("application/octet-stream", "bin")


def media(source_format: str) -> tuple[str, str]:
    """(content type, file extension) of an upload of this decoded format."""
    return MEDIA.get(source_format, UNKNOWN_MEDIA)


def content_type(key: str) -> str:
    """A stored file's content type, from its extension."""
    extension = key.rsplit(".", 1)[-1]
    return next((kind for kind, known in MEDIA.values() if known == extension), UNKNOWN_MEDIA[0])


class NotFound(Exception):
    """A storage key that does not exist for this user (malformed, traversal, or someone else's)."""


class Storage:
    def __init__(self, root: Path | str) -> None:
        """``root``: a local folder, or an fsspec URL."""
        url = str(root.resolve()) if isinstance(root, Path) else root
        remote = fsspec.utils.get_protocol(url) not in ("file", "local")
        # no listing cache on shared stores: a file another process wrote must be seen at once
        self.fs, self.root = fsspec.core.url_to_fs(url, **({"use_listings_cache": False, "skip_instance_cache": True} if remote else {}))
        self.root = self.root.rstrip("/")
        self.local = "file" in _protocols(self.fs)
        for kind in ("uploads", "outputs"):
            self.fs.makedirs(f"{self.root}/{kind}", exist_ok=True)

    def new_key(self, kind: str, user_id: str, extension: str, stem: str | None = None) -> str:
        return f"{kind}/{user_id}/{stem or uuid.uuid4().hex}.{extension.lstrip('.').lower()}"

    def upload(self, user_id: str, data: bytes, source_format: str) -> str:
        """Store an upload (named by its decoded format) for ``user_id``; returns its key."""
        key = self.new_key("uploads", user_id, media(source_format)[1])
        self.write(key, data)
        return key

    def check(self, key: str, user_id: str) -> str:
        """The full path of ``key`` if it exists and belongs to ``user_id``; anything else is NotFound.
        The pattern admits no ``..`` or separators beyond the three parts, so no key leaves its user's folder."""
        match = KEY_PATTERN.match(key)
        if not match or match.group(2) != user_id:
            raise NotFound(key)
        full = f"{self.root}/{key}"
        if not self.fs.isfile(full):
            raise NotFound(key)
        return full

    def read(self, key: str, user_id: str) -> bytes:
        return self.fs.cat_file(self.check(key, user_id))

    def stream(self, key: str, user_id: str) -> Iterator[bytes]:
        """The file in chunks (a download never holds a large result in memory at once)."""
        full = self.check(key, user_id)

        def chunks() -> Iterator[bytes]:
            with self.fs.open(full, "rb") as handle:
                while block := handle.read(CHUNK):
                    yield block

        return chunks()

    def write(self, key: str, data: bytes) -> None:
        """Readers never see half a file: a local write is renamed into place; object stores put whole objects."""
        full = f"{self.root}/{key}"
        self.fs.makedirs(full.rsplit("/", 1)[0], exist_ok=True)
        if not self.local:
            self.fs.pipe_file(full, data)
            return
        partial = f"{full.rsplit('/', 1)[0]}/.{full.rsplit('/', 1)[1]}.{os.getpid()}.part"
        try:
            self.fs.pipe_file(partial, data)
            os.replace(partial, full)
        except BaseException:  # a full disk above all: what was written must not keep it full
            with contextlib.suppress(FileNotFoundError):
                os.remove(partial)
            raise

    def discard(self, key: str) -> None:
        """Remove a file this process wrote and no job will refer to (best effort: retention catches the rest)."""
        with contextlib.suppress(OSError):
            self.fs.rm_file(f"{self.root}/{key}")

    def purge(self, older_than_seconds: float) -> int:
        """Delete files past the retention period, and ``.part`` files a crashed write left (after an
        hour at most); returns how many."""
        moment, removed = time.time(), 0
        limit, stale = moment - older_than_seconds, moment - min(older_than_seconds, STALE_PART_SECONDS)
        for kind in ("uploads", "outputs"):
            for path, info in self.fs.find(f"{self.root}/{kind}", detail=True).items():
                if info.get("type") == "file" and _modified(self.fs, path, info) < (stale if path.endswith(".part") else limit):
                    try:
                        self.fs.rm_file(path)
                    except FileNotFoundError:  # another process sharing the store purged it first
                        continue
                    removed += 1
        return removed


def purge_folders(parent: Path, older_than_seconds: float) -> int:
    """Delete the entries of a local folder (the web app's one folder per result) past the retention
    period; returns how many."""
    limit, removed = time.time() - older_than_seconds, 0
    for entry in parent.iterdir() if parent.is_dir() else ():
        try:
            if entry.lstat().st_mtime >= limit:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:  # another process purged it first
            continue
        removed += 1
    return removed


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _modified(fs: Any, path: str, info: dict[str, Any]) -> float:
    stamp = info.get("mtime") or info.get("LastModified") or fs.modified(path)
    return stamp if isinstance(stamp, (int, float)) else stamp.timestamp()
