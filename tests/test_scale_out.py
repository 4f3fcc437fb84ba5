"""The scale-out mode on real parts: Debian's Redis and PostgreSQL on loopback, two API processes,
Dramatiq worker processes (skipped, saying why, where those servers cannot be installed)."""

from __future__ import annotations

import io
import os
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests import services
from tests.conftest import SetHost
from tests.server_harness import bearer, poll_job

NEEDS_SERVERS = pytest.mark.skipif(bool(services.missing()), reason=f"scale-out tests need real servers: {services.missing()}")
PASSED = ("STUDIO_BACKEND", "STUDIO_SEGMENTER_BACKEND")  # the test settings the worker processes share


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.Cluster]:
    folder = tmp_path_factory.mktemp("cluster")
    os.chmod(folder, 0o755)
    with services.cluster(folder, STUDIO_JOB_LEASE_SECONDS="3", **{k: os.environ[k] for k in PASSED if k in os.environ}) as running:
        running.start_api()
        running.start_api()
        yield running


def _png(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.radial_gradient("L").resize((side, side)).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def _upload(api: str, key: str, side: int = 48) -> str:
    response = httpx.post(f"{api}/api/v1/upload/api", headers=bearer(key), files={"file": ("in.png", _png(side), "image/png")}, timeout=30)
    assert response.status_code in (200, 201), response.text
    return response.json()["storage_key"]


@NEEDS_SERVERS
def test_the_rate_limit_holds_across_two_api_processes(cluster: services.Cluster) -> None:
    _, key = cluster.account("pro")  # 50 requests a minute
    limit, extra = 50, 12
    urls = [f"{cluster.apis[i % 2]}/api/v1/account" for i in range(limit + extra)]
    with ThreadPoolExecutor(32) as pool:
        responses = list(pool.map(lambda url: httpx.get(url, headers=bearer(key), timeout=30), urls))
    codes = Counter(r.status_code for r in responses)
    assert codes == {200: limit, 429: extra}, codes
    remaining = sorted(int(r.headers["X-RateLimit-Remaining"]) for r in responses if r.status_code == 200)
    assert remaining == list(range(limit)), "each success is told its own exact remaining quota"


@NEEDS_SERVERS
def test_credits_are_never_double_spent_across_processes(cluster: services.Cluster) -> None:
    _, key = cluster.account("business", credits=5)
    inputs = [_upload(cluster.apis[0], key) for _ in range(2)]
    body = {"operations": [{"type": "remove-background", "engine": "u2netp"}]}

    def create(i: int) -> httpx.Response:
        return httpx.post(f"{cluster.apis[i % 2]}/api/v1/jobs/api", headers=bearer(key), json={**body, "input_key": inputs[i % 2]}, timeout=30)

    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(create, range(16)))
    accepted = [r for r in responses if r.status_code in (200, 201, 202)]
    assert len(accepted) == 5, Counter(r.status_code for r in responses)
    account = httpx.get(f"{cluster.apis[1]}/api/v1/account", headers=bearer(key), timeout=30).json()
    assert account["credits"] == 0


