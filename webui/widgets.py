"""Gradio widgets generated from parameter descriptions, and their values turned back into params."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ops.errors import ParamValidationError, StudioError, Violation
from ops.params import Params, set_dotted
from ops.schema import FieldSpec, fields_of


@dataclass(frozen=True)
class Widget:
    path: str  # dotted parameter path, e.g. "resize.width"
    spec: FieldSpec
    component: gr.components.Component


def build(model: type[Params]) -> list[Widget]:
    """Render every parameter (nested groups as labelled groups); return them in input order.
    Masks are not among them: the tab's painting editor provides those. Fields that apply only
    in one case start hidden unless that case is the starting one."""
    widgets = _build([f for f in fields_of(model) if f.kind != "mask"], "")
    start = _starting_values(widgets)
    for widget in widgets:
        widget.component.visible = _applies(widget, start)
    return widgets


def _build(fields: list[FieldSpec], prefix: str) -> list[Widget]:
    widgets: list[Widget] = []
    for spec in fields:
        path = f"{prefix}{spec.name}"
        if spec.kind == "group":
            with gr.Group():
                gr.Markdown(f"**{spec.label}** — {spec.description}".strip())
                widgets += _build(list(spec.children), f"{path}.")
            continue
        widgets.append(Widget(path, spec, _component(spec, path)))
    return widgets


def _component(spec: FieldSpec, path: str) -> gr.components.Component:
    label = spec.label
    info = spec.description or None
    if spec.kind == "image":
        return gr.Image(type="filepath", image_mode=None, label=label, height=160)
    if spec.kind == "choice":  # a required choice starts on its first option rather than empty
        # offered as text (what the Gradio API advertises for every dropdown); other values reach
        # the parameter check, which says in words what is allowed
        value = spec.default if spec.default is not None else spec.choices[0]
        return gr.Dropdown(choices=[str(c) for c in spec.choices], value=str(value), label=label, info=info, allow_custom_value=True)
    if spec.kind == "bool":
        return gr.Checkbox(value=bool(spec.default), label=label, info=info)
    if spec.kind in ("int", "float"):
        step = 1 if spec.kind == "int" else 0.01
        if spec.minimum is not None and spec.maximum is not None and spec.default is not None:
            return gr.Slider(spec.minimum, spec.maximum, value=spec.default, step=step, label=label, info=info)
        # browsers send 0 for an empty number box, so 0 means "not set" for optional, positive fields
        unset = not spec.required and (spec.minimum or 0) > 0
        return gr.Number(value=spec.default if spec.default is not None else (0 if unset else None), precision=0 if spec.kind == "int" else None,
                         label=f"{label}{'; 0 = not set' if unset else ''}", info=info)  # fmt: skip
    if spec.kind == "colour":
        return gr.ColorPicker(value=spec.default or "#ffffff", label=label, info=info)
    placeholder = "x, y, w, h" if spec.kind == "box" else None
    return gr.Textbox(value=spec.default or "", label=label, info=info, placeholder=placeholder)


def conditions(widgets: list[Widget]) -> list[tuple[Widget, list[tuple[Widget, Any]]]]:
    """(controlling widget, [(widget shown only for a value, that value)]) from the parameters'
    "needed only when" rules, so the form shows only what applies."""
    by_path = {w.path: w for w in widgets}
    found: dict[str, list[tuple[Widget, Any]]] = {}
    for widget in widgets:
        if widget.spec.shown_when:
            parent = widget.path.rpartition(".")[0]
            controller = f"{parent}.{widget.spec.shown_when[0]}" if parent else widget.spec.shown_when[0]
            if controller in by_path:
                found.setdefault(controller, []).append((widget, widget.spec.shown_when[1]))
    return [(by_path[path], dependents) for path, dependents in found.items()]


def _applies(widget: Widget, values: dict[str, Any]) -> bool:
    """Whether a field applies, given its siblings' values by name."""
    if not widget.spec.shown_when:
        return True
    name, value = widget.spec.shown_when
    return name not in values or str(values[name]) == str(value)


