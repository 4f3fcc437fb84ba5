"""Which files a command line names, and where each result goes."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

#: folders are scanned for these; single files are decoded by content whatever their name
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif"}


@dataclass(frozen=True)
class Job:
    source: Path
    relative: Path  # where the output goes, relative to the output folder
    missing: bool = False


def collect(arguments: list[str]) -> list[Job]:
    """Expand files, folders (recursively, image suffixes only) and globs, in a stable order."""
    jobs: list[Job] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            jobs += [Job(p, p.relative_to(path)) for p in found if not _hidden(p.relative_to(path))]
        elif path.exists():
            jobs.append(Job(path, Path(path.name)))
        elif glob.has_magic(argument):
            matches = sorted(Path(p) for p in glob.glob(argument, recursive=True))
            jobs += [Job(p, Path(p.name)) for p in matches if p.is_file()]
        else:
            jobs.append(Job(path, Path(path.name), missing=True))
    return _dedupe(jobs)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _dedupe(jobs: list[Job]) -> list[Job]:
    seen: set[Path] = set()
    out = []
    for job in jobs:
        key = job.source.resolve() if not job.missing else job.source
        if key not in seen:
            seen.add(key)
            out.append(job)
    return out


class OutputNamer:
    """Output path per source: same relative path, the written format's suffix, never colliding."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken: set[Path] = set()

    def path_for(self, job: Job, suffix: str) -> Path:
        target = self.folder / job.relative.with_suffix(suffix)
        if target in self.taken:
            original = job.relative.suffix.lstrip(".") or "file"
            target = self.folder / job.relative.with_name(f"{job.relative.stem}-{original}{suffix}")
        self.taken.add(target)
        return target
