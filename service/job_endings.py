"""How a job ends outside a normal run: completed after a web-page run, or failed and refunded exactly once.

Every failure path (the runner, the input fetcher, the reaper, a web-page run) ends its job here,
so the refund is in one place: a conditional update decides who wins, and only the winner refunds.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import update

from . import diskfull
from .accounts import refund
from .db import Database, Job, now

log = logging.getLogger(__name__)
ACTIVE = ("queued", "processing")


def fail_active(session: Any, job: Job, message: str, code: str) -> bool:
    """Fail an active job and refund it, exactly once (a conditional update decides who wins)."""
    done = session.execute(
        update(Job).where(Job.id == job.id, Job.status.in_(ACTIVE))
        .values(status="failed", error_message=message[:2000], error_code=code, updated_at=now(), lease_expires_at=None)
    )  # fmt: skip
    if done.rowcount == 1:
        refund(session, job.user_id, credits=job.credits, coins=job.coins)  # a failed job costs nothing
    return done.rowcount == 1


def fail(db: Database, job_id: str, message: str, code: str) -> None:
    """Fail (and refund) a job by its id; never raises (a job left active loses its lease and is reaped)."""
    try:
        with db.session() as session:
            job = session.get(Job, job_id)
            if job is not None:
                fail_active(session, job, message, code)
    except Exception:  # the lease runs out and the reaper fails the job (and refunds) later
        log.exception("could not record the failure of job %s", job_id)


def fail_unexpected(db: Database, job_id: str, exc: Exception, what: str) -> None:
    """Fail (and refund) a job on an error nobody planned for: a full disk says so, anything else is internal."""
    if diskfull.is_disk_full(exc):
        log.error("job %s %s: the storage is full (%s)", job_id, what, exc)
        return fail(db, job_id, diskfull.JOB_MESSAGE, diskfull.CODE)
    log.exception("job %s %s", job_id, what)
    return fail(db, job_id, f"internal error: {type(exc).__name__}", "internal")


def complete_held(db: Database, job_id: str) -> None:
    """Mark a job that ran outside the queue (a web-UI run) as completed."""
    with db.session() as session:
        session.execute(update(Job).where(Job.id == job_id, Job.status == "processing").values(status="completed", progress=1.0, lease_expires_at=None))
