"""Command line: ``python -m ops list`` and ``python -m ops OPERATION|MODEL|chain INPUT... -o OUT``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .. import chain
from ..errors import InputError, StudioError
from ..host import configure
from ..imageio import format_from_name, upright_size
from ..params import set_dotted
from ..pipeline import OutputOptions, process
from ..registry import MODELS, OPERATIONS
from ..run_config import RunConfig
from ..schema import fields_of
from ..settings import Settings, markdown_table
from . import listing, weights
from .inputs import Job, OutputNamer, collect

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    settings = Settings()  # read once: the process's part configured here, each job's part planned with it
    configure(settings)
    # failures are reported per file in words; tracebacks only with STUDIO_DEBUG=1
    logging.basicConfig(level=logging.DEBUG if settings.debug else logging.CRITICAL)
    if args.command in (None, "list"):
        print(listing.markdown() if getattr(args, "markdown", False) else listing.text())
        return EXIT_OK
    if args.command == "weights":
        return weights.run(args)
    if args.command == "settings":
        print(markdown_table())
        return EXIT_OK
    try:
        planned = chain.plan(_steps(args), run=RunConfig.of(settings))
    except (StudioError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    jobs = collect(args.inputs)
    if not jobs:
        print("error: no input images found", file=sys.stderr)
        return EXIT_USAGE
    return _run_all(jobs, planned, args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops", description="AI image-enhancement studio: command line.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    listed = commands.add_parser("list", help="show every operation and model name with its parameters")
    listed.add_argument("--markdown", action="store_true", help="print Markdown tables (as in the README)")
    weights.add_parser(commands)
    commands.add_parser("settings", help="every STUDIO_* setting with its default (Markdown, as in the README)")
    for op in OPERATIONS.values():
        sub = commands.add_parser(op.name, help=op.summary, description=_describe(op.params, op.summary))
        sub.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE", help="parameter; dotted keys nest (resize.width=640)")
        sub.add_argument("--engine", default="auto", choices=("auto",) + op.engines)
        sub.add_argument("--speed", choices=("exact", "int8"), help="int8: the opt-in CPU speed mode (>= 38 dB to fp32); default: the int8 setting")
        _common(sub)
    for preset in MODELS.values():
        _common(commands.add_parser(preset.name, help=f"model: {preset.display_name}", description=preset.summary))
    chained = commands.add_parser("chain", help="run several operations in order (REST job JSON)")
    chained.add_argument("--steps", required=True, help='JSON list: [{"type": "crop-resize", "params": {...}}, ...]')
    _common(chained)
    return parser


def _common(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or globs")
    sub.add_argument("-o", "--output", required=True, help="output file (one input) or folder")
    sub.add_argument("--exif", action="store_true", help="keep EXIF metadata in the output")
    sub.add_argument("--dpi", type=int, help="write this DPI into the output")
    sub.add_argument("--json", action="store_true", help="print one JSON report line per file")


def _describe(params: Any, summary: str) -> str:
    lines = [summary, "", "parameters:"]
    lines += [f"  {f.name}: {f.type_text()}{'' if f.required else ' (optional)'} {f.description}" for f in fields_of(params)]
    return "\n".join(lines)


def _steps(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.command in MODELS:
        return list(MODELS[args.command].steps)
    if args.command == "chain":
        steps = json.loads(args.steps)
        if not isinstance(steps, list):
            raise ValueError("--steps must be a JSON list of steps")
        return steps
    step = {"type": args.command, "params": parse_params(args.param), "engine": args.engine}
    return [step | {"speed": args.speed}] if args.speed else [step]


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``["resize.width=640", "crop={...}"]`` -> nested dict; values are JSON when they parse as JSON."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--param {pair!r} is not KEY=VALUE")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        try:
            set_dotted(params, key, value)
        except ValueError as exc:
            raise ValueError(f"--param {pair!r}: {exc}") from None
    return params


def _run_all(jobs: list[Job], planned: list[chain.PlannedStep], args: argparse.Namespace) -> int:
    output = Path(args.output)
    single_file = len(jobs) == 1 and not jobs[0].missing and not output.is_dir() and output.suffix != ""
    fmt = format_from_name(output.name) if single_file else None
    if single_file and fmt is None:
        print(f"error: cannot write {output.suffix!r} files; use .jpg, .png or .webp", file=sys.stderr)
        return EXIT_USAGE
    namer = OutputNamer(output)
    options = OutputOptions(format=fmt, keep_exif=args.exif, dpi=args.dpi)
    _prepare(jobs, planned[0], quiet=args.json)
    failures = 0
    bar = tqdm(jobs, unit="img", disable=len(jobs) < 2 or args.json, file=sys.stderr)
    for job in bar:
        bar.set_postfix_str(job.source.name)
        try:
            report = _one(job, planned, options, output if single_file else None, namer, quiet=args.json)
            _emit(args, tqdm.write, report)
        except StudioError as exc:
            failures += 1
            _emit(args, tqdm.write, {"input": str(job.source), "ok": False, "error": exc.message, "code": exc.code})
        except Exception as exc:  # a bug: still report per file, keep going
            failures += 1
            _emit(args, tqdm.write, {"input": str(job.source), "ok": False, "error": f"internal error: {type(exc).__name__}: {exc}", "code": "internal"})
    if len(jobs) > 1 and not args.json:
        print(f"{len(jobs) - failures} of {len(jobs)} done, {failures} failed", file=sys.stderr)
    return EXIT_FAILED if failures else EXIT_OK


def _prepare(jobs: list[Job], first: chain.PlannedStep, quiet: bool) -> None:
    """Load the first step's network and compile every tile shape the batch's files will meet,
    before the first file: no file's time then includes a load or a compile."""
    if not first.engine.uses_device:
        return
    sizes = set()
    for job in jobs:
        try:
            sizes.add(upright_size(job.source))
        except (StudioError, OSError):
            continue  # reported with its file
    if not quiet:
        print(f"preparing {first.engine.name} for {len(sizes)} image size(s)", file=sys.stderr)
    try:
        first.engine.prepare(sorted(sizes), first.operation.enlargement(first.params), first.run)
    except Exception:  # each file then meets the same problem and reports it in its own words
        logging.getLogger(__name__).exception("preparing %s failed", first.engine.name)


