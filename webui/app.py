"""The Gradio Blocks app, generated from the operation registry."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from ops import chain
from ops.errors import StudioError
from ops.operation import Operation
from ops.pipeline import process
from ops.registry import OPERATIONS
from ops.engines import engines_for
from . import widgets

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GROUP_ORDER = ("Enhance", "Faces & Restore", "Background", "Retouch", "Convert")


def runnable(op: Operation) -> bool:
    return any(reason is None for _, reason in engines_for(op))


def build() -> gr.Blocks:
    with gr.Blocks(title="Image Enhancement Studio") as demo:
        gr.Markdown("# Image Enhancement Studio\nUpscale, restore, cut out and convert images. Every tab is also an API endpoint.")
        with gr.Tabs():
            for group in GROUP_ORDER:
                ops = [op for op in OPERATIONS.values() if op.group == group and runnable(op)]
                if not ops:
                    continue
                with gr.Tab(group):
                    with gr.Tabs():
                        for op in ops:
                            with gr.Tab(op.name):
                                _operation_tab(op)
    return demo


def _operation_tab(op: Operation) -> None:
    gr.Markdown(f"**{op.summary}** — cost: {op.describe_cost()}")
    with gr.Row():
        with gr.Column():
            source = gr.Image(type="filepath", label="Input image", image_mode=None, sources=["upload", "clipboard"])
            params = widgets.build(op.params)
            button = gr.Button(f"Run {op.name}", variant="primary")
        with gr.Column():
            comparison = gr.ImageSlider(label="Before / after", type="filepath", image_mode=None, format="png")
            download = gr.File(label="Download full-resolution result")
            report = gr.Markdown()
    examples = sorted(str(p) for p in EXAMPLES.glob("*.jpg"))
    if examples:
        gr.Examples(examples=[[e] for e in examples], inputs=[source])

    def run(image: str | None, *values: Any, progress: gr.Progress = gr.Progress()) -> tuple[tuple[str, str], str, str]:
        if not image:
            raise gr.Error("Upload an image first.")
        try:
            planned = chain.plan_one(op.name, widgets.to_params(params, values))
            done = process(image, planned, progress=lambda fraction, message: progress(fraction, desc=message))
        except StudioError as exc:
            raise gr.Error(exc.message) from None
        out = Path(tempfile.mkdtemp(prefix="studio-")) / f"{Path(image).stem}-{op.name}{done.encoded.extension}"
        out.write_bytes(done.encoded.data)
        return (image, str(out)), str(out), _report(done.summary())

    button.click(run, inputs=[source, *(w.component for w in params)], outputs=[comparison, download, report], api_name=op.name)


def _report(summary: dict[str, Any]) -> str:
    lines = [
        f"**{summary['input_size'][0]}x{summary['input_size'][1]} → {summary['output_size'][0]}x{summary['output_size'][1]}**, "
        f"{summary['input_bytes']:,} → {summary['output_bytes']:,} bytes ({summary['format'].upper()})"
    ]
    for s in summary["steps"]:
        facts = ", ".join(f"{k}: {v}" for k, v in s["details"].items())
        lines.append(f"- `{s['operation']}` ran on engine **{s['engine']}** in {s['seconds']:.2f} s" + (f" ({facts})" if facts else ""))
    lines += [f"- ⚠️ {w}" for w in summary["warnings"]]
    return "\n".join(lines)
