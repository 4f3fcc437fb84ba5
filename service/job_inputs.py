"""A job's inputs before it runs: an img_url downloaded and stored (spec 002), stored hint masks decoded.

Downloads go through :mod:`service.safefetch` (no private addresses, bounded size and time) in a
bounded pool that serves users in turn, so one account's slow URLs never hold up another's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import update

from ops import chain
from ops.errors import ImageTooLargeError, StudioError
from ops.imageio import probe
from ops.imageio.limits import check_dimensions
from ops.pipeline import enlargement
from ops.settings import Settings

from . import safefetch
from .db import Database, Job
from .fairpool import FairPool
from .job_endings import fail, fail_unexpected
from .storage import Storage


class TargetTooLarge(StudioError):
    code = "target_too_large"
    http_status = 400


class InputFetcher:
    """Downloads the input of jobs created from a URL, then hands each job to ``dispatch``."""

    def __init__(self, db: Database, storage: Storage, settings: Settings, dispatch: Callable[[str], None]) -> None:
        self.db, self.storage, self.settings, self.dispatch = db, storage, settings, dispatch
        self.pool = FairPool(settings.fetch_workers, settings.fetch_per_user, "fetch")

    def start(self) -> None:
        self.pool.start()

    def stop(self) -> None:
        self.pool.stop()

    def submit(self, owner: str, job_id: str) -> None:
        """Fetch the job's input in the pool, in turn with the owner's other fetches."""
        self.pool.submit(owner, lambda: self.fetch(job_id))

    def fetch(self, job_id: str) -> None:
        """Download a job's img_url, check it, store it as the job's input, and queue the job."""
        with self.db.session() as session:
            job = session.get(Job, job_id)
            if job is None or job.status != "queued" or job.input_key:
                return
            user_id, url, steps = job.user_id, job.source_url or "", job.operations
        try:
            data, _ = safefetch.fetch(url, self.settings.max_bytes, self.settings.fetch_timeout, self.settings.ssrf_allowed)
            width, height, kind = probe(data)
            factor = enlargement(chain.plan(steps))
            try:
                check_dimensions(width * factor, height * factor, what="the result would be")
            except ImageTooLargeError as exc:
                raise TargetTooLarge(exc.message) from None
            key = self.storage.upload(user_id, data, kind)
        except safefetch.UnsafeUrl as exc:
            return fail(self.db, job_id, str(exc), "invalid_url")
        except TargetTooLarge as exc:
            return fail(self.db, job_id, exc.message, "target_too_large")
        except ImageTooLargeError as exc:
            return fail(self.db, job_id, exc.message, "input_too_large")
        except StudioError as exc:
            return fail(self.db, job_id, f"the URL does not hold a usable image: {exc.message}", "invalid_url")
        except Exception as exc:
            return fail_unexpected(self.db, job_id, exc, "could not fetch its input")
        try:
            with self.db.session() as session:
                session.execute(update(Job).where(Job.id == job_id, Job.status == "queued").values(input_key=key))
        except Exception as exc:  # not recorded (a full database): the stored input would only take space
            self.storage.discard(key)
            return fail_unexpected(self.db, job_id, exc, "could not record its input")
        self.dispatch(job_id)


def decode_hints(storage: Storage, job: Job) -> dict[str, Any] | None:
    """The web UI's extras of a queued run (a clicked subject's mask, stored as a PNG), as boolean masks."""
    if not job.hints:
        return None
    from ops.imageio import read_image

    return {name: read_image(storage.read(key, job.user_id)).pixels[..., 0] > 127 for name, key in job.hints.items()}
