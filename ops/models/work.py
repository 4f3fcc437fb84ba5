"""``STUDIO_MAX_JOB_SECONDS``: model work estimated over the limit on this device is refused before
it starts, with the same message for every model (the upscalers' estimate is their own measured
speed; the others' is their FLOPs at the rate a convolutional network sustains here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import WorkLimitError

if TYPE_CHECKING:
    from .spec import ModelSpec

#: FLOP/s a convolutional network sustains in fp32 (DESIGN.md: conv3x3 112-350 GFLOP/s on these CPUs
#: without and with AMX; a CUDA card in fp16 some tens of TFLOP/s peak): the lower end, so a refusal
#: is for work that is really too long
SUSTAINED = {"cpu": 100e9, "cuda": 10e12}


def seconds_for(flops: float, device_type: str) -> float:
    return flops / SUSTAINED.get(device_type, SUSTAINED["cpu"])


def check(spec: ModelSpec, flops: float, limit: float, seconds: float | None = None, device_type: str | None = None) -> None:
    """Refuse ``flops`` of ``spec``'s work (taking ``seconds`` when measured, else at the sustained rate)
    when it would run past ``limit`` seconds (the job's ``max_job_seconds``)."""
    if device_type is None:
        from ..runtime.device import device

        device_type = device().type
    seconds = seconds_for(flops, device_type) if seconds is None else seconds
    if seconds > limit:
        instead = f", {spec.work.faster}" if spec.work.faster else ""
        raise WorkLimitError(
            f"{spec.name} would need about {flops / 1e12:.1f} TFLOP, roughly {seconds / 60:.0f} min on this "
            f"{device_type.upper()} (limit {limit:.0f} s, STUDIO_MAX_JOB_SECONDS): use a smaller image{instead}"
        )
