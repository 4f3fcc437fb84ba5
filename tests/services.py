"""Real Redis and PostgreSQL servers (Debian's packages) on loopback ports in a temporary folder,
and the processes of the scale-out mode, for the tests and bench/load.py."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing() -> str | None:
    """Why the real servers cannot run here (None: they can)."""
    if not shutil.which("redis-server"):
        return "Debian's redis-server is not installed (apt-get install redis-server)"
    if not _postgres_bin("initdb"):
        return "Debian's postgresql is not installed (apt-get install postgresql)"
    if os.geteuid() == 0 and not shutil.which("runuser"):
        return "PostgreSQL refuses to run as root and runuser is missing"
    return None


def _postgres_bin(name: str) -> str | None:
    for folder in POSTGRES_BINARIES:
        if (folder / name).exists():
            return str(folder / name)
    return shutil.which(name)


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL will not run as root: as root, run its commands as the postgres account."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_for_port(port, process, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def postgres_server(folder: Path) -> Iterator[str]:
    """A throwaway cluster; yields a SQLAlchemy URL (psycopg 3)."""
    port = free_port()
    if os.geteuid() == 0:  # the postgres account cannot enter root's private folders: a folder of its own
        folder = Path(tempfile.mkdtemp(prefix="studio-pg-"))
        shutil.chown(folder, "postgres")
    data = folder / "pgdata"
    data.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    subprocess.run(_as_postgres([_postgres_bin("initdb"), "-D", str(data), "-U", "studio", "--auth=trust", "-E", "UTF8"]),
                   check=True, capture_output=True)  # fmt: skip
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    process = subprocess.Popen(_as_postgres([_postgres_bin("postgres"), "-D", str(data), *options.split()]), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, process, "postgres")
        create = _as_postgres([_postgres_bin("createdb") or "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "studio", "studio"])
        for _ in range(100):  # the port opens while the server is still starting up
            done = subprocess.run(create, capture_output=True, text=True)
            if done.returncode == 0:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"createdb failed: {done.stderr.strip()}")
        yield f"postgresql+psycopg://studio@127.0.0.1:{port}/studio"
    finally:
        process.terminate()
        process.wait(20)
        if os.geteuid() == 0:
            shutil.rmtree(folder, ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on {port} within {timeout:g} s")


@dataclass
class Cluster:
    """The scale-out mode on one machine: API processes and workers sharing Redis, Postgres and a folder."""

    env: dict[str, str]
    folder: Path
    apis: list[str] = field(default_factory=list)
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)

    def start_api(self) -> str:
        port = free_port()
        code = "import sys, uvicorn; from app import create; from ops.settings import Settings; uvicorn.run(create(Settings(), with_ui=False), host='127.0.0.1', port=int(sys.argv[1]), log_level='warning', proxy_headers=False)"
        self._spawn([sys.executable, "-c", code, str(port)], f"api-{port}")
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        self.apis.append(url)
        return url

    def start_worker(self, queues: str, name: str) -> subprocess.Popen:
        """``queues``: "model", "free" or "model,free"."""
        process = self._spawn([sys.executable, "-m", "server.worker", *(f"--queue={q}" for q in queues.split(","))], name)
        self.workers[name] = process
        return process

    def wait_ready(self, *names: str, timeout: float = 300) -> None:
        """Until these workers have warmed their networks and consume."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all("ready on" in (self.folder / f"{name}.log").read_text(errors="replace") for name in names):
                return
            time.sleep(0.5)
        raise RuntimeError(f"workers {names} not ready within {timeout:g} s")

    def kill(self, name: str) -> None:
        self.workers[name].send_signal(signal.SIGKILL)
        self.workers[name].wait(10)

    def _spawn(self, command: list[str], name: str) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115  (closed with the process)
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def admin(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        return httpx.request(method, f"{self.apis[0]}/api/admin{path}", headers={"X-Admin-Token": self.env["STUDIO_ADMIN_TOKEN"]}, timeout=30, **kwargs)

    def holder(self, worker: str) -> str:
        """The ``worker`` column value of jobs this worker process holds (host:pid)."""
        return f"{socket.gethostname()}:{self.workers[worker].pid}"

    def account(self, tier: str = "pro", credits: int = 0) -> tuple[str, str]:
        """(user id, a fresh API key)."""
        user = self.admin("POST", "/users", json={"email": f"user{time.monotonic_ns()}@example.com", "tier": tier, "credits": credits})
        assert user.status_code == 201, user.text
        key = self.admin("POST", f"/users/{user.json()['id']}/keys", json={"name": "load"})
        assert key.status_code == 201, key.text
        return user.json()["id"], key.json()["key"]


@contextmanager
def cluster(folder: Path, **settings: str) -> Iterator[Cluster]:
    """Redis + Postgres up, no API or worker yet (``start_api``, ``start_worker``)."""
    with ExitStack() as stack:
        redis_url = stack.enter_context(redis_server(folder / "redis"))
        database_url = stack.enter_context(postgres_server(folder / "postgres"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
        env.update(
            STUDIO_REDIS_URL=redis_url, STUDIO_DATABASE_URL=database_url, STUDIO_DATA_DIR=str(folder / "data"), STUDIO_ADMIN_TOKEN="load-admin",
            STUDIO_WARM_NETWORKS="", STUDIO_SECRET="shared-secret-for-all-processes", PYTHONPATH=str(ROOT),
        )  # fmt: skip
        env.update(settings)
        running = Cluster(env, folder)
        try:
            yield running
        finally:
            for process in running.processes:
                if process.poll() is None:
                    process.terminate()
            for process in running.processes:
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
