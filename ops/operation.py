"""What an operation is: a name, typed parameters, a cost and its engines, declared once.

The CLI, the Gradio tabs, the REST validation, the OpenAPI docs and credit accounting all read
these declarations; none of them lists operations or parameters by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .params import Params, validate

Group = Literal["Enhance", "Faces & Restore", "Background", "Retouch", "Convert"]


@dataclass(frozen=True)
class PerValue:
    """Credits that depend on one parameter's value (e.g. the upscaling factor)."""

    param: str
    table: dict[Any, int]
    default: int = 0

    def __call__(self, params: Params) -> int:
        return self.table.get(getattr(params, self.param), self.default)

    def describe(self) -> str:
        cases = ", ".join(f"{self.param}={value}: {credits}" for value, credits in self.table.items())
        return f"{cases}; otherwise {self.default}" if self.default else cases


@dataclass(frozen=True)
class Operation:
    name: str
    summary: str
    params: type[Params]
    group: Group
    engines: tuple[str, ...]  # best first; "auto" picks the first that can run here
    credits: int | PerValue = 1
    sets_format: bool = False  # the operation decides the output format itself (no format picker in the UI)
    enlarges: int | str = 1  # how many times wider the result is: a fixed factor, or the parameter that holds it
    click_selects: Literal["mask", "subject"] | None = None  # a click on the input selects an object: into the mask, or as the subject
    label: str = ""  # the name people see (tabs, docs); the API keeps ``name``

    @property
    def title(self) -> str:
        return self.label or self.name.replace("-", " ").capitalize()

    @property
    def free(self) -> bool:
        return self.credits == 0

    def validate(self, raw: Any, prefix: str = "") -> Params:
        return validate(self.params, raw, context=self.name, prefix=prefix)

    def enlargement(self, params: Params) -> int:
        return int(getattr(params, self.enlarges)) if isinstance(self.enlarges, str) else self.enlarges

    def cost(self, params: Params) -> int:
        return self.credits(params) if isinstance(self.credits, PerValue) else self.credits

    def describe_cost(self) -> str:
        if isinstance(self.credits, PerValue):
            return f"credits by {self.credits.describe()}"
        return "free" if self.free else f"{self.credits} credit{'s' if self.credits > 1 else ''}"


@dataclass(frozen=True)
class Preset:
    """A spec-002 model name: a named chain of operations with chosen engines and a coin price."""

    name: str
    display_name: str
    summary: str
    steps: tuple[dict[str, Any], ...]  # each {"type", "params", "engine"} like a REST job step
    coins: int

    def chain_text(self) -> str:
        """``enhance[realesrgan-x4plus](scale=2) → enhance-face(...)``: what the name runs."""
        return " → ".join(_step_text(step) for step in self.steps)


def _step_text(step: dict[str, Any]) -> str:
    params = ", ".join(f"{k}={v}" for k, v in step["params"].items())
    engine = "" if step["engine"] == "auto" else f"[{step['engine']}]"
    return f"{step['type']}{engine}({params})"
