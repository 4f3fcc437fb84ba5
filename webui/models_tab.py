"""The spec-002 model names, and free-form chains of operations, as one tab."""

from __future__ import annotations

import json
from typing import Any

import gradio as gr

from ops import chain
from ops.registry import MODELS

from .access import Access
from .results import FORMATS, run_job
from .tabs import EXAMPLES


def models_tab(access: Access) -> None:
    choices = [(f"{p.display_name} ({p.name}, {p.coins} coins){'' if runnable(p.name) else ' — cannot run here'}", p.name) for p in MODELS.values()]
    with gr.Row():
        with gr.Column():
            source = gr.Image(type="filepath", image_mode=None, label="Input image")
            model = gr.Dropdown(choices, value="general_2x", label="Model")
            about = gr.Markdown(_describe("general_2x"))
            fmt = gr.Dropdown(FORMATS, value="auto", label="Output format")
            button = gr.Button("Enhance", variant="primary")
        with gr.Column():
            comparison = gr.ImageSlider(label="Before / after", type="filepath", image_mode=None, format="png")
            download = gr.File(label="Download full-resolution result")
            report = gr.Markdown()
    gr.Examples(examples=[[str(p)] for p in sorted(EXAMPLES.glob("*.jpg"))], inputs=[source])
    model.change(lambda name: (_describe(name), gr.update(interactive=runnable(name))), model, [about, button], queue=False, api_visibility="private")

    def run(image: str | None, name: str, chosen: str, request: gr.Request, progress: gr.Progress = gr.Progress()) -> Any:
        if not isinstance(name, str) or name not in MODELS:
            raise gr.Error(f"Choose one of the models: {', '.join(MODELS)}.")
        return run_job(image, lambda: chain.plan_model(name, access.run), access.admission(request, model=MODELS[name]), chosen, progress, results=access.results)

    button.click(run, [source, model, fmt], [comparison, download, report], api_name="model", concurrency_id="device", concurrency_limit=1)
    with gr.Accordion("Chain of operations (JSON, as the REST API takes it)", open=False):
        steps = gr.Code(
            value=json.dumps(chain.EXAMPLE_CHAIN, indent=1),
            language="json", label="operations",
        )  # fmt: skip
        chain_button = gr.Button("Run chain")

    def run_chain(image: str | None, text: str, request: gr.Request, progress: gr.Progress = gr.Progress()) -> Any:
        if not isinstance(text, str):
            raise gr.Error("operations must be JSON text.")
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise gr.Error(f"operations is not valid JSON: {exc}") from None
        if not isinstance(parsed, list):
            raise gr.Error("operations must be a JSON list of steps.")
        return run_job(image, lambda: chain.plan(parsed, run=access.run), access.admission(request), "auto", progress, results=access.results)

    chain_button.click(run_chain, [source, steps], [comparison, download, report], api_name="chain", concurrency_id="device", concurrency_limit=1)


def runnable(name: str) -> bool:
    return name in MODELS and chain.model_status(name).startswith("runs here")


def _describe(name: str) -> str:
    if name not in MODELS:
        return ""
    preset = MODELS[name]
    return f"{preset.summary}\n\nRuns: `{preset.chain_text()}`  \nHere: {chain.model_status(name)}"
