"""Which engine runs: the one choice function for operations, and for engines that need another
operation's best engine as one part of their work (a segmenter, an inpainter)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import EngineNotImplementedError, EngineUnavailableError, ParamValidationError, Violation
from ..operation import Operation
from .base import ENGINES, Engine

NOT_IN_RELEASE = "not in this release"


@dataclass(frozen=True)
class Choice:
    engine: Engine
    warnings: tuple[str, ...] = ()
    preferred: str | None = None  # the better engine that could not run here (installable: not "not in this release")


def choose(operation: Operation, requested: str = "auto", location: str = "engine", fallback: bool | list[str] = False) -> Choice:
    """The engine to run: the requested one, or with ``auto`` the best that can run here. With
    ``fallback`` a requested engine that cannot run gives way to the first listed engine that can
    (``fallback`` as a list), else to the best that can.

    Falling back from a better or requested engine is never silent: the choice carries a warning.
    """
    if requested != "auto" and requested not in operation.engines:
        allowed = ", ".join(("auto",) + operation.engines)
        raise ParamValidationError([Violation(location, f"unknown engine {requested!r} (one of: {allowed})")], operation.name)
    if requested != "auto" and fallback:
        reason = ENGINES[requested].unavailable_reason() if requested in ENGINES else NOT_IN_RELEASE
        if reason is not None:
            listed = [n for n in (fallback if isinstance(fallback, list) else []) if n in ENGINES and ENGINES[n].unavailable_reason() is None]
            chosen = ENGINES[listed[0]] if listed else choose(operation).engine
            note = f"the preferred engine {requested} cannot run here ({reason}); used {chosen.name}"
            return Choice(chosen, (note,), requested if reason != NOT_IN_RELEASE else None)
    candidates = operation.engines if requested == "auto" else (requested,)
    skipped: list[tuple[str, str]] = []
    for name, reason in _status(candidates):
        if reason is None:
            note = f"used {name} because better engines cannot run here: {_list(skipped)}"
            installable = [skipped_name for skipped_name, why in skipped if why != NOT_IN_RELEASE]
            return Choice(ENGINES[name], (note,) if skipped else (), installable[0] if installable else None)
        skipped.append((name, reason))
    if all(reason == NOT_IN_RELEASE for _, reason in skipped):
        raise EngineNotImplementedError(
            f"{operation.name} is not available in this release yet: its engines "
            f"({', '.join(candidates)}) arrive in a later version"
        )
    raise EngineUnavailableError(f"{operation.name} cannot run here: {_list(skipped)}")


def best(operation: str) -> Engine:
    """The engine ``auto`` would run for ``operation`` (e.g. the best segmenter for smart-crop)."""
    from ..registry import get_operation

    return choose(get_operation(operation)).engine


def engines_for(operation: Operation) -> list[tuple[str, str | None]]:
    """(engine name, reason it cannot run or None) for every declared engine, best first."""
    return _status(operation.engines)


def _status(names: tuple[str, ...]) -> list[tuple[str, str | None]]:
    return [(name, ENGINES[name].unavailable_reason() if name in ENGINES else NOT_IN_RELEASE) for name in names]


def _list(pairs: list[tuple[str, str]]) -> str:
    return "; ".join(f"{name} ({reason})" for name, reason in pairs)
