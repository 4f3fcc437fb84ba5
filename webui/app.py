"""The Gradio Blocks app: a tab per operation grouped by purpose, the model names, and settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, get_args

import gradio as gr

from ops.operation import Group
from ops.registry import OPERATIONS

from .access import Access
from .models_tab import models_tab
from .settings_tab import settings_tab
from .tabs import operation_tab

if TYPE_CHECKING:
    from service.layer import Service

QUEUE_SIZE = 64

INTRO = """# Image Enhancement Studio
Upscale, restore, cut out, retouch and re-encode images. Every tab is also an API endpoint
(`gradio_client`, api_name = the operation's name); the REST API is documented at [/docs](/docs)."""


def build(service: Service) -> gr.Blocks:
    """The app for one service layer; every handler that runs a model or changes state asks it."""
    access = Access(service)
    age = int(service.settings.retention_hours * 3600)  # Gradio's copies of uploads and results go when ours do
    with gr.Blocks(title="Image Enhancement Studio", delete_cache=(min(age, 3600), age)) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs():
            for group in get_args(Group):
                with gr.Tab(group):
                    with gr.Tabs():
                        for op in (op for op in OPERATIONS.values() if op.group == group):
                            with gr.Tab(op.title):
                                operation_tab(op, access)
            with gr.Tab("Models"):
                models_tab(access)
            with gr.Tab("Settings"):
                settings_tab(access, demo)
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=1)
    return demo
