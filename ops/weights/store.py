"""Where weight files are, whether they are intact, and the error that says how to get them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import EngineUnavailableError
from ..host import host
from .manifest import DEFAULT_MANIFEST, WeightFile, Weights

DEFAULT_FOLDER = DEFAULT_MANIFEST.parent
_verified: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256, so big files hash once


class MissingWeightsError(EngineUnavailableError):
    code = "weights_missing"


def folders() -> list[Path]:
    """Search order: $STUDIO_CHECKPOINTS, then the repository's checkpoints/."""
    extra = host().checkpoints
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


def installed(weights: Weights) -> bool:
    if weights.folder:
        return find_folder(weights) is not None
    return all(find(f) is not None for f in weights.files)


def find_folder(weights: Weights) -> Path | None:
    """A hub snapshot is installed when its folder holds its marker file (a pipeline's index)."""
    for folder in folders():
        path = folder / (weights.folder or "")
        if (path / weights.marker).is_file():
            return path
    return None


def sha256_of(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        with path.open("rb") as handle:
            _verified[key] = hashlib.file_digest(handle, "sha256").hexdigest()
    return _verified[key]


VERIFIED = ".verified-sha256.json"  # per folder: sha256 of files whose upstream publishes only an md5


def recorded_sha256(path: Path) -> str | None:
    try:
        return json.loads((path.parent / VERIFIED).read_text()).get(path.name)
    except (OSError, ValueError):
        return None


def record_verified(path: Path, digest: str) -> None:
    """Remember the sha256 of a file that passed its md5 and size check, for every later check."""
    book = path.parent / VERIFIED
    try:
        known = json.loads(book.read_text())
    except (OSError, ValueError):
        known = {}
    known[path.name] = digest
    partial = book.with_suffix(".tmp")
    partial.write_text(json.dumps(known, indent=1, sort_keys=True))
    partial.replace(book)


def expected_sha256(weight: WeightFile, path: Path) -> str | None:
    """The manifest's sha256, else the one recorded when an md5-only file was verified (checking
    the md5 first if it never was)."""
    if weight.sha256:
        return weight.sha256
    recorded = recorded_sha256(path)
    if recorded is None and weight.md5 and md5_of(path) == weight.md5:
        record_verified(path, recorded := sha256_of(path))
    return recorded


def md5_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()


def require(weights: Weights) -> dict[str, Path]:
    """Paths of all the files of ``weights``, verified by checksum; a clear error when missing or damaged."""
    paths: dict[str, Path] = {}
    for weight in weights.files:
        path = find(weight)
        if path is None:
            raise MissingWeightsError(not_installed(weights))
        expected = expected_sha256(weight, path)
        if expected is None and (weight.md5 or weight.url):
            raise MissingWeightsError(f"{path} cannot be verified (no checksum matches it): delete it and run `python -m ops weights fetch {weights.name}`")
        if expected and sha256_of(path) != expected:
            raise MissingWeightsError(
                f"{path} does not match its sha256 in the manifest (damaged or replaced): "
                f"delete it and run `python -m ops weights fetch {weights.name}`"
            )
        paths[weight.file] = path
    return paths


def missing_reason(name: str) -> str | None:
    """None when the named weights are installed, else the sentence that says how to install it
    (what engines answer as their ``unavailable_reason``)."""
    from .manifest import entry

    weights = entry(name)
    return None if installed(weights) else not_installed(weights)


def not_installed(weights: Weights) -> str:
    return f"weights {weights.name} are not installed: run `python -m ops weights fetch {weights.name}`"
