"""Models by name: ``model(name)`` gives a loaded, verified network ready to call, ``use(name, ctx)``
the same for a job step (its int8 mode, its warnings, its work checked). Engines never write a
loader, a manager key or a weights lookup: all of it is derived from the model's ``ModelSpec``.

The network manager (``ops.runtime.manager``) stays the one cache: a model is loaded into it under
a key derived from the spec, its files verified (sha256, or the digest recorded at install) before
the first load in a process."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import StudioError
from ..runtime.manager import measure, network
from ..weights import MissingWeightsError, WeightsSource, entry, require
from ..weights.snapshots import verified_folder
from . import work
from .spec import Built, Files, ModelSpec, Request

if TYPE_CHECKING:
    from ..engines.base import RunContext

MODELS: dict[str, ModelSpec] = {}


class UnknownModelError(StudioError):
    code = "unknown_model"


def declare(*specs: ModelSpec) -> None:
    for spec in specs:
        if spec.name in MODELS:
            raise ValueError(f"model {spec.name!r} declared twice")
        MODELS[spec.name] = spec


def spec_of(name: str) -> ModelSpec:
    if name not in MODELS:
        raise UnknownModelError(f"unknown model {name!r} (one of: {', '.join(MODELS)})")
    return MODELS[name]


@dataclass(frozen=True)
class Ready:
    """A loaded model: ``net`` is what runs (a spandrel network with its backend, an ONNX session,
    a pipeline...), the rest is what a job result says about it."""

    spec: ModelSpec
    source: WeightsSource
    built: Built
    extra_notes: tuple[str, ...] = ()

    @property
    def net(self) -> Any:
        return self.built.net

    @property
    def backend(self) -> str | None:
        return self.built.backend

    @property
    def notes(self) -> tuple[str, ...]:
        return self.built.notes + self.extra_notes

    @property
    def weights(self) -> str:
        """The weights that ran, in words for the job details."""
        source = self.source
        return source.weights + (f" blended {source.blend:g} with {source.blend_with}" if source.blend_with else "")


def unavailable_reason(name: str) -> str | None:
    """None when the model can load here, else how to install it."""
    return spec_of(name).unavailable_reason()


def key(spec: ModelSpec, source: WeightsSource, variant: Mapping[str, Any], int8: bool) -> str:
    """The network manager's key: the loader kind and the weights, then what makes another network
    of the same weights (a blend, the optional files present, a variant, the int8 copy)."""
    parts = f"{spec.loader.kind}:{source.weights}"
    if source.blend_with:
        parts += f"+{source.blend_with}@{source.blend:g}"
    if spec.optional:
        parts += ":" + "+".join(sorted(spec.files(source)))
    if variant:
        parts += ":" + ",".join(f"{k}={v}" for k, v in sorted(variant.items()))
    return parts + ("+int8" if int8 and spec.precision.int8 else "")


def verified(spec: ModelSpec, source: WeightsSource) -> Files:
    """The source's files, each checked against its digest (hashed once per process per file
    version): a missing or damaged file raises, naming the command that installs it."""
    weights = entry(source.weights)
    if weights.folder:
        return Files(folder=verified_folder(weights))
    wanted = spec.files(source)
    paths = {source.weights: require(weights.model_copy(update={"files": tuple(f for f in weights.files if f.file in wanted)}))}
    if source.blend_with:
        paths[source.blend_with] = require(entry(source.blend_with))
    return Files(paths)


def model(name: str, *, int8: bool = False, source: WeightsSource | None = None, **variant: Any) -> Ready:
    """``name`` loaded (once, by the network manager) from its best installed weights, or from
    ``source``, one of its own (to compare them). ``int8``: the opt-in speed mode; a model without
    one runs as usual and its notes say so."""
    spec = spec_of(name)
    for option, value in variant.items():
        if value not in spec.variants.get(option, ()):
            raise ValueError(f"{name}: {option}={value!r} is not one of its variants {dict(spec.variants)}")
    if source is not None and source not in spec.sources:
        raise ValueError(f"{name} does not load from {source}")
    source = source or spec.source()
    if source is None:
        raise MissingWeightsError(spec.unavailable_reason() or name)
    wants8 = int8 and spec.precision.int8

    def load() -> Ready:
        return Ready(spec, source, spec.loader.load(Request(spec, source, verified(spec, source), variant, wants8)))

    ready = network(key(spec, source, variant, wants8), load, _bytes)
    if int8 and not spec.precision.int8:
        ready = dataclasses.replace(ready, extra_notes=(f"the int8 speed mode asked for does not apply to {name}; it ran at full precision",))
    return ready


def use(name: str, ctx: RunContext, *, pixels: float = 0, calls: float = 1, **variant: Any) -> Ready:
    """``model`` for a job step: in its int8 mode, its notes (and licence notice) warned, and its work
    (``pixels`` input pixels a call, ``calls`` calls) refused when over ``STUDIO_MAX_JOB_SECONDS``,
    before loading where the spec declares its FLOPs."""
    spec = spec_of(name)
    counted = pixels and spec.work.scales
    if counted and spec.work.flops_per_pixel is not None:
        work.check(spec, spec.work.flops_per_pixel * pixels * calls, ctx.run.max_job_seconds)
    ready = model(name, int8=ctx.int8, **variant)
    if counted and spec.work.flops_per_pixel is None and ready.built.flops_per_pixel is not None:
        work.check(spec, ready.built.flops_per_pixel * pixels * calls, ctx.run.max_job_seconds)
    for note in ready.notes + ((spec.notice,) if spec.notice else ()):
        ctx.warn(note)
    return ready


def _bytes(ready: Ready) -> int:
    return ready.built.nbytes if ready.built.nbytes is not None else measure(ready.net)
