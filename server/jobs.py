"""Jobs that are never lost: persisted first, run by a worker pool, recovered after a crash."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from sqlalchemy import select

from ops import chain
from ops.errors import InputError, StudioError
from ops.pipeline import OutputOptions, process

from .accounts import refund
from .db import Database, Job, now
from .storage import NotFound, Storage

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 2  # a job interrupted by this many restarts is failed, not retried forever
ACTIVE = ("queued", "processing")


class JobService:
    def __init__(self, db: Database, storage: Storage, workers: int = 2) -> None:
        self.db, self.storage, self.workers = db, storage, workers
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for job_id in self.recover():
            self.queue.put(job_id)
        for index in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"job-worker-{index}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        for _ in self.threads:
            self.queue.put(None)

    def submit(self, job_id: str) -> None:
        self.queue.put(job_id)

    def recover(self) -> list[str]:
        """After a crash: jobs left processing are queued again (or failed after MAX_ATTEMPTS)."""
        with self.db.session() as session:
            for job in session.scalars(select(Job).where(Job.status == "processing")):
                if job.attempts >= MAX_ATTEMPTS:
                    self._fail(session, job, "the server restarted during this job twice; it was not retried again", "interrupted")
                else:
                    job.status, job.progress = "queued", 0.0
                    log.warning("job %s was interrupted by a restart; queued again", job.id)
            queued = session.scalars(select(Job.id).where(Job.status == "queued").order_by(Job.created_at)).all()
        return list(queued)

    def _work(self) -> None:
        while (job_id := self.queue.get()) is not None:
            try:
                self._run(job_id)
            except Exception:  # never let a worker die
                log.exception("job %s crashed its worker", job_id)

    def _run(self, job_id: str) -> None:
        with self.db.session() as session:
            job = session.get(Job, job_id)
            if job is None or job.status != "queued":
                return
            job.status, job.attempts, job.progress = "processing", job.attempts + 1, 0.0
            user_id, input_key, steps, options = job.user_id, job.input_key, job.operations, job.output_options
        try:
            data = self.storage.path(input_key, user_id).read_bytes()
            planned = chain.plan(steps)
            done = process(data, planned, OutputOptions(**options), self._progress(job_id), self._resolver(user_id))
            key = self.storage.new_key("outputs", user_id, done.encoded.extension, stem=job_id.replace("-", ""))
            self.storage.write(key, done.encoded.data)
        except NotFound:
            self._finish_failed(job_id, "the input file no longer exists (retention period passed?)", "input_missing")
        except StudioError as exc:
            self._finish_failed(job_id, exc.message, exc.code)
        except Exception as exc:
            log.exception("job %s failed unexpectedly", job_id)
            self._finish_failed(job_id, f"internal error: {type(exc).__name__}", "internal")
        else:
            with self.db.session() as session:
                job = session.get(Job, job_id)
                job.status, job.output_key, job.progress, job.result = "completed", key, 1.0, done.summary()

    def _resolver(self, user_id: str) -> Any:
        """Storage keys a job refers to (e.g. background_image_key): this user's uploads only."""

        def resolve(key: str) -> bytes:
            try:
                return self.storage.path(key, user_id).read_bytes()
            except NotFound:
                raise InputError(f"no upload {key!r} for this account") from None

        return resolve

    def _progress(self, job_id: str) -> Any:
        last = [0.0, 0.0]  # time, fraction of the last write

        def report(fraction: float, _message: str) -> None:
            if fraction - last[1] >= 0.05 and time.monotonic() - last[0] >= 1.0:
                last[:] = [time.monotonic(), fraction]
                with self.db.session() as session:
                    job = session.get(Job, job_id)
                    if job is not None:
                        job.progress = round(fraction, 3)

        return report

    def _finish_failed(self, job_id: str, message: str, code: str) -> None:
        with self.db.session() as session:
            job = session.get(Job, job_id)
            if job is not None:
                self._fail(session, job, message, code)

    @staticmethod
    def _fail(session: Any, job: Job, message: str, code: str) -> None:
        job.status, job.error_message, job.error_code, job.updated_at = "failed", message, code, now()
        refund(session, job.user_id, credits=job.credits, coins=job.coins)  # a failed job costs nothing
