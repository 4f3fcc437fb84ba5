"""Settings: one's account, API keys, usage against the tier's limits, and the installed models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr
from sqlalchemy import select

from ops.errors import StudioError
from ops.weights import fetch, installed, load

if TYPE_CHECKING:
    from server.state import Studio


def settings_tab(studio: Studio, login: bool) -> tuple[Any, list[Any]]:
    """Build the tab; returns (loader, outputs) for the page's load event."""
    from server.accounts import TIERS, AccountError, create_key, get_or_create, revoke_key
    from server.db import ApiKey

    def who(request: gr.Request) -> str:
        return request.username if login and request and request.username else studio.settings.owner_email

    def account(request: gr.Request) -> tuple[str, list[list[Any]], Any]:
        with studio.db.session() as session:
            user = get_or_create(session, who(request), tier="enterprise", credits=10_000, coins=10_000)
            tier = TIERS[user.tier]
            used = studio.limiter.usage(f"user:{user.id}", max(tier.per_minute, 1), tier.per_month)
            month = f"{used['month']:,} of {tier.per_month:,}" if tier.per_month else "unlimited"
            text = (
                f"**{user.email}** — tier **{user.tier}**, {user.credits:,} credits, {user.coins:,} coins  \n"
                f"Requests this minute: {used['minute']} of {tier.per_minute:,}; this month: {month}; "
                f"keys: at most {tier.max_keys if tier.max_keys is not None else 'unlimited'}"
            )
            keys = session.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.created_at)).all()
            rows = [[k.id, f"{k.prefix}…", k.name, "revoked" if k.revoked_at else "active", str(k.last_used_at or "never")] for k in keys]
            active = [k.id for k in keys if not k.revoked_at]
        return text, rows, gr.update(choices=active, value=None)

    def new_key(name: str, request: gr.Request) -> tuple[str, str, list[list[Any]], Any]:
        try:
            with studio.db.session() as session:
                _, key = create_key(session, get_or_create(session, who(request)), name)
        except AccountError as exc:
            raise gr.Error(exc.message) from None
        return (key, *account(request))

    def revoke(key_id: str | None, request: gr.Request) -> tuple[str, list[list[Any]], Any]:
        if not key_id:
            raise gr.Error("Choose a key to revoke.")
        with studio.db.session() as session:
            revoke_key(session, get_or_create(session, who(request)).id, key_id)
        return account(request)

    with gr.Column():
        summary = gr.Markdown()
        keys = gr.Dataframe(headers=["id", "key", "name", "state", "last used"], interactive=False, label="API keys")
        with gr.Row():
            name = gr.Textbox(label="New key name", scale=3)
            create = gr.Button("Create API key", variant="primary", scale=1)
        shown = gr.Textbox(label="Your new key — shown once, store it now", interactive=False, buttons=["copy"])
        with gr.Row():
            which = gr.Dropdown(label="Revoke key", choices=[], scale=3)
            drop = gr.Button("Revoke", variant="stop", scale=1)
        refresh = gr.Button("Refresh", size="sm")
        gr.Markdown("### Models")
        models = gr.Dataframe(headers=["model", "installed", "size", "license"], interactive=False, value=_models)
        with gr.Row():
            wanted = gr.Dropdown(choices=list(load()), label="Install model", scale=3)
            get = gr.Button("Fetch (needs network for URL sources)", scale=1)
        fetched = gr.Markdown()

    outputs = [summary, keys, which]
    refresh.click(account, None, outputs, api_visibility="private", queue=False)
    create.click(new_key, name, [shown, *outputs], api_visibility="private")
    drop.click(revoke, which, outputs, api_visibility="private")
    get.click(_fetch, wanted, [fetched, models], api_visibility="private", concurrency_id="free")
    return account, outputs


def _models() -> list[list[Any]]:
    return [[m.name, "yes" if installed(m) else "no", m.size_text, m.license] for m in load().values()]


def _fetch(name: str | None, progress: gr.Progress = gr.Progress()) -> tuple[str, list[list[Any]]]:
    if not name:
        raise gr.Error("Choose a model to install.")
    lines: list[str] = []
    try:
        fetch(load()[name], lambda message: (lines.append(message), progress(0.5, desc=message)))
    except StudioError as exc:
        raise gr.Error(exc.message) from None
    return "\n".join(f"- {line}" for line in lines) or f"{name} is already installed", _models()
