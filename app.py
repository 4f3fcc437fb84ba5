"""Image Enhancement Studio: one server for the web app, the Gradio API and the REST APIs.

``python app.py`` listens on 127.0.0.1:7860 (0.0.0.0 on a Hugging Face Space); the UI is at
``/``, the REST API under ``/api``, its docs at ``/docs``. This is where the two doors meet:
``server`` (FastAPI) and ``webui`` (Gradio) depend on ``service`` and never on each other.
"""

from __future__ import annotations

import threading

import uvicorn
from fastapi import FastAPI

from ops.settings import Settings
from server.app import create_app


def create(settings: Settings, with_ui: bool = True) -> FastAPI:
    """The one server: the REST APIs, and the web app mounted at ``/`` unless ``with_ui`` is False
    (an API-only process of the scale-out mode). ``settings`` govern the process from here on (the
    tests build theirs here too)."""
    if not with_ui:
        return create_app(settings)
    from webui.mount import mount  # Gradio is imported only by a process that serves the web app

    return create_app(settings, ui=mount)


def fetch_weights_in_background() -> None:
    """On a Space the README's setup step does not run: install the registry weights, then the
    recommended ones (the best of each kind), without delaying start-up (tabs say what is
    missing until they arrive)."""
    from ops.weights import fetch, installed, load

    def work() -> None:
        manifest = load().values()
        for weights in [w for w in manifest if w.from_registry] + [w for w in manifest if w.recommended]:
            if not installed(weights):
                try:
                    fetch(weights)
                except Exception as exc:  # reported, never fatal: the UI shows the weights as missing
                    print(f"could not install {weights.name}: {exc}", flush=True)

    threading.Thread(target=work, name="fetch-weights", daemon=True).start()


def main() -> None:
    settings = Settings()
    if settings.on_space:
        fetch_weights_in_background()
    host, port = settings.bind_host, settings.port
    print(f"Image Enhancement Studio on http://{host}:{port}  (API docs: /docs)", flush=True)
    # proxy headers are resolved inside the app, from STUDIO_TRUSTED_PROXIES only (uvicorn's own
    # default trusts 127.0.0.1, which let any local caller pick its address)
    uvicorn.run(create(settings), host=host, port=port, log_level="info", proxy_headers=False)


if __name__ == "__main__":
    main()
