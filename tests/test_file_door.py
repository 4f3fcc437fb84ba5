"""Files through the Gradio door are inputs, never paths (second audit, finding 1).

Every function of the mounted app is called by fn_index, as an attacker would, with every
file-like input naming a server file: the signing secret, the database, the process environment.
No call may copy such a file into Gradio's cache, serve it, or echo its path or content; with the
request guard taken away, Gradio's own check (the app counts as launched) and the handlers' check
still hold.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from service.accounts import set_password
from service.db import Database, User
from tests import gradio_raw
from tests.conftest import EXAMPLES
from tests.server_harness import LiveServer, start

PASSWORD = "correct horse battery"
FILE_TYPES = {"image", "imageeditor", "file", "imageslider", "gallery", "video", "audio", "model3d", "uploadbutton", "dataset"}


def targets(live: LiveServer) -> list[str]:
    return [str(live.data_dir / "secret.key"), str(live.data_dir / "studio.db"), "/proc/self/environ",
            str(live.data_dir / "uploads" / ".." / "secret.key"), "secret.key"]  # fmt: skip


def file_value(path: str) -> dict[str, Any]:
    return {"path": path, "url": None, "orig_name": "photo.png", "meta": {"_type": "gradio.FileData"}}


def hostile(kind: str, path: str) -> Any:
    if kind == "imageeditor":
        return {"background": file_value(path), "layers": [file_value(path)], "composite": file_value(path), "id": None}
    if kind == "gallery":
        return [{"image": file_value(path), "caption": None}]
    return file_value(path)


def secrets_of(live: LiveServer) -> list[bytes]:
    """Byte strings that must never leave the server: the secret and a slice of the environment."""
    environ = Path("/proc/self/environ").read_bytes()
    return [(live.data_dir / "secret.key").read_bytes().strip(), environ[:40]]


def cached_copies(live: LiveServer, since: float) -> list[Path]:
    """Files in Gradio's cache holding a secret, or named like a target and written since ``since``."""
    from gradio.utils import get_upload_folder

    wanted = secrets_of(live)
    found = []
    for root, _, files in os.walk(get_upload_folder()):
        for name in files:
            path = Path(root) / name
            try:
                data, written = path.read_bytes(), path.stat().st_mtime
            except OSError:
                continue
            if (name in ("secret.key", "studio.db", "environ") and written >= since) or any(secret in data for secret in wanted):
                found.append(path)
    return found


def attack(live: LiveServer, cookies: httpx.Cookies | None = None) -> list[str]:
    """Call every function with every file-like input aimed at every target; what leaked, in words."""
    config = httpx.get(f"{live.url}/config", cookies=cookies, timeout=30).json()
    kinds = {c["id"]: c["type"] for c in config["components"]}
    leaks, calls, since = [], 0, time.time() - 1
    for dep in config["dependencies"]:
        for position, component in enumerate(dep["inputs"]):
            if kinds.get(component) not in FILE_TYPES:
                continue
            for target in targets(live):
                data: list[Any] = [None] * len(dep["inputs"])
                data[position] = hostile(kinds[component], target)
                reply = json.dumps(gradio_raw.call(live.url, dep["id"], data, cookies, timeout=60))
                calls += 1
                if os.path.basename(target) in reply and target != "secret.key" or str(live.data_dir) in reply:
                    leaks.append(f"fn {dep['id']} ({dep.get('api_name')}) echoed {target}")
                if any(secret.decode(errors="ignore") in reply for secret in secrets_of(live)):
                    leaks.append(f"fn {dep['id']} ({dep.get('api_name')}) returned the content of {target}")
                served = httpx.get(f"{live.url}/gradio_api/file={target}", cookies=cookies, timeout=30)
                if served.status_code == 200:
                    leaks.append(f"/gradio_api/file= served {target}")
    assert calls > 20, "the app has file inputs to attack"
    return leaks + [f"a copy in Gradio's cache: {p.name}" for p in cached_copies(live, since)]


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start(tmp_path_factory.mktemp("door-off"), with_ui=True, ui_login="off", ui_allowance="10000/minute")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start(tmp_path_factory.mktemp("door-on"), with_ui=True, ui_login="on")
    yield server
    server.stop()


