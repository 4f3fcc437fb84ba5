"""Where queued jobs run: threads of this process (embedded), or worker processes fed by Dramatiq on Redis.

Dramatiq rather than Celery: it acknowledges a message only after the actor returns, which here
is after the job's terminal state is stored, and its Redis broker gives a dead worker's
unacknowledged messages to another worker, with no acks_late / reject-on-worker-lost /
visibility-timeout settings to get right; its workers are plain threads that a one-slot GPU
worker can pin to one. The database stays the judge of who runs a job (a conditional update
claims it), so a message delivered twice, or redelivered after the job was requeued by the lease
reaper, runs the job at most once to completion.

Two queues: ``model`` (network work: one job at a time per worker process, one process per
device) and ``free`` (format conversion and other light steps, which never wait behind a model).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

QUEUES = ("model", "free")
TIME_LIMIT_MS = 24 * 3600 * 1000  # jobs bound their own time (STUDIO_MAX_JOB_SECONDS); Dramatiq never kills one
HEARTBEAT_MS = 15_000  # a worker silent this long is dead: its unacknowledged messages go to others
MAINTENANCE_SHARE = 0.1  # of fetches that also look for dead workers' messages (Dramatiq's default: 0.1%)
Run = Callable[[str], None]


def queue_for(operations: list[dict[str, Any]]) -> str:
    """``model`` when any step runs a network, else ``free``."""
    from ops import chain

    try:
        return "model" if any(step.engine.uses_device for step in chain.plan(operations)) else "free"
    except Exception:  # a chain that no longer plans fails in the worker, with its own message
        return "free"


class Broker:
    """Dramatiq's Redis broker with one actor per queue, both running ``run(job_id)``."""

    def __init__(self, redis_url: str, run: Run | None = None) -> None:
        import dramatiq
        from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker

        self.broker = RedisBroker(
            url=redis_url, namespace="studio-jobs", heartbeat_timeout=HEARTBEAT_MS, maintenance_chance=int(MAINTENANCE_SCALE * MAINTENANCE_SHARE)
        )
        self.actors = {
            queue: dramatiq.actor(
                run or _not_here, actor_name=f"run_{queue}_job", queue_name=queue, broker=self.broker, max_retries=0, time_limit=TIME_LIMIT_MS
            )
            for queue in QUEUES
        }  # fmt: skip

    def send(self, job_id: str, queue: str) -> None:
        self.actors[queue].send(job_id)

    def worker(self, queue: str, threads: int) -> Any:
        """Consumers of one queue; each takes a message only when a thread is free for it (no
        prefetching: a busy worker never sits on a job an idle one could run)."""
        from dramatiq import Worker

        worker = Worker(self.broker, queues={queue}, worker_threads=threads, worker_timeout=1000)
        worker.queue_prefetch = threads
        return worker


def _not_here(job_id: str) -> None:
    raise RuntimeError(f"job {job_id} reached a process that only sends jobs")
