"""Which engine runs: the one choice function for operations, for engines that need another
operation's best engine as one part of their work (a segmenter, an inpainter: declared in their
``needs``), and for declared chains of parts that are not operations (the face detectors). Every
fallback warns the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ..errors import EngineNotImplementedError, EngineUnavailableError, ParamValidationError, Violation
from ..operation import Operation
from .base import ENGINES, Engine

NOT_IN_RELEASE = "not in this release"


class Candidate(Protocol):
    """Something that runs if it can: an engine, a face detector."""

    @property
    def name(self) -> str: ...

    def unavailable_reason(self) -> str | None: ...


C = TypeVar("C", bound=Candidate)


class Composed(Protocol):
    """Something that declares the engines it needs: role -> the operation whose best engine does it."""

    @property
    def needs(self) -> Mapping[str, str]: ...


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
    if all(name not in ENGINES for name in candidates):
        raise EngineNotImplementedError(
            f"{operation.name} is not available in this release yet: its engines "
            f"({', '.join(candidates)}) arrive in a later version"
        )
    try:
        engine, warnings, preferred = pick([ENGINES[name] if name in ENGINES else _Planned(name) for name in candidates], "engines")
    except LookupError as exc:
        raise EngineUnavailableError(f"{operation.name} cannot run here: {exc.args[0]}") from None
    return Choice(engine, warnings, preferred)


def pick(candidates: Sequence[C], kind: str) -> tuple[C, tuple[str, ...], str | None]:
    """(the first candidate that can run here, the warning when better ones cannot, the best of those
    that could be installed). Raises LookupError with every reason when none can run."""
    skipped: list[tuple[str, str]] = []
    for candidate in candidates:
        reason = candidate.unavailable_reason()
        if reason is None:
            note = f"used {candidate.name} because better {kind} cannot run here: {_list(skipped)}"
            installable = [name for name, why in skipped if why != NOT_IN_RELEASE]
            return candidate, (note,) if skipped else (), installable[0] if installable else None
        skipped.append((candidate.name, reason))
    raise LookupError(_list(skipped))


def needed(owner: Composed, role: str) -> Choice:
    """The engine that does ``role`` for ``owner``: the best that can run of the operation its
    ``needs`` names, with the same warnings as ``choose``."""
    from ..registry import get_operation

    return choose(get_operation(owner.needs[role]))


def needs_reason(owner: Composed) -> str | None:
    """Why ``owner`` cannot run for want of an engine it needs (None: every one it needs can run)."""
    for role in owner.needs:
        try:
            needed(owner, role)
        except EngineUnavailableError as exc:
            return f"no {role}: {exc.message}"
    return None


@dataclass(frozen=True)
class _Planned:
    """An engine an operation names but no module registers yet."""

    name: str

    def unavailable_reason(self) -> str:
        return NOT_IN_RELEASE


def engines_for(operation: Operation) -> list[tuple[str, str | None]]:
    """(engine name, reason it cannot run or None) for every declared engine, best first."""
    return _status(operation.engines)


def _status(names: tuple[str, ...]) -> list[tuple[str, str | None]]:
    return [(name, ENGINES[name].unavailable_reason() if name in ENGINES else NOT_IN_RELEASE) for name in names]


def _list(pairs: list[tuple[str, str]]) -> str:
    return "; ".join(f"{name} ({reason})" for name, reason in pairs)
