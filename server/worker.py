"""``python -m server.worker``: a job worker of the scale-out mode (STUDIO_REDIS_URL set).

One process per device for the ``model`` queue (one model job at a time: the device is the slot),
and any number for the ``free`` queue. Each claims its job in the database, renews the job's lease
while it runs, and acknowledges the message only after the job's terminal state is stored; a
worker killed mid-job leaves a lease that runs out, and the job is queued again for another.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from ops.host import configure
from ops.settings import Settings
from service.db import Database
from service.jobs import JobService
from service.storage import Storage
from service.taskqueue import QUEUES, Broker
from service.warmup import warm_up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.worker", description="A job worker of the scale-out mode (STUDIO_REDIS_URL set).")
    parser.add_argument("--queue", choices=QUEUES, action="append", help="model: one job at a time (a device slot); free: light steps; "
                        "repeat to serve both (default: model)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=4, help="jobs at once on the free queue (the model queue always runs one)")
    args = parser.parse_args(argv)
    settings = Settings()
    configure(settings)
    if not settings.redis_url:
        print("error: STUDIO_REDIS_URL is not set: the embedded server runs its jobs itself", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    jobs = JobService(Database(settings.db_url), Storage(settings.storage_url or settings.data_dir), settings)
    broker = Broker(settings.redis_url, jobs.run)
    jobs.broker = broker  # jobs requeued by this process's reaper go back through the broker
    jobs.start(run_here=False)
    queues = sorted(set(args.queue or ["model"]))
    if "model" in queues:
        warm_up(settings)  # before taking a job: a cold worker never holds one a warm worker could run
    # the model queue has one thread (the device is the slot); free work runs beside it, never behind it
    workers = [broker.worker(queue, 1 if queue == "model" else max(1, args.threads)) for queue in queues]
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    for worker in workers:
        worker.start()
    print(f"worker {jobs.worker_id} ready on {' and '.join(queues)}", flush=True)
    stopping.wait()
    for worker in workers:
        worker.stop()  # lets running jobs finish and acknowledges them; unstarted messages go back
    jobs.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
