"""Parameter models as plain field descriptions: what the CLI, the docs and the UI's widgets need.

Read from pydantic's own JSON schema (the same document the REST API publishes), so a range, an
enum or a rule declared once shows the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from .params import Params

#: what a parameter is, for every reader: the UI picks its widget from this, the docs its wording
Kind = Literal["choice", "int", "float", "bool", "text", "colour", "mask", "image", "box", "group"]
TYPES: dict[str, Kind] = {"integer": "int", "number": "float", "boolean": "bool", "string": "text"}


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
    title: str = ""  # in people's words (declared, or pydantic's from the name); the API keeps the name
    shown_when: tuple[str, Any] | None = None  # (sibling field, value): the field only applies then

    @property
    def label(self) -> str:
        return self.title or self.name.replace("_", " ").capitalize()

    def type_text(self) -> str:
        if self.kind == "choice":
            return "/".join(str(c) for c in self.choices)
        if self.kind in ("int", "float") and self.minimum is not None and self.maximum is not None:
            return f"{self.kind} {_num(self.minimum)}–{_num(self.maximum)}"
        if self.kind in ("int", "float") and self.minimum is not None:
            return f"{self.kind} {'>' if self.exclusive_minimum else '>='} {_num(self.minimum)}"
        words = {"box": "[x, y, w, h]", "colour": "#RRGGBB", "group": "object", "mask": "mask (PNG data URL)", "image": "image (storage key)"}
        return words.get(self.kind, self.kind)


def fields_of(model: type[Params]) -> list[FieldSpec]:
    return list(_fields(_schema(model)))


def rules_of(model: type[Params]) -> tuple[str, ...]:
    return tuple(_schema(model).get("x-rules", ()))


@lru_cache(maxsize=None)
def _schema(model: type[Params]) -> dict[str, Any]:
    return model.model_json_schema()


def _fields(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> tuple[FieldSpec, ...]:
    defs = schema.get("$defs", {}) if defs is None else defs
    required = set(schema.get("required", ()))
    return tuple(_spec(name, prop, name in required, defs) for name, prop in schema.get("properties", {}).items())


def _spec(name: str, prop: dict[str, Any], required: bool, defs: dict[str, Any]) -> FieldSpec:
    options = [o for o in prop.get("anyOf", [prop]) if o.get("type") != "null"]  # Optional[X]: X
    value = {**options[0], **{k: v for k, v in prop.items() if k != "anyOf"}}
    shown = value.get("x-shown-when")
    common = dict(name=name, required=required, default=value.get("default"), description=value.get("description", ""),
                  title=_sentence(value.get("title", "")), shown_when=(shown["field"], shown["equals"]) if shown else None)  # fmt: skip
    if "$ref" in value:
        nested = defs[value["$ref"].rsplit("/", 1)[1]]
        return FieldSpec(kind="group", children=_fields(nested, defs), rules=tuple(nested.get("x-rules", ())), **common)
    if "enum" in value:
        return FieldSpec(kind="choice", choices=tuple(value["enum"]), **common)
    if value.get("type") == "array":
        return FieldSpec(kind="box", **common)
    kind: Kind = value.get("kind") or ("colour" if value.get("pattern", "").startswith("^#") else TYPES.get(value.get("type", ""), "text"))
    bounds = {"maximum": value.get("maximum")}
    if "exclusiveMinimum" in value:
        bounds |= {"minimum": value["exclusiveMinimum"], "exclusive_minimum": True}
    elif "minimum" in value:
        bounds |= {"minimum": value["minimum"]}
    return FieldSpec(kind=kind, **bounds, **common)


def _sentence(title: str) -> str:
    """pydantic's "Enhancement Level" as "Enhancement level"."""
    return title[:1] + title[1:].lower() if title else ""


def _num(value: float) -> str:
    return f"{value:g}"
