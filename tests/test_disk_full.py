"""A full disk is "507, try again later" in each door's own form, never a 500, and it costs nothing:
no partial file stays to keep the disk full, no credit or coin is taken, no job is left hanging, and
the server answers as before once space is freed.

The real thing runs on a 3 MB tmpfs (mounting needs root; skipped with the reason where it is not
permitted), so SQLite meets the full disk as well as the files; the same paths are also driven
with injected errors, which need no mount.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import event, update
from sqlalchemy.exc import OperationalError

from service import diskfull
from service.db import ApiKey
from service.diskfull import is_disk_full
from service.storage import STALE_PART_SECONDS, Storage, purge_folders
from service.studio import Studio
from tests.conftest import EXAMPLES
from tests.server_harness import LiveServer, bearer, image_host, start

V1_FULL = {"detail": diskfull.MESSAGE, "code": "storage_full", "errors": []}
HITPAW_FULL = {"error_code": 100500003, "message": "Failed to create file", "detail": diskfull.MESSAGE}
CONVERT = [{"type": "convert", "params": {"output_format": "png"}}]
#: 1 credit, and a result larger than the whole disk (a 64x48 crop, doubled, then a 2000x1500 PNG)
TOO_BIG = [{"type": "enhance", "params": {"scale": 2}}, {"type": "crop-resize", "params": {"resize": {"width": 2000}}}]


# --- recognising a full disk ----------------------------------------------------------------


def _raised(exc: BaseException, cause: BaseException | None = None, context: BaseException | None = None) -> BaseException:
    exc.__cause__, exc.__context__ = cause, context
    return exc


class _PsycopgLike(Exception):
    sqlstate = "53100"


@pytest.mark.parametrize(
    ("exc", "full"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), True),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
        (OperationalError("INSERT INTO jobs ...", {}, sqlite3.OperationalError("database or disk is full")), True),
        (sqlite3.OperationalError("database or disk is full"), True),
        (_raised(RuntimeError("saving failed"), cause=OSError(errno.ENOSPC, "No space left on device")), True),
        (_raised(ValueError("while cleaning up"), context=OSError(errno.EDQUOT, "Disk quota exceeded")), True),
        (OperationalError("UPDATE users ...", {}, _PsycopgLike("could not extend file")), True),
        (PermissionError(errno.EACCES, "Permission denied"), False),
        (OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked")), False),
        (ValueError("no space here"), False),
        (None, False),
    ],
)  # fmt: skip
def test_is_disk_full_recognises_each_form(exc: BaseException | None, full: bool) -> None:
    assert is_disk_full(exc) is full


def test_is_disk_full_survives_a_cycle() -> None:
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__context__, second.__context__ = second, first
    assert not is_disk_full(first)


# --- nothing half-written -------------------------------------------------------------------


def _half_then_full(path: str, data: bytes, **_: Any) -> None:
    """A local write that gets half its bytes onto the disk, then runs out of space."""
    with open(path, "wb") as handle:
        handle.write(data[: len(data) // 2])
    raise OSError(errno.ENOSPC, "No space left on device", path)


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def partial_files(folder: Path) -> list[str]:
    """Anything a failed write could leave: .part files, hidden drafts, empty result folders."""
    names = [name for name in files_under(folder) if name.endswith(".part") or Path(name).name.startswith(".")]
    results = folder / "web-results"
    return names + ([str(p) for p in results.iterdir() if p.is_dir() and not any(p.iterdir())] if results.is_dir() else [])


def test_storage_write_on_a_full_disk_leaves_no_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = Storage(tmp_path)
    monkeypatch.setattr(storage.fs, "pipe_file", _half_then_full)
    with pytest.raises(OSError) as raised:
        storage.write("uploads/u/x.png", b"x" * 10_000)
    assert is_disk_full(raised.value) and partial_files(tmp_path) == [] and files_under(tmp_path) == set()


def test_storage_write_that_cannot_be_renamed_leaves_no_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = Storage(tmp_path)

    def no_rename(*_: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("service.storage.os.replace", no_rename)
    with pytest.raises(OSError):
        storage.write("outputs/u/x.png", b"x" * 10_000)
    assert files_under(tmp_path) == set()


def test_purge_removes_stale_parts_and_old_web_results(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    folder = tmp_path / "uploads" / "u"
    folder.mkdir(parents=True)
    stale, fresh, kept = folder / ".a.png.123.part", folder / ".b.png.123.part", folder / "c.png"
    for path in (stale, fresh, kept):
        path.write_bytes(b"x")
    an_hour_ago = time.time() - STALE_PART_SECONDS - 60
    os.utime(stale, (an_hour_ago, an_hour_ago))
    os.utime(kept, (an_hour_ago, an_hour_ago))  # an upload of an hour ago is well within retention
    assert storage.purge(72 * 3600) == 1 and not stale.exists() and fresh.exists() and kept.exists()

    results = tmp_path / "web-results"
    old, new = results / "old", results / "new"
    for run in (old, new):
        run.mkdir(parents=True)
        (run / "photo-result.png").write_bytes(b"x")
    three_days_ago = time.time() - 73 * 3600
    os.utime(old, (three_days_ago, three_days_ago))
    assert purge_folders(results, 72 * 3600) == 1 and not old.exists() and (new / "photo-result.png").exists()
    assert purge_folders(tmp_path / "missing", 3600) == 0


def test_web_results_live_in_the_data_folder(tmp_path: Path) -> None:
    from ops.settings import Settings
    from service.studio import Studio
    from webui.access import Access
    from webui.results import save_result

    out = save_result(b"png bytes", "cat-result.png", Access(Studio.create(Settings(data_dir=tmp_path)).service).results)
    assert out.parent.parent == tmp_path / "web-results" and out.read_bytes() == b"png bytes"


def test_web_run_on_a_full_disk_says_so_and_is_refunded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The result is saved inside the admission, so a run whose result cannot be saved fails there (refunded)."""
    web_run_on_full_disk(tmp_path, monkeypatch, simulate=True)


