"""Leases on running jobs and the reaper of expired ones: who holds a job, and what happens when they die.

A worker claims a queued job with a conditional update and holds a lease on it that a heartbeat
renews. A job whose lease runs out (its process was killed, its thread died) is found by the
reaper in every server process: queued again, or failed and refunded after MAX_ATTEMPTS. Only
database rows change here; who runs a requeued job is the caller's business.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from .db import Database, Job, now
from .job_endings import fail_active

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 2  # a job whose worker died this many times is failed, not retried forever
STALE_QUEUED_LEASES = 10  # scale-out: a job queued this many leases without being claimed has its message sent again


class Leases:
    """This process's leases: taken on claim, renewed while held, and everyone's expired ones reaped."""

    def __init__(self, db: Database, lease_seconds: float) -> None:
        self.db, self.lease_seconds = db, lease_seconds
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self._held: set[str] = set()
        self._held_lock = threading.Lock()

    def columns(self) -> dict[str, Any]:
        """Columns that mark a job as held by this process for one lease period."""
        return {"worker": self.worker_id, "lease_expires_at": now() + timedelta(seconds=self.lease_seconds)}

    @contextmanager
    def holding(self, job_id: str) -> Iterator[None]:
        """Renew the job's lease while the block runs (the heartbeat does the writing)."""
        with self._held_lock:
            self._held.add(job_id)
        try:
            yield
        finally:
            with self._held_lock:
                self._held.discard(job_id)

    def claim(self, job_id: str) -> Job | None:
        """Take a queued job whose input is stored (None: another worker has it, or it ended)."""
        with self.db.session() as session:
            done = session.execute(
                update(Job).where(Job.id == job_id, Job.status == "queued", Job.input_key != "")
                .values(status="processing", attempts=Job.attempts + 1, progress=0.0, **self.columns())
            )  # fmt: skip
            if done.rowcount != 1:
                return None
            job = session.get(Job, job_id)
            session.expunge(job)
            return job

    def renew(self) -> None:
        """The heartbeat: push back the expiry of every lease this process holds."""
        with self._held_lock:
            held = list(self._held)
        if held:
            with self.db.session() as session:
                session.execute(update(Job).where(Job.id.in_(held), Job.status == "processing").values(**self.columns()))

    def reap(self) -> list[str]:
        """Jobs whose worker stopped renewing their lease: queued again (their ids returned), or failed with a refund."""
        moment, dead_here = now(), self._dead_here()
        expired = or_(Job.lease_expires_at < moment, and_(Job.lease_expires_at.is_(None), Job.updated_at < moment - timedelta(seconds=self.lease_seconds)))
        with self.db.session() as session:
            candidates = session.scalars(select(Job).where(Job.status == "processing", or_(expired, dead_here))).all()
            requeued = []
            for job in candidates:
                if job.id in self._held:
                    continue
                inline = job.api == "ui" and not job.input_key  # a web-page run in its own process cannot be resumed
                if inline or job.attempts >= MAX_ATTEMPTS:
                    reason = "the web page's run was interrupted" if inline else f"its worker stopped {job.attempts} times"
                    if fail_active(session, job, f"the job could not finish: {reason}; nothing was charged", "interrupted"):
                        log.warning("job %s failed: %s", job.id, reason)
                    continue
                done = session.execute(
                    update(Job).where(Job.id == job.id, Job.status == "processing", Job.worker == job.worker)
                    .values(status="queued", progress=0.0, worker=None, lease_expires_at=None)
                )  # fmt: skip
                if done.rowcount == 1:
                    log.warning("job %s lost its worker (%s); queued again", job.id, job.worker)
                    requeued.append(job.id)
        return requeued

    def stale_queued(self) -> list[str]:
        """Scale-out: queued jobs whose message was lost (Redis restarted empty; a dead worker's
        unstarted message not yet returned by the broker), to be sent again once they have waited
        STALE_QUEUED_LEASES leases; one process wins each resend, and the claim makes copies harmless."""
        stale = now() - timedelta(seconds=STALE_QUEUED_LEASES * self.lease_seconds)
        waiting = and_(Job.status == "queued", Job.input_key != "", Job.updated_at < stale)
        with self.db.session() as session:
            candidates = session.scalars(select(Job.id).where(waiting)).all()
            return [job_id for job_id in candidates if session.execute(update(Job).where(Job.id == job_id, waiting).values(updated_at=now())).rowcount]

    def _dead_here(self) -> Any:
        """Jobs held by a process of this host that no longer exists (a restart after a crash)."""
        host = socket.gethostname()
        with self.db.session() as session:
            workers = session.scalars(select(Job.worker).where(Job.status == "processing", Job.worker.like(f"{host}:%")).distinct()).all()
        dead = [w for w in workers if w and w != self.worker_id and not _alive(int(w.rsplit(":", 1)[1]))]
        return Job.worker.in_(dead)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
