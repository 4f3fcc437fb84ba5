"""What this process may use and where its files are, set once by the door that starts it.

The CLI, the server, a job worker and the web app each read their settings once and hand this
part to ``configure``; the image core, the network manager, the memory budget, the weights store
and the compiled cache read it here. Nothing below the doors reads the environment, so a test (or
a library user) describes a process by building a ``Host``, not by changing variables. Until a
door configures it, a process runs on the defaults, exactly as a fresh ``Settings()`` without
``STUDIO_*`` variables would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .settings import Settings


@dataclass(frozen=True)
class Host:
    """The process-wide part of the settings (each field documented in ``ops.settings.Settings``)."""

    # images
    max_pixels: int = 100_000_000
    max_bytes: int = 64 * 1024 * 1024
    max_side: int = 65_500
    max_metadata_bytes: int = 1024 * 1024
    default_quality: int = 92
    memory_budget_bytes: int | None = None
    memory_wait_seconds: float = 30
    # files
    data_dir: Path = Path("data")
    checkpoints: Path | None = None
    compiled_cache_bytes: int = 2 << 30
    # networks: one copy per process, shared by every job, so how they run is the process's choice
    device: Literal["auto", "cpu"] = "auto"
    fp16: bool = True
    max_loaded_networks: int = 2
    max_network_bytes: int | None = None
    backend: str = "auto"
    backend_min_psnr: float = 50.0
    segmenter_backend: str = "auto"
    segmenter_min_iou: float = 0.99
    zero_gpu: bool = False

    @classmethod
    def of(cls, settings: Settings) -> Host:
        return cls(**{field.name: getattr(settings, field.name) for field in dataclasses.fields(cls)})

    @property
    def compiled_dir(self) -> Path:
        """Converted networks and OpenVINO kernels (bounded by ``compiled_cache_bytes``)."""
        return self.data_dir / "compiled"


_current = Host()
_listeners: list[Callable[[Host], None]] = []


def host() -> Host:
    return _current


def configure(new: Host | Settings) -> Host:
    """Make ``new`` this process's host (a door calls this once, with its settings); parts that
    size themselves from it (the memory budget, Pillow's bomb guard, the device) are told."""
    global _current
    _current = new if isinstance(new, Host) else Host.of(new)
    for listener in _listeners:
        listener(_current)
    return _current


def on_configure(listener: Callable[[Host], None]) -> Callable[[Host], None]:
    """Register ``listener`` to follow the host (called now and on every ``configure``)."""
    _listeners.append(listener)
    listener(_current)
    return listener


@contextmanager
def configured(**changes: object) -> Iterator[Host]:
    """The current host with ``changes``, for the length of a ``with`` block (tests, benches)."""
    before = _current
    try:
        yield configure(dataclasses.replace(before, **changes))  # type: ignore[arg-type]
    finally:
        configure(before)

