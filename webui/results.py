"""Turning a finished job into what the UI shows: before/after, a download, and a report."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import gradio as gr

from ops import imageio
from ops.chain import PlannedStep
from ops.engines.base import Resolver
from ops.errors import InputError, StudioError
from ops.imageio.pixels import colour, flatten_alpha, to_8bit
from ops.imageio.writer import FORMAT_ALIASES
from ops.pipeline import OutputOptions, Processed
from service.diskfull import is_disk_full
from service.terms import Finished

from .access import Admission
from .uploads import uploaded
from .widgets import in_words

FORMATS = ["auto", "png", "jpg", "webp"]
Outputs = tuple[tuple[str, str], str, str]
STORAGE_FULL = "The server's storage is full; try again later."


def run_job(
    image: str | None, plan: Callable[[], list[PlannedStep]], admit: Admission, fmt: str = "auto", progress: gr.Progress | None = None,
    hints: dict[str, Any] | None = None, labels: Mapping[str, str] | None = None, resolve: Resolver | None = None, *, results: Path,
) -> Outputs:
    """Plan, pass the caller's admission (limits and price), run; every expected failure becomes a
    readable gr.Error, fields named by their ``labels`` (and a charged run that fails is refunded
    by the admission)."""
    image = uploaded(image)
    if not image:
        raise gr.Error("Upload an image first.")
    try:
        steps = plan()
        options = OutputOptions(format=FORMAT_ALIASES.get(fmt or ""))  # "auto": the chain's or the input's format
        report = (lambda fraction, message: progress(fraction, desc=message)) if progress is not None else None  # a gr.Progress is falsy
        with admit(steps) as run:
            try:
                done = run(image, steps, options, report, hints, resolve or Attachments().resolve)
            except StudioError as exc:
                raise gr.Error(in_words(exc, labels or {})) from None
            out = save_result(done.encoded.data, f"{Path(image).stem}-result{done.encoded.extension}", results)  # inside the run: unsaved is refunded
    except StudioError as exc:
        raise gr.Error(in_words(exc, labels or {})) from None
    except Exception as exc:
        if not isinstance(exc, gr.Error) and is_disk_full(exc):
            raise gr.Error(STORAGE_FULL) from None
        raise
    return (image, str(out)), str(out), report_markdown(done)


def save_result(data: bytes, name: str, parent: Path) -> Path:
    """A result where the page can fetch it: a folder of its own (runs never share a name) in the data
    folder's web results (``parent``), which Gradio may serve and retention purges. A failed write leaves nothing."""
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=parent))
    try:
        (folder / name).write_bytes(data)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder / name


def report_markdown(done: Processed | Finished) -> str:
    summary = done.summary()
    (w0, h0), (w1, h1) = summary["input_size"], summary["output_size"]
    lines = [f"**{w0}x{h0} → {w1}x{h1}**, {summary['input_bytes']:,} → {summary['output_bytes']:,} bytes ({summary['format'].upper()})"]
    fallbacks = [f"`{step['operation']}` ran {step['engine']} instead of **{step['preferred_engine']}**" for step in summary["steps"] if step.get("preferred_engine")]
    if fallbacks:  # said first and in words: a weaker engine is never a silent substitute
        lines.append(f"⚠️ **This result came from a fallback**: {'; '.join(fallbacks)}, whose weights are not installed here. "
                     "The better engine is one command away for whoever runs the server (the ⚠️ notes below name it: `python -m ops weights fetch ...`).")  # fmt: skip
    pictures = []
    for step in summary["steps"]:
        facts = ", ".join(f"{k}: {v}" for k, v in step["details"].items() if not _is_picture(v))
        lines.append(f"- `{step['operation']}` ran on engine **{step['engine']}** in {step['seconds']:.2f} s" + (f" ({facts})" if facts else ""))
        pictures += [f"![{k.replace('_', ' ')}]({v})" for k, v in step["details"].items() if _is_picture(v)]  # e.g. the damage found
    lines.append(f"- written as {summary['format'].upper()} in {summary['encode_seconds']:.2f} s; {summary['seconds']:.2f} s in all")
    lines += [f"- ⚠️ {w}" for w in summary["warnings"]]
    return "\n".join(lines + pictures)


def _is_picture(value: Any) -> bool:
    """A detail that is a small image (a PNG data URL, like restore-old-photo's damage mask): shown, not printed."""
    return isinstance(value, str) and value.startswith("data:image/png;base64,")


def upright_size(path: str) -> tuple[int, int]:
    """The size the image is shown at (EXIF orientation applied), from the header, by the core reader."""
    try:
        return imageio.upright_size(path)
    except StudioError as exc:
        raise gr.Error(exc.message) from None


def editor_background(path: Any) -> dict[str, Any] | None:
    """The painting canvas for a new input: the upright image, no layers yet. Decoded by the core
    reader (its format allow-list and size limits), like every other picture the app opens."""
    path = uploaded(path)
    if not path:
        return None
    try:
        picture = imageio.read_image(path)
    except StudioError as exc:
        raise gr.Error(exc.message) from None
    shown = colour(to_8bit(flatten_alpha(picture.pixels)))  # 8-bit RGB, as the canvas shows it
    return {"background": shown, "layers": [], "composite": None}


class Attachments:
    """The files one run was given besides its image (a backdrop): the only references its
    operations may read. A chain's text cannot name a file on the server."""

    def __init__(self) -> None:
        self.paths: set[str] = set()

    def add(self, value: Any) -> str | None:
        path = uploaded(value)
        if path:
            self.paths.add(path)
        return path

    def resolve(self, reference: str) -> bytes:
        if reference not in self.paths:
            raise InputError("an image this run refers to must be uploaded with it")
        return Path(reference).read_bytes()
