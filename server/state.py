"""The services one server process holds, created once and shared by every route."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from fastapi import Request

from .config import ServerSettings
from .db import Database
from .jobs import JobService
from .ratelimit import RateLimiter
from .storage import Storage


@dataclass
class Studio:
    settings: ServerSettings
    db: Database
    storage: Storage
    jobs: JobService
    limiter: RateLimiter
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _stop: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def create(cls, settings: ServerSettings) -> Studio:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.db_url)
        storage = Storage(settings.data_dir)
        secret = settings.secret.encode() if settings.secret else secrets.token_bytes(32)
        return cls(settings, db, storage, JobService(db, storage, settings.workers), RateLimiter(), secret)

    def start(self) -> None:
        self.jobs.start()
        threading.Thread(target=self._retention, name="retention", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self.jobs.stop()

    def _retention(self) -> None:
        while not self._stop.wait(3600):
            self.storage.purge(self.settings.retention_hours * 3600)

    # signed, expiring download links (what res_url and download_url carry)
    def sign(self, key: str, expires: int) -> str:
        return hmac.new(self.secret, f"{key}:{expires}".encode(), hashlib.sha256).hexdigest()

    def signed_url(self, request: Request, key: str, ttl: int = 24 * 3600) -> str:
        expires = int(time.time()) + ttl
        base = (self.settings.public_url or str(request.base_url)).rstrip("/")
        return f"{base}/api/v1/files/{key}?expires={expires}&signature={self.sign(key, expires)}"

    def valid_signature(self, key: str, expires: str | None, signature: str | None) -> bool:
        if not expires or not signature or not expires.isdigit() or int(expires) < time.time():
            return False
        return hmac.compare_digest(self.sign(key, int(expires)), signature)


def studio(request: Request) -> Studio:
    return request.app.state.studio
