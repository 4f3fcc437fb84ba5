"""Jobs: a list of operations run in order, each step's output feeding the next.

Planning validates every step (parameters and engines) before any pixel is touched, and
reports all problems of all steps at once; running records, per step, what really happened.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .engines import Engine, RunContext, choose
from .engines.base import ProgressFn, Resolver
from .errors import ParamValidationError, ProcessingError, StudioError, UnknownOperationError, Violation
from .imageio import Picture
from .operation import Operation
from .params import Params, violations_from
from .registry import get_model, get_operation
from .run_config import RunConfig
from .runtime.manager import DEVICE_SLOT

log = logging.getLogger(__name__)


class StepRequest(BaseModel):
    """One step as the REST API (spec 000) and the CLI express it."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(description="Operation name.", json_schema_extra=lambda schema: schema.update(enum=list(_operation_names())))
    params: dict[str, Any] = Field(default_factory=dict)
    engine: str = Field("auto", description="Engine name, or auto for the best that can run here.")
    fallback: bool | list[str] = Field(
        False, description="If the named engine cannot run here: true runs the best that can, a list tries those engines first (with a warning)."
    )
    speed: Literal["exact", "int8"] | None = Field(
        None,
        description="How networks run on a CPU. exact: the fastest backend within backend_min_psnr of fp32; int8: the opt-in speed mode "
        "(int8 kernels where they keep >= 38 dB to fp32, up to 1.3x faster than bf16 on AMX, faint blotches on flat areas); unset: the server's int8 setting.",
    )


def _operation_names() -> list[str]:
    from .registry import OPERATIONS

    return list(OPERATIONS)


#: a job that shows the form (what the UI's chain box starts with)
EXAMPLE_CHAIN: list[dict[str, Any]] = [
    {"type": "crop-resize", "params": {"resize": {"width": 800}}},
    {"type": "convert", "params": {"output_format": "webp"}},
]


@dataclass(frozen=True)
class PlannedStep:
    operation: Operation
    params: Params
    engine: Engine
    notes: tuple[str, ...] = ()
    preferred: str | None = None  # the better engine that could not run here (its reason is in ``notes``)
    run: RunConfig = RunConfig()  # how its networks run: the door's configuration, the step's own speed over it

    @property
    def int8(self) -> bool:
        return self.run.int8

    @property
    def credits(self) -> int:
        return self.operation.cost(self.params)


class StepRecord(BaseModel):
    """What one step really did: stored with every job, sent by the APIs, shown by the UI and CLI."""

    model_config = ConfigDict(frozen=True)
    operation: str
    engine: str = Field(description="the engine that ran")
    params: dict[str, Any]
    seconds: float
    input_size: tuple[int, int] | None = None  # None in jobs recorded before sizes were kept
    output_size: tuple[int, int] | None = None
    warnings: list[str] = []
    details: dict[str, Any] = Field({}, description="what exactly ran: weights, device, precision, estimates")
    preferred_engine: str | None = Field(None, description="a better engine that would have run had its weights been installed (the warnings say how)")


@dataclass(frozen=True)
class ChainResult:
    picture: Picture
    steps: list[StepRecord]

    @property
    def warnings(self) -> list[str]:
        return [w for s in self.steps for w in s.warnings]


def plan(steps: Sequence[Mapping[str, Any] | StepRequest], location: str = "operations", run: RunConfig = RunConfig()) -> list[PlannedStep]:
    """Validate a whole job; raise one ParamValidationError naming every bad step and field. ``run``:
    how its networks run (the door's settings; a step's ``speed`` overrides the int8 mode)."""
    if not steps:
        raise ParamValidationError([Violation(location, "at least one operation is required")])
    violations: list[Violation] = []
    validated: list[tuple[Operation, Params, StepRequest, str]] = []
    for i, raw in enumerate(steps):
        where = f"{location}[{i}]"
        try:
            request = raw if isinstance(raw, StepRequest) else StepRequest.model_validate(raw)
        except ValidationError as exc:
            violations += violations_from(exc, where)
            continue
        try:
            operation = get_operation(request.type)
        except UnknownOperationError as exc:
            violations.append(Violation(f"{where}.type", exc.message))
            continue
        try:
            validated.append((operation, operation.validate(request.params, prefix=f"{where}.params"), request, where))
        except ParamValidationError as exc:
            violations += exc.violations
    if violations:
        raise ParamValidationError(violations)
    planned = []
    for operation, params, request, where in validated:
        choice = choose(operation, request.engine, location=f"{where}.engine", fallback=request.fallback)
        planned.append(PlannedStep(operation, params, choice.engine, choice.warnings, choice.preferred, run.with_speed(request.speed)))
    return planned


def plan_one(operation: str, params: Mapping[str, Any], engine: str = "auto", run: RunConfig = RunConfig()) -> list[PlannedStep]:
    """A one-step job, with error locations relative to its own parameters (for the UI)."""
    op = get_operation(operation)
    validated = op.validate(params)
    choice = choose(op, engine)
    return [PlannedStep(op, validated, choice.engine, choice.warnings, choice.preferred, run)]


def plan_model(model_name: str, run: RunConfig = RunConfig()) -> list[PlannedStep]:
    return plan(get_model(model_name).steps, location=f"model {model_name}", run=run)


def model_status(model_name: str) -> str:
    """What a model name runs here, in a line: its engines (with fallbacks), or why it cannot run."""
    try:
        steps = plan_model(model_name)
    except StudioError as exc:
        return f"cannot run here: {exc.message}"
    fallbacks = sum(bool(step.notes) for step in steps)
    engines = " → ".join(step.engine.name for step in steps)
    return f"runs here with {engines}" + (f" ({fallbacks} step(s) on a fallback engine)" if fallbacks else "")


def run(
    picture: Picture,
    steps: Sequence[PlannedStep],
    progress: ProgressFn | None = None,
    resolve: Resolver | None = None,
    hints: dict[str, object] | None = None,
) -> ChainResult:
    records = []
    for index, step in enumerate(steps):
        ctx = RunContext(_scaled(progress, index, len(steps), step.operation.name), resolve, hints, step.operation.enlargement(step.params), step.run)
        for note in (picture.notes if index == 0 else ()) + step.notes:
            ctx.warn(note)
        started = time.perf_counter()
        before = (picture.width, picture.height)
        try:
            with DEVICE_SLOT if step.engine.uses_device else nullcontext():
                picture = step.engine.process(picture, step.params, ctx)
        except StudioError:
            raise
        except MemoryError:
            raise ProcessingError(f"{step.operation.name}: out of memory on a {before[0]}x{before[1]} image") from None
        except Exception as exc:
            log.exception("engine %s failed", step.engine.name)
            raise ProcessingError(
                f"{step.operation.name}: the {step.engine.name} engine failed ({type(exc).__name__}: {exc})"
            ) from exc
        records.append(
            StepRecord(
                operation=step.operation.name,
                engine=step.engine.name,
                params=step.params.model_dump(mode="json", exclude_none=True),
                seconds=round(time.perf_counter() - started, 4),
                input_size=before,
                output_size=(picture.width, picture.height),
                warnings=list(ctx.warnings),
                details=dict(ctx.details),
                preferred_engine=step.preferred,
            )
        )
        ctx.report(1.0, "done")
    return ChainResult(picture, records)


def _scaled(progress: ProgressFn | None, index: int, total: int, name: str) -> ProgressFn | None:
    if progress is None:
        return None

    def report(fraction: float, message: str) -> None:
        progress((index + fraction) / total, f"{name}: {message}" if message else name)

    return report
