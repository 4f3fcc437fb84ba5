"""The network manager: the one place that holds loaded networks, and the one device slot.

Every kind of network the studio runs (spandrel modules, ONNX and rembg sessions, Segment
Anything, diffusers pipelines) is loaded through :func:`network`: engines say how to load it,
the manager decides how long it stays. It keeps at most ``STUDIO_MAX_LOADED_NETWORKS`` networks and
at most ``STUDIO_MAX_NETWORK_BYTES`` of them (RAM, or VRAM on a GPU), unloading the least
recently used first. Nothing else caches a network.

The bytes counted are a network's weights and the **parts** its backend holds beside them
(``charge``): its own copy of the weights (OpenVINO's IR, a bf16 copy), each compiled shape
(kernels and repacked weights) and each shape's activation memory while it is allocated
(OpenVINO keeps it from a shape's first run: 0.77 GB for an x4plus 416 px tile). Over the budget,
the least recently used of the parts that can go alone (compiled shapes, activations) and of the
networks is freed first, never the part being charged nor its network; a freed part is rebuilt
on its next use (a shape reloads from the compiled cache on disk). When a tiled pass ends,
``idle`` frees every activation not running (reallocated by the next run in a few ms).

Model work of every door (REST workers, web-UI runs, click-to-select) takes turns on the device
through :data:`DEVICE_SLOT`; free operations never wait on it.
"""

from __future__ import annotations

import contextvars
import gc
import itertools
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..host import host

log = logging.getLogger(__name__)
T = TypeVar("T")

#: model work shares one device: the UI queue and the job workers take turns here
DEVICE_SLOT = threading.BoundedSemaphore(1)


_uses = itertools.count()  # the order of uses, for least recently used
_building: contextvars.ContextVar[str | None] = contextvars.ContextVar("network being loaded", default=None)


@dataclass
class Part:
    """Memory a network's backend holds beside its weights (see the module docstring)."""

    nbytes: int
    release: Callable[[], None] | None = None  # frees it alone (None: it goes with its network only)
    transient: bool = False  # needed only while running (activations): ``idle`` frees it
    used: int = field(default_factory=lambda: next(_uses))


@dataclass
class Loaded:
    key: str
    network: Any
    nbytes: int
    seconds: float  # how long loading took
    parts: dict[Hashable, Part] = field(default_factory=dict)
    used: int = field(default_factory=lambda: next(_uses))

    @property
    def total(self) -> int:
        return self.nbytes + sum(part.nbytes for part in self.parts.values())


def building() -> str | None:
    """The key of the network this thread is loading: a backend built inside ``load()`` charges
    what it holds to it (None outside a load: nothing is counted)."""
    return _building.get()


