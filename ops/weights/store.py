"""Where weight files are, whether they are intact, and the error that says how to get them."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import EngineUnavailableError
from ..settings import get_settings
from .manifest import DEFAULT_MANIFEST, ModelEntry, WeightFile

DEFAULT_FOLDER = DEFAULT_MANIFEST.parent
_verified: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256, so big files hash once


class MissingWeightsError(EngineUnavailableError):
    code = "weights_missing"


def folders() -> list[Path]:
    """Search order: $STUDIO_CHECKPOINTS, then the repository's checkpoints/."""
    extra = get_settings().checkpoints
    return ([extra] if extra else []) + [DEFAULT_FOLDER]


def install_folder() -> Path:
    return folders()[0]


def find(weight: WeightFile) -> Path | None:
    """The first present copy whose size matches (cheap; the hash is checked on use)."""
    for folder in folders():
        path = folder / weight.file
        if path.is_file() and (weight.size is None or path.stat().st_size == weight.size):
            return path
    return None


def installed(model: ModelEntry) -> bool:
    if model.folder:
        return find_folder(model) is not None
    return all(find(f) is not None for f in model.files)


def find_folder(model: ModelEntry) -> Path | None:
    """A hub snapshot is installed when its folder holds the pipeline's index."""
    for folder in folders():
        path = folder / (model.folder or "")
        if (path / "model_index.json").is_file():
            return path
    return None


def sha256_of(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _verified[key] = digest.hexdigest()
    return _verified[key]


def require(model: ModelEntry) -> dict[str, Path]:
    """Paths of all the model's files, verified by sha256; a clear error when missing or damaged."""
    paths: dict[str, Path] = {}
    for weight in model.files:
        path = find(weight)
        if path is None:
            raise MissingWeightsError(not_installed(model))
        if weight.sha256 and sha256_of(path) != weight.sha256:
            raise MissingWeightsError(
                f"{path} does not match its sha256 in the manifest (damaged or replaced): "
                f"delete it and run `python -m ops models fetch {model.name}`"
            )
        paths[weight.file] = path
    return paths


def missing_reason(name: str) -> str | None:
    """None when the named model is installed, else the sentence that says how to install it
    (what engines answer as their ``unavailable_reason``)."""
    from .manifest import entry

    model = entry(name)
    return None if installed(model) else not_installed(model)


def not_installed(model: ModelEntry) -> str:
    return f"model {model.name} is not installed: run `python -m ops models fetch {model.name}`"
