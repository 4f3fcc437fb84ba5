"""The network manager: the one place that holds loaded networks, and the one device slot.

Every kind of network the studio runs (spandrel modules, ONNX and rembg sessions, Segment
Anything, diffusers pipelines) is loaded through :func:`network`: engines say how to load it,
the manager decides how long it stays. It keeps at most ``STUDIO_MAX_LOADED_NETWORKS`` networks and
at most ``STUDIO_MAX_NETWORK_BYTES`` of them (RAM, or VRAM on a GPU), unloading the least
recently used first. Nothing else caches a network.

Model work of every door (REST workers, web-UI runs, click-to-select) takes turns on the device
through :data:`DEVICE_SLOT`; free operations never wait on it.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..settings import get_settings

log = logging.getLogger(__name__)
T = TypeVar("T")

#: model work shares one device: the UI queue and the job workers take turns here
DEVICE_SLOT = threading.BoundedSemaphore(1)


@dataclass
class Loaded:
    key: str
    network: Any
    nbytes: int
    seconds: float  # how long loading took


class NetworkManager:
    def __init__(self) -> None:
        self._loaded: OrderedDict[str, Loaded] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, key: str, load: Callable[[], T], nbytes: Callable[[T], int] | None = None) -> T:
        """The network under ``key``, loaded by ``load()`` on first use (once, even when asked by
        several threads at the same moment)."""
        with self._lock:
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return self._loaded[key].network
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._loaded:
                    self._loaded.move_to_end(key)
                    return self._loaded[key].network
            self._make_room(incoming=1)
            started = time.perf_counter()
            network = load()
            size = (nbytes or measure)(network)
            with self._lock:
                self._loaded[key] = Loaded(key, network, size, time.perf_counter() - started)
                self._evict(keep=key)
            log.info("loaded %s (%.0f MB) in %.1f s", key, size / 1e6, time.perf_counter() - started)
            return network

    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._loaded)

    def total_bytes(self) -> int:
        with self._lock:
            return sum(item.nbytes for item in self._loaded.values())

    def unload(self, key: str | None = None) -> None:
        """Unload one network, or all of them."""
        with self._lock:
            for name in [key] if key else list(self._loaded):
                self._loaded.pop(name, None)
        _release()

    def _make_room(self, incoming: int) -> None:
        """Before a load: unload until the count leaves room for it (its size is known only after)."""
        with self._lock:
            dropped = False
            while self._loaded and len(self._loaded) + incoming > get_settings().max_loaded_networks:
                self._loaded.popitem(last=False)
                dropped = True
        if dropped:
            _release()

    def _evict(self, keep: str) -> None:
        """Called with the lock held: least recently used first, never the one just loaded."""
        settings = get_settings()
        budget = settings.max_network_bytes or default_budget()
        dropped = False
        while len(self._loaded) > 1 and (
            len(self._loaded) > settings.max_loaded_networks or sum(item.nbytes for item in self._loaded.values()) > budget
        ):
            oldest = next(name for name in self._loaded if name != keep)
            log.info("unloading %s (least recently used)", oldest)
            del self._loaded[oldest]
            dropped = True
        if dropped:
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
