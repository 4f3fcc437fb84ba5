"""The services one server process holds, created once and shared by every route and the web UI.

No HTTP here: a door passes the base URL a signed link starts with (``Studio.signed_url``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ops.settings import Settings

from .db import Database
from .jobs import JobService
from .layer import Service
from .ratelimit import RateLimiter
from .storage import Storage, purge_folders
from .taskqueue import Broker
from .warmup import warm_up

SECRET_FILE = "secret.key"


@dataclass
class Studio:
    settings: Settings
    db: Database
    storage: Storage
    jobs: JobService
    service: Service
    secret: bytes
    _stop: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def create(cls, settings: Settings, ui_login: bool = False) -> Studio:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(settings.data_dir, 0o700)
        db = Database(settings.db_url)
        storage = Storage(settings.storage_url or settings.data_dir)
        jobs = JobService(db, storage, settings, Broker(settings.redis_url) if settings.redis_url else None)
        secret = load_secret(settings)
        service = Service(settings, db, RateLimiter.at(settings.redis_url), jobs, ui_login, secret)
        return cls(settings, db, storage, jobs, service, secret)

    @property
    def scaled(self) -> bool:
        """Jobs run in worker processes fed by Redis (``python -m server.worker``), not in this one."""
        return self.jobs.broker is not None

    def start(self) -> None:
        self.jobs.start(run_here=not self.scaled)
        threading.Thread(target=self._retention, name="retention", daemon=True).start()
        if not self.scaled:  # workers warm their own networks
            threading.Thread(target=warm_up, args=(self.settings,), name="warm-up", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self.jobs.stop()

    def _retention(self) -> None:
        while not self._stop.wait(3600):
            age = self.settings.retention_hours * 3600
            for purge in (lambda: self.storage.purge(age), lambda: purge_folders(self.settings.web_results_dir, age)):
                try:
                    purge()
                except Exception:  # a store briefly unreachable: try again next hour, never stop purging
                    logging.getLogger(__name__).exception("purging old files failed")

    # signed, expiring download links (what res_url and download_url carry)
    def sign(self, key: str, expires: int) -> str:
        return hmac.new(self.secret, f"{key}:{expires}".encode(), hashlib.sha256).hexdigest()

    def signed_url(self, base_url: str, key: str, ttl: int = 24 * 3600) -> str:
        """A download link for ``key``, under STUDIO_PUBLIC_URL, else the ``base_url`` the request came to."""
        expires = int(time.time()) + ttl
        base = (self.settings.public_url or base_url).rstrip("/")
        return f"{base}/api/v1/files/{key}?expires={expires}&signature={self.sign(key, expires)}"

    def valid_signature(self, key: str, expires: str | None, signature: str | None) -> bool:
        if not expires or not signature or not expires.isdigit() or len(expires) > 12 or int(expires) < time.time():
            return False
        return hmac.compare_digest(self.sign(key, int(expires)), signature)


def load_secret(settings: Settings) -> bytes:
    """STUDIO_SECRET, else the data folder's secret.key, created once (0600) on first start, so
    signed links stay valid across restarts and every process sharing the folder agrees."""
    if settings.secret:
        return settings.secret.encode()
    path: Path = settings.data_dir / SECRET_FILE
    if not path.exists():
        draft = path.with_name(f".{SECRET_FILE}.{os.getpid()}")
        descriptor = os.open(draft, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        try:
            with os.fdopen(descriptor, "w") as handle:  # a full disk fails here: the draft goes too
                handle.write(secrets.token_hex(32))
            os.link(draft, path)  # atomic: the first process to get here decides the secret
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return bytes.fromhex(path.read_text().strip())