def _starting_values(widgets: list[Widget]) -> dict[str, Any]:
    return {w.spec.name: w.spec.default if w.spec.default is not None else (w.spec.choices[0] if w.spec.choices else None) for w in widgets}


def to_params(widgets: list[Widget], values: tuple[Any, ...]) -> dict[str, Any]:
    """Widget values -> nested params dict.

    Empty inputs are left out, and so is a nested group whose inputs all still hold their
    defaults (an untouched "resize" box means no resize, not an empty one).
    """
    params: dict[str, Any] = {}
    pairs = [(w, v) for w, v in zip(widgets, values, strict=True) if _applies(w, {x.spec.name: y for x, y in zip(widgets, values, strict=True)})]
    touched = {w.path.rpartition(".")[0] for w, v in pairs if _value(w, v) not in (None, w.spec.default)}
    for widget, value in pairs:
        value = _value(widget, value)
        group = widget.path.rpartition(".")[0]
        if value is None or (group and group not in touched):
            continue
        set_dotted(params, widget.path, value)
    return params


def _value(widget: Widget, value: Any) -> Any:
    spec = widget.spec
    if value is None or value == "":
        return None
    if spec.kind == "box":  # "10, 10, 80, 80", "10 10 80 80" or "[10,10,80,80]"
        parts = str(value).strip().strip("[]()").replace(",", " ").split()
        try:
            numbers = [float(v) for v in parts]
        except ValueError:
            numbers = []
        if len(numbers) != 4:
            raise ParamValidationError([Violation(widget.path, f"write four numbers x, y, width, height (for example 10, 10, 80, 80), not {value!r}")])
        return numbers
    if spec.kind in ("int", "float") and not spec.required and (spec.minimum or 0) > 0 and value == 0:
        return None
    if spec.kind == "int":
        return int(value)
    if spec.kind == "choice":  # back to the declared type: "4" -> 4
        return next((c for c in spec.choices if str(c) == str(value).strip()), value)
    return value


def labels_of(model: type[Params]) -> dict[str, str]:
    """Dotted path -> the label a person sees, groups included (the mask is the painted one)."""

    def walk(fields: list[FieldSpec] | tuple[FieldSpec, ...], prefix: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for spec in fields:
            found[prefix + spec.name] = "The painted mask" if spec.kind == "mask" else spec.label
            found |= walk(spec.children, f"{prefix}{spec.name}.")
        return found

    return walk(fields_of(model), "")


def in_words(exc: StudioError, labels: Mapping[str, str]) -> str:
    """An error as the page should say it: fields by their labels, not the API's names.

    The API's messages name parameters (``mask_data_url: required when auto_detect is false``);
    the page shows "The painted mask: required when “Find text automatically” is off". Inside a
    message only the field's siblings and children are renamed (the rules that name fields name
    those), so ordinary words that happen to be a field name elsewhere stay words."""
    if not isinstance(exc, ParamValidationError) or not labels:
        return exc.message
    return "; ".join(f"{_where(v.location, labels)}: {_say(v.message, v.location, labels)}" if v.location else _say(v.message, "", labels) for v in exc.violations)


def _say(message: str, location: str, labels: Mapping[str, str]) -> str:
    path = location.partition("[")[0]
    near = {p.rpartition(".")[2]: label for p, label in labels.items() if p.rpartition(".")[0] in (path.rpartition(".")[0], path) and p != path}
    if near:
        pattern = re.compile(r"(?<![\w.])(" + "|".join(re.escape(n) for n in sorted(near, key=len, reverse=True)) + r")(?![\w.])")
        message = pattern.sub(lambda m: f"“{near[m.group(1)]}”", message)
    return message.replace(" is false", " is off").replace(" is true", " is on")


def _where(location: str, labels: Mapping[str, str]) -> str:
    """``crop.percentage[2]`` -> "Percentage, value 3"; a path no field has stays as it is."""
    path, _, index = location.partition("[")
    label = labels.get(path, location if not index else path)
    return f"{label}, value {int(index.rstrip(']')) + 1}" if index.rstrip("]").isdigit() else label