def _one(
    job: Job, planned: list[chain.PlannedStep], options: OutputOptions, target: Path | None, namer: OutputNamer, quiet: bool
) -> dict[str, Any]:
    if job.missing:
        raise InputError(f"no such file: {job.source}")
    bar_format = "{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining} {postfix}"
    with tqdm(total=1.0, desc=job.source.name, bar_format=bar_format, leave=False, disable=quiet, file=sys.stderr) as bar:

        def progress(fraction: float, message: str) -> None:  # per tile for model work, with the estimate first
            bar.update(fraction - bar.n)
            bar.set_postfix_str(message, refresh=True)

        done = process(job.source, planned, options, progress)
    target = target or namer.path_for(job, done.encoded.extension)
    if target.exists() and target.resolve() == job.source.resolve():
        raise InputError("refusing to overwrite the input file; choose another output")
    _write_atomic(target, done.encoded.data)
    return {"input": str(job.source), "output": str(target), "ok": True, **done.summary()}


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _emit(args: argparse.Namespace, write: Any, report: dict[str, Any]) -> None:
    if args.json:
        write(json.dumps(report))
        return
    if not report["ok"]:
        write(f"✗ {report['input']}: {report['error']}")
        return
    steps = ", ".join(f"{s['operation']}[{s['engine']}] {s['seconds']:.2f}s" for s in report["steps"]) + f", written {report['encode_seconds']:.2f}s"
    (w0, h0), (w1, h1) = report["input_size"], report["output_size"]
    write(
        f"✓ {report['input']} → {report['output']}  {w0}x{h0} → {w1}x{h1}  "
        f"{_size(report['input_bytes'])} → {_size(report['output_bytes'])}  {steps}"
    )
    for warning in report["warnings"]:
        write(f"    warning: {warning}")


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} KB"
