"""Settings: the signed-in account, its API keys and usage, and the installed models.

With login off the app is a single-owner local tool: no handler here can mint keys or install
models (a Gradio handler is public by ``fn_index`` whatever its visibility), so the tab shows
the commands that do it instead. With login on, everything goes through the service layer for
the signed-in account, and installing weights is for operators.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from ops.errors import StudioError
from ops.weights import fetch, installed, load

from .access import Access, refusals_as_errors

LOCAL_TOOLS = """Running locally without login: accounts, API keys and weights are managed from the command line.

```bash
python -m server add-user me@example.com --tier pro --credits 100   # an account for the REST API
python -m server add-key me@example.com                            # its API key, printed once
python -m ops weights                                              # installed weights
python -m ops weights fetch NAME                                   # install them
```

Anyone who can reach a public app could use these, so a public deployment (a Space, or any
address beyond loopback) runs with login on: `STUDIO_UI_LOGIN=on`."""


def settings_tab(access: Access, demo: gr.Blocks) -> None:
    gr.Markdown("### Weights")
    gr.Dataframe(headers=["weights", "installed", "size", "license"], interactive=False, value=_weights)
    if not access.login:
        gr.Markdown(LOCAL_TOOLS)
        return
    service = access.service

    def account(request: gr.Request) -> tuple[str, list[list[Any]], Any]:
        caller = access.caller(request)
        with refusals_as_errors():
            view, keys = service.account(caller), service.keys(caller)
        month = f"{view.used.get('month') or 0:,} of {view.limits['per_month']:,}" if view.limits["per_month"] else "unlimited"
        max_keys = view.limits["max_keys"]
        text = (
            f"**{view.email}** — tier **{view.tier}**, {view.credits:,} credits, {view.coins:,} coins  \n"
            f"Requests this minute: {view.used.get('minute') or 0} of {view.limits['per_minute']:,}; this month: {month}; "
            f"keys: at most {max_keys if max_keys is not None else 'unlimited'}"
        )
        rows = [[k.id, f"{k.prefix}…", k.name, "revoked" if k.revoked_at else "active", k.last_used_at or "never"] for k in keys]
        return text, rows, gr.update(choices=[k.id for k in keys if not k.revoked_at], value=None)

    def new_key(name: str, request: gr.Request) -> tuple[str, str, list[list[Any]], Any]:
        with refusals_as_errors():
            _, key = service.create_key(access.caller(request), (name or "")[:100])
        return (key, *account(request))

    def revoke(key_id: str | None, request: gr.Request) -> tuple[str, list[list[Any]], Any]:
        if not key_id:
            raise gr.Error("Choose a key to revoke.")
        with refusals_as_errors():
            service.revoke_key(access.caller(request), key_id)
        return account(request)

    def install(name: str | None, request: gr.Request, progress: gr.Progress = gr.Progress()) -> str:
        if not service.is_operator(access.caller(request)):
            raise gr.Error("Installing weights is for operators (STUDIO_OPERATORS); ask yours, or run python -m ops weights fetch NAME on the server.")
        return _fetch(name, progress)

    gr.Markdown("### Account")
    summary = gr.Markdown()
    keys = gr.Dataframe(headers=["id", "key", "name", "state", "last used"], interactive=False, label="API keys")
    with gr.Row():
        name = gr.Textbox(label="New key name", scale=3, max_length=100)
        create = gr.Button("Create API key", variant="primary", scale=1)
    shown = gr.Textbox(label="Your new key — shown once, store it now", interactive=False, buttons=["copy"])
    with gr.Row():
        which = gr.Dropdown(label="Revoke key", choices=[], scale=3)
        drop = gr.Button("Revoke", variant="stop", scale=1)
    refresh = gr.Button("Refresh", size="sm")
    with gr.Accordion("Install weights (operators)", open=False):
        with gr.Row():
            wanted = gr.Dropdown(choices=list(load()), label="Weights", scale=3)
            get = gr.Button("Fetch (needs network for URL sources)", scale=1)
        fetched = gr.Markdown()

    outputs = [summary, keys, which]
    demo.load(account, None, outputs, api_visibility="private", queue=False)
    refresh.click(account, None, outputs, api_visibility="private", queue=False)
    create.click(new_key, name, [shown, *outputs], api_visibility="private")
    drop.click(revoke, which, outputs, api_visibility="private")
    get.click(install, wanted, fetched, api_visibility="private", concurrency_id="free")


def _weights() -> list[list[Any]]:
    return [[w.name, "yes" if installed(w) else "no", w.size_text, w.license] for w in load().values()]


def _fetch(name: str | None, progress: gr.Progress) -> str:
    if not name or name not in load():
        raise gr.Error("Choose the weights to install.")
    lines: list[str] = []
    try:
        fetch(load()[name], lambda message: (lines.append(message), progress(0.5, desc=message)))
    except StudioError as exc:
        raise gr.Error(exc.message) from None
    return "\n".join(f"- {line}" for line in lines) or f"{name} is already installed"
