"""Look-ups over the declared operations and spec-002 model names."""

from __future__ import annotations

from .errors import UnknownOperationError
from .operation import Operation, Preset
from .operations import ALL
from .presets import ALIASES, PRESETS

OPERATIONS: dict[str, Operation] = {op.name: op for op in ALL}
MODELS: dict[str, Preset] = {preset.name: preset for preset in PRESETS}


def get_operation(name: str) -> Operation:
    try:
        return OPERATIONS[name]
    except KeyError:
        raise UnknownOperationError(f"unknown operation {name!r} (one of: {', '.join(OPERATIONS)})") from None


def get_model(name: str) -> Preset:
    """A spec-002 model by name (or by an alias the spec's examples use)."""
    try:
        return MODELS[ALIASES.get(name, name)]
    except KeyError:
        raise UnknownOperationError(f"unknown model_name {name!r} (one of: {', '.join(MODELS)})") from None
