"""``python -m ops weights [fetch NAME|registry|recommended|setup|all]``: list the manifest's weights, or install them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from ..errors import StudioError
from ..weights import Weights, fetch, installed, load


def add_parser(commands: argparse._SubParsersAction) -> None:
    weights = commands.add_parser("weights", help="list the weights in the manifest, or install them (fetch)")
    weights.add_argument("--markdown", action="store_true", help="print the README's weights table")
    actions = weights.add_subparsers(dest="action", metavar="ACTION")
    fetching = actions.add_parser("fetch", help="install weights, checked by their published checksum")
    fetching.add_argument(
        "names", nargs="+", metavar="NAME",
        help="a manifest name, 'registry' (all from the package registry), 'recommended' (the best of each kind), "
             "'setup' (the registry set, then the recommended weights whose hosts answer) or 'all'",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    manifest = load()
    if getattr(args, "markdown", False):
        print(markdown())
        return 0
    if args.action != "fetch":
        print(f"{'weights':<30} {'installed':<10} {'size':>10}  {'source':<9} license")
        for weights in manifest.values():
            source = "registry" if weights.from_registry else "hub" if weights.hub else "url"
            print(f"{weights.name:<30} {'yes' if installed(weights) else 'no':<10} {weights.size_text:>10}  {source:<9} {weights.license}")
            print(f"{'':<30} {weights.title}")
        print(compiled_cache_line())
        return 0
    if args.names == ["setup"]:
        return setup(manifest)
    return install(_select(args.names, manifest), manifest)


def compiled_cache_line() -> str:
    """What the compiled cache (converted networks, kernels per tile shape) takes on disk, against its bound."""
    from ..host import host
    from ..runtime.backends import disk

    folder, bound = disk.folder(), host().compiled_cache_bytes
    return (f"compiled cache {folder}: {disk.size(folder) / 1e6:.0f} MB of {bound / 1e6:.0f} MB "
            f"(STUDIO_COMPILED_CACHE_BYTES; {len(disk.entries(folder))} entries, least recently used deleted first)")  # fmt: skip


def setup(manifest: dict[str, Weights], answers: Callable[[str], bool] | None = None) -> int:
    """The README's install step: the registry set (everything runs offline on it), then the
    recommended weights whose hosts answer now. Where they do not, one line says what was left out
    and how to get it later; the setup still succeeds."""
    failed = install([n for n, w in manifest.items() if w.from_registry], manifest)
    wanted = [n for n, w in manifest.items() if w.recommended and not installed(w)]
    hosts = {host: (answers or host_answers)(host) for host in sorted({source_host(manifest[n]) for n in wanted})}
    silent = [n for n in wanted if not hosts[source_host(manifest[n])]]
    if silent:
        print(f"recommended weights not installed ({', '.join(silent)}): {', '.join(h for h, up in hosts.items() if not up)} did not answer; "
              "every operation runs on the registry set; run `python -m ops weights fetch recommended` when the network allows")  # fmt: skip
    reachable = [n for n in wanted if n not in silent]
    if reachable and install(reachable, manifest):
        print("some recommended weights could not be installed (above); the registry set works; run the same command again to resume")
    return failed


def source_host(weights: Weights) -> str:
    """Where a weights entry downloads from (the registry entries are not asked about)."""
    if weights.hub:
        return "huggingface.co"
    url = next((f.url for f in weights.files if f.url), None)
    return (urlsplit(url).hostname or "") if url else ""


def host_answers(host: str, timeout: float = 5.0) -> bool:
    """Whether an HTTPS host answers at all within ``timeout`` (any status counts)."""
    try:
        httpx.head(f"https://{host}/", timeout=timeout)
    except httpx.HTTPError:
        return False
    return True


def install(wanted: list[str], manifest: dict[str, Weights]) -> int:
    """Fetch each of ``wanted`` (sizes said first); 1 if any failed, each failure said in a line."""
    missing = [name for name in wanted if not installed(manifest[name])]
    if len(missing) > 1:  # say what is coming before a long download starts
        print(f"installing {len(missing)}: " + ", ".join(f"{name} ({manifest[name].size_text})" for name in missing)
              + f"; {size_summary(missing, manifest)}")  # fmt: skip
    failed = 0
    for name in missing:
        try:
            fetch(manifest[name])
        except StudioError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
    return 1 if failed else 0


def size_summary(names: list[str], manifest: dict[str, Weights]) -> str:
    """The total of ``names`` that the manifest knows, and by name the ones whose size it does not
    record (a hub snapshot's size is only a hint), e.g. "2.04 GB for 6 of known size; exact size
    unknown: yunet"."""
    known = [name for name in names if manifest[name].total_size]
    unknown = [name for name in names if name not in known]
    total = f"{sum(manifest[name].total_size or 0 for name in known) / 1e9:.2f} GB"
    if not unknown:
        return f"{total} in all"
    return (f"{total} for {len(known)} of known size; " if known else "") + f"exact size unknown: {', '.join(unknown)}"


def markdown() -> str:
    """The README's weights table: what comes with the setup (offline) and what downloads."""
    rows = ["| weights | size | source | licence | what for |", "|---|---|---|---|---|"]
    for weights in load().values():
        source = "package registry (setup)" if weights.from_registry else "Hugging Face hub" if weights.hub else "download"
        rows.append(f"| `{weights.name}` | {weights.size_text} | {source} | {weights.license} | {weights.title} |")
    return "\n".join(rows)


def _select(names: list[str], manifest: dict[str, Weights]) -> list[str]:
    out: list[str] = []
    for name in names:
        if name == "all":
            out += list(manifest)
        elif name == "registry":
            out += [n for n, w in manifest.items() if w.from_registry]
        elif name == "recommended":
            out += [n for n, w in manifest.items() if w.recommended]
        elif name in manifest:
            out.append(name)
        else:
            raise SystemExit(f"error: unknown weights {name!r} (one of: {', '.join(manifest)}, registry, recommended, all)")
    return list(dict.fromkeys(out))
