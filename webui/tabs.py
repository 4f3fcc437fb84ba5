"""One tab per operation, generated from its declaration."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from ops import chain
from ops.engines import engines_for
from ops.engines.point_mask import point_to_mask
from ops.errors import StudioError
from ops.imageio import read_image
from ops.operation import Operation

from . import masks, widgets
from .access import Access
from .results import FORMATS, editor_background, run_job, upright_size

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
#: tabs where a click on the input selects the subject (Segment Anything, or the salient matte)
POINT_SELECT = {"remove-object", "blur-background"}


def queue_for(op: Operation) -> dict[str, Any]:
    """Model work shares one device (one at a time, across tabs); free operations have their own lane."""
    if op.free:
        return {"concurrency_id": "free", "concurrency_limit": 4}
    return {"concurrency_id": "device", "concurrency_limit": 1}


def availability(op: Operation) -> str | None:
    """None when an engine can run here; otherwise what is missing and how to get it."""
    status = engines_for(op)
    if any(reason is None for _, reason in status):
        return None
    lines = [f"- `{name}`: {reason}" for name, reason in status]
    return "⚠️ **This operation cannot run here yet.**\n" + "\n".join(lines) + "\n\nAn operator installs weights with `python -m ops models fetch NAME`."


def name_api_parameters(fn: Any, names: list[str]) -> None:
    """Name the Gradio API's parameters after the operation's own (instead of param_1, param_2...).
    Gradio then appends the request (who calls) and the progress tracker as the last two
    positional arguments, which ``fn(*values)`` takes off the end."""
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = [inspect.Parameter(name, positional) for name in names]
    parameters.append(inspect.Parameter("request", positional, annotation=gr.Request))
    parameters.append(inspect.Parameter("progress", positional, default=gr.Progress()))
    fn.__signature__ = inspect.Signature(parameters)
    fn.__annotations__ = {"request": gr.Request}


def operation_tab(op: Operation, access: Access) -> None:
    notice = availability(op)
    gr.Markdown(f"**{op.summary}** — cost: {op.describe_cost()}. Engines, best first: {', '.join(op.engines)}.")
    if notice:
        gr.Markdown(notice)
    wants_mask = widgets.MASK_FIELD in op.params.model_fields
    with gr.Row():
        with gr.Column():
            source = gr.Image(type="filepath", image_mode=None, label="Input image", sources=["upload", "clipboard"])
            editor = None
            if wants_mask:
                editor = gr.ImageEditor(
                    type="numpy", image_mode="RGBA", format="png", label="Paint over what to remove",
                    brush=gr.Brush(colors=["#ff00ff"], color_mode="fixed", default_size=24), layers=False, transforms=(),
                )  # fmt: skip
                source.change(editor_background, source, editor, queue=False, api_visibility="private")
            params = widgets.build(op.params)
            fmt = None if op.sets_format else gr.Dropdown(FORMATS, value="auto", label="Output format", info="auto keeps the input's format")
            button = gr.Button(f"Run {op.name}", variant="primary", interactive=notice is None)
        with gr.Column():
            comparison = gr.ImageSlider(label="Before / after", type="filepath", image_mode=None, format="png")
            download = gr.File(label="Download full-resolution result")
            report = gr.Markdown()
            mask_preview = gr.Image(label="Mask as the operation receives it", format="png", visible=wants_mask or op.name in POINT_SELECT, type="numpy")
    examples = sorted(str(p) for p in EXAMPLES.iterdir() if p.suffix in (".jpg", ".png"))
    gr.Examples(examples=[[e] for e in examples], inputs=[source])

    extra = [editor] if editor is not None else []
    formats = [fmt] if fmt is not None else []
    clicked = gr.State(None) if op.name in POINT_SELECT else None
    states = [clicked] if clicked is not None else []
    if clicked is not None:
        _point_selection(op, source, editor, clicked, mask_preview, access)

    def gather(image: str | None, values: tuple[Any, ...]) -> tuple[dict[str, Any], str]:
        """Widget values (in input order) -> (params incl. the painted mask, chosen output format)."""
        painted = values[0] if editor is not None else None
        rest = values[len(extra) : len(values) - len(states)]
        chosen = rest[-1] if fmt is not None else "auto"
        knobs = rest[: len(params)]
        found = widgets.to_params(params, knobs)
        if editor is not None and image:
            mask = masks.painted_mask(painted, upright_size(image))
            if mask is not None:
                found[widgets.MASK_FIELD] = masks.to_data_url(mask)
        return found, chosen

    def run(image: str | None, *given: Any) -> tuple[Any, ...]:
        *values, request, progress = given
        found, chosen = gather(image, tuple(values))
        subject = values[-1] if states and op.name != "remove-object" else None
        hints = {"subject_mask": subject} if subject is not None else None
        return run_job(image, lambda: chain.plan_one(op.name, found), access.admission(request), chosen, progress, hints)

    inputs = [source, *extra, *(w.component for w in params), *formats, *states]
    names = ["image", *(["mask"] if editor is not None else []), *(w.path.replace(".", "_") for w in params), *(["output_format"] if fmt else [])]
    name_api_parameters(run, names)
    button.click(run, inputs, [comparison, download, report], api_name=op.name, **queue_for(op))
    if editor is not None:
        preview = gr.Button("Preview mask", size="sm")

        def show_mask(image: str | None, painted: dict[str, Any] | None) -> Any:
            if not image:
                raise gr.Error("Upload an image first.")
            mask = masks.painted_mask(painted, upright_size(image))
            if mask is None:
                raise gr.Error("Nothing is painted yet.")
            return mask

        preview.click(show_mask, [source, editor], mask_preview, api_name=f"{op.name}-mask", concurrency_id="free")



def _point_selection(op: Operation, source: gr.Image, editor: Any, clicked: gr.State, preview: gr.Image, access: Access) -> None:
    """A click on the input image selects the object under it: painted into the editor for
    remove-object, kept as the subject (instead of automatic segmentation) for blur-background."""
    target = "painted into the mask, where the brush can refine it" if editor is not None else "used as the subject instead of automatic segmentation"
    gr.Markdown(f"Tip: click an object in the input image to select it ({target}).")

    def select(image: str | None, evt: gr.SelectData, request: gr.Request) -> tuple[Any, ...]:
        if not image:
            raise gr.Error("Upload an image first.")
        try:
            with access.selection(request):
                picture = read_image(image)
                mask, method = point_to_mask(picture, int(evt.index[0]), int(evt.index[1]))
        except StudioError as exc:
            raise gr.Error(exc.message) from None
        gr.Info(f"selected with {method}")
        shown = mask.astype(np.uint8) * 255
        if editor is None:
            return mask, shown
        layer = np.zeros((*mask.shape, 4), np.uint8)
        layer[mask] = (255, 0, 255, 255)
        canvas = editor_background(image) or {}
        return mask, shown, {**canvas, "layers": [layer]}

    outputs = [clicked, preview] + ([editor] if editor is not None else [])
    source.select(select, [source], outputs, api_visibility="private", concurrency_id="device", concurrency_limit=1)
