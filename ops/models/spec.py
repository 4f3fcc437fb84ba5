"""What a model is, declared once (``ops.models.declarations``): its weights, how it loads, its
precision options, its work. The network manager's key, the verification of its files, the int8
handling, the licence notice and the job-seconds check are all derived from this, never written
by an engine (in the spirit of spandrel's descriptors and IOPaint's model classes)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..weights import WeightsSource, entry, find, installed
from ..weights.store import not_installed


@dataclass(frozen=True)
class Precision:
    """What a model may run in besides fp32."""

    half: bool = False  # fp16 on CUDA (where the architecture supports it too)
    int8: bool = False  # the opt-in int8 speed mode: the backend choice measures OpenVINO int8 for it


@dataclass(frozen=True)
class Work:
    """How much one call of the model costs, for the ``STUDIO_MAX_JOB_SECONDS`` check."""

    flops_per_pixel: float | None = None  # per input pixel of one call; None: counted on the network as it loads
    scales: bool = True  # False: it sees a fixed size whatever the picture (a segmenter's 320 px): bounded, never refused
    faster: str | None = None  # what a refusal suggests instead


@dataclass(frozen=True)
class Files:
    """A model's verified files: per manifest entry, its files by name; or a hub snapshot's folder."""

    paths: Mapping[str, Mapping[str, Path]] = field(default_factory=dict)
    folder: Path | None = None

    def of(self, weights: str) -> Mapping[str, Path]:
        return self.paths[weights]

    def first(self) -> Path:
        """The one file of a single-file model."""
        return next(iter(next(iter(self.paths.values())).values()))


@dataclass(frozen=True)
class Built:
    """What a loader made: the network and what the job result says about it."""

    net: Any
    backend: str | None = None  # how it runs (a CPU backend chosen by measurement, onnxruntime...); None: the engine says
    notes: tuple[str, ...] = ()  # for the job's warnings, e.g. why the int8 mode asked for did not run
    flops_per_pixel: float | None = None  # counted on the network as it loaded (``Work.flops_per_pixel`` unset)
    nbytes: int | None = None  # memory it holds when that is its files (ONNX, dlib); None: its torch tensors


@dataclass(frozen=True)
class Request:
    """One load: the spec, the weights chosen, their verified files, the variant and the int8 mode."""

    spec: ModelSpec
    source: WeightsSource
    files: Files
    variant: Mapping[str, Any]
    int8: bool


class Loader(ABC):
    """How one kind of model loads (spandrel, ONNX, rembg, dlib, diffusers, SAM, our own modules).
    Heavy libraries are imported inside ``load``: declaring models costs nothing."""

    kind: ClassVar[str]  # the manager key's prefix

    @abstractmethod
    def load(self, request: Request) -> Built: ...


@dataclass(frozen=True)
class ModelSpec:
    name: str
    sources: tuple[WeightsSource, ...]  # best first: the first installed one loads
    loader: Loader
    precision: Precision = Precision()
    work: Work = Work()
    variants: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)  # allowed values, e.g. {"level": (0, 1, 2, 3)}
    optional: tuple[str, ...] = ()  # files of the entry loaded only when installed (dlib's descriptor)

    def source(self) -> WeightsSource | None:
        """The weights that load here: the best installed source."""
        return next((source for source in self.sources if self._installed(source)), None)

    def unavailable_reason(self) -> str | None:
        """None when it can load here, else how to install it (naming the last source: the one
        the setup installs where there is one)."""
        return None if self.source() is not None else not_installed(entry(self.sources[-1].weights))

    @property
    def notice(self) -> str | None:
        """A licence restriction every result made with it carries (from the manifest)."""
        return entry(self.sources[0].weights).notice

    def files(self, source: WeightsSource) -> tuple[str, ...]:
        """The files of ``source``'s main entry that load: all but the optional ones not installed."""
        return tuple(f.file for f in entry(source.weights).files if f.file not in self.optional or find(f) is not None)

    def _installed(self, source: WeightsSource) -> bool:
        if not self.optional:
            return source.installed()
        weights = entry(source.weights)
        return all(find(f) is not None for f in weights.files if f.file not in self.optional) and (
            source.blend_with is None or installed(entry(source.blend_with))
        )
