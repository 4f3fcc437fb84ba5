"""The web app as a door of the one server: the Gradio app mounted at ``/`` of the FastAPI app.

``server.app.create_app`` takes :func:`mount` as its UI door (``app.py`` passes it), so the REST
server never imports the web app; the mount happens inside the REST app's middleware and outside
its edges (security headers, CORS) and proxy-header handling, which ``create_app`` adds after.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from ops.settings import Settings
from service.logins import ATTEMPT
from service.studio import Studio

from .app import build
from .uploads import FileDoor

log = logging.getLogger(__name__)
SIGN_IN = "Sign in with your account's email and password (python -m server set-password)."


def mount(app: FastAPI, studio: Studio, settings: Settings, login: bool) -> FastAPI:
    """The Gradio app at ``/``, taking files only as uploads (see webui.uploads); ``login``: the
    sign-in form guards it, checked (and throttled) by the service layer."""
    demo = build(studio.service)
    _quiet_refusals(demo)

    async def auth(email: str, password: str) -> bool:  # the hash is slow: off the event loop
        return await run_in_threadpool(studio.service.check_login, email, password, ATTEMPT.get())

    app = gr.mount_gradio_app(app, demo, path="/", max_file_size=settings.max_bytes, auth=auth if login else None,
                              auth_message=SIGN_IN, allowed_paths=[str(settings.web_results_dir.resolve())],
                              blocked_paths=_private_paths(settings),
                              show_error=False)  # only gr.Error messages reach a client, never an internal one (paths)  # fmt: skip
    demo.has_launched = True  # Gradio checks file paths only in an app it considers launched; mounting never says so
    app.add_middleware(FileDoor, max_body=settings.max_body_bytes)
    return app


def _quiet_refusals(demo: gr.Blocks) -> None:
    """Gradio prints a traceback for every gr.Error a handler raises (refusals the user can act on:
    no image, a bad parameter, no credits): each says one log line instead. Other exceptions keep
    Gradio's traceback; what the browser sees is unchanged."""
    process_api = demo.process_api

    async def process(*args: Any, **kwargs: Any) -> Any:
        try:
            return await process_api(*args, **kwargs)
        except gr.Error as exc:
            if exc.print_exception:
                exc.print_exception = False
                log.info("web app refused: %s", exc.message)
            raise

    demo.process_api = process  # type: ignore[method-assign]


def _private_paths(settings: Settings) -> list[str]:
    """What the Gradio app must never read or serve: the data folder (but the web app's results),
    the database and the weights."""
    from ops.weights.store import folders

    data = settings.data_dir.resolve()
    results = settings.web_results_dir.resolve()
    known = ["studio.db", "studio.db-wal", "studio.db-shm", "studio.db-journal", "secret.key", "uploads", "outputs", "compiled"]
    present = [p.name for p in data.iterdir()] if data.is_dir() else []
    private = [data / name for name in sorted(set(known) | set(present)) if data / name != results]
    if settings.db_url.startswith("sqlite:///"):
        database = Path(settings.db_url.removeprefix("sqlite:///")).resolve()
        private += [database.with_name(database.name + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
    return [str(p) for p in private + [folder.resolve() for folder in folders()]]
