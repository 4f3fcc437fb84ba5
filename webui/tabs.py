"""One tab per operation, built from its declaration: the parameters' kinds decide the widgets
(a mask gets a painting editor, an image an image input) and the operation's capabilities decide
the rest (a format picker unless it sets the format itself, click-to-select when it declares
one). No operation is named here; a new declaration gets its tab as it is.
"""

from __future__ import annotations

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
from .handlers import by_name
from .results import FORMATS, Attachments, editor_background, run_job, upright_size
from .uploads import uploaded

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

    # --- the inputs, in the order the run handler receives them, and their names -----------
    def inputs(self) -> list[Any]:
        return [self.source, *self.editors, *(w.component for w in self.params), *self.formats, *self.states]

    def input_names(self) -> list[str]:
        """One name per input (the API's parameter names; the clicked subject is state, not API)."""
        return ["image", *(["mask"] if self.editor else []), *(self.param_name(w) for w in self.params),
                *(["output_format"] if self.fmt else []), *(["clicked"] if self.clicked else [])]  # fmt: skip

    @staticmethod
    def param_name(widget: widgets.Widget) -> str:
        return widget.path.replace(".", "_")

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
    def run(self, values: dict[str, Any], request: gr.Request | None, progress: gr.Progress | None) -> tuple[Any, ...]:
        """One run of the operation, every input taken by its name (see :func:`webui.handlers.by_name`)."""
        image = uploaded(values["image"])
        labels = widgets.labels_of(self.op.params)
        attachments = Attachments()
        given = tuple(attachments.add(values.get(self.param_name(w))) if w.spec.kind == "image" else values.get(self.param_name(w)) for w in self.params)
        try:
            found = widgets.to_params(self.params, given)
        except StudioError as exc:
            raise gr.Error(widgets.in_words(exc, labels)) from None
        if self.mask_field and image:
            mask = values.get("mask")
            mask_pixels = masks.painted_mask(mask if isinstance(mask, dict) else None, upright_size(image))
            if mask_pixels is not None:
                found[self.mask_field] = masks.to_data_url(mask_pixels)
            elif self.mask_required:
                raise gr.Error("Paint over what to remove first (or click it in the input image).")
        clicked = values.get("clicked")
        subject = clicked if self.op.click_selects == "subject" and isinstance(clicked, np.ndarray) else None
        hints = {"subject_mask": subject} if subject is not None else None
        chosen = str(values.get("output_format") or "auto") if self.fmt else "auto"
        return run_job(image, lambda: chain.plan_one(self.op.name, found, run=self.access.run), self.access.admission(request), chosen, progress, hints, labels,
                       attachments.resolve, results=self.access.results)  # fmt: skip

    def show_mask(self, image: Any, painted: dict[str, Any] | None) -> Any:
        image = uploaded(image)
        if not image:
            raise gr.Error("Upload an image first.")
        mask = masks.painted_mask(painted if isinstance(painted, dict) else None, upright_size(image))
        if mask is None:
            raise gr.Error("Nothing is painted yet.")
        return mask

    def select(self, image: Any, evt: gr.SelectData, request: gr.Request) -> tuple[Any, ...]:
        """The object under a click: painted into the mask editor, or kept as the subject."""
        image = uploaded(image)
        if not image:
            raise gr.Error("Upload an image first.")
        point = clicked_point(evt)
        try:
            with self.access.selection(request):
                mask, method = point_to_mask(read_image(image), *point)
        except StudioError as exc:
            raise gr.Error(exc.message) from None
        gr.Info(f"selected with {method}")
        shown = mask.astype(np.uint8) * 255
        if self.editor is None:
            return mask, shown
        layer = np.zeros((*mask.shape, 4), np.uint8)
        layer[mask] = (255, 0, 255, 255)
        return mask, shown, {**(editor_background(image) or {}), "layers": [layer]}


def clicked_point(evt: Any) -> tuple[int, int]:
    """The (x, y) a select event names; anything else a client sends is refused in words."""
    index = getattr(evt, "index", None)
    if isinstance(index, (list, tuple)) and len(index) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in index):
        if all(abs(v) < 1 << 31 for v in index):
            return int(index[0]), int(index[1])
    raise gr.Error("Click a point in the image to select it.")


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
    run = by_name(tab.input_names(), tab.run)
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