def web_run_on_full_disk(data_dir: Path, monkeypatch: pytest.MonkeyPatch, simulate: bool) -> None:
    import gradio as gr

    from webui import results

    monkeypatch.setattr(results, "uploaded", lambda value: value, raising=False)  # the Gradio door is not what is tested here
    if simulate:
        monkeypatch.setattr(Path, "write_bytes", lambda path, data: _half_then_full(str(path), data))
    failures: list[BaseException] = []

    @contextmanager
    def admit(_steps: Any) -> Iterator[Any]:
        try:
            yield lambda *_: type("Done", (), {"encoded": type("Encoded", (), {"data": os.urandom(2 << 20), "extension": ".png"})()})()
        except BaseException as exc:
            failures.append(exc)
            raise

    with pytest.raises(gr.Error) as raised:
        results.run_job(str(EXAMPLES / "cat.jpg"), lambda: [], admit, results=data_dir / "web-results")
    assert raised.value.message == "The server's storage is full; try again later."
    assert len(failures) == 1 and is_disk_full(failures[0])  # the admission saw the failure: it refunds
    assert partial_files(data_dir) == []


# --- the APIs, with injected failures (no mount needed) -------------------------------------


def studio_of(live: LiveServer) -> Studio:
    return live.server.config.app.state.studio


def balance(live: LiveServer, user_id: str) -> tuple[int, int]:
    user = next(u for u in live.admin("GET", "/users").json() if u["id"] == user_id)
    return user["credits"], user["coins"]


