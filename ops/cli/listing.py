"""Human-readable and Markdown descriptions of every operation and model name, from the registry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..chain import model_status
from ..engines import engines_for
from ..operation import Operation
from ..presets import ALIASES
from ..registry import MODELS, OPERATIONS
from ..schema import FieldSpec, fields_of, rules_of


def text() -> str:
    return "\n".join(_text_lines())


def _text_lines() -> Iterator[str]:
    yield f"Operations ({len(OPERATIONS)})  [spec 000: POST /api/v1/jobs/api, python -m ops OPERATION]"
    for op in OPERATIONS.values():
        yield ""
        yield f"  {op.name}  — {op.summary}"
        yield f"      group: {op.group}   cost: {op.describe_cost()}   engines: {_engines(op)}"
        rows = list(_param_rows(fields_of(op.params)))
        for name, type_text, need, default, description in rows:
            yield f"      {name:<28} {type_text:<30} {need:<9} {default:<12} {description}"
        if not rows:
            yield "      (no parameters)"
        for rule in rules_of(op.params):
            yield f"      rule: {rule}"
    yield ""
    yield f"Model names ({len(MODELS)})  [spec 002: POST /api/photo-enhancer model_name, python -m ops MODEL]"
    for preset in MODELS.values():
        yield ""
        yield f"  {preset.name}  — {preset.display_name}, {preset.coins} coins"
        yield f"      {preset.summary}"
        yield f"      chain: {preset.chain_text()}"
        yield f"      here:  {model_status(preset.name)}"
    for alias, target in ALIASES.items():
        yield f"\n  {alias}  — alias of {target} (used by spec 002's examples)"


def markdown() -> str:
    lines = ["| operation | parameters | cost | engines (best first) |", "|---|---|---|---|"]
    for op in OPERATIONS.values():
        params = "<br>".join(
            f"`{name}` {type_text}, {need}{f', default {default}' if default else ''}"
            for name, type_text, need, default, _ in _param_rows(fields_of(op.params))
        )
        rules = "".join(f"<br>rule: {rule}" for rule in rules_of(op.params))
        lines.append(f"| `{op.name}` — {op.summary} | {params or 'none'}{rules} | {op.describe_cost()} | {', '.join(op.engines)} |")
    lines += ["", "| model_name | display name | chain | coins |", "|---|---|---|---|"]
    for preset in MODELS.values():
        lines.append(f"| `{preset.name}` | {preset.display_name} | {preset.chain_text()} | {preset.coins} |")
    return "\n".join(lines)



def _engines(op: Operation) -> str:
    return ", ".join(f"{name}" + ("" if reason is None else f" ({reason})") for name, reason in engines_for(op))


def _param_rows(fields: list[FieldSpec], prefix: str = "") -> Iterator[tuple[str, str, str, str, str]]:
    for f in fields:
        name = f"{prefix}{f.name}"
        default = "" if f.default is None else f"={_show(f.default)}"
        yield name, f.type_text(), "required" if f.required else "optional", default, f.description
        for rule in f.rules:
            yield f"  {name}", f"rule: {rule}", "", "", ""
        if f.children:
            yield from _param_rows(list(f.children), f"{name}.")


def _show(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
