"""Turning a finished job into what the UI shows: before/after, a download, and a report."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image, ImageOps

from ops.chain import PlannedStep
from ops.errors import StudioError
from ops.imageio.writer import FORMAT_ALIASES
from ops.pipeline import OutputOptions, Processed
from server.jobs import Finished

from .access import Admission
from .widgets import in_words

FORMATS = ["auto", "png", "jpg", "webp"]
Outputs = tuple[tuple[str, str], str, str]


def run_job(
    image: str | None, plan: Callable[[], list[PlannedStep]], admit: Admission, fmt: str = "auto", progress: gr.Progress | None = None,
    hints: dict[str, Any] | None = None, labels: Mapping[str, str] | None = None,
) -> Outputs:
    """Plan, pass the caller's admission (limits and price), run; every expected failure becomes a
    readable gr.Error, fields named by their ``labels`` (and a charged run that fails is refunded
    by the admission)."""
    if not image:
        raise gr.Error("Upload an image first.")
    try:
        steps = plan()
        options = OutputOptions(format=FORMAT_ALIASES.get(fmt or ""))  # "auto": the chain's or the input's format
        report = (lambda fraction, message: progress(fraction, desc=message)) if progress is not None else None  # a gr.Progress is falsy
        with admit(steps) as run:
            try:
                done = run(image, steps, options, report, hints)
            except StudioError as exc:
                raise gr.Error(in_words(exc, labels or {})) from None
    except StudioError as exc:
        raise gr.Error(in_words(exc, labels or {})) from None
    out = Path(tempfile.mkdtemp(prefix="studio-")) / f"{Path(image).stem}-result{done.encoded.extension}"
    out.write_bytes(done.encoded.data)
    return (image, str(out)), str(out), report_markdown(done)


def report_markdown(done: Processed | Finished) -> str:
    summary = done.summary()
    (w0, h0), (w1, h1) = summary["input_size"], summary["output_size"]
    lines = [f"**{w0}x{h0} → {w1}x{h1}**, {summary['input_bytes']:,} → {summary['output_bytes']:,} bytes ({summary['format'].upper()})"]
    for step in summary["steps"]:
        facts = ", ".join(f"{k}: {v}" for k, v in step["details"].items())
        lines.append(f"- `{step['operation']}` ran on engine **{step['engine']}** in {step['seconds']:.2f} s" + (f" ({facts})" if facts else ""))
    lines.append(f"- written as {summary['format'].upper()} in {summary['encode_seconds']:.2f} s; {summary['seconds']:.2f} s in all")
    lines += [f"- ⚠️ {w}" for w in summary["warnings"]]
    return "\n".join(lines)


def upright_size(path: str) -> tuple[int, int]:
    """The size the image is shown at (EXIF orientation applied), without decoding its pixels."""
    with Image.open(path) as image:
        orientation = image.getexif().get(0x0112, 1)
        width, height = image.size
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def editor_background(path: str | None) -> dict[str, Any] | None:
    """The painting canvas for a new input: the upright image, no layers yet."""
    if not path:
        return None
    with Image.open(path) as image:
        upright = ImageOps.exif_transpose(image).convert("RGB")
    return {"background": upright, "layers": [], "composite": None}
