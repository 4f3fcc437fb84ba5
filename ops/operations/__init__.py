"""The operations, one declaration each: every module here is read and every Operation it
defines is registered, so adding an operation is adding its declaration (no list to edit).

Order: by group (as ``Group`` lists them), then as declared, which keeps the spec's order.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import get_args

from ..operation import Group, Operation


def _discover() -> tuple[Operation, ...]:
    found: dict[str, Operation] = {}
    for module in pkgutil.iter_modules(__path__):
        for value in vars(importlib.import_module(f"{__name__}.{module.name}")).values():
            if isinstance(value, Operation):
                if value.name in found and found[value.name] is not value:
                    raise RuntimeError(f"operation {value.name!r} is declared twice")
                found[value.name] = value
    groups = list(get_args(Group))
    by_module = sorted(found.values(), key=lambda op: groups.index(op.group))
    return tuple(by_module)


ALL = _discover()