@NEEDS_SERVERS
def test_a_worker_killed_mid_job_has_its_job_finished_by_another(cluster: services.Cluster) -> None:
    from sqlalchemy import create_engine, text

    first, second = cluster.start_worker("model", "worker-a"), cluster.start_worker("model", "worker-b")
    _, key = cluster.account("business", credits=10)
    body = {"input_key": _upload(cluster.apis[0], key, side=160), "operations": [{"type": "enhance", "params": {"scale": 4}, "engine": "realesrgan-x4plus"}]}
    job = httpx.post(f"{cluster.apis[1]}/api/v1/jobs/api", headers=bearer(key), json=body, timeout=30)
    assert job.status_code in (200, 201, 202), job.text
    job_id, price = job.json()["id"], job.json()["credits"]
    database = create_engine(cluster.env["STUDIO_DATABASE_URL"])
    deadline = time.monotonic() + 120
    holder = None
    while time.monotonic() < deadline and holder is None:
        with database.connect() as connection:
            holder = connection.execute(text("select worker from jobs where id = :id and status = 'processing'"), {"id": job_id}).scalar()
        time.sleep(0.1)
    assert holder, "no worker took the job"
    victim = next(name for name, process in cluster.workers.items() if holder.endswith(f":{process.pid}"))
    cluster.kill(victim)
    status = poll_job(cluster.apis[0], key, job_id, timeout=240, every=1)
    assert status["status"] == "completed", status
    with database.connect() as connection:
        attempts, worker = connection.execute(text("select attempts, worker from jobs where id = :id"), {"id": job_id}).one()
    survivor = second if victim == "worker-a" else first
    assert attempts == 2 and worker.endswith(f":{survivor.pid}")
    logs = "".join((cluster.folder / f"{name}.log").read_text() for name in ("worker-a", "worker-b"))
    assert logs.count(f"job {job_id} completed") == 1, "run to completion exactly once"
    assert httpx.get(f"{cluster.apis[1]}/api/v1/account", headers=bearer(key), timeout=30).json()["credits"] == 10 - price
    assert httpx.get(status["download_url"], timeout=30).status_code == 200, "the signed link works on the other API process"


@NEEDS_SERVERS
def test_free_jobs_run_on_their_own_queue(cluster: services.Cluster) -> None:
    cluster.start_worker("free", "free-worker")
    _, key = cluster.account("pro")
    body = {"input_key": _upload(cluster.apis[1], key), "operations": [{"type": "convert", "params": {"output_format": "jpg"}}]}
    job = httpx.post(f"{cluster.apis[0]}/api/v1/jobs/api", headers=bearer(key), json=body, timeout=30).json()
    status = poll_job(cluster.apis[1], key, job["id"], timeout=60, every=0.5)
    assert status["status"] == "completed", status
    assert "completed by" in (cluster.folder / "free-worker.log").read_text()


def test_the_embedded_default_needs_none_of_it(tmp_path: Path) -> None:
    from ops.settings import Settings
    from service.studio import Studio

    studio = Studio.create(Settings(data_dir=tmp_path))
    assert not studio.scaled and type(studio.service.limiter.storage).__name__ == "MemoryStorage"
    assert studio.storage.local


def test_model_work_asks_zero_gpu_for_a_duration_from_its_size(monkeypatch: pytest.MonkeyPatch, set_host: SetHost) -> None:
    import spaces

    from ops import chain
    from ops.pipeline import process
    from ops.runtime import zerogpu

    asked: list[int] = []

    def gpu(duration):  # noqa: ANN001, ANN202  (stands in for the ZeroGPU slice; the work still runs here)
        def wrap(task):  # noqa: ANN001, ANN202
            def call(*args):  # noqa: ANN002, ANN202
                asked.append(duration(*args))
                return task(*args)

            return call

        return wrap

    set_host(zero_gpu=True)  # what SPACES_ZERO_GPU=true gives a door's settings
    monkeypatch.setattr(spaces, "GPU", gpu)
    zerogpu.on_slice.cache_clear()
    small, large = _png(32), _png(256)
    steps = chain.plan([{"type": "enhance", "params": {"scale": 2}, "engine": "realesr-animevideov3"}])
    assert process(small, steps).encoded.width == 64
    process(large, steps)
    process(small, chain.plan([{"type": "convert", "params": {"output_format": "jpg"}}]))  # free work: no slice
    assert len(asked) == 2 and 15 <= asked[0] < asked[1] <= 300
    zerogpu.on_slice.cache_clear()