def test_no_function_reads_a_server_file_with_login_off(local: LiveServer) -> None:
    assert attack(local) == []


def test_no_function_reads_a_server_file_for_a_signed_in_account(public: LiveServer) -> None:
    user_id, _ = public.account(tier="free", credits=0)
    db = Database(f"sqlite:///{public.data_dir / 'studio.db'}")
    with db.session() as session:
        user = session.get(User, user_id)
        set_password(user, PASSWORD)
        email = user.email
    cookies = httpx.post(f"{public.url}/login", data={"username": email, "password": PASSWORD}).cookies
    assert attack(public, cookies) == []


def test_without_the_request_guard_gradio_and_the_handlers_still_refuse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Take the request guard away: Gradio's own check (the mounted app counts as launched) and the
    handlers' check (only files the guard let through) must each still refuse."""
    from webui import uploads

    monkeypatch.setattr(uploads, "admit", lambda data: True)  # the guard now lets everything through unrecorded
    server = start(tmp_path, with_ui=True, ui_login="off", ui_allowance="10000/minute")
    try:
        assert attack(server) == []
    finally:
        server.stop()


def test_handlers_take_only_files_the_door_let_through(tmp_path: Path) -> None:
    import gradio as gr
    from gradio.utils import get_upload_folder

    from webui.uploads import ADMITTED, uploaded

    copy = Path(get_upload_folder()) / "not-sent" / "photo.png"
    copy.parent.mkdir(parents=True, exist_ok=True)
    Image.open(EXAMPLES / "cat.jpg").save(copy)  # in the cache, but no request sent it: as a copied server file would be
    for value in (str(copy), str(tmp_path), "/etc/passwd", "../../etc/passwd", {"path": str(copy)}, 42):
        with pytest.raises(gr.Error) as refused:
            uploaded(value)
        assert "/" not in str(refused.value.message).replace("(Gradio's upload endpoint)", "")  # no path echoed
    ADMITTED.add(copy.resolve())
    assert uploaded(str(copy)) == str(copy.resolve()) and uploaded(None) is None


def test_the_editor_canvas_is_decoded_by_the_core_reader_only(tmp_path: Path) -> None:
    """Finding 8: the mask editor's background opened uploads with Pillow's every format. Now the core
    reader's allow-list and limits apply, and no file reaches Ghostscript (Pillow's EPS reader is
    unregistered in the process, for Gradio's own decoding of editor layers too)."""
    import io

    import gradio as gr
    import numpy as np
    from gradio.utils import get_upload_folder
    from PIL import Image as PILImage

    from webui.results import editor_background
    from webui.uploads import ADMITTED

    folder = Path(get_upload_folder()) / "editor-test"
    folder.mkdir(parents=True, exist_ok=True)
    eps = folder / "drawing.png"  # named like a picture; the content decides
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    float_tiff = folder / "float.tif"
    PILImage.fromarray(np.zeros((8, 8), np.float32), "F").save(float_tiff)
    sliver = folder / "sliver.png"
    PILImage.new("L", (1, 70000)).save(sliver)
    with pytest.raises(Exception):
        PILImage.open(io.BytesIO(eps.read_bytes()))  # not even Pillow's own open knows EPS here
    for path in (eps, float_tiff, sliver):
        ADMITTED.add(path.resolve())
        with pytest.raises(gr.Error):
            editor_background(str(path))
    photo = folder / "photo.png"
    PILImage.open(EXAMPLES / "cat.jpg").convert("RGBA").save(photo)
    ADMITTED.add(photo.resolve())
    canvas = editor_background(str(photo))
    assert canvas is not None and canvas["background"].shape[2] == 3 and canvas["background"].dtype == np.uint8


def test_the_app_relays_no_url_for_its_callers(local: LiveServer) -> None:
    for path in ("/gradio_api/file=http://127.0.0.1:1/x.png", "/gradio_api/file=https://example.com/x.png", "/gradio_api/proxy=http://127.0.0.1:1/x"):
        assert httpx.get(f"{local.url}{path}", timeout=30).status_code == 403
