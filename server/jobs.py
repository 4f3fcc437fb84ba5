"""Jobs that always end: persisted first, run under a lease, retried or failed when their worker dies.

A worker claims a queued job with a conditional update and holds a lease on it that a heartbeat
renews. A job whose lease runs out (its process was killed, its thread died) is found by the
reaper in every server process: queued again, or failed and refunded after MAX_ATTEMPTS, within
about one lease period and without a restart. Jobs whose input is a URL (spec 002) are fetched
first, in a bounded pool that serves users in turn.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from ops import chain
from ops.errors import ImageTooLargeError, InputError, StudioError
from ops.imageio import Encoded, probe
from ops.imageio.limits import check_dimensions
from ops.pipeline import OutputOptions, enlargement, process
from ops.settings import get_settings

from . import diskfull, safefetch
from .accounts import refund
from ops.settings import Settings
from .db import Database, Job, now
from .fairpool import FairPool
from .storage import NotFound, Storage
from .taskqueue import Broker, queue_for

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 2  # a job whose worker died this many times is failed, not retried forever
STALE_QUEUED_LEASES = 10  # scale-out: a job queued this many leases without being claimed has its message sent again
ACTIVE = ("queued", "processing")


class JobService:
    """``broker``: jobs go to worker processes through it (scale-out); None: this process's threads run them."""

    def __init__(self, db: Database, storage: Storage, settings: Settings, broker: Broker | None = None) -> None:
        self.db, self.storage, self.settings, self.broker = db, storage, settings, broker
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.lease_seconds = settings.job_lease_seconds
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.fetches = FairPool(settings.fetch_workers, settings.fetch_per_user, "fetch")
        self._held: set[str] = set()
        self._held_lock = threading.Lock()
        self._stop = threading.Event()
        self.threads: list[threading.Thread] = []

    # --- life cycle -------------------------------------------------------------------------
    def start(self, run_here: bool = True) -> None:
        """``run_here``: threads of this process run queued jobs (the embedded mode). An API process
        in scale-out mode only sends them (queued jobs already have their messages); a worker
        process gets them from the broker. Every process renews its leases and reaps dead ones."""
        self.reap()
        self.fetches.start()
        if run_here:
            with self.db.session() as session:
                queued = session.scalars(select(Job.id).where(Job.status == "queued").order_by(Job.created_at)).all()
            for job_id in queued:
                self.submit(job_id)
            for index in range(self.settings.workers):
                self._thread(self._work, f"job-worker-{index}")
        self._thread(self._keep_leases, "job-heartbeat")

    def stop(self) -> None:
        self._stop.set()
        self.fetches.stop()
        for _ in range(self.settings.workers):
            self.queue.put(None)

    def _thread(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    # --- leases -----------------------------------------------------------------------------
    def lease(self) -> dict[str, Any]:
        """Columns that mark a job as held by this process for one lease period."""
        return {"worker": self.worker_id, "lease_expires_at": now() + timedelta(seconds=self.lease_seconds)}

    @contextmanager
    def holding(self, job_id: str) -> Iterator[None]:
        """Renew the job's lease while the block runs (the heartbeat thread does the writing)."""
        with self._held_lock:
            self._held.add(job_id)
        try:
            yield
        finally:
            with self._held_lock:
                self._held.discard(job_id)

    def _keep_leases(self) -> None:
        """Heartbeat and reaper in one loop: renew our leases, then collect everyone's expired ones."""
        period = max(0.5, self.lease_seconds / 3)
        while not self._stop.wait(period):
            try:
                with self._held_lock:
                    held = list(self._held)
                if held:
                    with self.db.session() as session:
                        session.execute(update(Job).where(Job.id.in_(held), Job.status == "processing").values(**self.lease()))
                self.reap()
            except Exception:  # the database may be briefly unavailable; try again next period
                log.exception("lease upkeep failed")

    def reap(self) -> list[str]:
        """Jobs whose worker stopped renewing their lease: queued again, or failed with a refund."""
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
                    if self._fail(session, job, f"the job could not finish: {reason}; nothing was charged", "interrupted"):
                        log.warning("job %s failed: %s", job.id, reason)
                    continue
                done = session.execute(
                    update(Job).where(Job.id == job.id, Job.status == "processing", Job.worker == job.worker)
                    .values(status="queued", progress=0.0, worker=None, lease_expires_at=None)
                )  # fmt: skip
                if done.rowcount == 1:
                    log.warning("job %s lost its worker (%s); queued again", job.id, job.worker)
                    requeued.append(job.id)
        for job_id in requeued:
            self.submit(job_id)
        if self.broker is not None:
            requeued += self._resend_stale()
        return requeued

    def _resend_stale(self) -> list[str]:
        """Scale-out: a queued job whose message was lost (Redis restarted empty; a dead worker's
        unstarted message not yet returned by the broker) is sent again once it has waited
        STALE_QUEUED_LEASES leases; one process wins each resend, and the claim makes copies harmless."""
        stale = now() - timedelta(seconds=STALE_QUEUED_LEASES * self.lease_seconds)
        waiting = and_(Job.status == "queued", Job.input_key != "", Job.updated_at < stale)
        with self.db.session() as session:
            candidates = session.scalars(select(Job.id).where(waiting)).all()
            resend = [job_id for job_id in candidates if session.execute(update(Job).where(Job.id == job_id, waiting).values(updated_at=now())).rowcount]
        for job_id in resend:
            self.dispatch(job_id)
        return resend

    def _dead_here(self) -> Any:
        """Jobs held by a process of this host that no longer exists (a restart after a crash)."""
        host = socket.gethostname()
        with self.db.session() as session:
            workers = session.scalars(select(Job.worker).where(Job.status == "processing", Job.worker.like(f"{host}:%")).distinct()).all()
        dead = [w for w in workers if w and w != self.worker_id and not _alive(int(w.rsplit(":", 1)[1]))]
        return Job.worker.in_(dead)

    # --- running ----------------------------------------------------------------------------
    def submit(self, job_id: str) -> None:
        with self.db.session() as session:
            job = session.get(Job, job_id)
            needs_input = job is not None and not job.input_key and job.source_url
            owner = job.user_id if job else ""
        if needs_input:
            self.fetches.submit(owner, lambda: self._fetch_input(job_id))
        else:
            self.dispatch(job_id)

    def dispatch(self, job_id: str) -> None:
        """Hand a queued job (its input stored) to whoever runs jobs: the broker, or this process's threads."""
        if self.broker is None:
            self.queue.put(job_id)
            return
        with self.db.session() as session:
            operations = session.scalar(select(Job.operations).where(Job.id == job_id)) or []
        self.broker.send(job_id, queue_for(operations))

    def _work(self) -> None:
        while (job_id := self.queue.get()) is not None:
            try:
                self.run(job_id)
            except BaseException:  # never let a worker die; a job left unfinished loses its lease and is reaped
                log.exception("job %s crashed its worker", job_id)

    def _claim(self, job_id: str) -> Job | None:
        with self.db.session() as session:
            done = session.execute(
                update(Job).where(Job.id == job_id, Job.status == "queued", Job.input_key != "")
                .values(status="processing", attempts=Job.attempts + 1, progress=0.0, **self.lease())
            )  # fmt: skip
            if done.rowcount != 1:
                return None
            job = session.get(Job, job_id)
            session.expunge(job)
            return job

    def run(self, job_id: str) -> None:
        """Claim and run a job to its terminal state (nothing, when another worker holds or finished it)."""
        job = self._claim(job_id)
        if job is None:
            return
        with self.holding(job_id):
            try:
                data = self.storage.read(job.input_key, job.user_id)
                planned = chain.plan(job.operations)
                hints = self._hints(job)
                done = process(data, planned, OutputOptions(**job.output_options), self._progress(job_id), self._resolver(job.user_id), hints, memory_wait=3600)
                key = self.storage.new_key("outputs", job.user_id, done.encoded.extension, stem=job_id.replace("-", ""))
                self.storage.write(key, done.encoded.data)
                try:
                    with self.db.session() as session:
                        finished = session.execute(
                            update(Job).where(Job.id == job_id, Job.status == "processing", Job.worker == self.worker_id)
                            .values(status="completed", output_key=key, progress=1.0, result=done.summary(), lease_expires_at=None)
                        )  # fmt: skip
                except Exception:  # not recorded (a full database): no job refers to the file, and the disk needs its space
                    self.storage.discard(key)
                    raise
                if finished.rowcount == 1:
                    log.info("job %s completed by %s", job_id, self.worker_id)
            except NotFound:
                self.fail(job_id, "the input file no longer exists (retention period passed?)", "input_missing")
            except StudioError as exc:
                self.fail(job_id, exc.message, exc.code)
            except Exception as exc:
                self._unexpected(job_id, exc, "could not finish")

    def _fetch_input(self, job_id: str) -> None:
        """Download a job's img_url, check it, store it as the job's input, and queue the job."""
        with self.db.session() as session:
            job = session.get(Job, job_id)
            if job is None or job.status != "queued" or job.input_key:
                return
            user_id, url, steps = job.user_id, job.source_url or "", job.operations
        try:
            data, _ = safefetch.fetch(url, get_settings().max_bytes, self.settings.fetch_timeout, self.settings.ssrf_allowed)
            width, height, kind = probe(data)
            factor = enlargement(chain.plan(steps))
            try:
                check_dimensions(width * factor, height * factor, what="the result would be")
            except ImageTooLargeError as exc:
                raise TargetTooLarge(exc.message) from None
            key = self.storage.upload(user_id, data, kind)
        except safefetch.UnsafeUrl as exc:
            return self.fail(job_id, str(exc), "invalid_url")
        except TargetTooLarge as exc:
            return self.fail(job_id, exc.message, "target_too_large")
        except ImageTooLargeError as exc:
            return self.fail(job_id, exc.message, "input_too_large")
        except StudioError as exc:
            return self.fail(job_id, f"the URL does not hold a usable image: {exc.message}", "invalid_url")
        except Exception as exc:
            return self._unexpected(job_id, exc, "could not fetch its input")
        try:
            with self.db.session() as session:
                session.execute(update(Job).where(Job.id == job_id, Job.status == "queued").values(input_key=key))
        except Exception as exc:  # not recorded (a full database): the stored input would only take space
            self.storage.discard(key)
            return self._unexpected(job_id, exc, "could not record its input")
        self.dispatch(job_id)

    def _unexpected(self, job_id: str, exc: Exception, what: str) -> None:
        """Fail (and refund) a job on an error nobody planned for: a full disk says so, anything else is internal."""
        if diskfull.is_disk_full(exc):
            log.error("job %s %s: the storage is full (%s)", job_id, what, exc)
            return self.fail(job_id, diskfull.JOB_MESSAGE, diskfull.CODE)
        log.exception("job %s %s", job_id, what)
        return self.fail(job_id, f"internal error: {type(exc).__name__}", "internal")

    def _hints(self, job: Job) -> dict[str, Any] | None:
        """The web UI's extras of a queued run (a clicked subject's mask, stored as a PNG)."""
        if not job.hints:
            return None
        from ops.imageio import read_image

        return {name: read_image(self.storage.read(key, job.user_id)).pixels[..., 0] > 127 for name, key in job.hints.items()}

    def wait(self, job_id: str, progress: Any = None, poll: float = 0.5) -> Finished:
        """Block until a queued job ends (a web-UI run in the scale-out mode): its result, or its failure
        raised. A page never waits forever (no worker running, a long queue): after twice the longest
        job allowed it stops waiting; the job itself still ends, and is listed with the account's."""
        shown, deadline = -1.0, time.monotonic() + 2 * self.settings.max_job_seconds
        while time.monotonic() < deadline:
            with self.db.session() as session:
                job = session.get(Job, job_id)
                session.expunge(job)
            if job.status == "completed" and job.output_key:
                result = job.result or {}
                width, height = result.get("output_size", (0, 0))
                encoded = Encoded(self.storage.read(job.output_key, job.user_id), result.get("format", "png"), width, height)
                return Finished(encoded, result)
            if job.status == "failed":
                raise JobFailed(job.error_message or "the job failed")
            if progress is not None and job.progress != shown:
                shown = job.progress
                progress(job.progress, "queued" if job.status == "queued" else "running on a worker")
            time.sleep(poll)
        raise JobFailed(f"job {job_id} is still {job.status} after {2 * self.settings.max_job_seconds:.0f} s: no worker took it in time "
                        "(python -m server.worker running?); it will still end")  # fmt: skip

    def _resolver(self, user_id: str) -> Any:
        """Storage keys a job refers to (e.g. background_image_key): this user's uploads only."""

        def resolve(key: str) -> bytes:
            try:
                return self.storage.read(key, user_id)
            except NotFound:
                raise InputError(f"no upload {key!r} for this account") from None

        return resolve

    def _progress(self, job_id: str) -> Any:
        last = [0.0, 0.0]  # time, fraction of the last write

        def report(fraction: float, _message: str) -> None:
            if fraction - last[1] >= 0.05 and time.monotonic() - last[0] >= 1.0:
                last[:] = [time.monotonic(), fraction]
                with self.db.session() as session:
                    session.execute(update(Job).where(Job.id == job_id, Job.status == "processing").values(progress=round(fraction, 3)))

        return report

    def complete_held(self, job_id: str) -> None:
        """Mark a job that ran outside the queue (a web-UI run) as completed."""
        with self.db.session() as session:
            session.execute(update(Job).where(Job.id == job_id, Job.status == "processing").values(status="completed", progress=1.0, lease_expires_at=None))

    def fail(self, job_id: str, message: str, code: str) -> None:
        try:
            with self.db.session() as session:
                job = session.get(Job, job_id)
                if job is not None:
                    self._fail(session, job, message, code)
        except Exception:  # the lease runs out and the reaper fails the job (and refunds) later
            log.exception("could not record the failure of job %s", job_id)

    @staticmethod
    def _fail(session: Any, job: Job, message: str, code: str) -> bool:
        """Fail an active job and refund it, exactly once (a conditional update decides who wins)."""
        done = session.execute(
            update(Job).where(Job.id == job.id, Job.status.in_(ACTIVE))
            .values(status="failed", error_message=message[:2000], error_code=code, updated_at=now(), lease_expires_at=None)
        )  # fmt: skip
        if done.rowcount == 1:
            refund(session, job.user_id, credits=job.credits, coins=job.coins)  # a failed job costs nothing
        return done.rowcount == 1


@dataclass(frozen=True)
class Finished:
    """A queued job's result as the web UI shows it (what :class:`ops.pipeline.Processed` gives inline)."""

    encoded: Encoded
    stored: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        return self.stored


class JobFailed(StudioError):
    code = "job_failed"
    http_status = 500


class TargetTooLarge(StudioError):
    code = "target_too_large"
    http_status = 400


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