def hitpaw(live: LiveServer, key: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{live.url}/api/{path}", headers={"Apikey": key}, json=body, timeout=60)


def upload(live: LiveServer, key: str, path: Path) -> httpx.Response:
    with open(path, "rb") as handle:
        return httpx.post(f"{live.url}/api/v1/upload/api", headers=bearer(key), files={"file": (path.name, handle)}, timeout=60)


def job(live: LiveServer, key: str, input_key: str, steps: list[dict[str, Any]]) -> httpx.Response:
    body = {"input_key": input_key, "operations": steps, "output": {"format": "png"}}
    return httpx.post(f"{live.url}/api/v1/jobs/api", headers=bearer(key), json=body, timeout=60)


def task_status(live: LiveServer, key: str, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = hitpaw(live, key, "task-status", {"job_id": job_id}).json()["data"]
        if data["status"] != "CONVERTING":
            return data
        time.sleep(1)
    raise AssertionError(f"job {job_id} did not end")


def assert_full_v1(response: httpx.Response) -> None:
    assert (response.status_code, response.json()) == (507, V1_FULL), response.text
    assert response.headers["Retry-After"] == "60" and "X-RateLimit-Limit" in response.headers


def assert_full_hitpaw(response: httpx.Response) -> None:
    assert (response.status_code, response.json()) == (507, HITPAW_FULL), response.text
    assert response.headers["Retry-After"] == "60"


@pytest.fixture(scope="module")
def www(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small photo crop (quick model work), and a 1.5 MB image that cannot fit in what is left."""
    folder = tmp_path_factory.mktemp("www")
    Image.open(EXAMPLES / "cat.jpg").crop((150, 80, 214, 128)).save(folder / "small.jpg", quality=92)
    noise = np.random.default_rng(0).integers(0, 256, (720, 720, 3), dtype=np.uint8)
    Image.fromarray(noise).save(folder / "big.png")
    return folder


@pytest.fixture(scope="module")
def host(www: Path) -> Iterator[str]:
    with image_host(www) as address:
        yield address


@contextmanager
def database_full(studio: Studio, writes: str = "INSERT INTO jobs") -> Iterator[list[str]]:
    """SQLite's own failure on every statement that starts with ``writes``, raised where the driver
    raises it; yields the statements refused."""
    refused: list[str] = []

    def refuse(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(writes.upper()):
            refused.append(statement)
            raise sqlite3.OperationalError("database or disk is full")

    event.listen(studio.db.engine, "before_cursor_execute", refuse)
    try:
        yield refused
    finally:
        event.remove(studio.db.engine, "before_cursor_execute", refuse)


def test_injected_full_disk_is_507_in_each_format_and_charges_nothing(tmp_path: Path, www: Path, host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    live = start(tmp_path / "data", ssrf_allow=host)
    try:
        user_id, key = live.account(tier="business", credits=10, coins=100)
        stored = upload(live, key, www / "small.jpg").json()["storage_key"]
        studio = studio_of(live)
        before = files_under(live.data_dir)

        monkeypatch.setattr(studio.storage.fs, "pipe_file", _half_then_full)
        assert_full_v1(upload(live, key, www / "small.jpg"))
        monkeypatch.undo()
        with database_full(studio) as refused:
            assert_full_v1(job(live, key, stored, TOO_BIG))
            assert_full_hitpaw(hitpaw(live, key, "photo-enhancer", {"model_name": "general_2x", "img_url": f"http://{host}/small.jpg", "extension": ".jpg"}))
        assert len(refused) == 2 and balance(live, user_id) == (10, 100) and files_under(live.data_dir) - before <= {"studio.db-wal", "studio.db-shm"}
        assert partial_files(live.data_dir) == []

        with studio.db.session() as session:  # a key not used for a while: this request would stamp its last use
            session.execute(update(ApiKey).values(last_used_at=None))
        with database_full(studio, "UPDATE api_keys") as refused:  # the stamp waits; the caller is still known
            assert httpx.get(f"{live.url}/api/v1/account", headers=bearer(key)).status_code == 200
        assert len(refused) == 1

        def refused(*_: Any, **__: Any) -> None:
            raise OSError(errno.EACCES, "Permission denied")

        monkeypatch.setattr(studio.storage.fs, "pipe_file", refused)
        other = upload(live, key, www / "small.jpg")  # any other OSError is still an internal error
        assert (other.status_code, other.json()["code"]) == (500, "internal")
        monkeypatch.undo()
        assert upload(live, key, www / "small.jpg").status_code == 200
    finally:
        live.stop()


def test_injected_full_disk_while_a_job_writes_fails_it_and_refunds(tmp_path: Path, www: Path, host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    live = start(tmp_path / "data", ssrf_allow=host)
    try:
        user_id, key = live.account(tier="business", credits=10, coins=100)
        stored = upload(live, key, www / "small.jpg").json()["storage_key"]
        studio = studio_of(live)
        real = studio.storage.fs.pipe_file
        monkeypatch.setattr(studio.storage.fs, "pipe_file", lambda path, data, **kw: (_half_then_full if "/outputs/" in path or "/uploads/" in path else real)(path, data, **kw))
        assert_job_fails_for_space(live, key, user_id, stored, host)
    finally:
        live.stop()


def assert_job_fails_for_space(live: LiveServer, key: str, user_id: str, stored: str, host: str) -> None:
    """A v1 job whose result cannot be written, and a spec-002 job whose img_url cannot be stored:
    both end failed with the reason in words, and both are refunded."""
    credits, coins = balance(live, user_id)
    created = job(live, key, stored, TOO_BIG)
    assert created.status_code == 201 and created.json()["credits"] == 1, created.text
    done = live.poll(key, created.json()["id"], timeout=180)
    assert done["status"] == "failed" and done["error_message"] == diskfull.JOB_MESSAGE, done
    enhance = hitpaw(live, key, "photo-enhancer", {"model_name": "general_2x", "img_url": f"http://{host}/big.png", "extension": ".png"})
    assert enhance.status_code == 200, enhance.text
    status = task_status(live, key, enhance.json()["job_id"])
    assert (status["status"], status["error_code"], status["error_message"]) == ("ERROR", 100500003, diskfull.JOB_MESSAGE)
    assert balance(live, user_id) == (credits, coins)
    assert partial_files(live.data_dir) == [] and not list((live.data_dir / "outputs").rglob("*.*"))


# --- a real 3 MB disk -----------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs: the files and the SQLite database meet a real ENOSPC."""
    folder = tmp_path / "small"
    folder.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command here: the real full-disk test needs a 3 MB tmpfs (the injected tests cover the same paths)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(folder)], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        pytest.skip(f"mounting a 3 MB tmpfs is not permitted here (needs root): {done.stderr.strip() or done.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


def fill(folder: Path, leave: int = 0) -> Path:
    """Take the disk's free space with one file, all of it or all but about ``leave`` bytes."""
    filler = folder / "filler.bin"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        if leave:
            os.write(descriptor, bytes(max(0, shutil.disk_usage(folder).free - leave)))
        else:
            for chunk in (1 << 20, 1 << 16, 4096, 512, 1):
                try:
                    while os.write(descriptor, bytes(chunk)):
                        pass
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
    finally:
        os.close(descriptor)
    return filler


def test_a_real_full_disk(small_disk: Path, www: Path, host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    live = start(small_disk, ssrf_allow=host)
    try:
        user_id, key = live.account(tier="business", credits=10, coins=100)
        stored = upload(live, key, www / "small.jpg").json()["storage_key"]
        before = files_under(small_disk)

        filler = fill(small_disk)  # not a byte left: file writes and the database's journal both fail
        assert_full_v1(upload(live, key, www / "small.jpg"))
        assert_full_v1(job(live, key, stored, TOO_BIG))  # the job row (SQLite: "database or disk is full")
        assert_full_v1(job(live, key, stored, CONVERT))
        assert_full_hitpaw(hitpaw(live, key, "photo-enhancer", {"model_name": "general_2x", "img_url": f"http://{host}/small.jpg", "extension": ".jpg"}))
        assert httpx.get(f"{live.url}/api/v1/account", headers=bearer(key)).status_code == 200  # reading still works
        assert balance(live, user_id) == (10, 100)
        assert {n for n in files_under(small_disk) - before if not n.startswith("studio.db")} == {"filler.bin"}
        assert partial_files(small_disk) == []

        filler.unlink()
        fill(small_disk, leave=384 * 1024)  # room for the database's rows, not for a result or a 1.5 MB input
        assert_job_fails_for_space(live, key, user_id, stored, host)
        web_run_on_full_disk(small_disk, monkeypatch, simulate=False)

        filler.unlink()  # space again: everything works as before
        again = upload(live, key, www / "small.jpg")
        assert again.status_code == 200, again.text
        created = job(live, key, again.json()["storage_key"], CONVERT)
        assert created.status_code == 201, created.text
        assert live.poll(key, created.json()["id"])["status"] == "completed"
    finally:
        live.stop()
        studio_of(live).db.engine.dispose()
