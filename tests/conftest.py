from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ops.host import Host, configure, host
from ops.runtime.torchvision_compat import install as _install_torchvision_compat
from ops.settings import Settings

_install_torchvision_compat()  # tests import diffusers/transformers/spandrel directly too
# Tests build many small networks in fresh data folders: choosing a CPU backend by measurement
# for each would cost minutes, so they run the fp32 reference and warm nothing at start-up,
# except where the choice itself is tested (tests/test_backends.py sets STUDIO_BACKEND=auto).
os.environ.setdefault("STUDIO_BACKEND", "torch-fp32")
os.environ.setdefault("STUDIO_WARM_NETWORKS", "")
os.environ.setdefault("STUDIO_SEGMENTER_BACKEND", "onnxruntime")

ROOT = Path(__file__).resolve().parent.parent
SetHost = Callable[..., Host]  # the ``set_host`` fixture
EXAMPLES = ROOT / "examples"


@pytest.fixture(autouse=True)
def _test_host() -> Iterator[None]:
    """Each test starts on the host the test settings describe (the environment above, built into a
    Settings object as a door would) and leaves it so, whatever the test configured."""
    configure(Settings())
    yield
    configure(Settings())


@pytest.fixture
def set_host() -> SetHost:
    """``set_host(max_pixels=100)``: this process's host with those changes, for the rest of the test."""
    return lambda **changes: configure(dataclasses.replace(host(), **changes))


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ops", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def uninstalled(monkeypatch: pytest.MonkeyPatch, engine: str, weights: str | None = None) -> str:
    """``engine`` cannot run for the rest of the test, saying what an engine says when its weights
    (``weights``, by default named as the engine) are missing, whether or not they are installed
    here. Returns that reason."""
    from ops.engines import ENGINES
    from ops.weights import entry
    from ops.weights.store import not_installed

    reason = not_installed(entry(weights or engine))
    monkeypatch.setattr(ENGINES[engine], "unavailable_reason", lambda: reason)
    return reason


@pytest.fixture
def random_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, set_host: SetHost):  # noqa: ANN201
    """``random_weights(name, state)``: install ``state`` as the manifest entry ``name``'s file, with
    its real sha256, so engines load it through the same code as the real file. ``state``: a (random)
    state dict or any object ``torch.save`` writes, or the file's bytes (an ONNX model...). The one
    way tests install made-up weights; ``random_weights.entries`` is the patched manifest."""
    import hashlib

    import torch

    from ops.runtime.manager import NETWORKS
    from ops.weights import WeightFile, manifest

    entries = dict(manifest.load())
    monkeypatch.setattr(manifest, "load", lambda path=None: entries)
    set_host(checkpoints=tmp_path)
    NETWORKS.unload()

    def install(name: str, state: object) -> Path:
        path = tmp_path / entries[name].files[0].file
        if isinstance(state, bytes):
            path.write_bytes(state)
        else:
            torch.save(state, path)
        weight = WeightFile(file=path.name, sha256=hashlib.sha256(path.read_bytes()).hexdigest(), size=path.stat().st_size)
        entries[name] = entries[name].model_copy(update={"files": (weight,)})
        NETWORKS.unload()  # a network already loaded from an earlier install is not reused
        return path

    install.entries = entries  # type: ignore[attr-defined]
    yield install
    NETWORKS.unload()