@NEEDS_SERVERS
def test_the_web_app_runs_its_work_on_the_same_workers(cluster: services.Cluster, tmp_path: Path) -> None:
    import numpy as np
    from sqlalchemy import create_engine, text

    from ops import chain
    from ops.pipeline import OutputOptions
    from ops.settings import Settings
    from service.studio import Studio
    from service.terms import Caller, Price

    if "free-worker" not in cluster.workers:
        cluster.start_worker("free", "free-worker")
    env = cluster.env
    studio = Studio.create(Settings(redis_url=env["STUDIO_REDIS_URL"], database_url=env["STUDIO_DATABASE_URL"], data_dir=Path(env["STUDIO_DATA_DIR"])))
    source = tmp_path / "in.png"
    source.write_bytes(_png(40))
    operations = [{"type": "convert", "params": {"output_format": "jpg"}}]
    with studio.service.ui_run(Caller(address="127.0.0.1"), Price(), operations, model_work=False) as run:
        done = run(str(source), chain.plan(operations), OutputOptions(), None, {"subject_mask": np.eye(40, dtype=bool)}, _no_files)
    assert done.encoded.format == "jpeg" and done.encoded.data[:2] == b"\xff\xd8" and done.summary()["steps"][0]["engine"]
    with create_engine(env["STUDIO_DATABASE_URL"]).connect() as connection:
        job_id, hints = connection.execute(text("select id, hints from jobs where api = 'ui' order by created_at desc limit 1")).one()
    assert "subject_mask" in hints
    assert f"job {job_id} completed by" in (cluster.folder / "free-worker.log").read_text()


def _no_files(reference: str) -> bytes:
    from ops.errors import InputError

    raise InputError("no file was given with this run")


@NEEDS_SERVERS
def test_a_web_run_sends_the_files_its_steps_refer_to_to_the_worker(cluster: services.Cluster, tmp_path: Path) -> None:
    """A backdrop given to the replace-background tab is a file on the web process: it reaches the
    worker as a storage key, and nothing else the run did not get can be referred to."""
    from ops import chain
    from ops.pipeline import OutputOptions
    from ops.settings import Settings
    from service.studio import Studio
    from service.terms import Caller, Price

    if "model-worker" not in cluster.workers:
        cluster.start_worker("model", "model-worker")
    env = cluster.env
    studio = Studio.create(Settings(redis_url=env["STUDIO_REDIS_URL"], database_url=env["STUDIO_DATABASE_URL"], data_dir=Path(env["STUDIO_DATA_DIR"])))
    source, backdrop = tmp_path / "in.png", tmp_path / "backdrop.png"
    source.write_bytes(_png(40))
    Image.new("RGB", (40, 40), (0, 200, 0)).save(backdrop)
    given = {str(backdrop): backdrop.read_bytes()}

    def run_with(reference: str) -> bytes:
        operations = [{"type": "replace-background", "params": {"background_type": "image", "background_image_key": reference}}]
        with studio.service.ui_run(Caller(address="127.0.0.1"), Price(), operations, model_work=True) as run:
            resolve = lambda ref: given[ref] if ref in given else _no_files(ref)  # noqa: E731
            return run(str(source), chain.plan(operations), OutputOptions(format="png"), None, None, resolve).encoded.data

    assert Image.open(io.BytesIO(run_with(str(backdrop)))).size == (40, 40)
    with pytest.raises(Exception):  # noqa: B017  (the worker cannot read a path the run was not given)
        run_with("/etc/passwd")


def test_files_on_an_s3_compatible_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """S3 through fsspec (s3fs), against moto's S3 server on loopback; endpoint and keys are the standard AWS variables."""
    import moto.server as server_module
    import s3fs  # noqa: F401  (pinned in requirements-test.txt)

    from service.storage import NotFound, Storage

    port = services.free_port()
    s3 = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    s3.start()
    try:
        for name, value in {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                            "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        writer, reader = Storage("s3://studio-files/prod"), Storage("s3://studio-files/prod")  # two processes' views
        owner, other = "1" * 8 + "-1111-1111-1111-" + "1" * 12, "2" * 8 + "-2222-2222-2222-" + "2" * 12
        key = writer.new_key("outputs", owner, "png")
        writer.write(key, b"\x89PNG result")
        assert reader.read(key, owner) == b"\x89PNG result" and b"".join(reader.stream(key, owner)) == b"\x89PNG result"
        for user, sneaky in ((other, key), (owner, key.replace("outputs/", "outputs/../")), (owner, key + "x")):
            with pytest.raises(NotFound):
                reader.check(sneaky, user)
        assert reader.purge(3600) == 0 and reader.purge(-60) == 1
        with pytest.raises(NotFound):
            reader.read(key, owner)
    finally:
        s3.stop()
