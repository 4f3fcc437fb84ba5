"""How a web-app run waits for the queued job a worker runs for it (the scale-out mode).

The page shows the job's progress as the worker records it, then its result; it never waits
forever (no worker running, a long queue), and the job still ends when the page stops waiting.
"""

from __future__ import annotations

import time
from typing import Any

from ops.errors import StudioError
from ops.imageio import Encoded

from .db import Database, Job
from .storage import Storage
from .terms import Finished


class JobFailed(StudioError):
    code = "job_failed"
    http_status = 500


def wait_for(db: Database, storage: Storage, job_id: str, max_job_seconds: float, progress: Any = None, poll: float = 0.5) -> Finished:
    """Block until a queued job ends: its result, or its failure raised. After twice the longest job
    allowed it stops waiting; the job itself still ends, and is listed with the account's."""
    shown, deadline = -1.0, time.monotonic() + 2 * max_job_seconds
    while time.monotonic() < deadline:
        with db.session() as session:
            job = session.get(Job, job_id)
            session.expunge(job)
        if job.status == "completed" and job.output_key:
            result = job.result or {}
            width, height = result.get("output_size", (0, 0))
            encoded = Encoded(storage.read(job.output_key, job.user_id), result.get("format", "png"), width, height)
            return Finished(encoded, result)
        if job.status == "failed":
            raise JobFailed(job.error_message or "the job failed")
        if progress is not None and job.progress != shown:
            shown = job.progress
            progress(job.progress, "queued" if job.status == "queued" else "running on a worker")
        time.sleep(poll)
    raise JobFailed(f"job {job_id} is still {job.status} after {2 * max_job_seconds:.0f} s: no worker took it in time "
                    "(python -m server.worker running?); it will still end")  # fmt: skip
