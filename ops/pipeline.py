"""One image through a planned job: decode, run the chain, encode. Used by CLI, app and API alike."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import chain
from .chain import ChainResult, PlannedStep
from .engines.base import ProgressFn, Resolver
from .errors import InputError
from .imageio import Encoded, OutputFormat, encode, probe, read_bytes, read_image
from .memory import DECODE_BYTES_PER_PIXEL, OUTPUT_BYTES_PER_PIXEL, budget
from .runtime.zerogpu import gpu_seconds, run_model_work


@dataclass(frozen=True)
class OutputOptions:
    format: OutputFormat | None = None  # None: the chain's choice, else the input's format
    quality: int | None = None
    keep_exif: bool = False  # spec 002 "exif"
    dpi: int | None = None  # spec 002 "DPI"


@dataclass(frozen=True)
class Processed:
    encoded: Encoded
    result: ChainResult
    input_bytes: int
    input_size: tuple[int, int]
    encode_seconds: float = 0.0  # writing the file is part of the work a person waits for

    @property
    def warnings(self) -> list[str]:
        return self.result.warnings + [w for w in self.encoded.warnings if w not in self.result.warnings]

    @property
    def engines(self) -> list[str]:
        return [s.engine for s in self.result.steps]

    def summary(self) -> dict[str, Any]:
        return {
            "input_bytes": self.input_bytes,
            "output_bytes": len(self.encoded.data),
            "input_size": list(self.input_size),
            "output_size": [self.encoded.width, self.encoded.height],
            "format": self.encoded.format,
            "encode_seconds": self.encode_seconds,
            "seconds": round(sum(step.seconds for step in self.result.steps) + self.encode_seconds, 4),
            "steps": [step.model_dump(mode="json") for step in self.result.steps],
            "warnings": self.warnings,
        }


def enlargement(steps: Sequence[PlannedStep]) -> int:
    """How many times wider the chain's result is than its input."""
    return math.prod(step.operation.enlargement(step.params) for step in steps)


def memory_needed(size: tuple[int, int], steps: Sequence[PlannedStep]) -> int:
    pixels = size[0] * size[1]
    return pixels * DECODE_BYTES_PER_PIXEL + pixels * enlargement(steps) ** 2 * OUTPUT_BYTES_PER_PIXEL


def process(
    source: bytes | str | Path,
    steps: Sequence[PlannedStep],
    options: OutputOptions = OutputOptions(),
    progress: ProgressFn | None = None,
    resolve: Resolver | None = None,
    hints: dict[str, object] | None = None,
    memory_wait: float | None = None,
) -> Processed:
    """The whole job inside one reservation of the memory budget (sized from the header)."""
    data = source if isinstance(source, bytes) else read_bytes(Path(source))
    width, height, _ = probe(data)
    with budget().reserve(memory_needed((width, height), steps), memory_wait, what=f"a {width}x{height} image"):
        work = lambda: _process(data, steps, options, progress, resolve, hints)  # noqa: E731
        if not any(step.engine.uses_device for step in steps):
            return work()
        return run_model_work(work, gpu_seconds((width, height), steps, enlargement(steps)))  # a ZeroGPU slice on such a Space


def _process(
    source: bytes,
    steps: Sequence[PlannedStep],
    options: OutputOptions,
    progress: ProgressFn | None,
    resolve: Resolver | None,
    hints: dict[str, object] | None,
) -> Processed:
    picture = read_image(source)
    result = chain.run(picture, steps, progress, resolve, hints)
    produced = result.picture.target_format
    if options.format and produced and options.format != produced:
        raise InputError(
            f"the job produces {produced.upper()} but the output was asked to be {options.format.upper()}; "
            "name the output accordingly"
        )
    started = time.perf_counter()
    encoded = encode(result.picture, options.format, options.quality, options.keep_exif, options.dpi)
    return Processed(encoded, result, picture.source_bytes or 0, (picture.width, picture.height), round(time.perf_counter() - started, 4))
