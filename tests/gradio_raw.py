"""Calling a Gradio app the way an attacker would: any function by its fn_index, straight through the queue."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx


def dependencies(url: str, cookies: httpx.Cookies | None = None) -> list[dict[str, Any]]:
    config = httpx.get(f"{url}/config", cookies=cookies, timeout=30).json()
    return config["dependencies"]


def call(url: str, fn_index: int, data: list[Any], cookies: httpx.Cookies | None = None, timeout: float = 120, session: str | None = None) -> dict[str, Any]:
    """Join the queue for one function and wait for its completion message (success or not). Calls
    that share a ``session`` see one page's state (a dropdown's choices an earlier call updated)."""
    session = session or uuid.uuid4().hex
    joined = httpx.post(f"{url}/gradio_api/queue/join", cookies=cookies, timeout=30,
                        json={"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None})  # fmt: skip
    if joined.status_code != 200:
        return {"msg": "refused", "status": joined.status_code, "body": joined.text}
    with httpx.stream("GET", f"{url}/gradio_api/queue/data", params={"session_hash": session}, cookies=cookies, timeout=timeout) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("msg") in ("process_completed", "unexpected_error", "close_stream"):
                return message
    return {"msg": "no completion"}
