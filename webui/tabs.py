"""One tab per operation, built from its declaration: the parameters' kinds decide the widgets
(a mask gets a painting editor, an image an image input) and the operation's capabilities decide
the rest (a format picker unless it sets the format itself, click-to-select when it declares
one). No operation is named here; a new declaration gets its tab as it is.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
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
from ops.schema import fields_of

from . import masks, widgets
from .access import Access
from .results import FORMATS, editor_background, run_job, upright_size

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# The editor sizes a layer sent from Python to the union of its canvas and the image, and centres
# the layer in it: with the default 800x800 canvas a click-selected mask on a smaller photo was
# drawn down and to the right of the object. A canvas smaller than any photo keeps that union
# equal to the photo, so the mask lands where it is (tests/test_browser.py checks the pixels).
EDITOR_CANVAS = (1, 1)


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
    return "⚠️ **This operation cannot run here yet.**\n" + "\n".join(lines) + "\n\nAn operator installs weights with `python -m ops weights fetch NAME`."


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


@dataclass
class OperationTab:
    """The components of one operation's tab; its methods are the tab's event handlers."""

    op: Operation
    access: Access
    source: gr.Image
    params: list[widgets.Widget]
    button: gr.Button
    outputs: list[Any]
    preview: gr.Image
    mask_field: str | None = None  # the parameter the painted mask goes to
    mask_required: bool = False
    editor: gr.ImageEditor | None = None
    preview_button: gr.Button | None = None
    fmt: gr.Dropdown | None = None
    clicked: gr.State | None = None

    # --- the inputs, in the order the run handler receives them ------------------------
    def inputs(self) -> list[Any]:
        return [self.source, *self.editors, *(w.component for w in self.params), *self.formats, *self.states]

    def api_names(self) -> list[str]:
        return ["image", *(["mask"] if self.editor else []), *(w.path.replace(".", "_") for w in self.params), *(["output_format"] if self.fmt else [])]

    @property
    def editors(self) -> list[Any]:
        return [self.editor] if self.editor is not None else []

    @property
    def formats(self) -> list[Any]:
        return [self.fmt] if self.fmt is not None else []

    @property
    def states(self) -> list[Any]:
        return [self.clicked] if self.clicked is not None else []

    # --- handlers ------------------------------------------------------------------------
    def run(self, image: str | None, *given: Any) -> tuple[Any, ...]:
        *values, request, progress = given
        painted = values[0] if self.editor is not None else None
        rest = values[len(self.editors) : len(values) - len(self.states)]
        chosen = rest[-1] if self.fmt is not None else "auto"
        labels = widgets.labels_of(self.op.params)
        try:
            found = widgets.to_params(self.params, tuple(rest[: len(self.params)]))
        except StudioError as exc:
            raise gr.Error(widgets.in_words(exc, labels)) from None
        if self.mask_field and image:
            mask = masks.painted_mask(painted, upright_size(image))
            if mask is not None:
                found[self.mask_field] = masks.to_data_url(mask)
            elif self.mask_required:
                raise gr.Error("Paint over what to remove first (or click it in the input image).")
        subject = values[-1] if self.op.click_selects == "subject" else None
        hints = {"subject_mask": subject} if subject is not None else None
        return run_job(image, lambda: chain.plan_one(self.op.name, found), self.access.admission(request), chosen, progress, hints, labels)

    def show_mask(self, image: str | None, painted: dict[str, Any] | None) -> Any:
        if not image:
            raise gr.Error("Upload an image first.")
        mask = masks.painted_mask(painted, upright_size(image))
        if mask is None:
            raise gr.Error("Nothing is painted yet.")
        return mask

    def select(self, image: str | None, evt: gr.SelectData, request: gr.Request) -> tuple[Any, ...]:
        """The object under a click: painted into the mask editor, or kept as the subject."""
        if not image:
            raise gr.Error("Upload an image first.")
        try:
            with self.access.selection(request):
                mask, method = point_to_mask(read_image(image), int(evt.index[0]), int(evt.index[1]))
        except StudioError as exc:
            raise gr.Error(exc.message) from None
        gr.Info(f"selected with {method}")
        shown = mask.astype(np.uint8) * 255
        if self.editor is None:
            return mask, shown
        layer = np.zeros((*mask.shape, 4), np.uint8)
        layer[mask] = (255, 0, 255, 255)
        return mask, shown, {**(editor_background(image) or {}), "layers": [layer]}


def operation_tab(op: Operation, access: Access) -> OperationTab:
    """Lay out the tab, then wire its events to the handlers."""
    tab = _layout(op, access)
    _wire(tab)
    return tab


def _layout(op: Operation, access: Access) -> OperationTab:
    notice = availability(op)
    gr.Markdown(f"**{op.summary}** — cost: {op.describe_cost()}. Engines, best first: {', '.join(op.engines)}.")
    if notice:
        gr.Markdown(notice)
    mask_spec = next((f for f in fields_of(op.params) if f.kind == "mask"), None)
    mask_field = mask_spec.name if mask_spec else None
    with gr.Row():
        with gr.Column():
            source = gr.Image(type="filepath", image_mode=None, label="Input image", sources=["upload", "clipboard"])
            editor = None
            if mask_field:
                editor = gr.ImageEditor(
                    type="numpy", image_mode="RGBA", format="png", label="Paint over what to remove",
                    brush=gr.Brush(colors=["#ff00ff"], color_mode="fixed", default_size=24), layers=False, transforms=(),
                    canvas_size=EDITOR_CANVAS,
                )  # fmt: skip
            preview_button = gr.Button("Preview mask", size="sm") if mask_field else None
            if op.click_selects:
                where = "painted into the mask, where the brush can refine it" if mask_field else "used as the subject instead of automatic segmentation"
                gr.Markdown(f"Tip: click an object in the input image to select it ({where}).")
            params = widgets.build(op.params)
            fmt = None if op.sets_format else gr.Dropdown(FORMATS, value="auto", label="Output format", info="auto keeps the input's format")
            button = gr.Button(f"Run: {op.title}", variant="primary", interactive=notice is None)
        with gr.Column():
            comparison = gr.ImageSlider(label="Before / after", type="filepath", image_mode=None, format="png")
            download = gr.File(label="Download full-resolution result")
            report = gr.Markdown()
            preview = gr.Image(label="Mask as the operation receives it", format="png", visible=bool(mask_field or op.click_selects), type="numpy")
    examples = sorted(str(p) for p in EXAMPLES.iterdir() if p.suffix in (".jpg", ".png"))
    gr.Examples(examples=[[e] for e in examples], inputs=[source])
    return OperationTab(
        op, access, source, params, button, [comparison, download, report], preview, mask_field, bool(mask_spec and mask_spec.required),
        editor, preview_button, fmt, gr.State(None) if op.click_selects else None,
    )  # fmt: skip


def _wire(tab: OperationTab) -> None:
    def run(image: str | None, *given: Any) -> tuple[Any, ...]:
        return tab.run(image, *given)

    name_api_parameters(run, tab.api_names())
    for controller, dependents in widgets.conditions(tab.params):  # show only the fields that apply

        def show(value: Any, dependents: list[tuple[widgets.Widget, Any]] = dependents) -> list[Any]:
            return [gr.update(visible=str(value) == str(wanted)) for _, wanted in dependents]

        controller.component.change(show, controller.component, [w.component for w, _ in dependents], queue=False, api_visibility="private")
    tab.button.click(run, tab.inputs(), tab.outputs, api_name=tab.op.name, **queue_for(tab.op))
    if tab.editor is not None and tab.preview_button is not None:
        tab.source.change(editor_background, tab.source, tab.editor, queue=False, api_visibility="private")
        tab.preview_button.click(tab.show_mask, [tab.source, tab.editor], tab.preview, api_name=f"{tab.op.name}-mask", concurrency_id="free")
    if tab.clicked is not None:
        tab.source.select(tab.select, [tab.source], [tab.clicked, tab.preview, *tab.editors], api_visibility="private",
                          concurrency_id="device", concurrency_limit=1)  # fmt: skip
