"""Parameter models and cross-field rules, and the validator that reports every problem at once.

Each operation's parameters are a pydantic model; rules that span fields ("at least one of",
"required when") are declared as data on the model so the UI and docs can show them too.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from .errors import ParamValidationError, Violation


@dataclass(frozen=True)
class AtLeastOne:
    fields: tuple[str, ...]

    def check(self, values: Mapping[str, Any]) -> Violation | None:
        if all(values.get(f) is None for f in self.fields):
            return Violation("", f"at least one of {_names(self.fields)} is required")
        return None

    def describe(self) -> str:
        return f"at least one of {_names(self.fields)}"


@dataclass(frozen=True)
class ExactlyOne:
    fields: tuple[str, ...]

    def check(self, values: Mapping[str, Any]) -> Violation | None:
        given = [f for f in self.fields if values.get(f) is not None]
        if len(given) != 1:
            return Violation("", f"exactly one of {_names(self.fields)} is required (got {len(given)})")
        return None

    def describe(self) -> str:
        return f"exactly one of {_names(self.fields)}"


@dataclass(frozen=True)
class RequiredWhen:
    field: str
    when: str
    equals: Any

    def check(self, values: Mapping[str, Any]) -> Violation | None:
        if values.get(self.when) == self.equals and values.get(self.field) is None:
            return Violation(self.field, f"required when {self.when} is {_show(self.equals)}")
        return None

    def describe(self) -> str:
        return f"{self.field} required when {self.when} is {_show(self.equals)}"


Rule = Union[AtLeastOne, ExactlyOne, RequiredWhen]


def _names(fields: tuple[str, ...]) -> str:
    return ", ".join(fields)


def _show(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else repr(value)


RULE_ERROR = "param_rule"


def set_dotted(params: dict[str, Any], path: str, value: Any) -> None:
    """``set_dotted(p, "resize.width", 640)`` -> ``p["resize"]["width"] = 640`` (how the CLI and
    the UI name nested parameters)."""
    *parents, leaf = path.split(".")
    node = params
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"{path!r} nests under {part!r}, which already has a value")
    node[leaf] = value


def _rules_in_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The cross-field rules, in words, as part of the JSON schema (docs, UI, OpenAPI read them there)."""
    rules = getattr(model, "rules", ())
    if rules:
        schema["x-rules"] = [rule.describe() for rule in rules]
    for rule in rules:  # a field needed only in one case is only asked for in that case (the UI hides it otherwise)
        if isinstance(rule, RequiredWhen) and rule.field in schema.get("properties", {}):
            schema["properties"][rule.field]["x-shown-when"] = {"field": rule.when, "equals": rule.equals}


class Params(BaseModel):
    """Base of every parameter model: unknown keys are errors, rules are enforced."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_rules_in_schema)
    rules: ClassVar[tuple[Rule, ...]] = ()

    @model_validator(mode="after")
    def _check_rules(self) -> Params:
        values = {name: getattr(self, name) for name in type(self).model_fields}
        broken = [v for rule in self.rules if (v := rule.check(values))]
        if broken:
            found = [(v.location, v.message) for v in broken]
            raise PydanticCustomError(RULE_ERROR, "{summary}", {"summary": "; ".join(map(str, broken)), "found": found})
        return self


def validate(model: type[Params], raw: Any, context: str = "", prefix: str = "") -> Params:
    """Validate ``raw`` into ``model``; on failure raise one error listing every violation."""
    raw = {} if raw is None else raw
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        violations = violations_from(exc, prefix)
    if isinstance(raw, Mapping):
        violations += rule_violations(model, raw, prefix)
    raise ParamValidationError(_unique(violations), context)


def rule_violations(model: type[Params], raw: Mapping[str, Any], prefix: str = "") -> list[Violation]:
    """Check declared rules on raw input (also when field errors stop pydantic's own check), recursively."""
    values = {name: raw.get(name, info.default) for name, info in model.model_fields.items()}
    out = [_prefixed(v, prefix) for rule in model.rules if (v := rule.check(values))]
    for name, info in model.model_fields.items():
        nested = _params_model(info.annotation)
        if nested and isinstance(raw.get(name), Mapping):
            out += rule_violations(nested, raw[name], _join(prefix, name))
    return out


def _params_model(annotation: Any) -> type[Params] | None:
    candidates = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, Params):
            return candidate
    return None


def violations_from(exc: ValidationError, prefix: str) -> list[Violation]:
    out = []
    for error in exc.errors(include_url=False):
        location = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
        message = error["msg"]
        if error["type"] == RULE_ERROR:
            out += [Violation(_join(_join(prefix, location), loc), msg) for loc, msg in error["ctx"]["found"]]
            continue
        message = message.removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown parameter"
        out.append(Violation(_join(prefix, location), message))
    return out


def _prefixed(v: Violation, prefix: str) -> Violation:
    return Violation(_join(prefix, v.location), v.message)


def _join(a: str, b: str) -> str:
    return f"{a}.{b}" if a and b else a or b


def _unique(violations: list[Violation]) -> list[Violation]:
    return list(dict.fromkeys(violations))
