"""Hugging Face snapshots (pipeline folders) verified file by file, like single weight files.

At install every file of the folder is hashed and its sha256 recorded in the folder's
``.verified-sha256.json``, after checking it against the digest the Hub gave for it (the LFS
sha256 of large files, the git blob id of small ones, which huggingface_hub keeps beside the
download) and against the manifest's, where the manifest records one. Before a process first uses
the folder, every file in it must be recorded and match: a file added, removed or changed since
is refused, naming the command that installs it again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .manifest import Weights
from .store import MissingWeightsError, find_folder, not_installed, sha256_of

BOOK = ".verified-sha256.json"
_SKIPPED = (".cache", BOOK)  # huggingface_hub's own download records, and ours


def files_of(folder: Path) -> dict[str, Path]:
    """Every file of a snapshot by its path relative to the folder (our and the Hub's records left out)."""
    return {
        path.relative_to(folder).as_posix(): path
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.relative_to(folder).parts[0] not in _SKIPPED
    }


def record(weights: Weights, folder: Path) -> dict[str, str]:
    """Check every file of a freshly installed snapshot against the digests known for it, then record
    their sha256 for every later check. Raises ``MissingWeightsError`` on a mismatch."""
    book: dict[str, str] = {}
    for name, path in files_of(folder).items():
        digest = sha256_of(path)
        hub = _hub_digest(folder, name)
        if hub is not None and hub != (digest if len(hub) == 64 else _git_blob_id(path)):
            raise MissingWeightsError(f"{weights.name}: {name} does not match the digest the Hub gave for it; run `python -m ops weights fetch {weights.name}` again")
        book[name] = digest
    _check_manifest(weights, book)
    (folder / BOOK).write_text(json.dumps(book, indent=1, sort_keys=True))
    return book


def verified_folder(weights: Weights) -> Path:
    """The snapshot's folder once every file in it matches its recorded sha256 (hashed once per
    process per file version). A snapshot installed before digests were recorded is recorded now
    when huggingface_hub's own records of its download are there to check it against."""
    folder = find_folder(weights)
    if folder is None:
        raise MissingWeightsError(not_installed(weights))
    refetch = f"delete {folder} and run `python -m ops weights fetch {weights.name}`"
    try:
        book = json.loads((folder / BOOK).read_text())
    except (OSError, ValueError):
        present = files_of(folder)
        if not present or any(_hub_digest(folder, name) is None for name in present):
            raise MissingWeightsError(f"{folder} cannot be verified (no digests recorded for it): {refetch}") from None
        book = record(weights, folder)
    present = files_of(folder)
    if set(present) != set(book):
        changed = sorted(set(present) ^ set(book))
        raise MissingWeightsError(f"{folder} is not the snapshot that was installed ({', '.join(changed[:3])} added or missing): {refetch}")
    for name, path in present.items():
        if sha256_of(path) != book[name]:
            raise MissingWeightsError(f"{path} does not match the sha256 recorded at install (damaged or replaced): {refetch}")
    _check_manifest(weights, book)
    return folder


def _check_manifest(weights: Weights, book: dict[str, str]) -> None:
    """Digests the manifest records for files of the snapshot (by their path in it) must match."""
    for known in weights.files:
        if known.sha256 and book.get(known.file) != known.sha256:
            raise MissingWeightsError(f"{weights.name}: {known.file} does not match its sha256 in the manifest; run `python -m ops weights fetch {weights.name}` again")


def _hub_digest(folder: Path, name: str) -> str | None:
    """The etag huggingface_hub recorded when it downloaded ``name`` into ``folder``: the file's sha256
    for LFS files, its git blob id otherwise (None: no record)."""
    if not (folder / ".cache" / "huggingface" / "download" / f"{name}.metadata").is_file():
        return None  # (asked only then: huggingface_hub's reader makes its folders as it looks)
    from huggingface_hub._local_folder import read_download_metadata

    found = read_download_metadata(folder, name)
    return found.etag.strip('"').lower() if found is not None and found.etag else None


def _git_blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
