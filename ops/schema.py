"""Read parameter models as plain field descriptions: what the CLI, docs and UI widgets need.

One reader of pydantic's metadata, so a range or enum declared once shows the same everywhere.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .params import Params

#: what a parameter is, for every reader: the UI picks its widget from this, the docs its wording
Kind = Literal["choice", "int", "float", "bool", "text", "colour", "mask", "image", "box", "group"]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: Kind
    required: bool
    default: Any = None
    description: str = ""
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    children: tuple[FieldSpec, ...] = field(default=())
    rules: tuple[str, ...] = ()

    def type_text(self) -> str:
        if self.kind == "choice":
            return "/".join(str(c) for c in self.choices)
        if self.kind in ("int", "float") and self.minimum is not None and self.maximum is not None:
            return f"{self.kind} {_num(self.minimum)}–{_num(self.maximum)}"
        if self.kind in ("int", "float") and self.minimum is not None:
            return f"{self.kind} {'>' if self.exclusive_minimum else '>='} {_num(self.minimum)}"
        return {"box": "[x, y, w, h]", "colour": "#RRGGBB", "group": "object", "mask": "mask (PNG data URL)", "image": "image (storage key)"}.get(
            self.kind, self.kind
        )


def fields_of(model: type[Params]) -> list[FieldSpec]:
    return [_spec(name, info) for name, info in model.model_fields.items()]


def rules_of(model: type[Params]) -> tuple[str, ...]:
    return tuple(rule.describe() for rule in model.rules)


def _spec(name: str, info: FieldInfo) -> FieldSpec:
    annotation, metadata, description = _unwrap(info.annotation)
    metadata = list(info.metadata) + metadata
    declared = _declared_kind(info, metadata)
    default = None if info.default is PydanticUndefined else info.default
    common = dict(name=name, required=info.is_required(), default=default, description=info.description or description)
    if isinstance(annotation, type) and issubclass(annotation, Params):
        return FieldSpec(kind="group", children=tuple(fields_of(annotation)), rules=rules_of(annotation), **common)
    if get_origin(annotation) is Literal:
        return FieldSpec(kind="choice", choices=get_args(annotation), **common)
    if get_origin(annotation) is tuple:
        return FieldSpec(kind="box", **common)
    pattern = next((m.pattern for m in metadata if getattr(m, "pattern", None)), "")
    kinds: dict[Any, Kind] = {bool: "bool", int: "int", float: "float"}
    kind = declared or kinds.get(annotation) or ("colour" if pattern.startswith("^#") else "text")
    return FieldSpec(kind=kind, **_bounds(metadata), **common)


def _declared_kind(info: FieldInfo, metadata: list[Any]) -> Kind | None:
    """A kind the declaration states (``json_schema_extra={"kind": ...}``), e.g. mask or image."""
    for extra in [info.json_schema_extra, *(getattr(m, "json_schema_extra", None) for m in metadata)]:
        if isinstance(extra, dict) and extra.get("kind"):
            return extra["kind"]  # type: ignore[return-value]
    return None


def _unwrap(annotation: Any) -> tuple[Any, list[Any], str]:
    """Strip Optional and Annotated layers, collecting their constraints and description."""
    annotation = _strip_optional(annotation)
    metadata: list[Any] = []
    description = ""
    while get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        for item in extra:
            if isinstance(item, FieldInfo):
                metadata += [*item.metadata, item]  # the FieldInfo itself carries json_schema_extra
                description = description or item.description or ""
            else:
                metadata.append(item)
    return annotation, metadata, description


def _strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _bounds(metadata: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in metadata:
        if isinstance(m, annotated_types.Ge):
            out["minimum"] = m.ge
        elif isinstance(m, annotated_types.Gt):
            out["minimum"], out["exclusive_minimum"] = m.gt, True
        elif isinstance(m, annotated_types.Le):
            out["maximum"] = m.le
    return out


def _num(value: float) -> str:
    return f"{value:g}"
