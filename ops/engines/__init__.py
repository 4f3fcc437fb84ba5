"""Engine implementations, registered by name; operations refer to them by these names.

Every module of this package is imported here, and each registers its engines as it loads, so
a new engine needs no import line anywhere. An operation that names an engine nobody registers
is an error at start-up, unless the engine is listed as planned (its operation then answers
"not available in this release yet").
"""

from __future__ import annotations

import importlib
import pkgutil

from ..registry import OPERATIONS
from .base import ENGINES, Engine, RunContext
from .choice import Choice, choose, engines_for, needed

#: engines declared by operations whose implementation arrives in a later release
PLANNED: frozenset[str] = frozenset()

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

_unknown = {name for op in OPERATIONS.values() for name in op.engines} - set(ENGINES) - PLANNED
if _unknown:
    raise RuntimeError(f"operations declare engines that no module in ops/engines registers: {', '.join(sorted(_unknown))}")

__all__ = ["ENGINES", "PLANNED", "Choice", "Engine", "RunContext", "choose", "engines_for", "needed"]
