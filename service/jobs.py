"""Jobs that always end: each queued job is run under a lease, to a terminal state that is always stored.

This module runs them: the threads that work the local queue, the heartbeat that keeps leases and
reaps dead ones (:mod:`service.leases`), and the hand-off of each job to whoever runs it (this
process, or the broker's workers). Inputs given as a URL are fetched first
(:mod:`service.job_inputs`); every failure ends, and refunds, through :mod:`service.job_endings`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update

from ops import chain
from ops.errors import InputError, StudioError
from ops.pipeline import OutputOptions, process
from ops.run_config import RunConfig
from ops.settings import Settings

from .db import Database, Job
from .job_endings import fail, fail_unexpected
from .job_inputs import InputFetcher, decode_hints
from .leases import Leases
from .storage import NotFound, Storage
from .taskqueue import Broker, queue_for

log = logging.getLogger(__name__)


class JobService:
    """``broker``: jobs go to worker processes through it (scale-out); None: this process's threads run them."""

    def __init__(self, db: Database, storage: Storage, settings: Settings, broker: Broker | None = None) -> None:
        self.db, self.storage, self.settings, self.broker = db, storage, settings, broker
        self.leases = Leases(db, settings.job_lease_seconds)
        self.inputs = InputFetcher(db, storage, settings, self.dispatch)
        self.queue: queue.Queue[str | None] = queue.Queue()
        self._stop = threading.Event()
        self.threads: list[threading.Thread] = []

    @property
    def worker_id(self) -> str:
        return self.leases.worker_id

    # --- life cycle -------------------------------------------------------------------------
    def start(self, run_here: bool = True) -> None:
        """``run_here``: threads of this process run queued jobs (the embedded mode). An API process
        in scale-out mode only sends them (queued jobs already have their messages); a worker
        process gets them from the broker. Every process renews its leases and reaps dead ones."""
        self.reap()
        self.inputs.start()
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
        self.inputs.stop()
        for _ in range(self.settings.workers):
            self.queue.put(None)

    def _thread(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _keep_leases(self) -> None:
        """Heartbeat and reaper in one loop: renew our leases, then collect everyone's expired ones."""
        period = max(0.5, self.leases.lease_seconds / 3)
        while not self._stop.wait(period):
            try:
                self.leases.renew()
                self.reap()
            except Exception:  # the database may be briefly unavailable; try again next period
                log.exception("lease upkeep failed")

    def reap(self) -> list[str]:
        """Expired leases reaped; the jobs queued again are run again (and, scale-out, lost messages sent again)."""
        requeued = self.leases.reap()
        for job_id in requeued:
            self.submit(job_id)
        if self.broker is not None:
            resent = self.leases.stale_queued()
            for job_id in resent:
                self.dispatch(job_id)
            requeued += resent
        return requeued

    # --- handing jobs over ------------------------------------------------------------------
    def submit(self, job_id: str) -> None:
        """Queue a job: its input fetched first when it is still a URL."""
        with self.db.session() as session:
            job = session.get(Job, job_id)
            needs_input = job is not None and not job.input_key and job.source_url
            owner = job.user_id if job else ""
        if needs_input:
            self.inputs.submit(owner, job_id)
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

    # --- running ----------------------------------------------------------------------------
    def _work(self) -> None:
        while (job_id := self.queue.get()) is not None:
            try:
                self.run(job_id)
            except BaseException:  # never let a worker die; a job left unfinished loses its lease and is reaped
                log.exception("job %s crashed its worker", job_id)

    def run(self, job_id: str) -> None:
        """Claim and run a job to its terminal state (nothing, when another worker holds or finished it)."""
        job = self.leases.claim(job_id)
        if job is None:
            return
        with self.leases.holding(job_id):
            try:
                data = self.storage.read(job.input_key, job.user_id)
                planned = chain.plan(job.operations, run=RunConfig.of(self.settings))
                hints = decode_hints(self.storage, job)
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
                fail(self.db, job_id, "the input file no longer exists (retention period passed?)", "input_missing")
            except StudioError as exc:
                fail(self.db, job_id, exc.message, exc.code)
            except Exception as exc:
                fail_unexpected(self.db, job_id, exc, "could not finish")

    def _resolver(self, user_id: str) -> Callable[[str], bytes]:
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
