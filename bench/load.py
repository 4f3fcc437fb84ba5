"""Load test of the scale-out mode: 2 API processes + 2 workers on Redis and PostgreSQL (Debian's
servers on loopback ports, in a temporary folder), 200 concurrent clients for 60 s.

Each client submits jobs (70% free: convert to JPEG; 30% model: remove-background with u2netp,
left out, saying so, where u2netp cannot run here), polls each until it ends, and submits the next.
Halfway, one worker is SIGKILLed mid-job and a replacement started. Afterwards: throughput, p50/p99
latency of status polls, and checks, each printed PASS or FAIL (any FAIL: exit status 1): no
submission refused (a 422 for missing weights is a failure, by kind and reason), every job reached
a terminal state and every completed job completed exactly once (the workers' "completed" log
lines against the database), no job failed, every credit is accounted for (balances against the
completed jobs' prices), and where the killed worker's jobs finished.
Usage: python bench/load.py [--clients 200] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import services  # noqa: E402

ACCOUNTS = 20  # clients share enterprise accounts (10,000 requests a minute): the load, not the tier, is measured
CREDITS = 100_000
FREE = [{"type": "convert", "params": {"output_format": "jpg"}}]
MODEL = [{"type": "remove-background", "engine": "u2netp"}]


def picture() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.open(ROOT / "examples" / "cat.jpg").convert("RGB").resize((96, 64)).save(buffer, "PNG")
    return buffer.getvalue()


class Client:
    def __init__(self, http: httpx.AsyncClient, api: str, key: str, upload: str, stop_at: float, model_share: float) -> None:
        self.http, self.api, self.key, self.upload, self.stop_at = http, api, key, upload, stop_at
        self.model_share = model_share
        self.polls: list[float] = []
        self.jobs: list[str] = []
        self.refused: Counter[tuple[str, int, str]] = Counter()  # (free or model, status, the refusal's code or message)
        self.errors: Counter[str] = Counter()  # transport errors (a connection closed under load), retried

    async def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        while time.monotonic() < self.stop_at:
            kind = "model" if random.random() < self.model_share else "free"
            operations = MODEL if kind == "model" else FREE
            created = await self.send("POST", "/api/v1/jobs/api", headers=headers, json={"input_key": self.upload, "operations": operations})
            if created is None:
                continue  # not known whether it was created: the audit counts every job the database holds
            if created.status_code != 201:
                self.refused[kind, created.status_code, reason(created)] += 1
                await asyncio.sleep(1)
                continue
            job_id = created.json()["id"]
            self.jobs.append(job_id)
            while True:
                await asyncio.sleep(0.5)
                started = time.perf_counter()
                status = await self.send("GET", f"/api/v1/jobs/api/{job_id}", headers=headers)
                if status is None:
                    continue
                self.polls.append(time.perf_counter() - started)
                if status.status_code == 200 and status.json()["status"] in ("completed", "failed"):
                    break
                if time.monotonic() > self.stop_at + 300:
                    return

    async def send(self, method: str, path: str, **kwargs: object) -> httpx.Response | None:
        try:
            return await self.http.request(method, f"{self.api}{path}", **kwargs)
        except httpx.TransportError as exc:
            self.errors[type(exc).__name__] += 1
            await asyncio.sleep(0.5)
            return None


def reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:80]
    return str(body.get("code") or body.get("message") or body.get("detail") or body)[:120] if isinstance(body, dict) else str(body)[:120]


async def drive(cluster: services.Cluster, clients: int, seconds: float, model_share: float) -> tuple[list[Client], dict]:
    accounts = [cluster.account("enterprise", credits=CREDITS) for _ in range(ACCOUNTS)]
    uploads = {}
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=clients + 10)) as http:
        for index, (_, key) in enumerate(accounts):
            response = await http.post(f"{cluster.apis[index % 2]}/api/v1/upload/api", headers={"Authorization": f"Bearer {key}"},
                                       files={"file": ("in.png", picture(), "image/png")})  # fmt: skip
            uploads[key] = response.json()["storage_key"]
        start = time.monotonic()
        runners = [Client(http, cluster.apis[i % 2], accounts[i % ACCOUNTS][1], uploads[accounts[i % ACCOUNTS][1]], start + seconds, model_share)
                   for i in range(clients)]  # fmt: skip
        tasks = [asyncio.create_task(runner.run()) for runner in runners]
        await asyncio.sleep(seconds / 2)
        killed = await asyncio.to_thread(kill_mid_job, cluster)
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - start
    return runners, {"accounts": accounts, "elapsed": elapsed, **killed}


def kill_mid_job(cluster: services.Cluster) -> dict:
    """SIGKILL worker-a while it holds a job (waiting up to 20 s for one), start worker-c."""
    from sqlalchemy import create_engine, text

    database = create_engine(cluster.env["STUDIO_DATABASE_URL"])
    holder, held = cluster.holder("worker-a"), []
    deadline = time.monotonic() + 20
    while not held and time.monotonic() < deadline:
        with database.connect() as connection:
            held = connection.execute(text("select id from jobs where status = 'processing' and worker = :w"), {"w": holder}).scalars().all()
    cluster.kill("worker-a")
    cluster.start_worker("model,free", "worker-c")  # a replacement, as a supervisor would start
    return {"killed": holder, "held_when_killed": list(held)}


def audit(cluster: services.Cluster, runners: list[Client], facts: dict) -> dict:
    from sqlalchemy import create_engine, text

    database = create_engine(cluster.env["STUDIO_DATABASE_URL"])
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # jobs whose client gave up waiting still end
        with database.connect() as connection:
            active = connection.execute(text("select count(*) from jobs where status in ('queued', 'processing')")).scalar()
        if not active:
            break
        time.sleep(1)
    with database.connect() as connection:
        rows = connection.execute(text("select id, status, credits, worker, attempts, api from jobs where api = 'v1'")).all()
        balances = {row.id: row.credits for row in connection.execute(text("select id, credits from users"))}
    logs = "".join(path.read_text(errors="replace") for path in cluster.folder.glob("worker-*.log"))
    completions = Counter(re.findall(r"job ([0-9a-f-]{36}) completed by", logs))
    by_id = {row.id: row for row in rows}
    statuses = Counter(row.status for row in rows)
    spent = sum(CREDITS - balances[user_id] for user_id, _ in facts["accounts"])
    charged = sum(row.credits for row in rows if row.status == "completed")
    return {
        "submitted": len(rows),
        "statuses": dict(statuses),
        "all_terminal": all(row.status in ("completed", "failed") for row in rows),
        "clients_saw": sum(len(runner.jobs) for runner in runners),
        "completed_once": all(completions[row.id] == 1 for row in rows if row.status == "completed") and set(completions) <= set(by_id),
        "credits_spent": spent,
        "credits_of_completed_jobs": charged,
        "killed_jobs": [(job, by_id[job].status, by_id[job].worker, by_id[job].attempts) for job in facts["held_when_killed"] if job in by_id],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    if why := services.missing():
        sys.exit(f"cannot run: {why}")
    from ops.engines import ENGINES

    model_share = 0.3
    if cannot := ENGINES[MODEL[0]["engine"]].unavailable_reason():
        model_share = 0.0
        print(f"model jobs left out of the load: {MODEL[0]['type']} with {MODEL[0]['engine']} cannot run here ({cannot}); only free jobs are measured")
    with tempfile.TemporaryDirectory(prefix="studio-load-") as folder, services.cluster(Path(folder), STUDIO_JOB_LEASE_SECONDS="5", STUDIO_WARM_NETWORKS="u2netp") as cluster:
        Path(folder).chmod(0o755)
        for _ in range(2):
            cluster.start_api()
        cluster.start_worker("model,free", "worker-a")
        cluster.start_worker("model,free", "worker-b")
        cluster.wait_ready("worker-a", "worker-b")
        runners, facts = asyncio.run(drive(cluster, args.clients, args.seconds, model_share))
        report = audit(cluster, runners, facts)
    polls = sorted(p for runner in runners for p in runner.polls)
    refused = sum((runner.refused for runner in runners), Counter())
    errors = sum((runner.errors for runner in runners), Counter())
    print(f"scale-out load: 2 API processes + 2 workers (model and free queues), Redis + PostgreSQL on loopback, {args.clients} clients, {args.seconds:g} s")
    print(f"jobs accepted {report['submitted']} in {args.seconds:g} s ({report['submitted'] / args.seconds:.1f}/s); end states {report['statuses']}; "
          f"refused at submit {sum(refused.values())}")  # fmt: skip
    completed = report["statuses"].get("completed", 0)
    print(f"throughput {completed / facts['elapsed']:.1f} completed jobs/s: the last ended {facts['elapsed']:.0f} s after the start")
    print(f"status polls {len(polls)}: p50 {1000 * statistics.median(polls):.0f} ms, p99 {1000 * polls[int(len(polls) * 0.99) - 1]:.0f} ms; "
          f"transport errors (retried) {dict(errors) or 0}")  # fmt: skip
    refusals = "; ".join(f"{count} {kind} refused {status} ({why})" for (kind, status, why), count in refused.most_common())
    failed = report["statuses"].get("failed", 0)
    checks = [
        ("no submission refused", not refused, refusals or "none"),
        ("every job terminal", report["all_terminal"], str(report["statuses"])),
        ("every completed job completed exactly once", report["completed_once"], "workers' log lines against the database"),
        ("no job failed", failed == 0, f"{failed} failed"),
        ("credits spent = credits of completed jobs", report["credits_spent"] == report["credits_of_completed_jobs"],
         f"{report['credits_spent']} = {report['credits_of_completed_jobs']}"),
        ("some work was done", completed > 0 and report["clients_saw"] > 0, f"{completed} completed"),
    ]  # fmt: skip
    for name, passed, detail in checks:
        print(f"{'PASS' if passed else 'FAIL'} {name}: {detail}")
    print(f"worker {facts['killed']} SIGKILLed holding {len(facts['held_when_killed'])} job(s):")
    for job, status, worker, attempts in report["killed_jobs"]:
        print(f"  {job}: {status} on {worker} (attempt {attempts})")
    if not all(passed for _, passed, _ in checks):
        sys.exit(1)


if __name__ == "__main__":
    main()
