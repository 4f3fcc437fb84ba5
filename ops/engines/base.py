"""The engine contract and the engine registry (one instance per engine name)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar

from pydantic import JsonValue, TypeAdapter

from ..imageio import Picture
from ..params import Params
from ..run_config import RunConfig

if TYPE_CHECKING:
    from ..runtime.tiling import TileConfig

ProgressFn = Callable[[float, str], None]
Resolver = Callable[[str], bytes]


def read_local_file(reference: str) -> bytes:
    """The CLI's and the UI's resolver: a reference is a path on this machine."""
    from pathlib import Path

    from ..errors import InputError

    path = Path(reference)
    if not path.is_file():
        raise InputError(f"no such file: {reference}")
    return path.read_bytes()


_JSON_FACTS = TypeAdapter(dict[str, JsonValue])


class RunContext:
    """What an engine may use while it runs: progress reporting and warnings for the job result."""

    def __init__(
        self, progress: ProgressFn | None = None, resolve: Resolver | None = None, hints: dict[str, object] | None = None, enlargement: int = 1,
        run: RunConfig | None = None,
    ) -> None:
        self._progress = progress
        self.run = run or RunConfig()  # how this job's networks run: tile size, int8 mode, work limit (the door's)
        self.enlargement = enlargement  # how many times wider the operation makes the image (its declaration says)
        self.hints = hints or {}  # inputs beyond the spec's parameters, e.g. a subject mask clicked in the UI
        self.resolve = resolve or read_local_file  # storage keys -> bytes (the API passes its own)
        self.warnings: list[str] = []
        self.details: dict[str, object] = {}  # what exactly ran: weights, device, precision, estimates

    @property
    def int8(self) -> bool:
        """The opt-in int8 speed mode for networks on the CPU (ops.runtime.backends)."""
        return self.run.int8

    @property
    def tiles(self) -> TileConfig:
        return self.run.tiles

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def detail(self, **facts: object) -> None:
        """Facts for the job result, which is stored and sent as JSON: plain values only, so a numpy
        scalar or a tuple fails here, in the engine that wrote it, not later when the job is saved."""
        self.details.update(_JSON_FACTS.validate_python(facts, strict=True))

    def report(self, fraction: float, message: str = "") -> None:
        if self._progress:
            self._progress(min(max(fraction, 0.0), 1.0), message)




class Engine(ABC):
    name: ClassVar[str]
    description: ClassVar[str] = ""
    uses_device: ClassVar[bool] = False
    weights: str | None = None  # the manifest entry it needs, if any: missing, it cannot run
    models: ClassVar[tuple[str, ...]] = ()  # the models it runs (ops.models): one that cannot load here and it cannot run
    #: role -> the operation whose best engine does that part of its work (resolved by ``choice.needed``)
    needs: ClassVar[Mapping[str, str]] = MappingProxyType({})
    deblocks: ClassVar[bool] = False  # a blocky input (once a JPEG, any file type now) is deblocked first
    keeps_colour: ClassVar[bool] = False  # the output keeps the input's low-frequency colour (ops.restore.colour)

    def unavailable_reason(self) -> str | None:
        """``None`` when the engine can run here, else why not (e.g. weights missing, how to fetch)."""
        from ..models import unavailable_reason
        from ..weights.store import missing_reason
        from .choice import needs_reason

        reasons = ([missing_reason(self.weights)] if self.weights else []) + [unavailable_reason(name) for name in self.models]
        return next((reason for reason in reasons if reason), None) or needs_reason(self)

    def warm(self, run: RunConfig) -> None:
        """Pay one-time costs (loading, backend choice, compiles) now, off the request path."""
        return None

    def prepare(self, sizes: Sequence[tuple[int, int]], enlargement: int, run: RunConfig) -> None:
        """Pay them for inputs of these (width, height) sizes, e.g. every shape a batch will meet,
        before its first image: no image in the batch then pays a compile."""
        return None

    @abstractmethod
    def run(self, picture: Picture, params: Params, ctx: RunContext) -> Picture: ...

    def process(self, picture: Picture, params: Params, ctx: RunContext) -> Picture:
        """``run`` with the fidelity passes the engine declares (what a job calls): deblocking before,
        the colour fix against the input after."""
        source = picture
        if self.deblocks:
            from ..restore.jpeg import prepass

            picture = prepass(picture, ctx)
        result = self.run(picture, params, ctx)
        if self.keeps_colour:
            from ..restore.colour import keep_colour

            result = keep_colour(result, source, ctx)
        return result


ENGINES: dict[str, Engine] = {}


def register(engine: Engine) -> Engine:
    if engine.name in ENGINES:
        raise ValueError(f"engine {engine.name!r} registered twice")
    ENGINES[engine.name] = engine
    return engine