class NetworkManager:
    def __init__(self) -> None:
        self._loaded: OrderedDict[str, Loaded] = OrderedDict()
        self._pending: dict[str, dict[Hashable, Part]] = {}  # parts charged while their network loads
        self._lock = threading.RLock()  # re-entered when dropping a network discharges its parts
        self._loading: dict[str, threading.Lock] = {}

    def get(self, key: str, load: Callable[[], T], nbytes: Callable[[T], int] | None = None) -> T:
        """The network under ``key``, loaded by ``load()`` on first use (once, even when asked by
        several threads at the same moment)."""
        with self._lock:
            if key in self._loaded:
                return self._use(key).network
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._loaded:
                    return self._use(key).network
            self._make_room(incoming=1)
            started = time.perf_counter()
            token = _building.set(key)
            try:
                network = load()
            except BaseException:
                with self._lock:
                    self._pending.pop(key, None)
                raise
            finally:
                _building.reset(token)
            size = (nbytes or measure)(network)
            with self._lock:
                loaded = self._loaded[key] = Loaded(key, network, size, time.perf_counter() - started, self._pending.pop(key, {}))
                dropped = self._evict(keep=(key, None))
            self._free(dropped)
            log.info("loaded %s (%.0f MB, %.0f MB with what its backend holds) in %.1f s", key, size / 1e6, loaded.total / 1e6, time.perf_counter() - started)
            return network

    def charge(self, owner: str | None, name: Hashable, nbytes: int, release: Callable[[], None] | None = None, transient: bool = False) -> None:
        """Count ``nbytes`` that network ``owner`` holds as ``name`` (charged again: its new size),
        used now; then free the least recently used until the budget holds, never this part."""
        if owner is None:
            return
        with self._lock:
            if owner in self._loaded:
                holder = self._loaded[owner].parts
            elif _building.get() == owner:
                holder = self._pending.setdefault(owner, {})
            else:  # unloaded meanwhile: what is left goes when its last user lets go
                return
            holder[name] = Part(max(0, int(nbytes)), release, transient)
            if owner in self._loaded:
                self._use(owner)
            dropped = self._evict(keep=(owner, name))
        self._free(dropped)

    def touch(self, owner: str | None, name: Hashable) -> None:
        """Part ``name`` of ``owner`` was used now (it and its network become the most recent)."""
        if owner is None:
            return
        with self._lock:
            loaded = self._loaded.get(owner)
            part = loaded.parts.get(name) if loaded else self._pending.get(owner, {}).get(name)
            if part is not None:
                part.used = next(_uses)
            if loaded is not None:
                self._use(owner)

    def discharge(self, owner: str | None, name: Hashable) -> None:
        """Part ``name`` of ``owner`` was freed by its backend: no longer counted."""
        if owner is None:
            return
        with self._lock:
            loaded = self._loaded.get(owner)
            (loaded.parts if loaded else self._pending.get(owner, {})).pop(name, None)

    def idle(self) -> None:
        """Work on the networks paused (a tiled pass ended): free what only running needs."""
        with self._lock:
            dropped = [(loaded.key, name, loaded.parts.pop(name)) for loaded in self._loaded.values() for name, part in list(loaded.parts.items()) if part.transient]
        self._free(([], dropped))

    def parts(self, key: str) -> dict[Hashable, int]:
        """Bytes of each part network ``key`` holds beside its weights."""
        with self._lock:
            loaded = self._loaded.get(key)
            return {name: part.nbytes for name, part in loaded.parts.items()} if loaded else {}

    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._loaded)

    def total_bytes(self) -> int:
        """Bytes counted against ``STUDIO_MAX_NETWORK_BYTES``: weights and what backends hold beside them."""
        with self._lock:
            return sum(item.total for item in self._loaded.values())

    def unload(self, key: str | None = None) -> None:
        """Unload one network, or all of them."""
        with self._lock:
            gone = [self._loaded.pop(name, None) for name in ([key] if key else list(self._loaded))]
        del gone  # dropped outside the lock: their backends discharge their parts as they go
        _release()

    def _make_room(self, incoming: int) -> None:
        """Before a load: unload until the count leaves room for it (its size is known only after)."""
        with self._lock:
            gone = []
            while self._loaded and len(self._loaded) + incoming > host().max_loaded_networks:
                gone.append(self._loaded.popitem(last=False)[1])
        if gone:
            del gone
            _release()

    def _use(self, key: str) -> Loaded:
        """Called with the lock held: ``key`` is the most recently used network."""
        self._loaded.move_to_end(key)
        loaded = self._loaded[key]
        loaded.used = next(_uses)
        return loaded

    def _evict(self, keep: tuple[str, Hashable | None]) -> tuple[list[Loaded], list[tuple[str, Hashable, Part]]]:
        """Called with the lock held: until the count and the budget hold, take out the least
        recently used network or part that can go alone, never ``keep`` (a network and one of its
        parts, or None) nor its network. Returns what went, to be freed outside the lock."""
        settings = host()
        budget = settings.max_network_bytes or default_budget()
        networks: list[Loaded] = []
        parts: list[tuple[str, Hashable, Part]] = []
        owner = keep[0]
        pending = sum(part.nbytes for waiting in self._pending.values() for part in waiting.values())
        while True:
            total = sum(item.total for item in self._loaded.values()) + pending
            too_many = len(self._loaded) > settings.max_loaded_networks
            if not too_many and total <= budget:
                break
            candidates: list[tuple[int, str, Hashable | None]] = [(item.used, key, None) for key, item in self._loaded.items() if key != owner]
            if not too_many:
                candidates += [
                    (part.used, key, name) for key, item in self._loaded.items() for name, part in item.parts.items()
                    if part.release is not None and (key, name) != keep
                ]  # fmt: skip
            if not candidates:
                break
            _, key, name = min(candidates, key=lambda c: c[0])
            if name is None:
                log.info("unloading %s (least recently used)", key)
                networks.append(self._loaded.pop(key))
            else:
                part = self._loaded[key].parts.pop(name)
                log.info("freeing %s of %s (%.0f MB, least recently used)", name, key, part.nbytes / 1e6)
                parts.append((key, name, part))
        return networks, parts

    def _free(self, dropped: tuple[list[Loaded], list[tuple[str, Hashable, Part]]]) -> None:
        """Outside the lock: release the parts taken out (a backend may take its own locks), and
        hand freed memory back to the system."""
        networks, parts = dropped
        for _key, _name, part in parts:
            if part.release is not None:
                part.release()
        if networks or parts:
            networks.clear()
            threading.Thread(target=_release, daemon=True).start()


def measure(network: Any) -> int:
    """Bytes of parameters and buffers of torch modules, wherever the network keeps them."""
    import torch

    modules: list[torch.nn.Module] = []
    if isinstance(network, torch.nn.Module):
        modules.append(network)
    for attribute in ("module", "model"):  # our LoadedNetwork, SamPredictor
        inner = getattr(network, attribute, None)
        if isinstance(inner, torch.nn.Module):
            modules.append(inner)
    for component in getattr(network, "components", {}).values() if isinstance(getattr(network, "components", None), dict) else ():
        if isinstance(component, torch.nn.Module):  # diffusers pipelines
            modules.append(component)
    return sum(t.numel() * t.element_size() for m in modules for t in [*m.parameters(), *m.buffers()])


def file_bytes(*paths: os.PathLike[str]) -> Callable[[Any], int]:
    """For sessions whose memory is their weight files (ONNX): the files' sizes."""
    total = sum(os.path.getsize(p) for p in paths)
    return lambda _network: total


def default_budget() -> int:
    """A quarter of the memory the networks live in: the GPU's when one is used, else RAM.
    (Asked without importing torch: ONNX-only work should not pay its 150 MB.)"""
    if _torch_on_cuda():
        import torch

        return torch.cuda.get_device_properties(0).total_memory // 4
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4


def _torch_on_cuda() -> bool:
    if "torch" not in sys.modules:
        return False
    from .device import device

    return device().type == "cuda"


def _release() -> None:
    gc.collect()
    if _torch_on_cuda():
        import torch

        torch.cuda.empty_cache()
    from ..memory import release_free_memory

    release_free_memory()


NETWORKS = NetworkManager()
network = NETWORKS.get
