from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.runtime.torchvision_compat import install as _install_torchvision_compat
from ops.settings import get_settings

_install_torchvision_compat()  # tests import diffusers/transformers/spandrel directly too
# Tests build many small networks in fresh data folders: choosing a CPU backend by measurement
# for each would cost minutes, so they run the fp32 reference and warm nothing at start-up,
# except where the choice itself is tested (tests/test_backends.py sets STUDIO_BACKEND=auto).
os.environ.setdefault("STUDIO_BACKEND", "torch-fp32")
os.environ.setdefault("STUDIO_WARM_NETWORKS", "")
os.environ.setdefault("STUDIO_SEGMENTER_BACKEND", "onnxruntime")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Settings are read once per process; each test starts from the environment as it is."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def monkeypatch(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """pytest's monkeypatch, with settings re-read whenever a test changes an environment variable."""
    setenv, delenv = monkeypatch.setenv, monkeypatch.delenv

    def set_and_reload(name: str, value: str, prepend: str | None = None) -> None:
        setenv(name, value, prepend)
        get_settings.cache_clear()

    def del_and_reload(name: str, raising: bool = True) -> None:
        delenv(name, raising)
        get_settings.cache_clear()

    monkeypatch.setenv, monkeypatch.delenv = set_and_reload, del_and_reload  # type: ignore[method-assign]
    return monkeypatch


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set STUDIO_* variables for one test: ``limits.setenv("STUDIO_MAX_PIXELS", "100")``."""
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


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
def random_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # noqa: ANN201
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
    monkeypatch.setenv("STUDIO_CHECKPOINTS", str(tmp_path))
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
