"""The terms the service layer and its doors (REST, web app, CLI) exchange.

Who calls (:class:`Caller`), what a run costs (:class:`Price`), why it is refused
(:class:`Refusal`, which each door turns into its own form: a v1 error, a spec-002 code, a
``gr.Error``), and what runs a web-app job (:data:`UiRunner`) with the result it gives back when a
worker ran it (:class:`Finished`). Kept apart from the layer so that a door can name them cheaply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ops.chain import PlannedStep
    from ops.engines.base import ProgressFn, Resolver
    from ops.imageio import Encoded
    from ops.operation import Preset
    from ops.pipeline import OutputOptions, Processed

RefusalKind = Literal["unauthorized", "rate_limited", "insufficient", "forbidden", "conflict", "not_found"]


class Refusal(Exception):
    """Why a caller may not do something, in words a person can act on."""

    def __init__(self, kind: RefusalKind, message: str, headers: dict[str, str] | None = None, retry_after: int = 0) -> None:
        super().__init__(message)
        self.kind, self.message, self.headers, self.retry_after = kind, message, headers or {}, retry_after


@dataclass(frozen=True)
class Caller:
    """Who is calling: an account (key or UI login), or an anonymous client address."""

    address: str
    user_id: str | None = None
    email: str | None = None
    tier: str | None = None

    @property
    def identity(self) -> str:
        return f"user:{self.user_id}" if self.user_id else f"ip:{self.address}"


@dataclass(frozen=True)
class Price:
    credits: int = 0
    coins: int = 0

    @property
    def free(self) -> bool:
        return self.credits == 0 and self.coins == 0

    @classmethod
    def of_steps(cls, steps: Sequence[PlannedStep]) -> Price:
        return cls(credits=sum(step.credits for step in steps))

    @classmethod
    def of_model(cls, preset: Preset) -> Price:
        return cls(coins=preset.coins)

    def __str__(self) -> str:
        parts = [f"{self.credits} credit{'s' * (self.credits != 1)}"] if self.credits else []
        parts += [f"{self.coins} coin{'s' * (self.coins != 1)}"] if self.coins else []
        return " and ".join(parts) or "free"


@dataclass(frozen=True)
class Finished:
    """A queued job's result as the web UI shows it (what :class:`ops.pipeline.Processed` gives inline)."""

    encoded: Encoded
    stored: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        return self.stored


#: runs a web-UI job: (input file, planned steps, output options, progress, hints, what its references may read) -> its result
UiRunner = Callable[[str, "Sequence[PlannedStep]", "OutputOptions", "ProgressFn | None", "dict[str, Any] | None", "Resolver"],
                    "Processed | Finished"]  # fmt: skip
